"""NeuralLift-360's prior: Stable Diffusion score distillation with CLIP guidance toward the photo.

Each sampled view is encoded by the VAE, noised at a timestep drawn from the annealed range, and denoised by the UNet
under its direction's prompt with classifier-free guidance. Before the score-distillation gradient is formed, the
clean image the guided prediction implies is decoded and embedded with CLIP, and the gradient of its spherical
distance to the photo's embedding is folded into the noise prediction (strongest for front views, none for
textureless ones). Front views are also pulled toward the photo directly by a CLIP loss on the render itself.

Networks are loaded once, when training first needs them, and never enter the model's module tree (so never its
checkpoints); commands that only read a checkpoint (``ns-export``, ``ns-viewer``, ``ns-render``) never load them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Tuple, Type

import numpy as np
import torch
from jaxtyping import Float, Int
from nerfstudio.cameras.cameras import Cameras
from nerfstudio.utils.rich_utils import CONSOLE
from torch import Tensor

from lift_common.cameras import orbit_angles
from lift_common.errors import UserInputError
from neurallift_ns.data.orbit_views import DIRECTION_NAMES
from neurallift_ns.guidance import score_distillation as sds
from neurallift_ns.guidance.base import (
    DEFAULT_CLIP_MODEL,
    DEFAULT_CLIP_PRETRAINED,
    Guidance,
    GuidanceConfig,
    GuidanceOutput,
)
from neurallift_ns.guidance.prompts import azimuth_prompt_weights, direction_prompt, subject_prompt
from neurallift_ns.guidance.reference import reference_photo
from neurallift_ns.guidance.stable_diffusion import StableDiffusionLoadOptions
from neurallift_ns.guidance.textual_inversion import TextualInversionConfig
from neurallift_ns.guidance.timesteps import TimestepSchedule
from neurallift_ns.shading import SHADING_MODES

TEXTURELESS = SHADING_MODES.index("textureless")
AZIMUTH_BLENDED_DIRECTIONS = tuple(DIRECTION_NAMES.index(name) for name in ("front", "side", "back"))
"""The directions whose prompts are blended by azimuth, in the order of :func:`azimuth_prompt_weights`."""
STABLE_DIFFUSION_WEIGHT = 0.1
"""Stable Diffusion's weight beside the photo (lambda_rgb 1000), 1e-4 of it: stable-dreamfusion's text+image mode
has 1 beside 1000 (main.py), Magic123 0.025 at guidance 100 (configs/magic123-coarse-sd.yaml), about 0.2 at our
guidance 10. Measured with a miniature Stable Diffusion on a held-out procedural cup, its views albedo on white, CLIP
off (docs/miniature-priors.md, "Stable Diffusion's weight"): at 0.001 / 0.01 / 0.1 / 1 the back scored
15.0 / 16.9 / 17.6 / 17.7 dB, silhouette IoU 0.46 / 0.52 / 0.73 / 0.86, the photo 44.2 / 42.7 / 38.6 / 29.6 dB (no
prior: 14.5-15.3 dB, 0.46-0.47, 43-45 dB over three seeds). The old 0.001 changed nothing; at 1 the photo neared its
28 dB floor. At 0.1 on five held-out cups x three seeds ("The table"): back 14.7 -> 18.4 dB, IoU 0.47 -> 0.77, the
photo 37.5 dB or more. With the blob kept, as it ships ("Three seeds at the shipped configuration"): at 0.01 / 0.1 / 1
IoU 0.77 / 0.85 / 0.90, the photo 44.6 / 39.9 / 30.2 dB; at 0.1 over 15 lifts back 18.0 -> 18.7 dB, IoU 0.73 -> 0.88."""


@dataclass
class StableDiffusionGuidanceConfig(GuidanceConfig):
    """Stable Diffusion score distillation with CLIP guidance toward the photo (NeuralLift-360)."""

    _target: Type = field(default_factory=lambda: StableDiffusionGuidance)
    diffusion: StableDiffusionLoadOptions = field(default_factory=StableDiffusionLoadOptions)
    """Which Stable Diffusion model, and how it is loaded."""
    prompt: str = ""
    """What the object is (e.g. "a ceramic coffee cup"); view words are appended. Empty: "a photo of the object", or
    the token learnt on the photo."""
    negative_prompt: str = ""
    """What sampled views should not look like (classifier-free guidance's unconditional prompt)."""
    guidance_scale: float = 10.0
    """Classifier-free guidance scale of the noise prediction. 10 is stable-dreamfusion's for Stable Diffusion beside a
    photo (main.py, image mode; its text-only default and NeuralLift-360's are 100): the photo, not a strong text
    condition, decides what the object looks like."""
    timesteps: TimestepSchedule = field(default_factory=TimestepSchedule)
    """Which diffusion timesteps are drawn as training goes on."""
    weighting: sds.TimestepWeighting = "one_minus_alpha"
    """w(t) of the score-distillation gradient (stable-dreamfusion and NeuralLift-360: 1 - alphas_cumprod[t])."""
    gradient_clip: float = 2.0
    """Each element of the score-distillation gradient on the latents is clamped to this magnitude; 0 turns it off
    (threestudio's grad_clip, ending at 2.0 in configs/gradio/dreamfusion-sd.yaml). At the defaults the gradient's
    typical size is about 0.4, so only outliers (an fp16 overflow, a stray timestep) are clamped."""
    interpolate_direction_prompts: bool = True
    """Blend the front, side and back prompts' embeddings by each view's azimuth instead of switching between them
    (stable-dreamfusion's image mode); overhead and bottom views keep their own prompts."""
    diffusion_resolution: int = 512
    """Side, in pixels, that renders are resized to before the VAE (the model's native resolution)."""
    learned_embedding: Path | None = None
    """Token embedding learnt on the photo by ns-neurallift-finetune; its token is used in the prompts."""
    adapt_to_photo: bool = False
    """Learn a token for the photo (textual inversion) before training, cached beside the photo, and use it."""
    adaptation: TextualInversionConfig = field(default_factory=TextualInversionConfig)
    """Settings of that textual inversion."""
    clip_model: str = DEFAULT_CLIP_MODEL
    """open_clip model for CLIP guidance: an architecture name (with --...clip-pretrained), hf-hub:owner/name, or a
    folder with open_clip_config.json and weights."""
    clip_pretrained: str = DEFAULT_CLIP_PRETRAINED
    """Pretrained tag (or weights file) of an architecture-name CLIP model."""
    clip_guidance_scales: Tuple[float, float, float, float, float] = (100.0, 10.0, 0.0, 0.0, 0.0)
    """CLIP guidance scale of sampled views labelled front, side, back, overhead and bottom (textureless views get
    none: they cannot look like the photo). Front 100 is NeuralLift-360's. Its released code gives the other views 50,
    but with the sign that pushes them away from the photo; pulling the back of the object toward the front photo
    makes a second face (the Janus problem), so here the back, overhead and bottom get none and the sides a tenth."""
    lambda_clip_image: float = 1.0
    """Weight of the CLIP loss between front sampled renders and the photo (NeuralLift-360's clip_img_weight). It is
    part of the prior's loss, so ``lambda_guidance`` weighs it too: 0.1 beside the photo's RGB 1000 at the defaults."""
    seed: int = 0
    """Seed of the timesteps and noise drawn."""

    def default_weight(self) -> float:
        return STABLE_DIFFUSION_WEIGHT

    def clip_for_evaluation(self) -> tuple[str, str]:
        """This guidance's own CLIP model scores novel views too."""
        return self.clip_model, self.clip_pretrained


class StableDiffusionGuidance(Guidance):
    """Score distillation from Stable Diffusion, CLIP-guided toward the photo; see the module docstring."""

    config: StableDiffusionGuidanceConfig

    def __init__(
        self,
        config: StableDiffusionGuidanceConfig,
        device: torch.device | str = "cpu",
        model_metadata: dict | None = None,
        option_prefix: str = "stable-diffusion --",
    ) -> None:
        """``option_prefix``: what comes before this guidance's options on the command line, for messages."""
        from neurallift_ns.guidance.clip_embedder import ClipImageEmbedder
        from neurallift_ns.guidance.stable_diffusion import StableDiffusion

        self.config = config
        self.device = torch.device(device)
        photo = reference_photo(model_metadata or {})
        with CONSOLE.status(f"Loading Stable Diffusion ({config.diffusion.model})"):
            self.diffusion = StableDiffusion(config.diffusion, self.device, f"{option_prefix}diffusion.model")
        token = self._learnt_token(photo, model_metadata or {}, option_prefix)
        self.subject = subject_prompt(config.prompt, token)
        prompts = [direction_prompt(self.subject, name) for name in DIRECTION_NAMES]
        self.direction_embeddings = self.diffusion.encode_prompts(prompts)
        self.negative_embedding = self.diffusion.encode_prompts([config.negative_prompt])
        self.clip = None
        if max(config.clip_guidance_scales) > 0 or config.lambda_clip_image > 0:
            with CONSOLE.status(f"Loading CLIP ({config.clip_model})"):
                self.clip = ClipImageEmbedder(
                    config.clip_model, config.clip_pretrained, self.device, self.diffusion.dtype, option_prefix
                )
            photo_tensor = torch.from_numpy(photo).permute(2, 0, 1)[None].to(self.device)
            with torch.no_grad():
                self.photo_embedding = self.clip(photo_tensor)
        self.generator = torch.Generator().manual_seed(config.seed)
        CONSOLE.print(f"Guidance prompt: '{direction_prompt(self.subject, 'front')}' (and side, back, ... views)")

    def _learnt_token(self, photo: np.ndarray, metadata: dict, option_prefix: str) -> str | None:
        """Load or learn the photo's token, if asked to; the token, or None."""
        from neurallift_ns.guidance.textual_inversion import adapted_token

        config = self.config
        if config.learned_embedding is not None:
            if not Path(config.learned_embedding).is_file():
                raise UserInputError(
                    f"Learnt token file '{config.learned_embedding}' does not exist. Make one with "
                    f"`ns-neurallift-finetune photo.png`, or drop {option_prefix}learned-embedding."
                )
            return self.diffusion.load_learned_embedding(Path(config.learned_embedding))
        if not config.adapt_to_photo:
            return None
        return adapted_token(self.diffusion, photo, metadata["image_path"], config.diffusion.model, config.adaptation)

    def __call__(
        self,
        images: Float[Tensor, "views H W 3"],
        cameras: Cameras,
        directions: Int[Tensor, "views"],
        shading: Int[Tensor, "views"],
        step: int,
    ) -> GuidanceOutput:
        config, diffusion = self.config, self.diffusion
        num_views = images.shape[0]
        directions, shading = directions.to(self.device), shading.to(self.device)
        renders = images.permute(0, 3, 1, 2)
        latents = diffusion.encode_renders(images, config.diffusion_resolution)
        timesteps = config.timesteps.sample(step, diffusion.num_train_timesteps, num_views, self.generator)
        timesteps = timesteps.to(self.device)
        alpha = diffusion.alphas_cumprod[timesteps]
        noise, noisy = sds.noise_latents(latents, timesteps, diffusion.alphas_cumprod, self.generator)
        with torch.no_grad():
            text = torch.cat(
                [self.negative_embedding.expand(num_views, -1, -1), self.view_embeddings(cameras, directions)]
            )
            unconditional, conditional = diffusion.predict_noise(
                torch.cat([noisy, noisy]), torch.cat([timesteps, timesteps]), text
            ).chunk(2)
            noise_pred = sds.classifier_free_guidance(unconditional, conditional, config.guidance_scale)

        diagnostics = {"timestep": float(timesteps.float().mean())}
        scales = torch.tensor(config.clip_guidance_scales, device=self.device)[directions]
        scales = torch.where(shading == TEXTURELESS, 0.0, scales)
        if self.clip is not None and bool((scales > 0).any()):
            guided = torch.nonzero(scales > 0)[:, 0]
            estimate = sds.estimate_clean_latents(noisy[guided], noise_pred[guided], alpha[guided])
            gradient, distance = self.distance_gradient(estimate, scales[guided])
            # An fp16 overflow in the decoder would make the whole view's gradient NaN (then zero): such a view keeps
            # its plain score-distillation gradient instead.
            finite = torch.isfinite(gradient).flatten(1).all(dim=1)
            kept = guided[finite]
            noise_pred[kept] = sds.clip_guided_noise(noise_pred[kept], gradient[finite], alpha[kept])
            diagnostics["clip_estimate_distance"] = float(distance[finite].mean()) if bool(finite.any()) else math.nan
            diagnostics["clip_skipped_views"] = float((~finite).sum())

        loss, clipped = sds.score_distillation_loss_from_noise(
            latents, noise_pred, noise, timesteps, diffusion.alphas_cumprod, config.weighting, config.gradient_clip
        )
        diagnostics["score_distillation"] = float(loss.detach())
        diagnostics["clipped_views"] = float(clipped.sum())

        front = (directions == DIRECTION_NAMES.index("front")) & (shading != TEXTURELESS)
        if self.clip is not None and config.lambda_clip_image > 0 and bool(front.any()):
            distance = self.photo_distance(renders[front])
            loss = loss + config.lambda_clip_image * distance.mean()
            diagnostics["clip_image_distance"] = float(distance.detach().mean())
        return GuidanceOutput(loss=loss, diagnostics=diagnostics)

    def view_embeddings(self, cameras: Cameras, directions: Int[Tensor, "views"]) -> Float[Tensor, "views tokens D"]:
        """The prompt embedding each view is denoised under: its direction's, or front / side / back blended by its
        azimuth (overhead and bottom views keep their own)."""
        discrete = self.direction_embeddings[directions]
        if not self.config.interpolate_direction_prompts:
            return discrete
        azimuth, _, _ = orbit_angles(cameras.camera_to_worlds[:, :3, 3].to(self.device))
        weights = azimuth_prompt_weights(azimuth)
        blended_embeddings = self.direction_embeddings[list(AZIMUTH_BLENDED_DIRECTIONS)]
        blended = torch.einsum("vk,ktd->vtd", weights.to(discrete), blended_embeddings)
        above_or_below = (directions == DIRECTION_NAMES.index("overhead")) | (
            directions == DIRECTION_NAMES.index("bottom")
        )
        return torch.where(above_or_below[:, None, None], discrete, blended)

    def photo_distance(self, images: Float[Tensor, "views 3 H W"]) -> Float[Tensor, "views"]:
        """CLIP spherical distance of each image to the photo."""
        from neurallift_ns.guidance.clip_embedder import spherical_distance

        return spherical_distance(self.clip(images), self.photo_embedding)

    def distance_gradient(
        self, estimate: Float[Tensor, "views 4 h w"], scales: Float[Tensor, "views"]
    ) -> tuple[Float[Tensor, "views 4 h w"], Float[Tensor, "views"]]:
        """The gradient, with respect to clean latents, of the scaled CLIP distance of their decoding to the photo."""
        estimate = estimate.detach().requires_grad_(True)
        with torch.enable_grad():
            distance = self.photo_distance(self.diffusion.decode_latents(estimate))
            (gradient,) = torch.autograd.grad((distance * scales).sum(), estimate)
        return gradient.float(), distance.detach()
