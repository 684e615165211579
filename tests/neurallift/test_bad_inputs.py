"""Each kind of bad input gets one readable message naming the file, or is handled with a log line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lift_common.errors import UserInputError
from neurallift_ns.data.inputs import find_inputs
from neurallift_ns.data.masks import grabcut_mask
from neurallift_ns.data.preprocess import PreprocessConfig, preprocess_photo
from tests.commands import run_command

QUICK_METHODS = dict(mask_method="grabcut", depth_method="silhouette")
QUICK = PreprocessConfig(image_size=32, **QUICK_METHODS)


@pytest.fixture
def photo_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "object"
    folder.mkdir()
    rgb = np.full((60, 80, 3), 230, np.uint8)
    rgb[15:45, 25:55] = (200, 40, 40)
    Image.fromarray(rgb).save(folder / "thing.png")
    return folder


def _mask(folder: Path, mask: np.ndarray, name: str = "thing_mask.png") -> None:
    Image.fromarray(mask.astype(np.uint8) * 255).save(folder / name)


def test_empty_mask(photo_folder: Path) -> None:
    _mask(photo_folder, np.zeros((60, 80), bool))
    with pytest.raises(
        UserInputError, match=r"thing\.png \(from user mask thing_mask\.png\) is empty.*thing_mask\.png"
    ):
        preprocess_photo(photo_folder / "thing.png", QUICK)


def test_mask_covering_the_whole_image(photo_folder: Path) -> None:
    _mask(photo_folder, np.ones((60, 80), bool))
    with pytest.raises(UserInputError, match="covers the whole image"):
        preprocess_photo(photo_folder / "thing.png", QUICK)


def test_mask_of_another_shape(photo_folder: Path) -> None:
    _mask(photo_folder, np.ones((60, 60), bool))
    with pytest.raises(UserInputError, match=r"thing_mask\.png is 60x60 but the photo is 80x60"):
        preprocess_photo(photo_folder / "thing.png", QUICK)


def test_mask_of_the_same_shape_at_another_size_is_resized(photo_folder: Path, capsys) -> None:
    mask = np.zeros((30, 40), bool)
    mask[8:22, 12:28] = True
    _mask(photo_folder, mask)
    preprocess_photo(photo_folder / "thing.png", QUICK)
    assert "mask resized from 40x30 to 80x60" in capsys.readouterr().out


def test_depth_with_nan_and_inf_is_filled(photo_folder: Path, capsys) -> None:
    depth = np.ones((60, 80), np.float32)
    depth[0, 0], depth[1, 1] = np.nan, np.inf
    np.save(photo_folder / "thing_depth.npy", depth)
    preprocess_photo(photo_folder / "thing.png", QUICK)
    assert "2 NaN/inf depth values filled" in capsys.readouterr().out


def test_depth_without_a_finite_value(photo_folder: Path) -> None:
    np.save(photo_folder / "thing_depth.npy", np.full((60, 80), np.nan, np.float32))
    with pytest.raises(UserInputError, match=r"thing_depth\.npy holds no finite depth value"):
        preprocess_photo(photo_folder / "thing.png", QUICK)


def test_depth_that_is_not_a_map(photo_folder: Path) -> None:
    np.save(photo_folder / "thing_depth.npy", np.zeros((3, 60, 80), np.float32))
    with pytest.raises(UserInputError, match=r"thing_depth\.npy holds an array of shape \(3, 60, 80\)"):
        preprocess_photo(photo_folder / "thing.png", QUICK)


def test_16_bit_png_depth_is_read(photo_folder: Path) -> None:
    Image.fromarray(np.tile(np.arange(80, dtype=np.uint16) * 800, (60, 1))).save(photo_folder / "depth.png")
    assert find_inputs(photo_folder).depth == photo_folder / "depth.png"
    assert preprocess_photo(photo_folder, QUICK).info()["depth_source"] == "user depth depth.png"


def test_folder_without_a_photo(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no photo here")
    with pytest.raises(UserInputError, match="holds no photo"):
        find_inputs(tmp_path)


def test_folder_with_two_photos(photo_folder: Path) -> None:
    Image.new("RGB", (10, 10)).save(photo_folder / "other.jpg")
    with pytest.raises(UserInputError, match=r"holds 2 photos \(other\.jpg, thing\.png\)"):
        find_inputs(photo_folder)


def test_not_a_photo_format(tmp_path: Path) -> None:
    (tmp_path / "scan.tiff").write_bytes(b"II*\0")
    with pytest.raises(UserInputError, match=r"scan\.tiff is not a PNG, JPEG or WebP photo"):
        find_inputs(tmp_path / "scan.tiff")


def test_preprocess_command_explains_a_bad_mask_without_a_traceback(photo_folder: Path) -> None:
    _mask(photo_folder, np.zeros((60, 80), bool))
    result = run_command(["ns-neurallift-preprocess", str(photo_folder / "thing.png"), "--depth-method", "silhouette"])
    assert result.returncode == 1
    assert "is empty" in result.stderr and "Traceback" not in result.stderr + result.stdout


def test_preprocess_command_writes_a_preview(photo_folder: Path) -> None:
    _mask(photo_folder, np.pad(np.ones((30, 30), bool), ((15, 15), (25, 25))))
    args = ["ns-neurallift-preprocess", str(photo_folder), "--depth-method", "silhouette", "--image-size", "48"]
    result = run_command(args)
    assert result.returncode == 0, result.stderr
    (preview,) = photo_folder.glob(".neurallift_cache/*/preview.png")
    assert Image.open(preview).size == (144, 48)
    assert "preview.png" in " ".join(result.stdout.split())


def _grayscale_cat() -> np.ndarray:
    from skimage import color, data

    return np.round(color.rgb2gray(data.chelsea()) * 255).astype(np.uint8)


def test_grabcut_finds_the_object_in_a_grayscale_photo() -> None:
    from skimage import data

    gray = grabcut_mask(np.repeat(_grayscale_cat()[..., None], 3, axis=-1))  # as load_photo reads a grayscale file
    colour = grabcut_mask(data.chelsea())
    assert 0.1 < gray.mean() < 0.8  # measured 0.24 (colour: 0.35); before, 0.0
    assert (gray & colour).sum() / (gray | colour).sum() > 0.4  # measured 0.58: the same cat as in colour


def test_preprocess_command_on_a_grayscale_photo_without_the_segmentation_model(tmp_path: Path) -> None:
    photo = tmp_path / "cat.png"
    Image.fromarray(_grayscale_cat()).save(photo)  # mode L
    empty = str(tmp_path / "no-models")
    args = ["ns-neurallift-preprocess", str(photo), "--depth-method", "silhouette", "--image-size", "64"]
    result = run_command(args, HF_HUB_OFFLINE="1", HF_HOME=empty, HF_HUB_CACHE=empty, OMP_NUM_THREADS="1")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "using GrabCut instead" in " ".join(result.stdout.split())
    (info,) = tmp_path.glob(".neurallift_cache/*/preprocess.json")
    mask = np.asarray(Image.open(info.parent / "mask.png")) > 127
    assert 0.1 < mask.mean() < 0.9


def _flat_toned_object(seed: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """A grayscale photo of flat-toned shapes on a background of nearly the same grey, and the largest shape's mask.

    Seed 4 is one where GrabCut on brightness and texture finds nothing (the shapes have no texture to tell them by,
    and their outlines' contrast pulls the background's model) while brightness alone finds the largest shape."""
    from scipy import ndimage

    smooth = ndimage.gaussian_filter(np.random.default_rng(seed).random((256, 256)), sigma=12)
    shapes = smooth > np.percentile(smooth, 85)
    regions, count = ndimage.label(shapes)
    largest = regions == 1 + int(np.argmax(ndimage.sum(shapes, regions, range(1, count + 1))))
    return np.where(shapes, 200, 180).astype(np.uint8), largest


def test_where_one_offline_mask_fails_the_next_is_used_and_named(tmp_path: Path) -> None:
    gray, shape = _flat_toned_object()
    Image.fromarray(gray).save(tmp_path / "flat.png")  # mode L
    result = preprocess_photo(tmp_path / "flat.png", PreprocessConfig(image_size=64, **QUICK_METHODS))
    assert result.info()["mask_source"] == "GrabCut on brightness"  # before: "(from GrabCut) is empty"
    truth = tmp_path / "truth"
    truth.mkdir()
    Image.fromarray(gray).save(truth / "flat.png")
    _mask(truth, shape, "flat_mask.png")
    expected = preprocess_photo(truth / "flat.png", PreprocessConfig(image_size=64, **QUICK_METHODS))
    found, framed = (np.asarray(Image.open(r.mask_path)) > 127 for r in (result, expected))
    assert (found & framed).sum() / (found | framed).sum() > 0.9  # measured 1.0: the object, framed alike


def test_a_photo_no_offline_method_can_mask_names_each(tmp_path: Path) -> None:
    Image.fromarray(np.full((48, 64), 128, np.uint8)).save(tmp_path / "blank.png")
    with pytest.raises(UserInputError, match=r"No offline method found the object in .*blank\.png") as error:
        preprocess_photo(tmp_path / "blank.png", QUICK)
    for method in ("GrabCut on brightness and texture: the mask", "GrabCut on brightness: the mask", "border: the"):
        assert method in error.value.message
    assert "blank_mask.png" in error.value.message


def test_depth_file_that_is_empty(photo_folder: Path) -> None:
    (photo_folder / "thing_depth.npy").write_bytes(b"")
    with pytest.raises(UserInputError, match=r"thing_depth\.npy is not a readable \.npy array"):
        preprocess_photo(photo_folder / "thing.png", QUICK)
