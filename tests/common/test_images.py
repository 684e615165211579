"""Any photo a user has is read as 8-bit RGB(A), or refused with one message naming the file and what to do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lift_common.errors import UserInputError
from lift_common.images import MAX_PIXELS, load_photo


@pytest.fixture
def rgb() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)


def test_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match=r"missing\.png does not exist"):
        load_photo(tmp_path / "missing.png")


def test_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("this is text")
    with pytest.raises(UserInputError, match=r"notes\.png is not an image.*PNG, JPEG or WebP"):
        load_photo(path)


def test_truncated_image(tmp_path: Path, rgb: np.ndarray) -> None:
    path = tmp_path / "cut.jpg"
    Image.fromarray(rgb).save(path, quality=95)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(UserInputError, match=r"cut\.jpg could not be read.*truncated or corrupt"):
        load_photo(path)


def test_user_error_exits_with_its_message_not_a_traceback() -> None:
    error = UserInputError("photo.png does not exist.")
    assert isinstance(error, SystemExit) and error.code == "Error: photo.png does not exist."


def test_grayscale_becomes_rgb(tmp_path: Path, rgb: np.ndarray) -> None:
    path = tmp_path / "gray.png"
    Image.fromarray(rgb[..., 0]).save(path)
    photo = load_photo(path)
    assert photo.shape == (40, 60, 3) and photo.dtype == np.uint8
    np.testing.assert_array_equal(photo[..., 1], rgb[..., 0])


def test_16_bit_becomes_8_bit(tmp_path: Path) -> None:
    path = tmp_path / "deep.png"
    ramp = np.tile(np.linspace(0, 65535, 60).astype(np.uint16), (40, 1))
    Image.fromarray(ramp).save(path)
    photo = load_photo(path)
    assert photo.dtype == np.uint8 and photo.shape == (40, 60, 3)
    assert photo[0, 0, 0] == 0 and photo[0, -1, 0] == 255


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path, rgb: np.ndarray) -> None:
    path = tmp_path / "print.jpg"
    Image.fromarray(rgb).convert("CMYK").save(path)
    assert load_photo(path).shape == (40, 60, 3)


def test_rgba_keeps_its_alpha(tmp_path: Path, rgb: np.ndarray) -> None:
    path = tmp_path / "cutout.png"
    alpha = np.zeros((40, 60, 1), np.uint8)
    alpha[10:30, 20:40] = 255
    Image.fromarray(np.concatenate([rgb, alpha], -1)).save(path)
    photo = load_photo(path)
    assert photo.shape == (40, 60, 4)
    np.testing.assert_array_equal(photo[..., 3], alpha[..., 0])


def test_huge_photo_is_downscaled(tmp_path: Path) -> None:
    path = tmp_path / "huge.jpg"
    Image.new("RGB", (8000, 6000), (200, 100, 50)).save(path, quality=80)
    photo = load_photo(path)
    assert photo.shape[0] * photo.shape[1] <= MAX_PIXELS
    assert photo.shape[1] / photo.shape[0] == pytest.approx(8000 / 6000, rel=0.01)
