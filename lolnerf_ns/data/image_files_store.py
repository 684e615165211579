"""An image store (:mod:`lolnerf_ns.data.image_store`) of the image and mask files a dataset names, one per image
(the frames of a ``transforms.json``).

Images are read as photos are everywhere in this project (:func:`lift_common.images.load_photo`: 8-bit; an alpha
channel kept; grayscale, palette and 16-bit images converted) and masks as nerfstudio reads them (one channel,
nonzero on the object). The store is built once, in chunks on every core and resumably
(:mod:`lolnerf_ns.data.chunked_work`), in ``.lolnerf_cache/files-<key>/`` beside the file naming them; the key
hashes the files' paths (as the dataset names them), sizes and modification times, so a changed file makes a new
store.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from nerfstudio.utils.rich_utils import CONSOLE

from lift_common.cache_keys import CacheKey
from lift_common.errors import UserInputError
from lift_common.images import read_photo_size
from lolnerf_ns.data.chunked_work import chunks_of, run_in_chunks
from lolnerf_ns.data.collection_cache import CACHE_FOLDER_NAME
from lolnerf_ns.data.image_store import (
    DamagedStoreError,
    ImageStore,
    is_complete,
    reopen,
    shard_problem,
    write_index,
    write_shard,
)
from lolnerf_ns.data.one_preparer import prepare_on_one_process

FILES_PER_CHUNK = 512
"""Most images read before their shard is committed (what an interrupted build may have to redo); fewer when they are
large (:data:`lolnerf_ns.data.chunked_work.CHUNK_BYTES`)."""


def store_of_files(
    images: list[Path],
    masks: list[Path] | None,
    source: Path,
    check_files: Callable[[], None] = lambda: None,
    num_workers: int | None = None,
) -> Path:
    """The folder of the store holding ``images`` (and ``masks``), in order, in the cache beside ``source`` (the
    file naming them), built first if needed after ``check_files()`` (which explains unreadable files); under DDP,
    once a machine (:mod:`lolnerf_ns.data.one_preparer`)."""

    def store() -> Path:
        return _store_of_files(images, masks, source, check_files, num_workers)

    return prepare_on_one_process(store, store, f"the images {source} names")


def _store_of_files(
    images: list[Path],
    masks: list[Path] | None,
    source: Path,
    check_files: Callable[[], None],
    num_workers: int | None,
) -> Path:
    key = CacheKey()
    for path in map(str, [*images, *(masks or [])]):
        key.add_stamp(path)
    folder = source.parent / CACHE_FOLDER_NAME / f"files-{key.hex()}"
    if is_complete(folder):
        try:
            ImageStore(folder)
            return folder
        except DamagedStoreError as error:
            CONSOLE.log(
                f"[yellow]The stored images in {folder} are damaged ({error.problem}): storing again what is damaged."
            )
            reopen(folder)
    check_files()
    pairs = [(Path(image), Path(masks[i]) if masks else None) for i, image in enumerate(images)]
    # Sizes from the files' headers; 4 bytes a pixel, as an image may have an alpha channel.
    sizes = [width * height * (4 + (masks is not None)) for width, height in map(read_photo_size, images)]
    chunks = chunks_of(pairs, sizes, FILES_PER_CHUNK)
    results = run_in_chunks(
        folder,
        chunks,
        store_files_chunk,
        f"Storing {len(images)} images",
        num_workers,
        damage=lambda folder, shard, result: shard_problem(
            folder, shard, result["layout"], result["channels"], masks is not None
        ),
    )
    channels = {result["channels"] for result in results if result["layout"]}
    if len(channels) > 1:
        raise UserInputError(
            f"Some images {source} names have an alpha channel and some do not. Give every image an alpha channel "
            "(the object's mask), or none."
        )
    write_index(
        folder,
        names=[image.name for image, _ in pairs],
        shards=[chunk.name for chunk in chunks],
        shard_of_image=np.repeat(np.arange(len(chunks)), [chunk.num_files for chunk in chunks]),
        layout=np.array([entry for result in results for entry in result["layout"]], dtype=np.int64),
        channels=channels.pop() if channels else 3,
        has_masks=masks is not None,
    )
    return folder


def store_files_chunk(folder: Path, chunk: str, pairs: list[tuple[Path, Path | None]]) -> dict:
    """Read one chunk's images (and masks) and write them as the shard ``chunk`` (in a worker process)."""
    from lift_common.images import load_photo

    images = [load_photo(image, max_pixels=sys.maxsize) for image, _ in pairs]
    channels = {image.shape[2] for image in images}
    if len(channels) > 1:
        raise UserInputError(
            f"Some of the images from {pairs[0][0]} to {pairs[-1][0]} have an alpha channel and some do not. Give "
            "every image an alpha channel (the object's mask), or none."
        )
    masks = [_read_mask(mask) for _, mask in pairs] if pairs and pairs[0][1] is not None else None
    for (image_path, mask_path), image, mask in zip(pairs, images, masks or [], strict=False):
        if mask.shape != image.shape[:2]:
            raise UserInputError(
                f"{mask_path} is {mask.shape[1]}x{mask.shape[0]} but its image {image_path} is "
                f"{image.shape[1]}x{image.shape[0]}. Save every mask at the same size as its image (nerfstudio reads "
                "them pixel for pixel)."
            )
    layout = write_shard(folder, chunk, images, masks)
    return {
        "layout": [list(entry) for entry in zip(layout.offsets, layout.heights, layout.widths, strict=True)],
        "channels": channels.pop() if channels else 3,
    }


def _read_mask(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        mask = np.array(image)
    if mask.ndim != 2:
        raise UserInputError(f"{path} has {mask.shape[2]} channels; a mask has one (nonzero on the object).")
    return (mask > 0).astype(np.uint8)
