"""Photos and masks of a collection on disk, stored once and compactly (uint8), read one image at a time.

A store is a folder::

    shards/<shard>.images.npy   uint8 [pixels, channels]: the images of one shard, each image's pixels in row-major
                                order, one image after the other
    shards/<shard>.masks.npy    uint8 [pixels]: their masks (1 on the object), when the collection has masks
    index.npz                   per image: its shard, its first pixel there, its height and width; and the images'
                                names. Written last, atomically: a folder without it is a store still being written.

Every file is written aside and renamed into place, so a reader (or a preparation interrupted and run again) never
finds half a file. Training reads each batch's images with ``os.preadv`` as it needs them: the process holds a batch's
images, never the collection, and nothing of the collection is mapped into its memory (the operating system's page
cache keeps recently read shards, outside the process and reclaimable).
"""

from __future__ import annotations

import os
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from jaxtyping import Int, UInt8

from lift_common.atomic_files import write_atomically
from lift_common.errors import UserInputError

INDEX_NAME = "index.npz"
SHARDS_FOLDER = "shards"
STORE_VERSION = 1
MAX_OPEN_FILES = 32
"""Shard files a store keeps open, the most recently read: FFHQ's 70,000 photos are over 500 files, and a training
process holds a train and an eval store, against a common limit of 1,024 open files a process."""


@dataclass(frozen=True)
class ShardLayout:
    """Where the images of one shard lie in it."""

    offsets: list[int]
    """First pixel of each image."""
    heights: list[int]
    widths: list[int]


def write_shard(
    folder: Path,
    shard: str,
    images: list[UInt8[np.ndarray, "H W C"]],
    masks: list[UInt8[np.ndarray, "H W"]] | None,
) -> ShardLayout:
    """Write the images (and masks) of one shard into the store ``folder``; every image has the same channels."""
    shards = folder / SHARDS_FOLDER
    shards.mkdir(parents=True, exist_ok=True)
    heights = [int(image.shape[0]) for image in images]
    widths = [int(image.shape[1]) for image in images]
    sizes = np.array(heights, dtype=np.int64) * np.array(widths, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int).tolist() if images else []
    channels = images[0].shape[2] if images else 3
    _write_pixels(shards / f"{shard}.images.npy", images, channels)
    if masks is not None:
        if [mask.shape[:2] for mask in masks] != [image.shape[:2] for image in images]:
            raise ValueError(f"the masks of shard {shard} are not of their images' sizes")  # they would shift
        _write_pixels(shards / f"{shard}.masks.npy", masks, None)
    return ShardLayout(offsets=offsets, heights=heights, widths=widths)


def _write_pixels(path: Path, arrays: list[np.ndarray], channels: int | None) -> None:
    """Write ``arrays`` one after the other as one uint8 array of ``[pixels, channels]``, or of masks ``[pixels]``
    (1 where nonzero) if ``channels`` is None, as ``np.save`` would, without joining them in memory first (a second
    copy of the shard)."""
    pixels = sum(int(array.shape[0]) * int(array.shape[1]) for array in arrays)
    shape = (pixels,) if channels is None else (pixels, channels)

    def write(file) -> None:
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)), "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_1_0(file, header)
        for array in arrays:
            values = (array > 0) if channels is None else array
            file.write(memoryview(np.ascontiguousarray(values, dtype=np.uint8)).cast("B"))

    write_atomically(path, write)


def write_index(
    folder: Path,
    names: list[str],
    shards: list[str],
    shard_of_image: Int[np.ndarray, "num"],
    layout: Int[np.ndarray, "num 3"],
    channels: int,
    has_masks: bool,
) -> None:
    """Commit the store: its images are, in order, image ``i`` of shard ``shards[shard_of_image[i]]`` at pixel
    ``layout[i, 0]``, of height ``layout[i, 1]`` and width ``layout[i, 2]``."""
    arrays = {
        "version": np.array(STORE_VERSION),
        "names": np.array(names, dtype=str),
        "shards": np.array(shards, dtype=str),
        "shard": np.asarray(shard_of_image, dtype=np.int32),
        "layout": np.asarray(layout, dtype=np.int64).reshape(-1, 3),
        "channels": np.array(channels),
        "has_masks": np.array(has_masks),
    }
    write_atomically(folder / INDEX_NAME, lambda file: np.savez(file, **arrays))


def is_complete(folder: Path) -> bool:
    return (folder / INDEX_NAME).is_file()


def reopen(folder: Path) -> None:
    """Make the complete store ``folder`` one being written again (its index removed), so that the preparation that
    wrote it, run again, checks its shards, writes again only the damaged ones (see :func:`shard_problem`) and
    commits a new index."""
    (folder / INDEX_NAME).unlink(missing_ok=True)


class ImageStore:
    """Reads a store's images and masks by their position in the index.

    Files are opened on first use, at most :data:`MAX_OPEN_FILES` at once (the least recently read is closed), and
    closed when the store is pickled (nerfstudio's data loaders may copy their dataset into worker processes)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._files: OrderedDict[tuple[str, str], int] = OrderedDict()
        """Open file descriptors by (shard, kind), the least recently read first."""
        index_path = self.folder / INDEX_NAME
        try:
            with np.load(index_path) as index:
                if int(index["version"]) != STORE_VERSION:
                    raise ValueError(f"version {int(index['version'])}, expected {STORE_VERSION}")
                self.names: list[str] = index["names"].tolist()
                self._shards: list[str] = index["shards"].tolist()
                self._shard = index["shard"]
                self._layout = index["layout"]
                self.channels = int(index["channels"])
                self.has_masks = bool(index["has_masks"])
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            raise DamagedStoreError(self.folder, f"{index_path} cannot be read ({error})") from None
        self._data_offsets: dict[tuple[str, str], int] = {}
        self._check()

    def __len__(self) -> int:
        return len(self._layout)

    def sizes(self) -> Int[np.ndarray, "num 2"]:
        """Height and width of every image."""
        return self._layout[:, 1:].copy()

    def image(self, index: int) -> UInt8[np.ndarray, "H W C"]:
        return self._read("images", index, self.channels).reshape(*self._hw(index), self.channels)

    def mask(self, index: int) -> UInt8[np.ndarray, "H W"] | None:
        """The image's mask (1 on the object), or ``None`` when the store has none."""
        if not self.has_masks:
            return None
        return self._read("masks", index, 1).reshape(self._hw(index))

    def _hw(self, index: int) -> tuple[int, int]:
        return int(self._layout[index, 1]), int(self._layout[index, 2])

    def _path(self, shard: str, kind: str) -> Path:
        return self.folder / SHARDS_FOLDER / f"{shard}.{kind}.npy"

    def _read(self, kind: str, index: int, channels: int) -> np.ndarray:
        shard = self._shards[int(self._shard[index])]
        start, height, width = (int(v) for v in self._layout[index])
        key = (shard, kind)
        pixels = np.empty(height * width * channels, dtype=np.uint8)
        if os.preadv(self._open(key), [pixels], self._data_offsets[key] + start * channels) != pixels.size:
            raise DamagedStoreError(self.folder, f"{self._path(shard, kind)} ends early")
        return pixels

    def _open(self, key: tuple[str, str]) -> int:
        """The descriptor of the shard file ``key``, opened if needed, closing the least recently read beyond
        :data:`MAX_OPEN_FILES`."""
        if key in self._files:
            self._files.move_to_end(key)
            return self._files[key]
        while len(self._files) >= MAX_OPEN_FILES:
            os.close(self._files.popitem(last=False)[1])
        try:
            self._files[key] = os.open(self._path(*key), os.O_RDONLY)
        except OSError as error:  # deleted or moved since the store was opened
            raise DamagedStoreError(self.folder, f"{self._path(*key)} cannot be read ({error.strerror})") from None
        return self._files[key]

    def _check(self) -> None:
        """Every shard the index names exists with the shape it needs (a cheap check: one header per shard)."""
        ends = self._layout[:, 0] + self._layout[:, 1] * self._layout[:, 2]
        for position, shard in enumerate(self._shards):
            needed = int(ends[self._shard == position].max(initial=0))
            for kind, channels in _kinds(self.channels, self.has_masks):
                problem, data_offset = _shard_file_problem(self._path(shard, kind), channels, needed, "the index")
                if problem is not None:
                    raise DamagedStoreError(self.folder, problem)
                self._data_offsets[(shard, kind)] = data_offset

    def close(self) -> None:
        for descriptor in self._files.values():
            os.close(descriptor)
        self._files = OrderedDict()

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_files": OrderedDict()}

    def __del__(self) -> None:
        self.close()


def shard_problem(folder: Path, shard: str, layout: list[list[int]], channels: int, has_masks: bool) -> str | None:
    """What is wrong with the files of shard ``shard`` of the store ``folder``, which should hold images (and masks)
    of ``channels`` channels placed as ``layout`` says (per image: first pixel, height, width), or ``None``. Used to
    find the damaged shards of a store before its index exists (a store being prepared, or prepared again)."""
    needed = max((offset + height * width for offset, height, width in layout), default=0)
    for kind, kind_channels in _kinds(channels, has_masks):
        path = folder / SHARDS_FOLDER / f"{shard}.{kind}.npy"
        problem, _ = _shard_file_problem(path, kind_channels, needed, f"shard {shard}'s record")
        if problem is not None:
            return problem
    return None


def _kinds(channels: int, has_masks: bool) -> list[tuple[str, int | None]]:
    """The files of a shard, by kind, with the channels of each (``None``: one value a pixel)."""
    return [("images", channels)] + ([("masks", None)] if has_masks else [])


def _shard_file_problem(path: Path, channels: int | None, needed: int, named_by: str) -> tuple[str | None, int]:
    """What is wrong with the shard file ``path``, which should hold at least ``needed`` pixels of ``channels``
    channels (``None``: one value a pixel), or ``None``; and where its data starts."""
    try:
        with open(path, "rb") as file:
            version = np.lib.format.read_magic(file)
            read_header = (
                np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            )
            shape, _, dtype = read_header(file)
            data_offset = file.tell()
    except (OSError, ValueError) as error:
        return f"{path} cannot be read ({error})", 0
    expected_columns = () if channels is None else (channels,)
    if dtype != np.uint8 or tuple(shape[1:]) != expected_columns or shape[0] < needed:
        return f"{path} holds {shape} {dtype}, not what {named_by} names", data_offset
    if path.stat().st_size < data_offset + int(np.prod(shape)):
        return f"{path} is shorter than its header says", data_offset
    return None, data_offset


class DamagedStoreError(UserInputError):
    """A store that cannot be read as its index says (deleted or truncated files, another version)."""

    def __init__(self, folder: Path, problem: str) -> None:
        super().__init__(f"The prepared data in {folder} is damaged: {problem}. Delete {folder} and run again.")
        self.folder = folder
        self.problem = problem

    def __reduce__(self):
        return type(self), (self.folder, self.problem)
