"""A synthetic object ray-traced analytically, and a test-only guidance that supervises views with its renders.

The object is two spheres (a "snowman") whose colour varies over its surface, so front and back differ. With this
guidance, ``neurallift`` training is ordinary multi-view reconstruction from the sampled views plus the photo, which
proves that cameras, conventions, sampling and losses work together before any diffusion model is involved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Type

import numpy as np
import torch
from jaxtyping import Float
from nerfstudio.cameras.cameras import Cameras
from torch import Tensor

from neurallift_ns.data.orbit_views import orbit_cameras, view_major_rays
from neurallift_ns.guidance.base import Guidance, GuidanceConfig, GuidanceOutput

SPHERES = ((torch.tensor([0.0, 0.0, -0.25]), 0.55), (torch.tensor([0.0, -0.1, 0.5]), 0.35))


def trace(
    origins: Float[Tensor, "*rays 3"], directions: Float[Tensor, "*rays 3"]
) -> tuple[Float[Tensor, "*rays 3"], Float[Tensor, "*rays 1"], Float[Tensor, "*rays 1"]]:
    """Colour (on white), distance along the unit ray, and hit mask of each ray."""
    directions = torch.nn.functional.normalize(directions, dim=-1)
    nearest = torch.full(origins.shape[:-1], float("inf"))
    for centre, radius in SPHERES:
        offset = origins - centre
        b = (offset * directions).sum(-1)
        c = (offset * offset).sum(-1) - radius**2
        disc = b * b - c
        t = -b - torch.sqrt(disc.clamp(min=0.0))
        nearest = torch.where((disc > 0) & (t > 0) & (t < nearest), t, nearest)
    hit = torch.isfinite(nearest)[..., None]
    distance = torch.where(hit, nearest[..., None], torch.zeros_like(nearest[..., None]))
    point = origins + directions * distance
    colour = (0.5 + 0.45 * torch.tanh(2.0 * point[..., [0, 1, 2]])).clamp(0, 1)  # x->red, y->green, z->blue
    colour = torch.where(hit, colour, torch.ones_like(colour))
    return colour, distance, hit.float()


def render(cameras: Cameras) -> tuple[Tensor, Tensor, Tensor]:
    """``[views, H, W, ...]`` colour, depth and mask as nerfstudio's rays of these cameras see the object."""
    rays = view_major_rays(cameras.to("cpu"))
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
