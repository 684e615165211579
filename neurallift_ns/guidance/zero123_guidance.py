"""A view-conditioned prior: score distillation from Zero-1-to-3 / Stable Zero123, given the photo and the camera.

Each sampled view is encoded by the VAE, noised, and denoised by a UNet that sees the photo's latents beside the noisy
ones and attends to the photo's CLIP embedding projected together with the view's camera relative to the photo's
(:mod:`~neurallift_ns.guidance.relative_camera`). Classifier-free guidance compares that with the prediction when
both the photo's latents and the projected embedding are zeroed, as the model was trained to drop its condition
(threestudio ``zero123_guidance.py``, ``get_cond``). So the back of the object is hallucinated from the photo, not
from a text prompt: no prompt and no direction words are used.

The model was trained on renders at one field of view and distance: sampled views are taken at the photo's field of
view and distance (:meth:`Zero123GuidanceConfig.sampled_orbit`), as threestudio and stable-dreamfusion pin them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Tuple, Type

import torch
from jaxtyping import Float, Int
from nerfstudio.cameras.cameras import Cameras
from nerfstudio.utils.rich_utils import CONSOLE
from torch import Tensor

from neurallift_ns.data.orbit_views import OrbitViewsConfig, ReferenceView
from neurallift_ns.guidance import score_distillation as sds
from neurallift_ns.guidance.base import Guidance, GuidanceConfig, GuidanceOutput
from neurallift_ns.guidance.reference import reference_camera_position, reference_photo
from neurallift_ns.guidance.relative_camera import CameraEmbedding, relative_camera
from neurallift_ns.guidance.timesteps import TimestepSchedule
from neurallift_ns.guidance.zero123 import Zero123LoadOptions

ZERO123_WEIGHT = 0.1
"""Zero-1-to-3's weight beside the photo (lambda_rgb 1000), 1e-4 of it: threestudio configs/zero123.yaml has
lambda_sds 0.1 beside lambda_rgb 500 (2e-4), Magic123's coarse stage 1 beside 1000. Measured with a miniature
Zero-1-to-3 on a held-out procedural cup (docs/miniature-priors.md, "The sweep"): at 0.01 / 0.1 / 1 the back scored
17.1 / 17.6 / 17.1 dB, silhouette IoU 0.51 / 0.71 / 0.81, the photo 42.8 / 39.0 / 31.5 dB (no prior: 14.3 dB, 0.45,
44.6 dB); 0.1 gave the best back with the photo far above 28 dB. At 0.001 (Stable Diffusion's weight until the
same measurement raised it) it changed nothing (14.1 dB, 0.45). With the blob kept, as it ships ("Three seeds at the
shipped configuration"): at 0.01 / 0.1 / 1 IoU 0.76 / 0.81 / 0.86, the photo 43.9 / 36.2 / 29.0 dB; at 0.1 over 15
lifts back 18.0 -> 18.5 dB, IoU 0.73 -> 0.86."""


@dataclass
class Zero123GuidanceConfig(GuidanceConfig):
    """Zero-1-to-3 / Stable Zero123 score distillation: the prior is given the photo and each view's camera.
    Defaults: threestudio's Zero-1-to-3 recipe (configs/zero123.yaml)."""

    _target: Type = field(default_factory=lambda: Zero123Guidance)
    diffusion: Zero123LoadOptions = field(default_factory=Zero123LoadOptions)
    """Which Zero-1-to-3 model, and how it is loaded."""
    guidance_scale: float = 3.0
    """Classifier-free guidance scale (threestudio configs/zero123.yaml and stable-zero123.yaml: guidance_scale 3.0;
    Magic123 and stable-dreamfusion's image-only mode: 5)."""
    timesteps: TimestepSchedule = field(
        default_factory=lambda: TimestepSchedule(
            max_fraction=0.85, min_fraction_start=0.4, min_fraction_end=0.2, max_fraction_end=0.5
        )
    )
    """Which diffusion timesteps are drawn: [0.4, 0.85] of the range narrowing to [0.2, 0.5] over the first third of
    the run (threestudio configs/zero123.yaml: min_step_percent [0, 0.4, 0.2, 200], max_step_percent
    [0, 0.85, 0.5, 200] over its 600 steps)."""
    stable_zero123_timesteps: TimestepSchedule = field(
        default_factory=lambda: TimestepSchedule(
            max_fraction=0.98,
            min_fraction_start=0.7,
            min_fraction_end=0.3,
            max_fraction_end=0.8,
            anneal_start_step=833,
            anneal_steps=3333,
        )
    )
    """Which diffusion timesteps are drawn when the model takes Stable Zero123's camera numbers, in place of
    timesteps: [0.7, 0.98] of the range, narrowing to [0.3, 0.8] between a twelfth and a third of the run (threestudio
    configs/stable-zero123.yaml: min_step_percent [50, 0.7, 0.3, 200], max_step_percent [50, 0.98, 0.8, 200] over its
    600 steps)."""
    weighting: sds.TimestepWeighting = "one_minus_alpha"
    """w(t) of the score-distillation gradient (threestudio zero123_guidance.py: 1 - alphas_cumprod[t])."""
    gradient_clip: float = 0.0
    """Each element of the score-distillation gradient on the latents is clamped to this magnitude; 0 turns it off
    (threestudio configs/zero123.yaml sets no grad_clip)."""
    diffusion_resolution: int = 256
    """Side, in pixels, that renders are resized to before the VAE (Zero-1-to-3 was trained at 256x256;
    threestudio zero123_guidance.py resizes to 256)."""
    elevation_range_deg: Tuple[float, float] = (-10.0, 80.0)
    """Elevation of sampled views above the object's equator, in degrees; their field of view and distance are the
    photo's camera's (threestudio configs/zero123.yaml: elevation_range [-10, 80], camera_distance_range and
    fovy_range pinned to the reference's, "Zero123 has fixed fovy")."""
    albedo_on_white: bool = True
    """Show the prior its views as albedo on white, whatever the model's shading and background settings: Zero-1-to-3
    was trained on such renders (threestudio configs/zero123.yaml: ambient-only material, white background).
    Measured with a miniature Zero-1-to-3 at weight 1 (docs/miniature-priors.md, pilot): back views 17.1 dB shown
    albedo on white, 8.1 dB shown shaded views on coloured backgrounds."""
    seed: int = 0
    """Seed of the timesteps and noise drawn."""

    def default_weight(self) -> float:
        return ZERO123_WEIGHT

    def timestep_schedule(self, camera_embedding: CameraEmbedding) -> TimestepSchedule:
        """The timesteps drawn for a model trained on these camera numbers: each model's own recipe."""
        return self.stable_zero123_timesteps if camera_embedding == "stable-zero123" else self.timesteps

    def shows_albedo_on_white(self) -> bool:
        return self.albedo_on_white

    def sampled_orbit(self, orbit: OrbitViewsConfig, reference: ReferenceView) -> OrbitViewsConfig:
        """The photo's field of view and distance, this prior's elevations, all azimuths as configured."""
        return replace(
            orbit,
            radius_range=(reference.radius, reference.radius),
            fov_range_deg=(reference.fov_deg, reference.fov_deg),
            elevation_range_deg=self.elevation_range_deg,
        )


class Zero123Guidance(Guidance):
    """Score distillation from Zero-1-to-3 conditioned on the photo and each view's relative camera; see the module
    docstring."""

    config: Zero123GuidanceConfig

    def __init__(
        self,
        config: Zero123GuidanceConfig,
        device: torch.device | str = "cpu",
        model_metadata: dict | None = None,
        option_prefix: str = "zero123 --",
    ) -> None:
        """``option_prefix``: what comes before this guidance's options on the command line, for messages."""
        from neurallift_ns.guidance.zero123 import Zero123

        self.config = config
        self.device = torch.device(device)
        photo = torch.from_numpy(reference_photo(model_metadata or {})).permute(2, 0, 1)[None].to(self.device)
        self.reference_position = reference_camera_position(model_metadata or {}).to(self.device)
        with CONSOLE.status(f"Loading Zero-1-to-3 ({config.diffusion.model})"):
            self.model = Zero123(config.diffusion, self.device, f"{option_prefix}diffusion.model")
        self.photo_embedding, self.photo_latents = self.model.photo_conditioning(photo, config.diffusion_resolution)
        self.generator = torch.Generator().manual_seed(config.seed)
        CONSOLE.print(f"Zero-1-to-3 conditioned on the photo ({self.model.camera_embedding} camera numbers)")

    def cameras_relative_to_photo(self, cameras: Cameras) -> Float[Tensor, "views 4"]:
        """The camera numbers of each view, relative to the photo's camera."""
        positions = cameras.camera_to_worlds[:, :3, 3].to(self.device)
        return relative_camera(positions, self.reference_position, self.model.camera_embedding)

    def guided_noise(
        self,
        noisy: Float[Tensor, "views 4 h w"],
        timesteps: Int[Tensor, "views"],
        relative: Float[Tensor, "views 4"],
    ) -> Float[Tensor, "views 4 h w"]:
        """The noise prediction with classifier-free guidance; the unconditional one has the photo's latents and the
        projected embedding zeroed, as Zero-1-to-3 was trained to drop its condition."""
        num_views = noisy.shape[0]
        conditioning = self.model.camera_conditioning(self.photo_embedding, relative)
        photo_latents = self.photo_latents.expand(num_views, -1, -1, -1)
        with torch.no_grad():
            conditional, unconditional = self.model.predict_noise(
                torch.cat([noisy, noisy]),
                torch.cat([timesteps, timesteps]),
                torch.cat([photo_latents, torch.zeros_like(photo_latents)]),
                torch.cat([conditioning, torch.zeros_like(conditioning)]),
            ).chunk(2)
        return sds.classifier_free_guidance(unconditional, conditional, self.config.guidance_scale)

    def __call__(
        self,
        images: Float[Tensor, "views H W 3"],
        cameras: Cameras,
        directions: Int[Tensor, "views"],
        shading: Int[Tensor, "views"],
        step: int,
    ) -> GuidanceOutput:
        config, model = self.config, self.model
        num_views = images.shape[0]
        latents = model.encode_renders(images, config.diffusion_resolution)
        schedule = config.timestep_schedule(model.camera_embedding)
        timesteps = schedule.sample(step, model.num_train_timesteps, num_views, self.generator)
        timesteps = timesteps.to(self.device)
        noise, noisy = sds.noise_latents(latents, timesteps, model.alphas_cumprod, self.generator)
        noise_pred = self.guided_noise(noisy, timesteps, self.cameras_relative_to_photo(cameras))
        loss, clipped = sds.score_distillation_loss_from_noise(
            latents, noise_pred, noise, timesteps, model.alphas_cumprod, config.weighting, config.gradient_clip
        )
        diagnostics = {
            "timestep": float(timesteps.float().mean()),
            "score_distillation": float(loss.detach()),
            "clipped_views": float(clipped.sum()),
        }
        return GuidanceOutput(loss=loss, diagnostics=diagnostics)
