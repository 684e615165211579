"""One chunk of a collection's preparation, in a worker process: its photos prepared and written to a shard of the
image store.

Each photo is resized, its landmarks and mask found; photos that cannot be used are returned with the reason, the
others written to the chunk's shard.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from jaxtyping import Bool, Float, UInt8

from lift_common.errors import UserInputError
from lift_common.images import load_mask, load_photo
from lolnerf_ns.data.collection_inputs import MaskSource
from lolnerf_ns.data.image_store import write_shard


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
    import cv2

    from lolnerf_ns.data.landmarks import FaceLandmarkDetector, SelfieSegmenter

    width, height = settings.size
    detector = FaceLandmarkDetector() if settings.detect_landmarks else None
    segmenter = SelfieSegmenter() if settings.mask_source == "mediapipe" else None
    images: list[UInt8[np.ndarray, "H W 3"]] = []
    masks: list[Bool[np.ndarray, "H W"]] = []
    names: list[str] = []
    landmarks: list[Float[np.ndarray, "5 2"]] = []
    skipped: list[tuple[str, str]] = []
    try:
        for task in tasks:
            name = task.path.name
            if detector is None and task.landmarks is None:
                skipped.append((name, "no landmarks in the landmarks file"))
                continue
            try:
                image = load_photo(task.path)[..., :3]
            except UserInputError as error:
                skipped.append((name, f"unreadable: {error}"))
                continue
            resized = (
                image
                if tuple(image.shape[1::-1]) == (width, height)
                else cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
            )
            if detector is None:
                points = np.array(task.landmarks) * np.array([width / task.size[0], height / task.size[1]])
            else:
                points = detector(resized)
                if points is None:
                    skipped.append((name, "no face found"))
                    continue
            if settings.mask_source != "none":
                mask = (
                    segmenter(resized)
                    if segmenter is not None
                    else _read_mask(task.mask, task.path, (width, height), image.shape[1::-1])
                )
                if mask is None:
                    skipped.append((name, f"no mask in {settings.masks_folder}"))
                    continue
                masks.append(mask)
            images.append(resized)
            names.append(name)
            landmarks.append(points)
    finally:
        for model in (detector, segmenter):
            if model is not None:
                model.close()
    layout = write_shard(folder, chunk, images, masks if settings.mask_source != "none" else None)
    return {
        "names": names,
        "landmarks": [points.tolist() for points in landmarks],
        "layout": [list(entry) for entry in zip(layout.offsets, layout.heights, layout.widths, strict=True)],
        "skipped": skipped,
    }


def _read_mask(
    mask_path: Path | None, photo: Path, size: tuple[int, int], original_size: tuple[int, int]
) -> np.ndarray | None:
    """The photo's mask at ``size``, or ``None`` if it has none; a mask of another shape is refused."""
    import cv2

    if mask_path is None:
        return None
    height, width = original_size[1], original_size[0]
    mask = load_mask(mask_path, (height, width), photo_name=photo.name).astype(np.float32)
    return cv2.resize(mask, size, interpolation=cv2.INTER_AREA) >= 0.5
