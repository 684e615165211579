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
    widening_steps: int = 4000
    """Steps over which the ranges above widen from the reference camera to their full extent; 0: full from the
    start (stable-dreamfusion's progressive_view, on in its image mode: the full ranges at 40% of its 10,000 steps,
    nerf/utils.py)."""
    widening_start_fraction: float = 0.2
    """Fraction of each range that is open at the first step (stable-dreamfusion's progressive_view_init_ratio 0.2)."""
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


@dataclass
class ReferenceView:
    """Where the photo's camera is, the centre the sampled ranges widen from."""

    elevation_deg: float = 0.0
    radius: float = 3.0
    fov_deg: float = 40.0


def widened_range(full: Tuple[float, float], centre: float, fraction: float) -> Tuple[float, float]:
    """``full`` shrunk toward ``centre`` (clamped into it): all of it at fraction 1, only ``centre`` at 0."""
    centre = min(max(centre, full[0]), full[1])
    return centre + fraction * (full[0] - centre), centre + fraction * (full[1] - centre)


def widening_fraction(step: int, config: OrbitViewsConfig) -> float:
    """How much of each range is open at ``step``."""
    if config.widening_steps <= 0:
        return 1.0
    return linear_ramp(step, 0, config.widening_steps, config.widening_start_fraction, 1.0)


def sample_orbit_views(
    num: int,
    resolution: int,
    config: OrbitViewsConfig,
    step: int,
    reference: ReferenceView | None = None,
    generator: torch.Generator | None = None,
) -> SampledViews:
    """``num`` random views: free orbit views within this step's ranges, some jittered copies of the reference."""
    reference = reference or ReferenceView()
    fraction = widening_fraction(step, config)
    azimuth = _uniform(*widened_range(config.azimuth_range_deg, 0.0, fraction), num, generator)
    elevation = _uniform(*widened_range(config.elevation_range_deg, reference.elevation_deg, fraction), num, generator)
    radius = _uniform(*widened_range(config.radius_range, reference.radius, fraction), num, generator)
    fov = _uniform(*widened_range(config.fov_range_deg, reference.fov_deg, fraction), num, generator)
    near_reference = torch.rand(num, generator=generator) < config.near_reference_probability
    jitter = config.near_reference_jitter_deg
    azimuth = torch.where(near_reference, _uniform(-jitter, jitter, num, generator), azimuth)
    elevation = torch.where(
        near_reference, reference.elevation_deg + _uniform(-jitter, jitter, num, generator), elevation
    )
    return SampledViews(
        cameras=orbit_cameras(azimuth, elevation, radius, fov, resolution),
        azimuth_deg=azimuth,
        elevation_deg=elevation,
        radius=radius,
        directions=direction_labels(azimuth, elevation, config),
    )
