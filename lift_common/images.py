"""Read a user's photo whatever its format, or say in one message what is wrong with it and what to do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from jaxtyping import Bool, Float, UInt8
from nerfstudio.utils.rich_utils import CONSOLE

from lift_common.errors import UserInputError

SUPPORTED_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
MAX_PIXELS = 4096 * 4096
"""Larger photos are downscaled as they are read, so an 8000x6000 photo never costs 8000x6000 float buffers."""


def load_photo(path: Path, max_pixels: int = MAX_PIXELS) -> UInt8[np.ndarray, "height width channels"]:
    """Read ``path`` as 8-bit RGB (3 channels) or RGBA (4 channels, alpha kept as the user's object mask).

    Grayscale, palette, CMYK and 16-bit images are converted, and images above ``max_pixels`` downscaled, each with a
    log line. A missing, unreadable or truncated file raises :class:`UserInputError`.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise UserInputError(f"{path} does not exist. Check the path passed with --data.")
    if not path.is_file():
        raise UserInputError(f"{path} is not a file. Pass an image file ({', '.join(SUPPORTED_SUFFIXES)}).")
    try:
        with Image.open(path) as image:
            image.draft("RGB", _draft_size(image.size, max_pixels))  # JPEG: decode big photos at reduced size
            image.load()
            array = _to_8bit_rgb_or_rgba(image, path)
    except UserInputError:
        raise
    except UnidentifiedImageError:
        raise _not_an_image(path) from None
    except (OSError, SyntaxError, ValueError) as error:  # PIL reports truncated or corrupt data as OSError
        raise _corrupt_image(path, error) from None
    return _downscale_to(array, max_pixels, path)


def check_image_file(path: Path, described: str | None = None) -> None:
    """Raise :class:`UserInputError` unless ``path`` is an image file PIL can open and whose data checks out.

    Cheaper than reading it: for datasets of many images, checked before training reads them. ``described`` names
    the file in the message (default: its path).
    """
    from PIL import Image, UnidentifiedImageError

    described = described or str(path)
    try:
        with Image.open(path) as image:
            image.verify()  # chunk structure and checksums (PNG), without decoding every pixel
    except UnidentifiedImageError:
        raise _not_an_image(described) from None
    except (OSError, SyntaxError, ValueError) as error:
        raise _corrupt_image(described, error) from None


def read_photo_size(path: Path) -> tuple[int, int]:
    """Width and height of the image file ``path``, from its header (no pixel is decoded); a file that is not an
    image raises :class:`UserInputError` as :func:`load_photo` does."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            width, height = image.size
    except UnidentifiedImageError:
        raise _not_an_image(path) from None
    except (OSError, SyntaxError, ValueError) as error:
        raise _corrupt_image(path, error) from None
    if width == 0 or height == 0:
        raise UserInputError(f"{path} is empty ({width}x{height} pixels).")
    return width, height


def _not_an_image(described) -> UserInputError:
    return UserInputError(
        f"{described} is not an image this program can read. Save it as PNG, JPEG or WebP and try again."
    )


def _corrupt_image(described, error: Exception) -> UserInputError:
    return UserInputError(
        f"{described} could not be read ({error}). The file may be truncated or corrupt; re-export it."
    )


def _draft_size(size: tuple[int, int], max_pixels: int) -> tuple[int, int]:
    width, height = size
    scale = min(1.0, (max_pixels / float(width * height)) ** 0.5)
    return max(1, int(width * scale)), max(1, int(height * scale))


def _to_8bit_rgb_or_rgba(image, path: Path) -> np.ndarray:
    from PIL import Image

    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        CONSOLE.log(f"{path.name}: 16-bit grayscale, converted to 8-bit RGB.")
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if array.max() > 255 else 255.0
        gray = np.clip(np.round(array / top * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=-1)
    if mode == "F":
        raise UserInputError(f"{path} holds floating-point data, not a photo. Pass an 8- or 16-bit image.")
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = np.asarray(image.convert("RGBA"))
        if mode != "RGBA":
            CONSOLE.log(f"{path.name}: {mode} image converted to RGBA.")
        return rgba
    if mode != "RGB":
        CONSOLE.log(f"{path.name}: {mode} image converted to RGB.")
        image = image.convert("RGB")
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[-1] != 3:  # e.g. 16-bit RGB PNGs that PIL opens in an unusual mode
        array = np.asarray(Image.fromarray(array).convert("RGB"))
    return array


def _downscale_to(array: np.ndarray, max_pixels: int, path: Path) -> np.ndarray:
    import cv2

    height, width = array.shape[:2]
    if height == 0 or width == 0:
        raise UserInputError(f"{path} is empty ({width}x{height} pixels).")
    if height * width <= max_pixels:
        return array
    scale = (max_pixels / float(height * width)) ** 0.5
    new_size = (max(1, int(width * scale)), max(1, int(height * scale)))
    CONSOLE.log(f"{path.name}: {width}x{height} is larger than needed, downscaled to {new_size[0]}x{new_size[1]}.")
    return cv2.resize(array, new_size, interpolation=cv2.INTER_AREA)


SIZE_TOLERANCE = 0.01
"""A mask or depth map whose aspect ratio matches its photo's within 1% is resized to it; others are refused."""


def fit_to_photo_size(
    array: np.ndarray, shape: tuple[int, int], path: Path, what: str, photo_name: str = "the photo"
) -> np.ndarray:
    """``array`` (a map read from ``path``) at the photo's ``(height, width)``, resized with a log line if it has the
    photo's shape at another size; a map of another shape raises :class:`UserInputError`."""
    import cv2

    height, width = shape
    if array.shape[:2] == (height, width):
        return array
    if abs(array.shape[1] / array.shape[0] - width / height) > SIZE_TOLERANCE * width / height:
        raise UserInputError(
            f"{path} is {array.shape[1]}x{array.shape[0]} but {photo_name} is {width}x{height}, a different shape. "
            f"Save the {what} at its photo's size."
        )
    CONSOLE.log(f"{path.name}: {what} resized from {array.shape[1]}x{array.shape[0]} to {width}x{height}.")
    return cv2.resize(array, (width, height), interpolation=cv2.INTER_LINEAR)


def load_mask(path: Path, shape: tuple[int, int], photo_name: str = "the photo") -> Bool[np.ndarray, "H W"]:
    """A mask image as booleans at the photo's ``(height, width)``: its alpha channel if it has one (and it is not
    opaque everywhere), else its brightness; white or opaque is the object."""
    image = load_photo(path)
    alpha = image[..., 3] if image.shape[-1] == 4 else None
    values = alpha if alpha is not None and alpha.min() < 255 else image[..., :3].mean(axis=-1)
    return fit_to_photo_size(values.astype(np.float32), shape, path, "mask", photo_name) > 127.5


def composite_on_white(path: Path) -> Float[np.ndarray, "H W 3"]:
    """An RGBA image (an object with its mask as alpha) over white, as float RGB in [0, 1]."""
    image = load_photo(path).astype(np.float32) / 255.0
    if image.shape[-1] == 3:
        return image
    colour, alpha = image[..., :3], image[..., 3:]
    return colour * alpha + (1.0 - alpha)
