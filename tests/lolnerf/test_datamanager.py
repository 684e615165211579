"""Training batches hold the requested identities x pixels, each ray with its image, latent and mask value."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lolnerf_ns.data.collection import CollectionConfig
from lolnerf_ns.data.collection_dataparser import LOLNeRFCollectionDataParserConfig
from lolnerf_ns.data.datamanager import LOLNeRFDataManagerConfig, process_shard
from lolnerf_ns.ray_keys import LATENT_INDEX_KEY

POINTS = [[10.0, 10.0], [30.0, 10.0], [20.0, 20.0], [12.0, 30.0], [28.0, 30.0]]


@pytest.fixture
def collection(tmp_path: Path) -> Path:
    """Five 40x40 photos, each a flat colour equal to its index, with masks covering their left halves."""
    folder = tmp_path / "things"
    (folder / "masks").mkdir(parents=True)
    rng = np.random.default_rng(0)
    landmarks = {}
    for index in range(5):
        Image.fromarray(np.full((40, 40, 3), index * 10, np.uint8)).save(folder / f"thing{index}.png")
        mask = np.zeros((40, 40), np.uint8)
        mask[:, :20] = 255
        Image.fromarray(mask).save(folder / "masks" / f"thing{index}.png")
        landmarks[f"thing{index}.png"] = (np.array(POINTS) + rng.normal(0, 0.5, (5, 2))).tolist()
    (tmp_path / "points.json").write_text(json.dumps(landmarks))
    return folder


def _datamanager(collection: Path, images: int, pixels: int, test_mode: str = "val"):
    dataparser = LOLNeRFCollectionDataParserConfig(
        data=collection, collection=CollectionConfig(landmarks_file=collection.parent / "points.json")
    )
    config = LOLNeRFDataManagerConfig(dataparser=dataparser, images_per_batch=images, pixels_per_image=pixels)
    return config.setup(device="cpu", test_mode=test_mode)


def test_batches_are_identities_times_pixels(collection: Path) -> None:
    datamanager = _datamanager(collection, images=3, pixels=64)
    rays, batch = datamanager.next_train(0)
    assert rays.shape == (192,) and batch["image"].shape == (192, 3) and batch["mask"].shape == (192, 1)
    images, counts = torch.unique(rays.camera_indices.flatten(), return_counts=True)
    assert len(images) == 3 and (counts == 64).all()
    # Every ray's colour is its image's, and its latent is its image's own code.
    torch.testing.assert_close(batch["image"][:, 0] * 255, rays.camera_indices.flatten().float() * 10, atol=0.5, rtol=0)
    torch.testing.assert_close(rays.metadata[LATENT_INDEX_KEY], rays.camera_indices)
    # Pixels come from the whole image, not only the mask: the mask is a target, not a sampling region.
    assert 0.3 < batch["mask"].float().mean() < 0.7
    assert (batch["mask"].flatten() == (batch["indices"][:, 2] < 20)).all()


def test_identities_change_from_step_to_step(collection: Path) -> None:
    datamanager = _datamanager(collection, images=2, pixels=8)
    draws = {
        tuple(sorted(set(datamanager.next_train(step)[0].camera_indices.flatten().tolist()))) for step in range(20)
    }
    assert len(draws) > 1  # different identities from step to step


def test_exporters_can_ask_for_any_batch_size(collection: Path) -> None:
    datamanager = _datamanager(collection, images=3, pixels=64)
    datamanager.train_pixel_sampler.num_rays_per_batch = 100
    rays, _ = datamanager.next_train(0)
    assert rays.shape == (100,)


def test_exporters_rays_come_from_inside_the_masks(collection: Path) -> None:
    """ns-export keeps only rays that end on an object: outside training, pixels are drawn where the masks are."""
    datamanager = _datamanager(collection, images=3, pixels=64, test_mode="test")
    rays, batch = datamanager.next_train(0)
    assert rays.shape == (192,) and len(torch.unique(rays.camera_indices)) == 3
    assert (batch["indices"][:, 2] < 20).all() and (batch["mask"] > 0.5).all()  # the masks' left halves
    assert len(torch.unique(batch["indices"][:, 1:], dim=0)) > 150  # all over them, not a few pixels
    # Each ray through a random point of its pixel (through pixel centres a small run has few distinct rays, and
    # ns-export's outlier removal drops every point that is not a duplicate), from its own image with its own code.
    centres = datamanager.train_ray_generator(batch["indices"])
    offsets = (rays.directions - centres.directions).abs().max(dim=-1).values
    assert (offsets > 0).all() and offsets.max() < float(1.0 / datamanager.train_dataset.cameras.fx.min())
    torch.testing.assert_close(rays.origins, centres.origins)
    torch.testing.assert_close(rays.metadata[LATENT_INDEX_KEY], centres.metadata[LATENT_INDEX_KEY])
    # Where the model shows chosen identities instead of each image's own, the masks say nothing: the whole image.
    datamanager.exporters_aim_at_masks = False
    _, batch = datamanager.next_train(0)
    assert 0.2 < batch["mask"].float().mean() < 0.8
    # Evaluation batches still come from the whole image.
    _, eval_batch = datamanager.next_eval(0)
    assert 0.2 < eval_batch["mask"].float().mean() < 0.8


def test_processes_share_the_images_out_between_them() -> None:
    image_indices = torch.tensor([5, 2, 0, 3, 1, 4])  # the order nerfstudio's cache put them in
    shards = [process_shard(image_indices, rank, 3) for rank in range(3)]
    assert [sorted(image_indices[shard].tolist()) for shard in shards] == [[0, 3], [1, 4], [2, 5]]
    torch.testing.assert_close(process_shard(image_indices, 0, 1), torch.arange(6))
    torch.testing.assert_close(process_shard(image_indices[:2], 3, 4), torch.arange(2))  # none for this process: all
