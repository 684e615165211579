"""The pipeline takes sampled views where its prior needs them: a view-conditioned prior gets the photo's field of
view and distance, a text-to-image prior the datamanager's orbit as configured."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lift_common.cameras import fov_from_focal_length, orbit_angles
from neurallift_ns.data.datamanager import NeuralLiftDataManagerConfig
from neurallift_ns.data.orbit_views import OrbitViewsConfig
from neurallift_ns.data.photo_dataparser import NeuralLiftPhotoDataParserConfig
from neurallift_ns.data.preprocess import PreprocessConfig
from neurallift_ns.guidance.joint_guidance import JointGuidanceConfig
from neurallift_ns.guidance.stable_diffusion_guidance import StableDiffusionGuidanceConfig
from neurallift_ns.guidance.zero123_guidance import Zero123GuidanceConfig
from neurallift_ns.model import NeuralLiftModelConfig
from neurallift_ns.pipeline import NeuralLiftPipelineConfig


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    rgba = np.zeros((48, 48, 4), np.uint8)
    rgba[..., :3] = (200, 90, 30)
    rgba[10:38, 12:36, 3] = 255
    Image.fromarray(rgba).save(tmp_path / "object.png")
    return tmp_path / "object.png"


def _sampled_views(photo: Path, guidance) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Elevation, distance and field of view of the sampled views of 40 steps of a pipeline with this prior."""
    dataparser = NeuralLiftPhotoDataParserConfig(
        data=photo, preprocess=PreprocessConfig(image_size=32), reference_radius=2.5, reference_fov_deg=30.0
    )
    datamanager = NeuralLiftDataManagerConfig(
        dataparser=dataparser,
        reference_resolution=8,
        sampled_resolution=8,
        reference_only_steps=0,
        reference_step_interval=1000,
        sampled_views_per_step=4,
        orbit=OrbitViewsConfig(widening_steps=0),
    )
    model = NeuralLiftModelConfig(num_levels=2, log2_hashmap_size=10, max_res=16, guidance=guidance)
    pipeline = NeuralLiftPipelineConfig(datamanager=datamanager, model=model).setup(device="cpu")
    cameras = [pipeline.datamanager.next_train(step)[1]["cameras"] for step in range(1, 41)]
    positions = torch.cat([camera.camera_to_worlds[:, :3, 3] for camera in cameras])
    fov = torch.cat([fov_from_focal_length(camera.fy[:, 0], camera.height[:, 0].float()) for camera in cameras])
    _, elevation, radius = orbit_angles(positions)
    return elevation, radius, fov


@pytest.mark.parametrize("guidance", [Zero123GuidanceConfig(), JointGuidanceConfig()], ids=["zero123", "joint"])
def test_a_view_conditioned_prior_gets_the_photos_field_of_view_and_distance(photo, guidance, offline) -> None:
    elevation, radius, fov = _sampled_views(photo, guidance)
    torch.testing.assert_close(radius, torch.full_like(radius, 2.5), atol=1e-4, rtol=0)
    torch.testing.assert_close(fov, torch.full_like(fov, 30.0), atol=1e-3, rtol=0)
    low, high = _elevations(guidance)
    assert elevation.min() >= low - 1e-3 and elevation.max() <= high + 1e-3
    assert elevation.max() - elevation.min() > 0.5 * (high - low)  # the whole range is used


def _elevations(guidance) -> tuple[float, float]:
    return (guidance.zero123 if isinstance(guidance, JointGuidanceConfig) else guidance).elevation_range_deg


def test_a_text_to_image_prior_gets_the_configured_orbit(photo, offline) -> None:
    elevation, radius, fov = _sampled_views(photo, StableDiffusionGuidanceConfig())
    default = OrbitViewsConfig()
    assert radius.min() >= default.radius_range[0] - 1e-4 and radius.max() <= default.radius_range[1] + 1e-4
    assert radius.max() - radius.min() > 0.2 and fov.max() - fov.min() > 3.0
