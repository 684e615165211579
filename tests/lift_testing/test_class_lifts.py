"""A class object's lift input, its truth all around, its oracle, and the baseline a prior must beat."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from lift_testing.class_lifts import back_views, copy_the_front_scores, read_object_views, write_lift_input
from lift_testing.object_class import camera, write_object_class
from lift_testing.object_class_oracle import ObjectClassOracleGuidanceConfig, read_procedural_object


@pytest.fixture(scope="module")
def one_object(tmp_path_factory):
    written = write_object_class(
        tmp_path_factory.mktemp("cups"), 2, 1, size=16, azimuths_deg=(0.0, 90.0, 180.0, -90.0), elevations_deg=(0.0,)
    )
    return written.heldout[0]


def test_the_back_is_every_view_135_degrees_or_more_from_the_front() -> None:
    azimuths = torch.tensor([0.0, 90.0, 134.0, 135.0, 180.0, -135.0, -170.0, 225.0])
    assert back_views(azimuths).tolist() == [3, 4, 5, 6, 7]


def test_the_lift_input_is_the_photo_with_its_true_depth(one_object, tmp_path) -> None:
    data = write_lift_input(one_object, tmp_path / "data")
    photo = np.asarray(Image.open(data / "object.png"))
    depth = np.load(data / "depth.npy")
    assert photo.shape == (16, 16, 4) and depth.shape == (16, 16)
    item = read_procedural_object(one_object)
    # The centre ray meets the body's front, one radius along -Y in front of the origin, from a camera 3 away.
    assert depth[8, 8] == pytest.approx(3.0 - item.radii[1], abs=0.05)
    assert (depth[photo[..., 3] == 0] == 0).all()


def test_the_oracle_is_satisfied_only_by_the_true_views(one_object) -> None:
    views = read_object_views(one_object)
    oracle = ObjectClassOracleGuidanceConfig(object_folder=one_object).setup()
    directions = torch.zeros(len(views.images), dtype=torch.long)
    truth = oracle(views.images, views.cameras, directions, directions, 0).loss
    assert float(truth) < 1e-4  # the saved views are 8-bit
    swapped = oracle(views.images.flip(0), views.cameras, directions, directions, 0).loss
    assert float(swapped) > 100 * float(truth) + 1e-3


def test_copying_the_front_scores_the_photo_against_the_back(one_object) -> None:
    views = read_object_views(one_object)
    scores = copy_the_front_scores(views)
    back = int(back_views(views.azimuths_deg)[0])
    photo = views.images[int(torch.argmin(views.azimuths_deg.abs()))]
    expected = -10 * torch.log10(((views.images[back] - photo) ** 2).mean())
    assert scores.back_psnr == pytest.approx(float(expected), rel=1e-4)
    # The front silhouette drawn from the side misses the handle and the body's other depth.
    assert 0.3 < scores.silhouette_iou < 1.0


def test_the_views_are_the_cameras_that_drew_them(one_object) -> None:
    views = read_object_views(one_object)
    side = int(torch.argmin((views.azimuths_deg - 90.0).abs()))
    expected = camera(90.0, 0.0, 16).camera_to_worlds[0]
    assert torch.allclose(views.cameras.camera_to_worlds[side], expected, atol=1e-5)
    assert views.elevations_deg.abs().max() < 1e-3
