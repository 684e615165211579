"""Framing and depth conventions, with values worked out by hand."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from neurallift_ns.data.depth import model_depth_convention, normalise_depth, silhouette_depth
from neurallift_ns.data.framing import SquareWindow, crop_to_window, frame_object, square_window_around_mask


def test_the_square_window_is_centred_on_the_mask_with_its_border() -> None:
    mask = np.zeros((10, 20), bool)
    mask[2:6, 4:12] = True  # 4 rows x 8 columns: the longer side is 8
    # 8 pixels fill 1 - 2 * 0.25 of the side: 16; centred on (x, y) = (8, 4).
    assert square_window_around_mask(mask, 0.25) == SquareWindow(left=0.0, top=-4.0, side=16.0)


def test_shrinking_by_area_averages_each_block() -> None:
    image = np.array([[0, 0, 4, 4], [0, 0, 4, 4], [8, 8, 12, 12], [8, 8, 12, 12]], np.float32)
    framed = crop_to_window(image, SquareWindow(0.0, 0.0, 4.0), 2, 0.0, "area")
    np.testing.assert_allclose(framed, [[0, 4], [8, 12]])


def test_outside_the_photo_is_the_fill() -> None:
    image = np.full((4, 4), 100.0, np.float32)
    # The window starts 4 pixels left of the photo and is twice its size: the left half and the bottom half of the
    # output lie outside it.
    framed = crop_to_window(image, SquareWindow(-4.0, 0.0, 8.0), 4, 7.0, "nearest")
    np.testing.assert_array_equal(framed, [[7, 7, 100, 100], [7, 7, 100, 100], [7, 7, 7, 7], [7, 7, 7, 7]])


def test_without_a_border_the_photo_is_padded_to_a_square() -> None:
    rgb = np.zeros((2, 4, 3), np.uint8)
    mask = np.ones((2, 4), bool)
    depth = np.tile(np.array([1.0, 2.0, 3.0, 4.0], np.float32), (2, 1))
    framed_rgb, framed_mask, framed_depth = frame_object(rgb, mask, depth, 4, border_ratio=None)
    # One row of canvas above and below: white, not the object, at the farthest depth seen.
    np.testing.assert_array_equal(framed_rgb[[0, 3]], 255)
    np.testing.assert_array_equal(framed_rgb[1:3], 0)
    np.testing.assert_array_equal(framed_mask, [[False] * 4, [True] * 4, [True] * 4, [False] * 4])
    np.testing.assert_allclose(framed_depth, [[4, 4, 4, 4], [1, 2, 3, 4], [1, 2, 3, 4], [4, 4, 4, 4]])


@pytest.mark.parametrize(
    ("convention", "expected"), [("depth", [[0.0, 0.5], [1.0, 1.0]]), ("disparity", [[1.0, 0.5], [0.0, 0.0]])]
)
def test_depth_is_normalised_on_the_object_larger_farther(convention: str, expected: list) -> None:
    depth = np.array([[1.0, 2.0], [3.0, 10.0]], np.float32)
    on_object = np.array([[True, True], [True, False]])  # 10 is off the object: clipped to its range
    np.testing.assert_allclose(normalise_depth(depth, convention, on_object), expected)


def test_an_inflated_silhouette_is_nearest_at_its_centre() -> None:
    mask = np.zeros((9, 9), bool)
    mask[1:8, 1:8] = True
    depth = silhouette_depth(mask)
    # Distance to the outline: 4 at the centre, 2 and 1 nearer the edge; depth is 1 - sqrt(distance / 4).
    assert depth[4, 4] == pytest.approx(0.0, abs=1e-3)
    assert depth[4, 2] == pytest.approx(1.0 - np.sqrt(0.5), abs=1e-3)
    assert depth[4, 1] == pytest.approx(0.5, abs=1e-3)
    assert depth[0, 0] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("model_type", "estimation_type", "expected"),
    [("dpt", "relative", "disparity"), ("depth_anything", "relative", "disparity"), ("zoedepth", "relative", "depth")]
    + [("depth_anything", "metric", "depth")],
)
def test_depth_models_are_told_apart_by_type(model_type: str, estimation_type: str, expected: str) -> None:
    config = SimpleNamespace(model_type=model_type, depth_estimation_type=estimation_type)
    assert model_depth_convention(config) == expected
