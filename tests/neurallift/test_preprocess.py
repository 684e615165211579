"""Preprocessing a real photo: mask, depth and framing, cached beside the photo and reused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lift_common.errors import UserInputError
from neurallift_ns.data.preprocess import CACHE_FOLDER_NAME, PreprocessConfig, preprocess_photo


def settings(depth_model: Path, **overrides) -> PreprocessConfig:
    base = {"image_size": 64, "mask_method": "grabcut", "depth_method": "model", "depth_model": str(depth_model)}
    return PreprocessConfig(**{**base, **overrides})


def test_real_photo_with_grabcut_and_a_depth_model_from_disk(coffee_photo, tiny_depth_model, offline) -> None:
    result = preprocess_photo(coffee_photo, settings(tiny_depth_model))
    image = np.asarray(Image.open(result.image_path))
    mask = np.asarray(Image.open(result.mask_path)) > 127
    depth = np.load(result.depth_path)
    assert image.shape == (64, 64, 4) and mask.shape == (64, 64) and depth.shape == (64, 64)
    assert 0.1 < mask.mean() < 0.9
    assert depth[mask].min() == pytest.approx(0.0, abs=1e-6) and depth[mask].max() == pytest.approx(1.0, abs=1e-6)
    info = result.info()
    assert info["mask_source"] == "GrabCut" and info["depth_source"] == str(tiny_depth_model)
    assert info["depth_source_convention"] == "disparity"  # Depth Anything predicts relative disparity
    assert Image.open(result.preview_path).size == (3 * 64, 64)


def test_framing_centres_the_object_with_the_border(coffee_photo, tiny_depth_model, offline) -> None:
    result = preprocess_photo(coffee_photo, settings(tiny_depth_model, image_size=100, border_ratio=0.2))
    mask = np.asarray(Image.open(result.mask_path)) > 127
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    longer_side = max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)
    assert longer_side == pytest.approx(60, abs=2)  # (1 - 2 * 0.2) of the canvas
    assert (rows[0] + rows[-1]) / 2 == pytest.approx(49.5, abs=1.5)
    assert (cols[0] + cols[-1]) / 2 == pytest.approx(49.5, abs=1.5)


def test_cache_is_reused_and_keyed_by_content_and_settings(coffee_photo, tiny_depth_model, offline) -> None:
    first = preprocess_photo(coffee_photo, settings(tiny_depth_model))
    written = first.info_path.stat().st_mtime_ns
    again = preprocess_photo(coffee_photo, settings(tiny_depth_model))
    assert again.folder == first.folder and again.info_path.stat().st_mtime_ns == written
    other_setting = preprocess_photo(coffee_photo, settings(tiny_depth_model, border_ratio=0.1))
    assert other_setting.folder != first.folder
    Image.fromarray(np.asarray(Image.open(coffee_photo))[::-1].copy()).save(coffee_photo)  # the photo changes
    assert preprocess_photo(coffee_photo, settings(tiny_depth_model)).folder not in (first.folder, other_setting.folder)
    assert sorted(p.name for p in coffee_photo.parent.iterdir()) == [CACHE_FOLDER_NAME, coffee_photo.name]


DAMAGES = {
    "image cut short": lambda result: result.image_path.write_bytes(result.image_path.read_bytes()[:100]),
    "mask deleted": lambda result: result.mask_path.unlink(),
    "depth of another shape": lambda result: np.save(result.depth_path, np.zeros((3, 3), np.float32)),
    "depth not finite": lambda result: np.save(result.depth_path, np.full((32, 32), np.nan, np.float32)),
    "record not JSON": lambda result: result.info_path.write_text("{"),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_damaged_preprocessed_files_are_made_again(coffee_photo: Path, tmp_path: Path, capsys, damage: str) -> None:
    """A cache entry that training could not read is preprocessed again, with a line saying why, not reused."""
    rgba = np.asarray(Image.open(coffee_photo).convert("RGBA").resize((60, 40))).copy()
    rgba[..., 3] = 0
    rgba[8:32, 15:45, 3] = 255  # an alpha mask, so the result is deterministic (GrabCut's is not, run to run)
    Image.fromarray(rgba).save(tmp_path / "cup.png")
    config = PreprocessConfig(image_size=32, depth_method="silhouette")
    first = preprocess_photo(tmp_path / "cup.png", config)
    expected = {path.name: path.read_bytes() for path in (first.image_path, first.mask_path, first.depth_path)}
    DAMAGES[damage](first)
    capsys.readouterr()

    again = preprocess_photo(tmp_path / "cup.png", config)

    assert again.folder == first.folder and again.damage() is None
    assert {path.name: path.read_bytes() for path in (again.image_path, again.mask_path, again.depth_path)} == expected
    assert "are damaged" in " ".join(capsys.readouterr().out.split())


def test_a_photo_framed_for_the_camera_keeps_its_framing_without_recentring(tmp_path: Path) -> None:
    """A render made by the reference camera must stay where the camera sees it: only padded and resized."""
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., :3] = 90
    rgba[4:20, 24:36, 3] = 255  # off-centre, small
    Image.fromarray(rgba).save(tmp_path / "render.png")
    result = preprocess_photo(
        tmp_path / "render.png", PreprocessConfig(image_size=40, depth_method="silhouette", recenter=False)
    )
    mask = np.asarray(Image.open(result.mask_path)) > 127
    np.testing.assert_array_equal(mask, rgba[..., 3] > 127)


def test_user_mask_wins_and_user_depth_convention_is_applied(tmp_path: Path) -> None:
    folder = tmp_path / "object"
    folder.mkdir()
    rgb = np.full((50, 80, 3), 200, np.uint8)
    Image.fromarray(rgb).save(folder / "thing.jpg")
    mask = np.zeros((50, 80), np.uint8)
    mask[10:40, 20:60] = 255
    Image.fromarray(mask).save(folder / "mask.png")
    disparity = np.tile(np.linspace(1.0, 2.0, 80, dtype=np.float32), (50, 1))  # right side nearer
    np.save(folder / "depth.npy", disparity)
    result = preprocess_photo(folder, PreprocessConfig(image_size=32, user_depth_convention="disparity"))
    info = result.info()
    assert info["mask_source"] == "user mask mask.png" and info["depth_source"] == "user depth depth.npy"
    depth = np.load(result.depth_path)
    row = depth[16]
    on_object = np.asarray(Image.open(result.mask_path))[16] > 127
    assert row[on_object][0] > row[on_object][-1]  # stored as depth: the left (farther) side is larger


def test_rgba_alpha_is_the_mask(tmp_path: Path) -> None:
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., :3] = 90
    rgba[5:25, 10:30, 3] = 255
    Image.fromarray(rgba).save(tmp_path / "cutout.png")
    config = PreprocessConfig(image_size=32, depth_method="silhouette")
    result = preprocess_photo(tmp_path / "cutout.png", config)
    assert result.info()["mask_source"] == "the photo's alpha channel"
    # The opaque 20 x 20 square, framed: a filled square whose side is the canvas less its borders, centred.
    mask = np.asarray(Image.open(result.mask_path)) > 127
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    side = 32 * (1 - 2 * config.border_ratio)
    assert len(rows) == pytest.approx(side, abs=1) and len(cols) == pytest.approx(side, abs=1)
    assert mask.sum() >= len(rows) * len(cols) - 4  # resampled by area: a corner pixel may fall under half covered
    assert abs(rows[0] - (31 - rows[-1])) <= 1 and abs(cols[0] - (31 - cols[-1])) <= 1


def test_missing_depth_model_stops_with_its_name_when_asked_for(coffee_photo, offline) -> None:
    config = PreprocessConfig(image_size=32, mask_method="grabcut", depth_method="model", depth_model="someone/depth")
    with pytest.raises(UserInputError, match=r"Depth estimation model 'someone/depth'.*preprocess.depth-model"):
        preprocess_photo(coffee_photo, config)


def test_auto_falls_back_without_weights(coffee_photo, offline, capsys) -> None:
    config = PreprocessConfig(image_size=32, mask_model="someone/segmenter", depth_model="someone/depth")
    info = preprocess_photo(coffee_photo, config).info()
    assert info["mask_source"] == "GrabCut" and info["depth_source"] == "inflated silhouette"
    assert "using GrabCut instead" in capsys.readouterr().out


def test_segmentation_model_loads_from_a_local_folder(tmp_path: Path, offline) -> None:
    from lift_testing.tiny_models import save_tiny_clipseg
    from neurallift_ns.data.masks import segmentation_model_mask

    folder = save_tiny_clipseg(tmp_path / "tiny-clipseg")
    rgb = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    mask = segmentation_model_mask(rgb, str(folder), "a cup", "cpu", "--mask-model")
    assert mask.shape == (48, 64) and mask.dtype == bool


def test_preview_and_info_are_json_readable(coffee_photo, tiny_depth_model, offline) -> None:
    result = preprocess_photo(coffee_photo, settings(tiny_depth_model))
    info = json.loads(result.info_path.read_text())
    assert set(info["seconds"]) == {"read", "mask", "depth", "frame"}
    assert info["mask_source"] == "GrabCut" and info["settings"]["image_size"] == 64
    # Photo | mask | depth: the photo as framed, the mask as framed, and grey where the depth is off the object.
    preview = np.asarray(Image.open(result.preview_path).convert("RGB"))
    photo, mask_panel, depth_panel = preview[:, :64], preview[:, 64:128], preview[:, 128:]
    mask = np.asarray(Image.open(result.mask_path)) > 127
    np.testing.assert_array_equal(photo, np.asarray(Image.open(result.image_path))[..., :3])
    np.testing.assert_array_equal(mask_panel, np.repeat(mask[..., None] * 255, 3, axis=-1))
    assert (depth_panel[~mask] == 128).all() and not (depth_panel[mask] == 128).all(axis=-1).all()
