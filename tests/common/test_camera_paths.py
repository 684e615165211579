"""Camera paths read back by nerfstudio as the cameras and times they describe."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from nerfstudio.cameras.camera_paths import get_path_from_json
from nerfstudio.cameras.cameras import Cameras

from lift_common.camera_paths import OrbitPath, camera_path, sweep_camera_to_worlds, training_view_geometry
from lift_common.cameras import orbit_camera_to_world


def test_nerfstudio_reads_the_path_with_times_from_zero_to_one() -> None:
    poses = sweep_camera_to_worlds(5, azimuth_deg=10.0, elevation_deg=5.0, radius=3.0, sweep_deg=40.0)
    cameras = get_path_from_json(camera_path(poses, 30.0, width=48, height=32, seconds=2.0, render_times=(0.0, 1.0)))
    torch.testing.assert_close(cameras.camera_to_worlds, poses)
    torch.testing.assert_close(cameras.times.flatten(), torch.linspace(0.0, 1.0, 5))
    assert float(cameras.fy[0]) == pytest.approx(16.0 / math.tan(math.radians(15.0)), rel=1e-5)
    assert int(cameras.width[0]) == 48 and int(cameras.height[0]) == 32


def test_sweep_is_centred_on_the_azimuth() -> None:
    poses = sweep_camera_to_worlds(3, azimuth_deg=20.0, elevation_deg=0.0, radius=2.0, sweep_deg=60.0)
    expected = orbit_camera_to_world(torch.tensor([-10.0, 20.0, 50.0]), torch.zeros(3), torch.full((3,), 2.0))
    torch.testing.assert_close(poses, expected)
    fixed = sweep_camera_to_worlds(4, azimuth_deg=0.0, elevation_deg=0.0, radius=2.0, sweep_deg=0.0)
    assert (fixed == fixed[0]).all()


def test_training_view_geometry() -> None:
    poses = orbit_camera_to_world(torch.tensor([0.0, 30.0, 60.0]), torch.zeros(3), torch.tensor([2.0, 3.0, 4.0]))
    focal = 16.0 / math.tan(math.radians(20.0))
    cameras = Cameras(camera_to_worlds=poses, fx=focal, fy=focal, cx=16.0, cy=16.0, width=32, height=32)
    geometry = training_view_geometry(cameras)
    assert geometry.radius == pytest.approx(3.0) and geometry.fov_deg == pytest.approx(40.0)
    assert geometry.elevation_deg == pytest.approx(0.0, abs=1e-4)
    assert (geometry.width, geometry.height) == (32, 32)


def test_orbit_goes_all_the_way_round_without_times() -> None:
    path = OrbitPath(radius=2.5, elevation_deg=20.0, fov_deg=35.0, resolution=24, num_frames=8).camera_path()
    cameras = get_path_from_json(path)
    positions = cameras.camera_to_worlds[:, :, 3]
    torch.testing.assert_close(positions.norm(dim=-1), torch.full((8,), 2.5))
    azimuths = torch.rad2deg(torch.atan2(positions[:, 0], -positions[:, 1]))
    turned = torch.remainder(azimuths + 1.0, 360.0) - 1.0  # in [-1, 359): no wrap at 0 or 180
    torch.testing.assert_close(turned, torch.arange(8.0) * 45.0, atol=1e-3, rtol=0)
    assert cameras.times is None and int(cameras.width[0]) == 24


def test_orbit_path_of_a_config_that_is_not_yaml_is_one_message(tmp_path: Path) -> None:
    from lift_common.errors import UserInputError
    from lift_common.scripts.orbit_path import training_camera_orbit

    config = tmp_path / "config.yml"
    config.write_text("pipeline: [unclosed\n")
    with pytest.raises(UserInputError, match=r"config\.yml is not a readable config\.yml"):
        training_camera_orbit(config)
    config.write_text("just: text\n")
    with pytest.raises(UserInputError, match=r"config\.yml is not the config of a run"):
        training_camera_orbit(config)
