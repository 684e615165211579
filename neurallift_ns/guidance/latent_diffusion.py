"""What every frozen latent-diffusion prior shares: Stable Diffusion's VAE, a UNet and its noise schedule.

Stable Diffusion (conditioned on text) and Zero-1-to-3 (conditioned on a photo and a relative camera) both denoise
latents of the same VAE with a UNet trained on the same DDPM schedule; only what the UNet is given besides the noisy
latents differs, and that stays in each model's own module. Both run in fp16 on CUDA and fp32 on CPU, frozen.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor


def model_dtype(half_precision: bool, device: torch.device) -> torch.dtype:
    """fp16 on CUDA when asked for, fp32 otherwise (CPUs have no fast fp16 convolutions)."""
    return torch.float16 if half_precision and device.type == "cuda" else torch.float32


def diffusers_dtype_argument(dtype: torch.dtype) -> dict[str, torch.dtype]:
    """``from_pretrained``'s precision argument: ``dtype`` in recent diffusers, ``torch_dtype`` before."""
    from diffusers.utils import deprecation_utils

    return {"dtype" if hasattr(deprecation_utils, "_TORCH_DTYPE_DEPRECATION_MESSAGE") else "torch_dtype": dtype}


class FrozenLatentDiffusion:
    """A frozen VAE and UNet with their noise schedule: latents of images, images of latents, and the conversion of
    the UNet's output to a noise prediction."""

    def __init__(
        self, vae, unet, scheduler, device: torch.device, dtype: torch.dtype, vae_gradient_checkpointing: bool
    ):
        for part in (unet, vae):
            part.requires_grad_(False).eval()
        if vae_gradient_checkpointing:
            vae.enable_gradient_checkpointing()
        self.device = device
        self.dtype = dtype
        self.vae = vae
        self.unet = unet
        self.alphas_cumprod = scheduler.alphas_cumprod.to(device, torch.float32)
        self.prediction_type = scheduler.config.get("prediction_type", "epsilon")
        self.num_train_timesteps = int(scheduler.config.num_train_timesteps)
        self.latent_scale = float(vae.config.scaling_factor)
        self.vae_downsampling = 2 ** (len(vae.config.block_out_channels) - 1)

    def encode_images(self, images: Float[Tensor, "views 3 H W"]) -> Float[Tensor, "views 4 h w"]:
        """Scaled VAE latents (the posterior's mean) of images in [0, 1]; differentiable."""
        posterior = self.vae.encode(images.to(self.dtype) * 2.0 - 1.0).latent_dist
        return posterior.mean * self.latent_scale

    def encode_renders(self, images: Float[Tensor, "views H W 3"], resolution: int) -> Float[Tensor, "views 4 h w"]:
        """Scaled latents, in fp32, of renders resized to the model's resolution; differentiable."""
        renders = F.interpolate(
            images.permute(0, 3, 1, 2), size=(resolution, resolution), mode="bilinear", align_corners=False
        )
        return self.encode_images(renders).float()

    def decode_latents(self, latents: Float[Tensor, "views 4 h w"]) -> Float[Tensor, "views 3 H W"]:
        """Images in [0, 1] from scaled latents; differentiable."""
        images = self.vae.decode(latents.to(self.dtype) / self.latent_scale).sample
        return (images.float() / 2.0 + 0.5).clamp(0.0, 1.0)

    def noise_from_output(
        self,
        output: Float[Tensor, "batch 4 h w"],
        noisy: Float[Tensor, "batch 4 h w"],
        timesteps: Int[Tensor, "batch"],
    ) -> Float[Tensor, "batch 4 h w"]:
        """The UNet's output as a noise prediction in fp32 (converted from velocity for v-prediction models such as
        SD 2.1)."""
        prediction = output.float()
        if self.prediction_type == "v_prediction":
            alpha = self.alphas_cumprod[timesteps.to(self.device)].view(-1, 1, 1, 1)
            prediction = alpha.sqrt() * prediction + (1.0 - alpha).sqrt() * noisy.float()
        return prediction
