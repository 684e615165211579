"""The datamanager's batches: reference steps, sampled steps, and rays from all around for exporters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lift_common.cameras import orbit_angles
from neurallift_ns.data.datamanager import NeuralLiftDataManagerConfig
from neurallift_ns.data.orbit_views import direction_labels
from neurallift_ns.data.photo_dataparser import NeuralLiftPhotoDataParserConfig
from neurallift_ns.data.preprocess import PreprocessConfig


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    rgba = np.zeros((48, 64, 4), np.uint8)
    rgba[..., :3] = (30, 120, 200)
    rgba[8:40, 16:48, 3] = 255
    Image.fromarray(rgba).save(tmp_path / "object.png")
    return tmp_path / "object.png"


def _datamanager(photo: Path, test_mode: str = "val", **overrides):
    dataparser = NeuralLiftPhotoDataParserConfig(data=photo, preprocess=PreprocessConfig(image_size=32))
    config = NeuralLiftDataManagerConfig(
        dataparser=dataparser,
        reference_resolution=16,
        sampled_resolution=8,
        train_num_rays_per_batch=512,
        **overrides,
    )
    return config.setup(device="cpu", test_mode=test_mode)


def test_reference_steps_during_warmup(photo: Path) -> None:
    datamanager = _datamanager(photo, reference_only_steps=10)
    rays, batch = datamanager.next_train(0)
    assert batch["is_reference"] and rays.shape == (256,)
    assert batch["image"].shape == (256, 3) and batch["mask"].shape == (256, 1) and batch["depth"].shape == (256, 1)
    assert 0.2 < batch["mask"].mean() < 0.8
    # The reference camera's central ray points at the object's centre, from the front (-Y).
    # (Each ray is at a random point of its pixel: the four pixels around the centre average to it.)
    central = rays.reshape((16, 16))[7:9, 7:9]
    direction = torch.nn.functional.normalize(central.directions.reshape(-1, 3).mean(dim=0), dim=-1)
    origin = central.origins[0, 0]
    assert origin[1] < 0 and torch.linalg.cross(direction, -origin).norm() < 0.15


def test_reference_rays_fall_anywhere_in_their_pixels(photo: Path) -> None:
    """Rays fixed at pixel centres would let a prior paint between them; each reference step draws new points."""
    datamanager = _datamanager(photo, reference_only_steps=10)
    first, _ = datamanager.next_train(0)
    second, _ = datamanager.next_train(1)
    assert not torch.allclose(first.directions, second.directions)
    camera = datamanager.reference_camera
    centres = camera.generate_rays(camera_indices=0).flatten().directions
    offsets = torch.stack([first.directions, second.directions]) - centres
    assert offsets.abs().max() < float(1.0 / camera.fx[0, 0])  # within the pixel: at most half a pixel each way


def test_reference_patches(photo: Path) -> None:
    rays, batch = _datamanager(photo, reference_patch_size=4).next_train(0)
    assert rays.shape == (16,) and batch["image"].shape == (16, 3) and batch["image_shape"] == (4, 4)


def test_several_sampled_views_per_step(photo: Path) -> None:
    datamanager = _datamanager(
        photo,
        reference_only_steps=0,
        reference_step_interval=2,
        sampled_views_per_step=3,
    )
    rays, batch = datamanager.next_train(5)  # odd steps are sampled steps
    assert not batch["is_reference"] and "image" not in batch
    assert rays.shape == (3 * 8 * 8,) and batch["num_views"] == 3 and batch["image_shape"] == (8, 8)
    assert batch["directions"].shape == (3,)
    # View-major: each view's 64 rays are one block, all from its own camera.
    origins = rays.origins.reshape(3, 64, 3)
    assert torch.allclose(origins, origins[:, :1].expand_as(origins))
    torch.testing.assert_close(origins[:, 0], batch["cameras"].camera_to_worlds[:, :, 3])
    # Each view's direction label (what the guidance reads) is the one its camera's angles give.
    azimuth, elevation, _ = orbit_angles(batch["cameras"].camera_to_worlds[:, :, 3])
    assert torch.equal(batch["directions"], direction_labels(azimuth, elevation, datamanager.orbit))


@pytest.mark.parametrize("test_mode", ["test", "inference"])
def test_exporters_get_rays_from_all_around(photo: Path, test_mode: str) -> None:
    datamanager = _datamanager(photo, test_mode=test_mode)
    rays, _ = datamanager.next_train(0)
    assert rays.shape == (512,)
    octants = {tuple((origin > 0).tolist()) for origin in rays.origins}
    assert len(octants) == 8
    assert datamanager.get_datapath() == photo


def test_exporters_rays_aim_at_the_object_once_the_pipeline_says_where_it_is(photo: Path) -> None:
    """ns-export keeps only rays that end on the object: aimed through points inside it (here a ball of radius 0.2
    off the centre), every ray passes through it, from cameras all around."""
    from lift_common.object_field import ObjectField

    centre = torch.tensor([0.2, 0.1, -0.1])

    def density(positions: torch.Tensor) -> torch.Tensor:
        return 100.0 * ((positions - centre).norm(dim=-1) < 0.2).float()

    datamanager = _datamanager(photo, test_mode="test")
    box = torch.tensor([[-1.0] * 3, [1.0] * 3])
    datamanager.object_field = lambda: ObjectField(density, lambda positions: positions, box, surface_density=10.0)
    rays, _ = datamanager.next_train(0)
    towards = centre - rays.origins
    off_the_ray = torch.linalg.cross(towards, rays.directions, dim=-1).norm(dim=-1)
    assert off_the_ray.max() < 0.2 + 0.06  # through the ball, give or take a grid cell (2/63 a side)
    assert len({tuple((origin > 0).tolist()) for origin in rays.origins}) == 8
    # Without it, rays through random pixels mostly miss so small an object.
    datamanager.object_field, datamanager._object_targets = None, None
    rays, _ = datamanager.next_train(0)
    off_the_ray = torch.linalg.cross(centre - rays.origins, rays.directions, dim=-1).norm(dim=-1)
    assert (off_the_ray < 0.2).float().mean() < 0.3


def test_train_dataset_and_eval_loader_hold_the_reference_view(photo: Path) -> None:
    datamanager = _datamanager(photo, test_mode="test")
    assert len(datamanager.train_dataset) == 1 and datamanager.train_dataset.cameras.shape == (1,)
    camera, batch = next(iter(datamanager.fixed_indices_eval_dataloader))
    assert batch["image"].shape == (32, 32, 3)
    _, orbit_batch = datamanager.next_eval_image(0), datamanager.next_eval_image(1)[1]
    assert "image" not in orbit_batch and orbit_batch["orbit_azimuth_deg"] == 0.0
