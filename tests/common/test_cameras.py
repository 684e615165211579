"""Orbit cameras follow nerfstudio's conventions: OpenGL camera axes, +Z up, azimuth 0 in front (-Y)."""

from __future__ import annotations

import pytest
import torch

from lift_common.cameras import focal_length_from_fov, orbit_camera_to_world


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
