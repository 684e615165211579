"""A synthetic object ray-traced analytically, and test-only guidances that stand in for the diffusion prior.

The object is two spheres (a "snowman") whose colour varies over its surface, so front and back differ.

* The ground-truth guidance supervises each view with the object's true render: ``neurallift`` training becomes
  ordinary multi-view reconstruction from the sampled views plus the photo, which proves that cameras, conventions,
  sampling and losses work together before any diffusion model is involved.
* The disagreeing prior pulls every view toward a *different* object (other spheres, other colours), and the noisy
  prior pushes each view at random, both with the size of gradient Stable Diffusion gives, through score
  distillation's own loss on latent-like images: they prove that the photo survives a prior of realistic strength
  that does not agree with it, and that the geometry survives a prior that is only noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Type

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Float
from nerfstudio.cameras.cameras import Cameras
from torch import Tensor

from lift_common.metrics import psnr
from neurallift_ns.data.orbit_views import orbit_cameras, view_major_rays
from neurallift_ns.guidance import score_distillation as sds
from neurallift_ns.guidance.base import Guidance, GuidanceConfig, GuidanceOutput

SPHERES = ((torch.tensor([0.0, 0.0, -0.25]), 0.55), (torch.tensor([0.0, -0.1, 0.5]), 0.35))
COLOUR_AXES = (0, 1, 2)
"""Which coordinate drives red, green and blue."""

OTHER_SPHERES = ((torch.tensor([0.15, 0.1, -0.05]), 0.7), (torch.tensor([-0.35, 0.0, 0.55]), 0.3))
OTHER_COLOUR_AXES = (2, 0, 1)
"""The disagreeing prior's object: another shape, coloured by other coordinates."""

OBJECT_BOX = 0.95
"""Half-side of a box around the origin that holds both objects (the snowman reaches 0.85 from the centre)."""


def trace(
    origins: Float[Tensor, "*rays 3"],
    directions: Float[Tensor, "*rays 3"],
    spheres: tuple = SPHERES,
    colour_axes: tuple[int, int, int] = COLOUR_AXES,
) -> tuple[Float[Tensor, "*rays 3"], Float[Tensor, "*rays 1"], Float[Tensor, "*rays 1"]]:
    """Colour (on white), distance along the unit ray, and hit mask of each ray."""
    directions = torch.nn.functional.normalize(directions, dim=-1)
    nearest = torch.full(origins.shape[:-1], float("inf"))
    for centre, radius in spheres:
        offset = origins - centre
        b = (offset * directions).sum(-1)
        c = (offset * offset).sum(-1) - radius**2
        disc = b * b - c
        t = -b - torch.sqrt(disc.clamp(min=0.0))
        nearest = torch.where((disc > 0) & (t > 0) & (t < nearest), t, nearest)
    hit = torch.isfinite(nearest)[..., None]
    distance = torch.where(hit, nearest[..., None], torch.zeros_like(nearest[..., None]))
    point = origins + directions * distance
    colour = (0.5 + 0.45 * torch.tanh(2.0 * point[..., list(colour_axes)])).clamp(0, 1)
    colour = torch.where(hit, colour, torch.ones_like(colour))
    return colour, distance, hit.float()


def render(cameras: Cameras, other: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """``[views, H, W, ...]`` colour, depth and mask as nerfstudio's rays of these cameras see the object (or, with
    ``other``, the disagreeing prior's object)."""
    rays = view_major_rays(cameras.to("cpu"))
    if other:
        return trace(rays.origins, rays.directions, OTHER_SPHERES, OTHER_COLOUR_AXES)
    return trace(rays.origins, rays.directions)


def reference_camera(size: int) -> Cameras:
    """The neurallift dataparser's default reference camera."""
    return orbit_cameras(torch.tensor([0.0]), torch.tensor([0.0]), torch.tensor([3.0]), torch.tensor([40.0]), size)


def write_reference_photo(folder: Path, size: int) -> Path:
    """The object seen by the reference camera, as an RGBA photo with its true depth beside it."""
    from PIL import Image

    colour, depth, mask = (value[0] for value in render(reference_camera(size)))
    folder.mkdir(parents=True, exist_ok=True)
    rgba = torch.cat([colour, mask], dim=-1).numpy()
    Image.fromarray((rgba * 255).round().astype(np.uint8)).save(folder / "object.png")
    np.save(folder / "depth.npy", depth[..., 0].numpy())
    return folder


class AnalyticObjectGuidance(Guidance):
    """Mean squared error between each rendered view and the object's true render from the same camera."""

    def __init__(self, config: AnalyticObjectGuidanceConfig, **kwargs) -> None:
        self.config = config

    def __call__(self, images, cameras, directions, shading, step) -> GuidanceOutput:
        truth, _, _ = render(cameras)
        error = torch.mean((images - truth.to(images)) ** 2)
        return GuidanceOutput(loss=error, diagnostics={"view_mse": float(error)})


@dataclass
class AnalyticObjectGuidanceConfig(GuidanceConfig):
    """Test-only guidance by the synthetic object's ground truth."""

    _target: Type = field(default_factory=lambda: AnalyticObjectGuidance)


# The stand-in priors.

LATENT_SIDE = 64
"""Side of Stable Diffusion 1.5's latents for its 512 px input: the gradient is spread over this grid whatever the
render's size, as it is when renders are resized to 512 px for the VAE."""
LATENT_GAIN = 1.0 / 0.3
"""Latent units per unit of colour: SD's latents are scaled to unit variance (the VAE's scaling factor 0.18215), which
natural images of about 0.3 standard deviation reach."""
SDS_MAGNITUDE_ESTIMATE = 0.36
"""Root mean square per latent element of SD 1.5's ``w(t) (eps_pred - eps)`` at classifier-free guidance 10 with t in
[0.2, 0.6] (the calibrated defaults); see docs/neurallift_prior_defaults.md for how it is estimated."""
LEGACY_SDS_MAGNITUDE_ESTIMATE = 3.6
"""The same at NeuralLift-360's guidance 100 and t up to 0.95 (this project's defaults before calibration)."""


def latent_like(images: Float[Tensor, "views H W 3"]) -> Float[Tensor, "views 4 64 64"]:
    """A linear stand-in for the VAE encoder: colours resized to the latent grid, centred, scaled to latent units and
    spread over 4 channels by a fixed matrix with orthonormal columns (so the gain is the same in every colour)."""
    resized = F.interpolate(images.permute(0, 3, 1, 2), size=(LATENT_SIDE, LATENT_SIDE), mode="bilinear")
    mixing, _ = torch.linalg.qr(torch.tensor([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.5, -0.5, 1.0], [0.3, 0.3, -0.3]]))
    return LATENT_GAIN * torch.einsum("cr,vrhw->vchw", mixing.to(images), resized - 0.5)


def fixed_magnitude(direction: Float[Tensor, "views C h w"], magnitude: float) -> Float[Tensor, "views C h w"]:
    """``direction`` rescaled, view by view, to a root mean square of ``magnitude`` per element."""
    rms = direction.pow(2).flatten(1).mean(dim=1).sqrt().clamp(min=1e-8)
    return direction * (magnitude / rms).view(-1, 1, 1, 1)


class DisagreeingPriorGuidance(Guidance):
    """Score distillation toward another object: the gradient on each view's latents points from the other object's
    latents to the render's, with a fixed magnitude (a prior that never agrees, however close the render comes)."""

    config: DisagreeingPriorGuidanceConfig

    def __init__(self, config: DisagreeingPriorGuidanceConfig, **kwargs) -> None:
        self.config = config

    def __call__(self, images, cameras, directions, shading, step) -> GuidanceOutput:
        latents = latent_like(images)
        with torch.no_grad():
            target = latent_like(render(cameras, other=True)[0].to(images))
            gradient = fixed_magnitude(latents - target, self.config.magnitude)
        return GuidanceOutput(loss=sds.loss_with_gradient(latents, gradient))


@dataclass
class DisagreeingPriorGuidanceConfig(GuidanceConfig):
    """Test-only prior that wants the views to show another object."""

    _target: Type = field(default_factory=lambda: DisagreeingPriorGuidance)
    magnitude: float = 3.0 * SDS_MAGNITUDE_ESTIMATE
    """Root mean square of its gradient per latent element."""


class NoisyPriorGuidance(Guidance):
    """Score distillation with zero-mean noise for a gradient: a prior that knows nothing, at SD's strength."""

    config: NoisyPriorGuidanceConfig

    def __init__(self, config: NoisyPriorGuidanceConfig, **kwargs) -> None:
        self.config = config
        self.generator = torch.Generator().manual_seed(0)

    def __call__(self, images, cameras, directions, shading, step) -> GuidanceOutput:
        latents = latent_like(images)
        noise = torch.randn(latents.shape, generator=self.generator).to(latents)
        return GuidanceOutput(loss=sds.loss_with_gradient(latents, self.config.magnitude * noise))


@dataclass
class NoisyPriorGuidanceConfig(GuidanceConfig):
    """Test-only prior whose gradient is noise."""

    _target: Type = field(default_factory=lambda: NoisyPriorGuidance)
    magnitude: float = 3.0 * SDS_MAGNITUDE_ESTIMATE
    """Standard deviation of its gradient per latent element."""


# Scores of a trained model against the object and the disagreeing prior's object.

BEHIND_AZIMUTHS = (135.0, 180.0, 225.0)
"""Views from behind the object, which the photo does not see (10 degrees up, at the reference radius and FOV)."""


def views_around(azimuths: tuple[float, ...], elevation: float, size: int) -> Cameras:
    num = len(azimuths)
    return orbit_cameras(
        torch.tensor(azimuths), torch.full((num,), elevation), torch.full((num,), 3.0), torch.full((num,), 40.0), size
    )


@dataclass
class LiftScores:
    """How a lifted object compares with the truth, seen from the photo's camera and from behind."""

    reference_psnr: float
    """Reference view against the photo, at the photo's training resolution (both rendered at twice it and
    area-averaged, as the photo itself was made)."""
    behind_psnr: list[float]
    """Each view from behind against the object's truth."""
    behind_psnr_to_other: list[float]
    """Each view from behind against the disagreeing prior's object."""
    off_object_opacity: float
    """Mean opacity of pixels, in eight views all around, whose rays miss the object (haze and floaters)."""


def area_halved(image: Float[Tensor, "H W 3"]) -> Float[Tensor, "h w 3"]:
    """Each 2 x 2 block of pixels averaged (how the training photo is made from a render at twice its size)."""
    return F.avg_pool2d(image.permute(2, 0, 1)[None], 2)[0].permute(1, 2, 0)


@torch.no_grad()
def score_lift(model, size: int = 64) -> LiftScores:
    model.eval()
    photo = area_halved(render(reference_camera(size))[0][0])
    reference = area_halved(model.get_outputs_for_camera(reference_camera(size))["rgb"].cpu())
    behind = views_around(BEHIND_AZIMUTHS, 10.0, size)
    truth, other = render(behind)[0], render(behind, other=True)[0]
    renders = [model.get_outputs_for_camera(behind[i : i + 1])["rgb"].cpu() for i in range(len(BEHIND_AZIMUTHS))]
    around = views_around(tuple(45.0 * i for i in range(8)), 10.0, size)
    _, _, masks = render(around)
    opacity = torch.stack([model.get_outputs_for_camera(around[i : i + 1])["accumulation"].cpu() for i in range(8)])
    return LiftScores(
        reference_psnr=float(psnr(reference, photo)),
        behind_psnr=[float(psnr(image, truth[i])) for i, image in enumerate(renders)],
        behind_psnr_to_other=[float(psnr(image, other[i])) for i, image in enumerate(renders)],
        off_object_opacity=float(opacity[masks == 0].mean()),
    )
