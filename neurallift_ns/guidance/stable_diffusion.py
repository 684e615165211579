"""A frozen Stable Diffusion model (diffusers), loaded once, for score distillation and textual inversion.

Loads by Hugging Face Hub id or local folder (anything ``StableDiffusionPipeline.save_pretrained`` wrote), in fp16 on
CUDA and fp32 on CPU, with PyTorch's scaled-dot-product attention (diffusers' default), optional attention slicing
and optional model CPU offload. Only the parts score distillation needs are used: tokenizer, text encoder, VAE, UNet
and the scheduler's noise levels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from jaxtyping import Float, Int
from torch import Tensor

from lift_common.errors import UserInputError
from lift_common.pretrained import resolve_pretrained
from neurallift_ns.guidance.latent_diffusion import FrozenLatentDiffusion, diffusers_dtype_argument, model_dtype

DEFAULT_MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"
"""Stable Diffusion 1.5 where it is hosted now (the ``runwayml/`` repository was taken down)."""


@dataclass
class StableDiffusionLoadOptions:
    """How a Stable Diffusion model is loaded."""

    model: str = DEFAULT_MODEL
    """Hub id or local folder of a Stable Diffusion pipeline (SD 1.5 by default; e.g.
    stabilityai/stable-diffusion-2-1-base also works)."""
    half_precision: bool = True
    """Run it in fp16 on CUDA (always fp32 on CPU)."""
    attention_slicing: bool = False
    """Compute attention in slices: less memory, a little slower."""
    cpu_offload: bool = False
    """Keep each part on the CPU until it runs (for GPUs with little memory; much slower)."""
    vae_gradient_checkpointing: bool = True
    """Recompute the VAE's activations in the backward pass instead of storing them (less memory)."""


class StableDiffusion(FrozenLatentDiffusion):
    """Text conditioning, VAE encoding/decoding and noise prediction of a frozen Stable Diffusion model."""

    def __init__(
        self,
        options: StableDiffusionLoadOptions,
        device: torch.device | str,
        option_name: str = "stable-diffusion --diffusion.model",
    ) -> None:
        from diffusers import StableDiffusionPipeline

        device = torch.device(device)
        dtype = model_dtype(options.half_precision, device)
        source = resolve_pretrained(options.model, what="Stable Diffusion", option=option_name)
        try:
            pipeline = StableDiffusionPipeline.from_pretrained(
                source, safety_checker=None, requires_safety_checker=False, **diffusers_dtype_argument(dtype)
            )
        except (OSError, ValueError) as error:  # a missing part, a truncated or foreign weights file
            problem = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise UserInputError(
                f"'{source}' is not a Stable Diffusion pipeline in diffusers' layout (model_index.json, unet/, vae/, "
                f"text_encoder/, tokenizer/, scheduler/): {problem}. Pass one with {option_name}."
            ) from None
        pipeline.set_progress_bar_config(disable=True)
        pipeline.text_encoder.requires_grad_(False).eval()
        if options.attention_slicing:
            pipeline.enable_attention_slicing()
        super().__init__(
            pipeline.vae, pipeline.unet, pipeline.scheduler, device, dtype, options.vae_gradient_checkpointing
        )
        if options.cpu_offload and device.type == "cuda":
            pipeline.enable_model_cpu_offload(device=device)
        else:
            pipeline.to(device)
        self.pipeline = pipeline
        self.tokenizer = pipeline.tokenizer
        self.text_encoder = pipeline.text_encoder

    def load_learned_embedding(self, path: Path) -> str:
        """Add the token learnt by textual inversion (a ``{token: embedding}`` safetensors file) and return it."""
        from safetensors.torch import load_file

        try:
            (token,) = load_file(str(path)).keys()
        except Exception:
            raise UserInputError(
                f"'{path}' is not a learnt-token file written by ns-neurallift-finetune (a safetensors file with one "
                "token's embedding). Run ns-neurallift-finetune on the photo, or pass its output."
            ) from None
        if token not in self.tokenizer.get_vocab():
            self.pipeline.load_textual_inversion(str(path))
        return token

    def tokenize(self, prompts: list[str]) -> Int[Tensor, "prompts tokens"]:
        """Token ids, padded to the text encoder's context length."""
        return self.tokenizer(
            prompts,
            padding="max_length",
            max_length=self.tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        ).input_ids.to(self.device)

    @torch.no_grad()
    def encode_prompts(self, prompts: list[str]) -> Float[Tensor, "prompts tokens D"]:
        """The text encoder's hidden states for each prompt (what the UNet attends to)."""
        return self.text_encoder(self.tokenize(prompts))[0]

    def predict_noise(
        self,
        noisy: Float[Tensor, "batch 4 h w"],
        timesteps: Int[Tensor, "batch"],
        text_embeddings: Float[Tensor, "batch tokens D"],
    ) -> Float[Tensor, "batch 4 h w"]:
        """The UNet's noise prediction, in fp32 (converted from velocity for v-prediction models such as SD 2.1)."""
        output = self.unet(
            noisy.to(self.dtype), timesteps.to(self.device), encoder_hidden_states=text_embeddings.to(self.dtype)
        ).sample
        return self.noise_from_output(output, noisy, timesteps)
