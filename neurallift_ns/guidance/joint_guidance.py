"""Magic123's joint prior: a view-conditioned model (Zero-1-to-3) for geometry consistent with the photo, plus Stable
Diffusion with the photo's learnt token for detail, their score-distillation losses summed with fixed weights.

The defaults are Magic123's coarse stage as threestudio configures it (``configs/magic123-coarse-sd.yaml``), which
keeps the official implementation's balance of the two priors (``scripts/magic123/run_both_priors.sh``:
``--lambda_guidance 1.0 40``, SD to Zero-1-to-3 as 0.025 to 1). Each prior's loss and diagnostics are logged on their
own, under ``zero123/`` and ``stable_diffusion/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Type

import torch

from neurallift_ns.data.orbit_views import OrbitViewsConfig, ReferenceView
from neurallift_ns.guidance.base import Guidance, GuidanceConfig, GuidanceOutput
from neurallift_ns.guidance.stable_diffusion_guidance import StableDiffusionGuidanceConfig
from neurallift_ns.guidance.timesteps import TimestepSchedule
from neurallift_ns.guidance.zero123_guidance import Zero123GuidanceConfig

MAGIC123_TIMESTEPS = (0.2, 0.6)
"""Both priors draw timesteps from [0.2, 0.6] of the range (magic123-coarse-sd.yaml: min_step_percent 0.2,
max_step_percent 0.6 in guidance and guidance_3d)."""


def magic123_timesteps() -> TimestepSchedule:
    """Magic123's fixed range of timesteps, for either prior (and for Stable Zero123 when it is joint's model:
    Magic123 has no recipe of its own for it)."""
    low, high = MAGIC123_TIMESTEPS
    return TimestepSchedule(max_fraction=high, min_fraction_start=low, min_fraction_end=low)


def magic123_zero123() -> Zero123GuidanceConfig:
    """Zero-1-to-3 as Magic123's coarse stage uses it (threestudio configs/magic123-coarse-sd.yaml, guidance_3d:
    zero123-unified-guidance, guidance_scale 5.0, steps [0.2, 0.6]; random_camera elevation_range [-45, 45] with
    camera_distance_range and fovy_range pinned to the reference's). Its unified guidance weights by
    1 - sqrt(alphas_cumprod). The model is the zero123 guidance's, Zero-1-to-3 XL; threestudio's unified guidance
    defaults to the original Zero-1-to-3 (bennyguo/zero123-diffusers, pass it with joint --zero123.diffusion.model
    for the exact recipe): XL generalises better (the Objaverse-XL paper) and one download serves both guidances."""
    return Zero123GuidanceConfig(
        guidance_scale=5.0,
        timesteps=magic123_timesteps(),
        stable_zero123_timesteps=magic123_timesteps(),
        weighting="one_minus_sqrt_alpha",
        elevation_range_deg=(-45.0, 45.0),
    )


def magic123_stable_diffusion() -> StableDiffusionGuidanceConfig:
    """Stable Diffusion as Magic123's coarse stage uses it (threestudio configs/magic123-coarse-sd.yaml, guidance:
    stable-diffusion-unified-guidance, guidance_scale 100, steps [0.2, 0.6], no grad_clip, no image-space loss,
    view-dependent prompts without interpolation), with the photo's learnt token (official Magic123: textual
    inversion first, prompt "A high-resolution DSLR image of <token>"). NeuralLift-360's CLIP guidance is off."""
    return StableDiffusionGuidanceConfig(
        guidance_scale=100.0,
        timesteps=magic123_timesteps(),
        weighting="one_minus_sqrt_alpha",
        gradient_clip=0.0,
        interpolate_direction_prompts=False,
        adapt_to_photo=True,
        clip_guidance_scales=(0.0, 0.0, 0.0, 0.0, 0.0),
        lambda_clip_image=0.0,
    )


@dataclass
class JointGuidanceConfig(GuidanceConfig):
    """Magic123: Zero-1-to-3 and Stable Diffusion (with the photo's learnt token) together. Defaults: Magic123's
    coarse stage (threestudio configs/magic123-coarse-sd.yaml)."""

    _target: Type = field(default_factory=lambda: JointGuidance)
    zero123: Zero123GuidanceConfig = field(default_factory=magic123_zero123)
    """The view-conditioned prior (guidance_3d in magic123-coarse-sd.yaml)."""
    stable_diffusion: StableDiffusionGuidanceConfig = field(default_factory=magic123_stable_diffusion)
    """The text-to-image prior (guidance in magic123-coarse-sd.yaml)."""
    lambda_zero123: float = 1.0
    """Weight of Zero-1-to-3's loss (magic123-coarse-sd.yaml: lambda_3d_sd 1.0)."""
    lambda_stable_diffusion: float = 0.025
    """Weight of Stable Diffusion's loss (magic123-coarse-sd.yaml: lambda_sd 0.025)."""

    def sampled_orbit(self, orbit: OrbitViewsConfig, reference: ReferenceView) -> OrbitViewsConfig:
        """The view-conditioned prior's views (it only knows the photo's field of view and distance)."""
        return self.zero123.sampled_orbit(orbit, reference)

    def default_weight(self) -> float:
        """The view-conditioned prior's (Magic123's own two weights then share it)."""
        return self.zero123.default_weight()

    def shows_albedo_on_white(self) -> bool:
        """As the view-conditioned prior asks (Magic123's coarse stage shows both priors albedo on white:
        magic123-coarse-sd.yaml, no-material and solid-color-background)."""
        return self.zero123.shows_albedo_on_white()


class JointGuidance(Guidance):
    """Both priors on the same sampled views; see the module docstring."""

    config: JointGuidanceConfig

    def __init__(
        self,
        config: JointGuidanceConfig,
        device: torch.device | str = "cpu",
        model_metadata: dict | None = None,
        option_prefix: str = "joint --",
    ) -> None:
        """``option_prefix``: what comes before this guidance's options on the command line, for messages."""
        self.config = config
        priors = {
            "zero123": (config.lambda_zero123, config.zero123),
            "stable_diffusion": (config.lambda_stable_diffusion, config.stable_diffusion),
        }
        # A prior weighted 0 is not loaded.
        self.priors: dict[str, tuple[float, Guidance]] = {
            name: (
                weight,
                prior.setup(
                    device=device,
                    model_metadata=model_metadata,
                    option_prefix=f"{option_prefix}{name.replace('_', '-')}.",
                ),
            )
            for name, (weight, prior) in priors.items()
            if weight != 0
        }

    def __call__(self, images, cameras, directions, shading, step) -> GuidanceOutput:
        loss = images.new_zeros(())
        diagnostics = {}
        for name, (weight, prior) in self.priors.items():
            output = prior(images, cameras, directions, shading, step)
            weighted = weight * output.loss
            loss = loss + weighted
            diagnostics[f"{name}/loss"] = float(weighted.detach())
            diagnostics.update({f"{name}/{key}": value for key, value in output.diagnostics.items()})
        return GuidanceOutput(loss=loss, diagnostics=diagnostics)
