"""One chunk of a collection's preparation, run in a worker process: its photos prepared and written to a shard.

Each photo is prepared by :class:`lolnerf_ns.data.photo_preparation.PhotoPreparer` (resized, its landmarks and mask
found); photos that cannot be used are returned with the reason, the others written to the chunk's shard.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from jaxtyping import Bool, Float, UInt8

from lolnerf_ns.data.collection_inputs import MaskSource
from lolnerf_ns.data.image_store import write_shard
from lolnerf_ns.data.photo_preparation import PhotoPreparer, UnreadablePhotoError


@dataclass(frozen=True)
class PhotoTask:
    """One photo for a worker to prepare."""

    path: Path
    size: tuple[int, int]
    """Width and height of the photo as stored (the pixels its landmarks are given in)."""
    landmarks: list | None
    """From the landmarks file, if any."""
    mask: Path | None
    """From the masks folder, if any."""


@dataclass(frozen=True)
class ChunkSettings:
    """What every chunk of one preparation shares."""

    size: tuple[int, int]
    """Width and height every photo is resized to."""
    detect_landmarks: bool
    """Detect landmarks with MediaPipe (no landmarks file)."""
    mask_source: MaskSource
    masks_folder: Path | None


def prepare_chunk(settings: ChunkSettings, folder: Path, chunk: str, tasks: list[PhotoTask]) -> dict:
    """Resize, find landmarks and mask each photo of one chunk (in a worker process), write the kept ones into the
    store's shard ``chunk`` and return their names, landmarks and places in the shard, and the photos skipped."""
    with_masks = settings.mask_source != "none"
    images: list[UInt8[np.ndarray, "H W 3"]] = []
    masks: list[Bool[np.ndarray, "H W"]] = []
    names: list[str] = []
    landmarks: list[Float[np.ndarray, "5 2"]] = []
    skipped: list[tuple[str, str]] = []
    with PhotoPreparer(settings.size, segment_faces=settings.mask_source == "mediapipe") as prepare:
        for task in tasks:
            name = task.path.name
            if not settings.detect_landmarks and task.landmarks is None:
                skipped.append((name, "no landmarks in the landmarks file"))
                continue
            try:
                photo = prepare(task.path, task.landmarks, landmarks_size=task.size, mask_file=task.mask)
            except UnreadablePhotoError as error:
                skipped.append((name, f"unreadable: {error}"))
                continue
            if photo.landmarks is None:
                skipped.append((name, "no face found"))
                continue
            if with_masks:
                if photo.mask is None:
                    skipped.append((name, f"no mask in {settings.masks_folder}"))
                    continue
                masks.append(photo.mask)
            images.append(photo.image)
            names.append(name)
            landmarks.append(photo.landmarks)
    layout = write_shard(folder, chunk, images, masks if with_masks else None)
    return {
        "names": names,
        "landmarks": [points.tolist() for points in landmarks],
        "layout": [list(entry) for entry in zip(layout.offsets, layout.heights, layout.widths, strict=True)],
        "skipped": skipped,
    }
