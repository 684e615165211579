"""Orbit cameras follow nerfstudio's conventions: OpenGL camera axes, +Z up, azimuth 0 in front (-Y)."""

from __future__ import annotations

import pytest
import torch

from lift_common.cameras import (
    focal_length_from_fov,
    orbit_angles,
    orbit_camera_to_world,
    orbit_positions,
    pixel_coordinates,
)


def _camera(azimuth: float, elevation: float = 0.0, radius: float = 3.0) -> torch.Tensor:
    return orbit_camera_to_world(torch.tensor(azimuth), torch.tensor(elevation), torch.tensor(radius))


@pytest.mark.parametrize("azimuth, elevation", [(0, 0), (90, 10), (180, 0), (270, -30), (45, 89.9), (0, 90)])
def test_camera_looks_at_origin_with_a_proper_rotation(azimuth: float, elevation: float) -> None:
    c2w = _camera(azimuth, elevation)
    rotation, position = c2w[:, :3], c2w[:, 3]
    torch.testing.assert_close(rotation.T @ rotation, torch.eye(3), atol=1e-5, rtol=0)
    assert torch.det(rotation) == pytest.approx(1.0, abs=1e-5)
    view_direction = -rotation[:, 2]  # OpenGL cameras look along their -Z axis
    torch.testing.assert_close(view_direction, -position / position.norm(), atol=1e-5, rtol=0)


def test_front_camera_is_on_minus_y_with_z_up_in_the_image() -> None:
    c2w = _camera(0.0)
    torch.testing.assert_close(c2w[:, 3], torch.tensor([0.0, -3.0, 0.0]), atol=1e-5, rtol=0)
    torch.testing.assert_close(c2w[:, 1], torch.tensor([0.0, 0.0, 1.0]), atol=1e-5, rtol=0)  # image up is world up


def test_back_camera_sees_the_back() -> None:
    torch.testing.assert_close(_camera(180.0)[:, 3], torch.tensor([0.0, 3.0, 0.0]), atol=1e-5, rtol=0)
    torch.testing.assert_close(_camera(90.0)[:, 3], torch.tensor([3.0, 0.0, 0.0]), atol=1e-5, rtol=0)


def test_focal_length_from_field_of_view() -> None:
    assert focal_length_from_fov(90.0, 200) == pytest.approx(100.0)


def test_orbit_angles_invert_orbit_positions() -> None:
    azimuth = torch.tensor([0.0, 30.0, -90.0, 135.0, 179.5, -179.0])
    elevation = torch.tensor([0.0, 10.0, -20.0, 45.0, 80.0, -60.0])
    radius = torch.tensor([3.0, 2.5, 3.2, 2.8, 3.0, 1.5])
    recovered = orbit_angles(orbit_positions(azimuth, elevation, radius))
    for value, expected in zip(recovered, (azimuth, elevation, radius), strict=True):
        torch.testing.assert_close(value, expected, atol=1e-4, rtol=0)


def test_pixel_coordinates_give_the_ray_through_the_point() -> None:
    """Exporters aim rays at points by projecting them: nerfstudio's ray at the projected (row, column) must pass
    through the point, for cameras all around and off-centre principal points."""
    from nerfstudio.cameras.cameras import Cameras

    generator = torch.Generator().manual_seed(0)
    num = 64
    azimuth = 360.0 * torch.rand(num, generator=generator)
    elevation = -60.0 + 120.0 * torch.rand(num, generator=generator)
    cameras = Cameras(
        camera_to_worlds=orbit_camera_to_world(azimuth, elevation, torch.full((num,), 3.0)),
        fx=torch.full((num, 1), 90.0),
        fy=torch.full((num, 1), 70.0),
        cx=torch.full((num, 1), 40.0),
        cy=torch.full((num, 1), 25.0),
        width=64,
        height=48,
    )
    points = 0.6 * (2.0 * torch.rand(num, 3, generator=generator) - 1.0)
    coords = pixel_coordinates(points, cameras.camera_to_worlds, cameras.fx, cameras.fy, cameras.cx, cameras.cy)
    rays = cameras.generate_rays(camera_indices=torch.arange(num)[:, None], coords=coords)
    towards = points - rays.origins
    off_the_ray = torch.linalg.cross(towards, rays.directions, dim=-1).norm(dim=-1)
    assert off_the_ray.max() < 1e-4
    assert ((towards * rays.directions).sum(dim=-1) > 0).all()  # in front of the camera, not behind it
