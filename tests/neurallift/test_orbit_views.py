"""Sampled views: conventions, direction labels, schedules."""

from __future__ import annotations

import pytest
import torch

from lift_common.schedules import linear_ramp
from neurallift_ns.data.datamanager import NeuralLiftDataManagerConfig, is_reference_step
from neurallift_ns.data.orbit_views import (
    DIRECTION_NAMES,
    OrbitViewsConfig,
    ReferenceView,
    direction_labels,
    orbit_cameras,
    sample_orbit_views,
    widened_range,
)


def _project(cameras, point: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel coordinates and distance along the view axis of ``point`` in each camera."""
    c2w = cameras.camera_to_worlds
    local = torch.einsum("nji,nj->ni", c2w[:, :3, :3], point[None] - c2w[:, :3, 3])
    depth = -local[:, 2]
    u = cameras.fx[:, 0] * local[:, 0] / depth + cameras.cx[:, 0]
    v = -cameras.fy[:, 0] * local[:, 1] / depth + cameras.cy[:, 0]
    return torch.stack([u, v], -1), depth


def _cameras(azimuths: list[float]):
    n = len(azimuths)
    return orbit_cameras(torch.tensor(azimuths), torch.zeros(n), torch.full((n,), 3.0), torch.full((n,), 40.0), 64)


def test_reference_camera_sees_the_object_centred() -> None:
    pixels, depth = _project(_cameras([0.0]), torch.zeros(3))
    torch.testing.assert_close(pixels, torch.tensor([[32.0, 32.0]]))
    assert depth.item() == pytest.approx(3.0)


def test_camera_at_azimuth_180_sees_the_back() -> None:
    back_point = torch.tensor([0.0, 0.5, 0.0])  # on the far side from the reference camera (+Y)
    _, depth = _project(_cameras([0.0, 180.0]), back_point)
    assert depth[0] > 3.0 > depth[1]  # hidden behind the object for the front, facing the back camera


def test_image_up_is_world_up() -> None:
    pixels, _ = _project(_cameras([0.0, 90.0, 180.0]), torch.tensor([0.0, 0.0, 0.5]))
    assert (pixels[:, 1] < 32).all()  # above the centre in every view (image v grows downwards)


@pytest.mark.parametrize(
    "azimuth, elevation, expected",
    [(0, 0, "front"), (40, 10, "front"), (90, 0, "side"), (-100, 20, "side"), (180, 0, "back"), (-150, 0, "back")]
    + [(30, 70, "overhead"), (200, -80, "bottom"), (360, 0, "front")],
)
def test_direction_labels(azimuth: float, elevation: float, expected: str) -> None:
    label = direction_labels(torch.tensor([float(azimuth)]), torch.tensor([float(elevation)]), OrbitViewsConfig())
    assert DIRECTION_NAMES[int(label)] == expected


def test_view_ranges_widen_from_the_reference_camera() -> None:
    config = OrbitViewsConfig(widening_steps=100, widening_start_fraction=0.1)
    reference = ReferenceView(elevation_deg=10.0, radius=3.0, fov_deg=40.0)
    generator = torch.Generator().manual_seed(0)
    early = sample_orbit_views(500, 16, config, step=0, reference=reference, generator=generator)
    late = sample_orbit_views(500, 16, config, step=200, reference=reference, generator=generator)
    assert early.azimuth_deg.abs().max() <= 18.0 and late.azimuth_deg.abs().max() > 170.0
    low, high = config.elevation_range_deg
    assert 10.0 + 0.1 * (low - 10.0) <= early.elevation_deg.min() and early.elevation_deg.max() <= 10.0 + 0.1 * (
        high - 10.0
    )
    assert late.elevation_deg.max() > high - 5.0
    assert (early.radius - 3.0).abs().max() <= 0.1 * 0.5 + 1e-6


def test_widened_range_clamps_its_centre_into_the_range() -> None:
    assert widened_range((-10.0, 45.0), 0.0, 0.0) == (0.0, 0.0)
    assert widened_range((-10.0, 45.0), 0.0, 1.0) == (-10.0, 45.0)
    assert widened_range((35.0, 45.0), 60.0, 0.5) == (40.0, 45.0)


def test_near_reference_views_stay_near_the_reference() -> None:
    config = OrbitViewsConfig(near_reference_probability=1.0, near_reference_jitter_deg=5.0)
    views = sample_orbit_views(200, 16, config, step=0, reference=ReferenceView(elevation_deg=10.0))
    assert views.azimuth_deg.abs().max() <= 5.0 and (views.elevation_deg - 10.0).abs().max() <= 5.0
    assert (views.directions == DIRECTION_NAMES.index("front")).all()


def test_reference_step_schedule() -> None:
    config = NeuralLiftDataManagerConfig(reference_only_steps=100, reference_step_interval=3)
    assert all(is_reference_step(step, config) for step in range(100))
    assert [is_reference_step(step, config) for step in range(100, 106)] == [True, False, False, True, False, False]


def test_linear_ramp() -> None:
    assert linear_ramp(0, 10, 20, 1.0, 3.0) == 1.0
    assert linear_ramp(15, 10, 20, 1.0, 3.0) == pytest.approx(2.0)
    assert linear_ramp(99, 10, 20, 1.0, 3.0) == 3.0
