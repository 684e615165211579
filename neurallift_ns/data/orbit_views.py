"""Cameras on an orbit around the object, for the views the diffusion prior completes, with their direction labels.

Angles follow :mod:`lift_common.cameras`: azimuth 0 is the reference (front) view, elevation is above the equator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import torch
from jaxtyping import Float, Int
from nerfstudio.cameras.cameras import Cameras, CameraType
from nerfstudio.cameras.rays import RayBundle
from torch import Tensor

from lift_common.cameras import focal_length_from_fov, orbit_camera_to_world
from lift_common.schedules import linear_ramp

DIRECTION_NAMES = ("front", "side", "back", "overhead", "bottom")
"""Index of each direction label, as carried in batches; view-dependent prompts append these words."""


@dataclass
class OrbitViewsConfig:
    """Where sampled views are taken from."""

    radius_range: Tuple[float, float] = (2.8, 3.4)
    """Distance of sampled cameras from the object's centre."""
    elevation_range_deg: Tuple[float, float] = (-15.0, 45.0)
    """Elevation of sampled cameras above the object's equator, in degrees."""
    azimuth_range_deg: Tuple[float, float] = (-180.0, 180.0)
    """Azimuth of sampled cameras around the object, in degrees (0 is the reference view)."""
    fov_range_deg: Tuple[float, float] = (35.0, 45.0)
    """Field of view of sampled cameras, in degrees."""
    azimuth_warmup_steps: int = 0
    """Steps over which the azimuth range widens from the reference view to its full extent (0: full from the
    start)."""
    near_reference_probability: float = 0.0
    """Chance that a sampled view is a jittered copy of the reference camera instead of a free orbit view."""
    near_reference_jitter_deg: float = 10.0
    """Largest azimuth and elevation offset of a near-reference view, in degrees."""
    overhead_elevation_deg: float = 60.0
    """Views above this elevation are labelled overhead, below its negative bottom."""
    front_half_angle_deg: float = 45.0
    """Views within this azimuth of the reference are front, within it of the opposite side back, others side."""


def direction_labels(
    azimuth_deg: Float[Tensor, "num"], elevation_deg: Float[Tensor, "num"], config: OrbitViewsConfig
) -> Int[Tensor, "num"]:
    """Index into :data:`DIRECTION_NAMES` of each view's direction."""
    azimuth = torch.remainder(azimuth_deg + 180.0, 360.0) - 180.0  # in [-180, 180)
    labels = torch.full_like(azimuth, DIRECTION_NAMES.index("side"), dtype=torch.long)
    labels[azimuth.abs() <= config.front_half_angle_deg] = DIRECTION_NAMES.index("front")
    labels[azimuth.abs() >= 180.0 - config.front_half_angle_deg] = DIRECTION_NAMES.index("back")
    labels[elevation_deg >= config.overhead_elevation_deg] = DIRECTION_NAMES.index("overhead")
    labels[elevation_deg <= -config.overhead_elevation_deg] = DIRECTION_NAMES.index("bottom")
    return labels


def orbit_cameras(
    azimuth_deg: Float[Tensor, "num"],
    elevation_deg: Float[Tensor, "num"],
    radius: Float[Tensor, "num"],
    fov_deg: Float[Tensor, "num"],
    resolution: int,
) -> Cameras:
    """Square pinhole cameras on the orbit, looking at the origin."""
    focal = focal_length_from_fov(fov_deg.float(), resolution)[:, None]
    return Cameras(
        camera_to_worlds=orbit_camera_to_world(azimuth_deg, elevation_deg, radius),
        fx=focal,
        fy=focal,
        cx=resolution / 2.0,
        cy=resolution / 2.0,
        width=resolution,
        height=resolution,
        camera_type=CameraType.PERSPECTIVE,
    )


def view_major_rays(cameras: Cameras) -> RayBundle:
    """Every pixel's ray of each camera, shaped ``[views, H, W]`` (nerfstudio's default puts the views last)."""
    num = cameras.shape[0]
    height, width = int(cameras.height[0, 0]), int(cameras.width[0, 0])
    device = cameras.device
    rows, cols = torch.meshgrid(torch.arange(height, device=device), torch.arange(width, device=device), indexing="ij")
    coords = (torch.stack([rows, cols], dim=-1).float() + 0.5).expand(num, height, width, 2)
    indices = torch.arange(num, device=device)[:, None, None, None].expand(num, height, width, 1)
    return cameras.generate_rays(camera_indices=indices, coords=coords)


def _uniform(low: float, high: float, num: int, generator: torch.Generator | None) -> Tensor:
    return low + (high - low) * torch.rand(num, generator=generator)


@dataclass
class SampledViews:
    """A batch of sampled views and what they were sampled as."""

    cameras: Cameras
    azimuth_deg: Float[Tensor, "num"]
    elevation_deg: Float[Tensor, "num"]
    radius: Float[Tensor, "num"]
    directions: Int[Tensor, "num"]


def sample_orbit_views(
    num: int,
    resolution: int,
    config: OrbitViewsConfig,
    step: int,
    reference_elevation_deg: float = 0.0,
    generator: torch.Generator | None = None,
) -> SampledViews:
    """``num`` random views: free orbit views (elevation uniform in angle), some jittered copies of the reference."""
    widening = linear_ramp(step, 0, config.azimuth_warmup_steps, 0.0, 1.0) if config.azimuth_warmup_steps else 1.0
    azimuth_low, azimuth_high = (value * widening for value in config.azimuth_range_deg)
    azimuth = _uniform(azimuth_low, azimuth_high, num, generator)
    elevation = _uniform(*config.elevation_range_deg, num, generator)
    near_reference = torch.rand(num, generator=generator) < config.near_reference_probability
    jitter = config.near_reference_jitter_deg
    azimuth = torch.where(near_reference, _uniform(-jitter, jitter, num, generator), azimuth)
    elevation = torch.where(
        near_reference, reference_elevation_deg + _uniform(-jitter, jitter, num, generator), elevation
    )
    radius = _uniform(*config.radius_range, num, generator)
    fov = _uniform(*config.fov_range_deg, num, generator)
    return SampledViews(
        cameras=orbit_cameras(azimuth, elevation, radius, fov, resolution),
        azimuth_deg=azimuth,
        elevation_deg=elevation,
        radius=radius,
        directions=direction_labels(azimuth, elevation, config),
    )
