"""A folder of single-view photos of one class, made ready for LOLNeRF: common size, landmarks, masks, cameras.

Stages: every photo's size is read from its file's header (:mod:`lolnerf_ns.data.collection_inputs`) -> the photos
are resized to the collection's most common size, their five landmarks found (MediaPipe Face Mesh, or the user's
landmarks file) and their foreground masks made (MediaPipe Selfie Segmentation for faces, a masks folder, or none),
in chunks on every core (:mod:`lolnerf_ns.data.collection_chunks`, :mod:`lolnerf_ns.data.chunked_work`; an
interrupted preparation resumes where it stopped) -> joint camera fit, photos whose fit is poor dropped and the rest
refitted (:mod:`lolnerf_ns.data.collection_fit`). What was skipped or dropped, and why, is printed
(:mod:`lolnerf_ns.data.collection_summary`) and kept in ``cameras.json``.

Everything goes into ``<folder>/.lolnerf_cache/<key>/`` (:mod:`lolnerf_ns.data.collection_cache`): the resized photos
and masks in an image store (:mod:`lolnerf_ns.data.image_store`: uint8, read by training one image at a time),
``cameras.npz`` (what training reads) and ``cameras.json`` (the record for people;
:mod:`lolnerf_ns.data.collection_record`).
"""

from __future__ import annotations

import functools
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from nerfstudio.utils.rich_utils import CONSOLE

from lift_common.errors import UserInputError
from lolnerf_ns.data.chunked_work import chunks_of, run_in_chunks
from lolnerf_ns.data.collection_cache import cache_folder
from lolnerf_ns.data.collection_chunks import ChunkSettings, PhotoTask, prepare_chunk
from lolnerf_ns.data.collection_fit import fit_and_drop
from lolnerf_ns.data.collection_inputs import (
    choose_mask_source,
    list_photos,
    mask_files,
    masks_folder,
    read_given_landmarks,
    read_sizes,
)
from lolnerf_ns.data.collection_record import CAMERAS_RECORD, PreparedCollection, write_cameras
from lolnerf_ns.data.collection_summary import check_enough, log_fit, print_skipped
from lolnerf_ns.data.image_store import DamagedStoreError, is_complete, reopen, shard_problem, write_index
from lolnerf_ns.data.one_preparer import prepare_on_one_process
from lolnerf_ns.data.photo_preparation import MAX_RESIDUAL_FRACTION

PHOTOS_PER_CHUNK = 256
"""Most photos a worker prepares before its results are committed (what an interrupted preparation may have to redo);
fewer when they are large (:data:`lolnerf_ns.data.chunked_work.CHUNK_BYTES`)."""


@dataclass
class CollectionConfig:
    """How a folder of photos becomes training data."""

    landmarks_file: Path | None = None
    """JSON or CSV file of five (x, y) landmarks per image (see lolnerf_ns/data/landmarks.py); without one, faces are
    detected with MediaPipe Face Mesh."""
    masks: Literal["auto", "mediapipe", "folder", "none"] = "auto"
    """Foreground masks: MediaPipe Selfie Segmentation (faces), the masks folder, or none (the whole image is
    foreground, mask loss off). auto: the folder if it exists, else MediaPipe for detected faces, else none."""
    masks_folder: Path | None = None
    """Folder of masks named like the photos (white on the object); default: 'masks' inside the photo folder."""
    max_image_side: int = 256
    """Photos are resized to the collection's most common size, scaled down to at most this many pixels a side."""
    fov_deg: float | None = 20.0
    """Shared field of view of the cameras, in degrees, across the image width; unset (None) to estimate it."""
    max_residual_fraction: float = MAX_RESIDUAL_FRACTION
    """Photos whose landmarks reproject worse than this fraction of the image width (RMS) are dropped."""
    min_images: int = 2
    """Fewest photos that must remain to train."""
    num_workers: int | None = None
    """Processes preparing photos (landmarks and masks) at once; default: one per CPU core. It does not change the
    result."""


def prepare_collection(data: Path, config: CollectionConfig, force: bool = False) -> PreparedCollection:
    """Prepare the photos in ``data`` (see the module docstring), reuse an identical earlier preparation, or finish
    an interrupted one; under DDP, once a machine (:mod:`lolnerf_ns.data.one_preparer`)."""
    return prepare_on_one_process(
        lambda: _prepare_or_reuse(Path(data), config, force),
        lambda: _prepare_or_reuse(Path(data), config, force=False),
        f"the photos in {data}",
    )


def _prepare_or_reuse(data: Path, config: CollectionConfig, force: bool) -> PreparedCollection:
    photos = list_photos(data)
    folder = cache_folder(data, photos, config)
    if is_complete(folder) and not force:
        prepared = PreparedCollection(folder)
        try:
            prepared.camera_arrays  # noqa: B018  (reading the cameras opens the store, which checks its files)
            if not (folder / CAMERAS_RECORD).is_file():
                raise DamagedStoreError(folder, f"{folder / CAMERAS_RECORD} is missing")
            CONSOLE.log(f"Using prepared collection {folder}")
            return prepared
        except DamagedStoreError as error:
            CONSOLE.log(
                f"[yellow]The prepared collection in {folder} is damaged ({error.problem}): preparing again what is "
                "damaged."
            )
            reopen(folder)
    if force and folder.exists():
        shutil.rmtree(folder)
    _prepare(data, photos, config, folder)
    return PreparedCollection(folder)


def _target_size(sizes: list[tuple[int, int]], max_side: int) -> tuple[int, int]:
    (width, height), _ = Counter(sizes).most_common(1)[0]
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _prepare(data: Path, photos: list[Path], config: CollectionConfig, out: Path) -> None:
    skipped: list[tuple[str, str]] = []
    started = time.perf_counter()
    given_landmarks = read_given_landmarks(config, photos, data)
    mask_source = choose_mask_source(config, data, landmarks_given=given_landmarks is not None)
    masks = mask_files(data, config) if mask_source == "folder" else {}

    sizes = read_sizes(photos, skipped)
    if not sizes:
        raise UserInputError(f"None of the {len(photos)} photos in {data} could be read. See the messages above.")
    width, height = _target_size(list(sizes.values()), config.max_image_side)
    resized_count = sum(size != (width, height) for size in sizes.values())
    if resized_count:
        CONSOLE.log(f"{resized_count} of {len(sizes)} photos resized to {width}x{height}.")

    tasks = [
        PhotoTask(
            path,
            size,
            given_landmarks[path.name].tolist() if given_landmarks and path.name in given_landmarks else None,
            masks.get(path.stem),
        )
        for path, size in sizes.items()
    ]
    bytes_per_photo = width * height * (3 + (mask_source != "none"))  # as stored; the photo being read comes on top
    chunks = chunks_of(tasks, [bytes_per_photo] * len(tasks), PHOTOS_PER_CHUNK)
    settings = ChunkSettings((width, height), given_landmarks is None, mask_source, masks_folder(data, config))
    results = run_in_chunks(
        out,
        chunks,
        functools.partial(prepare_chunk, settings),
        "Landmarks and masks",
        config.num_workers,
        num_workers_option="--pipeline.datamanager.dataparser.collection.num-workers",
        damage=lambda folder, shard, result: shard_problem(folder, shard, result["layout"], 3, mask_source != "none"),
    )

    names, landmarks, locations = [], [], []
    for chunk, result in zip(chunks, results, strict=True):
        skipped += [(name, reason) for name, reason in result["skipped"]]
        names += result["names"]
        landmarks += result["landmarks"]
        locations += [(chunk.name, *location) for location in result["layout"]]
    check_enough(len(names), skipped, config.min_images, data, "after landmark detection")
    fit, kept = fit_and_drop(np.array(landmarks).reshape(-1, 5, 2), names, (width, height), config, skipped, data)
    print_skipped(skipped, len(photos), out / CAMERAS_RECORD)
    write_cameras(out, fit, [names[i] for i in kept], np.array(landmarks)[kept], (width, height), skipped, mask_source)
    shards = {chunk.name: position for position, chunk in enumerate(chunks)}
    write_index(
        out,
        names=[names[i] for i in kept],
        shards=list(shards),
        shard_of_image=np.array([shards[locations[i][0]] for i in kept], dtype=np.int32),
        layout=np.array([locations[i][1:] for i in kept], dtype=np.int64),
        channels=3,
        has_masks=mask_source != "none",
    )
    log_fit(fit, time.perf_counter() - started)
