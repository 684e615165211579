"""Camera poses around an object at the origin, in nerfstudio's conventions.

World: +Z up, object centred at the origin. Camera-to-world matrices are OpenGL style (the camera looks along its
-Z axis, +Y is up in the image), as nerfstudio's ``Cameras`` expects. Azimuth 0 puts the camera on the -Y axis looking
at the object's front; azimuth grows counter-clockwise seen from above (90° is on +X), elevation is above the XY plane.
"""

from __future__ import annotations

import math

import torch
from jaxtyping import Float
from torch import Tensor

WORLD_UP = (0.0, 0.0, 1.0)


def look_at_camera_to_world(
    positions: Float[Tensor, "*batch 3"], target: Float[Tensor, "3"] | None = None
) -> Float[Tensor, "*batch 3 4"]:
    """Camera-to-world matrices for cameras at ``positions`` looking at ``target`` (the origin) with +Z up."""
    if target is None:
        target = torch.zeros(3, dtype=positions.dtype, device=positions.device)
    forward = torch.nn.functional.normalize(target - positions, dim=-1)
    up = torch.tensor(WORLD_UP, dtype=positions.dtype, device=positions.device).expand_as(forward)
    right = torch.linalg.cross(forward, up, dim=-1)
    # Straight above or below the target, "up" is parallel to the view: fall back to +Y as the image's up.
    degenerate = right.norm(dim=-1, keepdim=True) < 1e-6
    fallback_up = torch.tensor((0.0, 1.0, 0.0), dtype=positions.dtype, device=positions.device).expand_as(forward)
    right = torch.where(degenerate, torch.linalg.cross(forward, fallback_up, dim=-1), right)
    right = torch.nn.functional.normalize(right, dim=-1)
    camera_up = torch.linalg.cross(right, forward, dim=-1)
    rotation = torch.stack([right, camera_up, -forward], dim=-1)
    return torch.cat([rotation, positions[..., None]], dim=-1)


def orbit_positions(
    azimuth_deg: Float[Tensor, "*batch"], elevation_deg: Float[Tensor, "*batch"], radius: Float[Tensor, "*batch"]
) -> Float[Tensor, "*batch 3"]:
    """Points on a sphere around the origin, in the azimuth/elevation convention of this module."""
    azimuth = torch.deg2rad(azimuth_deg)
    elevation = torch.deg2rad(elevation_deg)
    return torch.stack(
        [
            radius * torch.cos(elevation) * torch.sin(azimuth),
            -radius * torch.cos(elevation) * torch.cos(azimuth),
            radius * torch.sin(elevation),
        ],
        dim=-1,
    )


def orbit_angles(
    positions: Float[Tensor, "*batch 3"],
) -> tuple[Float[Tensor, "*batch"], Float[Tensor, "*batch"], Float[Tensor, "*batch"]]:
    """Azimuth and elevation in degrees, and radius, of points around the origin (the inverse of
    :func:`orbit_positions`); azimuth in (-180, 180]."""
    x, y, z = positions.unbind(-1)
    radius = positions.norm(dim=-1)
    azimuth = torch.rad2deg(torch.atan2(x, -y))
    elevation = torch.rad2deg(torch.asin((z / radius.clamp(min=1e-12)).clamp(-1.0, 1.0)))
    return azimuth, elevation, radius


def orbit_camera_to_world(
    azimuth_deg: Float[Tensor, "*batch"], elevation_deg: Float[Tensor, "*batch"], radius: Float[Tensor, "*batch"]
) -> Float[Tensor, "*batch 3 4"]:
    """Cameras on an orbit around the origin, looking at it."""
    return look_at_camera_to_world(orbit_positions(azimuth_deg, elevation_deg, radius))


def focal_length_from_fov(fov_deg: float | Tensor, size_px: int) -> float | Tensor:
    """Focal length in pixels of a pinhole camera whose field of view ``fov_deg`` spans ``size_px`` pixels; a tensor
    of fields of view gives a tensor of focal lengths."""
    if isinstance(fov_deg, Tensor):
        return 0.5 * size_px / torch.tan(torch.deg2rad(fov_deg) / 2)
    return 0.5 * size_px / math.tan(math.radians(fov_deg) / 2)


def fov_from_focal_length(focal_px: Tensor, size_px: Tensor) -> Tensor:
    """Field of view in degrees spanned by ``size_px`` pixels at focal length ``focal_px`` (the inverse of
    :func:`focal_length_from_fov`)."""
    return torch.rad2deg(2.0 * torch.atan(0.5 * size_px / focal_px))


def pixel_coordinates(
    points: Float[Tensor, "num 3"],
    camera_to_worlds: Float[Tensor, "num 3 4"],
    fx: Float[Tensor, "num 1"],
    fy: Float[Tensor, "num 1"],
    cx: Float[Tensor, "num 1"],
    cy: Float[Tensor, "num 1"],
) -> Float[Tensor, "num 2"]:
    """Where each world point falls in its pinhole camera, as the (row, column) ``coords`` that nerfstudio's
    ``Cameras.generate_rays`` takes: the ray it generates there passes through the point."""
    rotation, position = camera_to_worlds[..., :3], camera_to_worlds[..., 3]
    local = torch.einsum("nji,nj->ni", rotation, points - position)  # world to camera: the rotation's transpose
    ahead = (-local[..., 2:3]).clamp(min=1e-9)  # the camera looks along its -Z axis
    column = cx + fx * local[..., 0:1] / ahead
    row = cy - fy * local[..., 1:2] / ahead  # image rows grow downwards, camera Y upwards
    return torch.cat([row, column], dim=-1)
