"""What ``--data`` names: the photo and the optional mask and depth the user supplies beside it.

Naming (``photo`` stands for the photo's file name without its extension):

* ``--data photo.png``: sidecars beside it are ``photo_mask.png`` (any image format) and ``photo_depth.npy`` or
  ``photo_depth.png`` (a 16-bit PNG).
* ``--data folder/``: the folder holds exactly one photo, and optionally ``mask.png`` / ``photo_mask.png`` and
  ``depth.npy`` / ``depth.png`` / ``photo_depth.npy`` / ``photo_depth.png``.

A mask is white (or opaque) on the object. A depth map holds one value per pixel: larger is farther, unless
``depth_convention`` says it is a disparity (larger is nearer).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from jaxtyping import Float
from nerfstudio.utils.rich_utils import CONSOLE

from lift_common.errors import UserInputError
from lift_common.images import SUPPORTED_SUFFIXES, fit_to_photo_size

DEPTH_SUFFIXES = (".npy", ".png")


@dataclass(frozen=True)
class PhotoInputs:
    """The user's files for one photo."""

    photo: Path
    mask: Path | None = None
    depth: Path | None = None


def _is_sidecar(path: Path) -> bool:
    stem = path.stem.lower()
    return stem in ("mask", "depth") or stem.endswith(("_mask", "_depth"))


def _first_existing(folder: Path, stems: list[str], suffixes: tuple[str, ...]) -> Path | None:
    for stem in stems:
        for suffix in suffixes:
            for candidate in (folder / f"{stem}{suffix}", folder / f"{stem}{suffix.upper()}"):
                if candidate.is_file():
                    return candidate
    return None


def find_inputs(data: Path) -> PhotoInputs:
    """The photo ``--data`` names (a file, or the one photo in a folder) and its sidecar mask and depth, if any."""
    data = Path(data)
    if not data.exists():
        raise UserInputError(
            f"{data} does not exist. Pass a photo (PNG, JPEG or WebP) or a folder holding one with --data."
        )
    if data.is_file():
        if data.suffix.lower() not in SUPPORTED_SUFFIXES:
            raise UserInputError(f"{data} is not a PNG, JPEG or WebP photo. Convert it to one of those and try again.")
        photo, folder, sidecar_stems = data, data.parent, [data.stem]
    else:
        photos = sorted(
            p for p in data.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES and not _is_sidecar(p)
        )
        if not photos:
            raise UserInputError(
                f"{data} holds no photo ({', '.join(SUPPORTED_SUFFIXES)}). "
                "Put the photo in it, or pass the photo itself."
            )
        if len(photos) > 1:
            names = ", ".join(p.name for p in photos[:5])
            raise UserInputError(
                f"{data} holds {len(photos)} photos ({names}); NeuralLift lifts one photo. "
                "Pass the photo itself with --data."
            )
        photo, folder, sidecar_stems = photos[0], data, ["", photos[0].stem]
    mask_stems = [f"{stem}_mask" if stem else "mask" for stem in sidecar_stems]
    depth_stems = [f"{stem}_depth" if stem else "depth" for stem in sidecar_stems]
    return PhotoInputs(
        photo=photo,
        mask=_first_existing(folder, mask_stems, SUPPORTED_SUFFIXES),
        depth=_first_existing(folder, depth_stems, DEPTH_SUFFIXES),
    )


def load_user_depth(path: Path, shape: tuple[int, int]) -> Float[np.ndarray, "H W"]:
    """A user's depth map (``.npy`` of numbers, or 16-bit PNG) at the photo's size, with non-finite values filled."""
    if path.suffix.lower() == ".npy":
        try:
            depth = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as error:  # EOFError: an empty or truncated file
            raise UserInputError(f"{path} is not a readable .npy array ({error}). Save it with numpy.save.") from None
    else:
        from PIL import Image

        try:
            with Image.open(path) as image:
                depth = np.asarray(image)
        except OSError as error:
            raise UserInputError(f"{path} could not be read ({error}). Save the depth as .npy or 16-bit PNG.") from None
        if depth.ndim == 3:
            depth = depth[..., 0]
    depth = np.squeeze(depth)
    if depth.ndim != 2 or not np.issubdtype(depth.dtype, np.number):
        raise UserInputError(
            f"{path} holds an array of shape {depth.shape}; a depth map is one number per pixel (H x W)."
        )
    depth = depth.astype(np.float32)
    finite = np.isfinite(depth)
    if not finite.any():
        raise UserInputError(f"{path} holds no finite depth value (all NaN or inf). Re-export the depth map.")
    if not finite.all():
        CONSOLE.log(f"{path.name}: {int((~finite).sum())} NaN/inf depth values filled with the farthest finite depth.")
        depth = np.where(finite, depth, depth[finite].max())
    return fit_to_photo_size(depth, shape, path, "depth map")
