"""A frozen Zero-1-to-3 or Stable Zero123 model in diffusers layout, loaded once, for view-conditioned distillation.

The layout, by Hugging Face Hub id or local folder (what ``kxic/zero123-xl``, ``ashawkey/zero123-xl-diffusers`` and
``ashawkey/stable-zero123-diffusers`` ship; diffusers' community ``pipeline_zero1to3.py`` and threestudio's
``scripts/convert_zero123_to_diffusers.py`` write it):

* ``vae/`` (AutoencoderKL), ``scheduler/`` (its noise schedule);
* ``unet/`` (UNet2DConditionModel) with 8 input channels: the noisy latents and the photo's latents side by side;
* ``image_encoder/`` (transformers' CLIPVisionModelWithProjection) and ``feature_extractor/`` (its image settings);
* the camera projection, a linear layer from the photo's CLIP embedding and 4 camera numbers to the UNet's
  cross-attention width: ``cc_projection/`` (kxic's, weights ``projection.*``) or ``clip_camera_projection/``
  (threestudio's conversion, weights ``proj.*``), as ``diffusion_pytorch_model.safetensors`` or ``.bin``.

Each library's component is loaded with its own ``from_pretrained(subfolder=...)``. The projection's class lives in
pipeline code downloaded with the weights, which is never run: the layer is built here and its weights read from the
file (safetensors, or a ``.bin`` through torch's weights-only loading).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor

from lift_common.errors import UserInputError
from lift_common.pretrained import resolve_pretrained
from neurallift_ns.guidance.latent_diffusion import FrozenLatentDiffusion, diffusers_dtype_argument, model_dtype
from neurallift_ns.guidance.relative_camera import CameraEmbedding

DEFAULT_MODEL = "ashawkey/zero123-xl-diffusers"
"""Zero-1-to-3 XL (the model threestudio's configs/zero123.yaml loads, zero123-xl.ckpt) converted by threestudio's
script: safetensors only, fp16 weights (half the download of the fp32 conversions)."""

COMPONENTS = {
    "vae": "config.json",
    "unet": "config.json",
    "image_encoder": "config.json",
    "feature_extractor": "preprocessor_config.json",
    "scheduler": "scheduler_config.json",
}
"""Each library component's folder and the file that marks it."""
PROJECTION_FOLDERS = ("cc_projection", "clip_camera_projection")
PROJECTION_WEIGHTS = (
    "diffusion_pytorch_model.safetensors",
    "diffusion_pytorch_model.bin",
    "diffusion_pytorch_model.fp16.safetensors",
    "diffusion_pytorch_model.fp16.bin",
)
CAMERA_NUMBERS = 4
EXPECTED_LAYOUT = (
    "a Zero-1-to-3 model in diffusers layout: vae/, unet/ (8 input channels), image_encoder/ "
    "(CLIPVisionModelWithProjection), feature_extractor/, scheduler/ and the camera projection's weights in "
    "cc_projection/ or clip_camera_projection/, as kxic/zero123-xl or ashawkey/stable-zero123-diffusers ship it"
)


@dataclass
class Zero123LoadOptions:
    """Which Zero-1-to-3 model, and how it is loaded."""

    model: str = DEFAULT_MODEL
    """Hub id or local folder of a Zero-1-to-3 model in diffusers layout (zero123-xl by default; Stable Zero123:
    ashawkey/stable-zero123-diffusers, non-commercial licence)."""
    camera_embedding: Literal["auto", "zero123", "stable-zero123"] = "auto"
    """The camera numbers the model was trained on: Zero-1-to-3's (last: change of radius) or Stable Zero123's (last:
    the photo's polar angle). auto: stable-zero123 when the model's name contains stable-zero123 or stable_zero123."""
    half_precision: bool = True
    """Run it in fp16 on CUDA (always fp32 on CPU)."""
    vae_gradient_checkpointing: bool = True
    """Recompute the VAE's activations in the backward pass instead of storing them (less memory)."""

    def resolved_camera_embedding(self) -> CameraEmbedding:
        """The camera numbers to give the model."""
        if self.camera_embedding != "auto":
            return self.camera_embedding
        name = self.model.lower()
        return "stable-zero123" if "stable-zero123" in name or "stable_zero123" in name else "zero123"


def not_a_zero123_model(model: str, problem: str, option: str) -> UserInputError:
    """The one message for a model that cannot be used: what is wrong, the layout expected, the option to change."""
    return UserInputError(f"'{model}' is not {EXPECTED_LAYOUT} ({problem}). Pass one with {option}.")


def check_local_layout(folder: Path, model: str, option: str) -> None:
    """Stop with one message if a local folder lacks a component, before anything is loaded."""
    missing = [f"{name}/{marker}" for name, marker in COMPONENTS.items() if not (folder / name / marker).is_file()]
    if not any((folder / name).is_dir() for name in PROJECTION_FOLDERS):
        missing.append(" or ".join(f"{name}/" for name in PROJECTION_FOLDERS))
    if missing:
        raise not_a_zero123_model(model, f"it has no {', '.join(missing)}", option)


def projection_weights_file(folder: Path) -> Path | None:
    """The camera projection's weights file in a model folder, if there is one."""
    for name in PROJECTION_FOLDERS:
        for weights in PROJECTION_WEIGHTS:
            if (folder / name / weights).is_file():
                return folder / name / weights
    return None


def load_linear(path: Path) -> torch.nn.Linear:
    """A linear layer from a weights file holding one weight matrix and its bias (whatever their prefix)."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    weights = [value for key, value in state.items() if key.endswith("weight") and value.ndim == 2]
    biases = [value for key, value in state.items() if key.endswith("bias") and value.ndim == 1]
    if len(weights) != 1 or len(biases) != 1 or biases[0].shape[0] != weights[0].shape[0]:
        raise ValueError(f"{path} does not hold one linear layer (its tensors: {sorted(state)})")
    layer = torch.nn.Linear(weights[0].shape[1], weights[0].shape[0])
    layer.load_state_dict({"weight": weights[0].float(), "bias": biases[0].float()})
    return layer


class Zero123(FrozenLatentDiffusion):
    """The photo's conditioning (CLIP embedding and latents), the camera projection and the noise prediction of a
    frozen Zero-1-to-3 model; see the module docstring."""

    def __init__(
        self, options: Zero123LoadOptions, device: torch.device | str, option_name: str = "zero123 --diffusion.model"
    ) -> None:
        from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
        from transformers import CLIPImageProcessor, CLIPVisionModelWithProjection

        device = torch.device(device)
        dtype = model_dtype(options.half_precision, device)
        source = resolve_pretrained(options.model, what="Zero-1-to-3", option=option_name)
        folder = self._projection_folder(source, options.model, option_name)
        try:
            vae = AutoencoderKL.from_pretrained(source, subfolder="vae", **diffusers_dtype_argument(dtype))
            unet = UNet2DConditionModel.from_pretrained(source, subfolder="unet", **diffusers_dtype_argument(dtype))
            # Only the noise levels are used: any scheduler's config gives them (the repositories ship DDIM's).
            scheduler = DDPMScheduler.from_pretrained(source, subfolder="scheduler")
            image_encoder = CLIPVisionModelWithProjection.from_pretrained(source, subfolder="image_encoder")
            feature_extractor = CLIPImageProcessor.from_pretrained(source, subfolder="feature_extractor")
        except (OSError, ValueError) as error:
            problem = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise not_a_zero123_model(options.model, problem, option_name) from None
        if unet.config.in_channels != 8:
            raise not_a_zero123_model(
                options.model,
                f"its UNet takes {unet.config.in_channels} input channels, not the noisy latents and the photo's "
                "latents (8): a text-to-image model?",
                option_name,
            )
        weights = projection_weights_file(folder)
        if weights is None:
            raise not_a_zero123_model(options.model, "no camera projection weights", option_name)
        try:
            projection = load_linear(weights)
        except Exception as error:  # a truncated or foreign file: safetensors, pickle and shape errors alike
            raise not_a_zero123_model(options.model, str(error), option_name) from None
        expected = (image_encoder.config.projection_dim + CAMERA_NUMBERS, unet.config.cross_attention_dim)
        if (projection.in_features, projection.out_features) != expected:
            raise not_a_zero123_model(
                options.model,
                f"{weights.relative_to(folder)} maps {projection.in_features} numbers to {projection.out_features}, "
                f"the CLIP embedding and camera need {expected[0]} to {expected[1]}",
                option_name,
            )
        super().__init__(vae, unet, scheduler, device, dtype, options.vae_gradient_checkpointing)
        vae.to(device)
        unet.to(device)
        self.image_encoder = image_encoder.to(device=device, dtype=dtype).requires_grad_(False).eval()
        self.projection = projection.to(device=device, dtype=dtype).requires_grad_(False).eval()
        self.clip_size = _crop_size(feature_extractor)
        self.clip_mean = torch.tensor(feature_extractor.image_mean, device=device).view(1, 3, 1, 1)
        self.clip_std = torch.tensor(feature_extractor.image_std, device=device).view(1, 3, 1, 1)
        self.camera_embedding: CameraEmbedding = options.resolved_camera_embedding()

    @staticmethod
    def _projection_folder(source: str, model: str, option_name: str) -> Path:
        """The local folder holding the projection's weights: the model's folder, or the Hub snapshot of just those
        files (the rest is fetched by each library's from_pretrained)."""
        local = Path(source)
        if local.is_dir():
            check_local_layout(local, model, option_name)
            return local
        from huggingface_hub import snapshot_download

        patterns = [f"{name}/{file}" for name in PROJECTION_FOLDERS for file in ("config.json", *PROJECTION_WEIGHTS)]
        return Path(snapshot_download(source, allow_patterns=patterns))

    @torch.no_grad()
    def photo_conditioning(
        self, photo: Float[Tensor, "1 3 H W"], size: int
    ) -> tuple[Float[Tensor, "1 D"], Float[Tensor, "1 4 h w"]]:
        """The photo (in [0, 1]) as Zero-1-to-3 was trained to see it, at the side renders are given to it (256):
        its CLIP image embedding, and its VAE latents *unscaled* (the original model concatenates
        ``encode_first_stage(image).mode()`` without the VAE's scaling factor; threestudio's zero123_guidance.py
        ``get_img_embeds``)."""
        photo = F.interpolate(photo.float(), size=(size, size), mode="bilinear", antialias=True)
        clip_input = clip_pixel_values(photo, self.clip_size, self.clip_mean, self.clip_std)
        embedding = self.image_encoder(pixel_values=clip_input.to(self.dtype)).image_embeds.float()
        latents = self.encode_images(photo) / self.latent_scale
        return embedding, latents.float()

    def camera_conditioning(
        self, photo_embedding: Float[Tensor, "1 D"], cameras: Float[Tensor, "views 4"]
    ) -> Float[Tensor, "views 1 C"]:
        """What the UNet attends to: the photo's embedding and each view's camera numbers, projected."""
        joined = torch.cat([photo_embedding.expand(cameras.shape[0], -1), cameras.to(photo_embedding)], dim=-1)
        return self.projection(joined.to(self.dtype))[:, None, :]

    def predict_noise(
        self,
        noisy: Float[Tensor, "batch 4 h w"],
        timesteps: Int[Tensor, "batch"],
        photo_latents: Float[Tensor, "batch 4 h w"],
        conditioning: Float[Tensor, "batch 1 C"],
    ) -> Float[Tensor, "batch 4 h w"]:
        """The UNet's noise prediction in fp32, the photo's latents in its extra input channels."""
        inputs = torch.cat([noisy, photo_latents], dim=1).to(self.dtype)
        output = self.unet(inputs, timesteps.to(self.device), encoder_hidden_states=conditioning.to(self.dtype)).sample
        return self.noise_from_output(output, noisy, timesteps)


def clip_pixel_values(
    images: Float[Tensor, "batch 3 H W"],
    size: tuple[int, int],
    mean: Float[Tensor, "1 3 1 1"],
    std: Float[Tensor, "1 3 1 1"],
) -> Float[Tensor, "batch 3 h w"]:
    """Images in [0, 1] as the original model's FrozenCLIPImageEmbedder gave them to CLIP: bicubic to the encoder's
    ``size``, corners aligned, then CLIP's normalisation by ``mean`` and ``std``."""
    resized = F.interpolate(images, size=size, mode="bicubic", align_corners=True).clamp(0.0, 1.0)
    return (resized - mean) / std


def _crop_size(feature_extractor) -> tuple[int, int]:
    """The image encoder's input size, from its processor's settings (224 for CLIP ViT-L/14): a dict in older
    transformers, a SizeDict with the same keys in newer ones."""
    crop = feature_extractor.crop_size
    if isinstance(crop, int):
        return crop, crop
    return int(crop.get("height") or crop.get("shortest_edge")), int(crop.get("width") or crop.get("shortest_edge"))
