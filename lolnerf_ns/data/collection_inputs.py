"""The user's inputs of a collection: its photos and their sizes, its landmarks file and its masks."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from nerfstudio.utils.rich_utils import CONSOLE

from lift_common.errors import UserInputError
from lift_common.images import SUPPORTED_SUFFIXES, read_photo_size

if TYPE_CHECKING:
    import numpy as np

    from lolnerf_ns.data.collection import CollectionConfig

MaskSource = Literal["mediapipe", "folder", "none"]


def list_photos(folder: Path) -> list[Path]:
    """The photos in ``folder``, sorted by name; a folder with none is a :class:`UserInputError`."""
    if not folder.is_dir():
        raise UserInputError(f"{folder} is not a folder. Pass a folder of photos (or one holding transforms.json).")
    # File types from the directory entries and names sorted as strings: no stat or Path comparison per photo.
    with os.scandir(folder) as entries:
        names = sorted(
            e.name for e in entries if e.is_file() and os.path.splitext(e.name)[1].lower() in SUPPORTED_SUFFIXES
        )
    photos = [folder / name for name in names]
    if not photos:
        raise UserInputError(
            f"{folder} holds no photos ({', '.join(SUPPORTED_SUFFIXES)}). Put the photos of one class in it."
        )
    return photos


def read_sizes(photos: list[Path], skipped: list[tuple[str, str]]) -> dict[Path, tuple[int, int]]:
    """Width and height of each photo, from its file's header; a photo that cannot be read is added to ``skipped``."""
    sizes: dict[Path, tuple[int, int]] = {}
    with CONSOLE.status(f"Reading the sizes of {len(photos)} photos"):
        for path in photos:
            try:
                sizes[path] = read_photo_size(path)
            except UserInputError as error:
                skipped.append((path.name, f"unreadable: {error}"))
    return sizes


def read_given_landmarks(config: CollectionConfig, photos: list[Path], data: Path) -> dict[str, np.ndarray] | None:
    """Photo name -> its five landmarks, from the landmarks file (``None`` without one), which must name only
    photos in ``data``."""
    from lolnerf_ns.data.landmarks import read_landmarks_file

    if config.landmarks_file is None:
        return None
    given_landmarks = read_landmarks_file(config.landmarks_file)
    unknown = sorted(set(given_landmarks) - {p.name for p in photos})
    if unknown:
        raise UserInputError(
            f"{config.landmarks_file} names images that are not in {data}: {', '.join(unknown[:5])}"
            + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
            + ". Fix the names (they are file names, e.g. cat_001.jpg) or add the images."
        )
    return given_landmarks


def masks_folder(data: Path, config: CollectionConfig) -> Path | None:
    """The masks folder (``masks`` in the photo folder unless set), if it exists."""
    folder = config.masks_folder or data / "masks"
    return folder if folder.is_dir() else None


def choose_mask_source(config: CollectionConfig, data: Path, landmarks_given: bool) -> MaskSource:
    """Where the masks come from (``auto``: the masks folder if it exists, else MediaPipe for detected faces, else
    none); asking for a masks folder that does not exist is a :class:`UserInputError`."""
    folder = masks_folder(data, config)
    if config.masks == "folder" and folder is None:
        raise UserInputError(f"No masks folder at {config.masks_folder or data / 'masks'}. Create it or pick --masks.")
    if config.masks == "auto":
        return "folder" if folder else ("mediapipe" if not landmarks_given else "none")
    return config.masks


def mask_files(data: Path, config: CollectionConfig) -> dict[str, Path]:
    """Photo name without its suffix -> its mask in the masks folder."""
    folder = masks_folder(data, config)
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in SUPPORTED_SUFFIXES}
