"""Preparing large images holds about one chunk's budget of pixels in memory (``CHUNK_BYTES``), not a fixed count of
images whatever their size.

Memory is measured with ``tracemalloc`` (numpy's buffers are traced; deterministic, unlike a process's resident
size), in one process (one worker: the chunks are prepared where the test runs), after a first small preparation has
imported everything. The budget is set low so that a few large images already exceed it.
"""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image

from lift_testing.synthetic_landmarks import SIZE as LANDMARKS_SIZE
from lift_testing.synthetic_landmarks import synthetic_landmarks
from lolnerf_ns.data import chunked_work, collection
from lolnerf_ns.data.collection import CollectionConfig, prepare_collection
from lolnerf_ns.data.image_files_store import store_of_files

Result = TypeVar("Result")
BUDGET = 8 * 2**20
"""The chunk budget the tests set: a few of their images."""


def _smooth_image(side: int, channels: int, seed: int) -> np.ndarray:
    """A gradient (quick to write and read as PNG, unlike noise) that differs from seed to seed."""
    rows, cols = np.indices((side, side))
    planes = [(rows * (seed + 1) + cols * (channel + 1)) % 256 for channel in range(channels)]
    return np.stack(planes, axis=-1).astype(np.uint8)


def _traced(prepare: Callable[[], Result]) -> tuple[Result, int]:
    """What ``prepare()`` returns, and the most memory traced while it ran."""
    tracemalloc.start()
    try:
        result = prepare()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_chunks_hold_at_most_the_budget_or_one_large_file() -> None:
    chunks = chunked_work.chunks_of(list("abcdefg"), [3, 3, 3, 10, 1, 1, 1], max_files=2, max_bytes=7)
    assert [(chunk.name, chunk.payload) for chunk in chunks] == [
        ("0000000", ["a", "b"]),
        ("0000002", ["c"]),
        ("0000003", ["d"]),  # larger than the budget: alone
        ("0000004", ["e", "f"]),
        ("0000006", ["g"]),
    ]


def test_storing_large_images_holds_about_one_chunk_budget(tmp_path: Path, monkeypatch) -> None:
    side, num = 800, 16  # 800x800 RGBA: 2.56 MB decoded each, 41 MB in all
    paths = []
    for index in range(num):
        paths.append(tmp_path / f"f{index:02d}.png")
        Image.fromarray(_smooth_image(side, 4, index)).save(paths[-1], compress_level=1)
    source = tmp_path / "transforms.json"
    store_of_files(paths[:1], None, source, num_workers=1)  # imports everything the measured run uses
    monkeypatch.setattr(chunked_work, "CHUNK_BYTES", BUDGET, raising=False)

    _, peak = _traced(lambda: store_of_files(paths, None, source, num_workers=1))

    image_bytes = side * side * 4
    bound = BUDGET + 3 * image_bytes  # the chunk, and the image being read with its conversions
    print(
        f"peak traced memory storing {num} {side}x{side} RGBA images: {peak / 2**20:.1f} MiB "
        f"(bound {bound / 2**20:.1f})"
    )
    assert peak < bound


def test_preparing_large_photos_holds_about_one_chunk_budget(tmp_path: Path, monkeypatch) -> None:
    side, num = 640, 12  # 640x640 RGB kept at that size: 1.2 MB each, 14.7 MB in all
    folder = tmp_path / "photos"
    folder.mkdir()
    landmarks, _, _ = synthetic_landmarks(num, seed=2)
    for index in range(num):
        Image.fromarray(_smooth_image(side, 3, index)).save(folder / f"p{index:02d}.png", compress_level=1)
    points = tmp_path / "points.json"
    scale = side / LANDMARKS_SIZE
    points.write_text(json.dumps({f"p{index:02d}.png": (lm * scale).tolist() for index, lm in enumerate(landmarks)}))
    config = CollectionConfig(landmarks_file=points, max_image_side=side, num_workers=1)
    prepare_collection(folder, config, force=True)  # imports everything the measured run uses
    monkeypatch.setattr(chunked_work, "CHUNK_BYTES", BUDGET // 2, raising=False)
    # Each chunk is measured as its worker prepares it (the camera fit after them is slow to trace, and small).
    peaks = []
    prepare_chunk = collection.prepare_chunk

    def measured_prepare_chunk(*args) -> dict:
        result, peak = _traced(lambda: prepare_chunk(*args))
        peaks.append(peak)
        return result

    monkeypatch.setattr(collection, "prepare_chunk", measured_prepare_chunk)
    prepared = prepare_collection(folder, config, force=True)

    photo_bytes = side * side * 3
    bound = BUDGET // 2 + 3 * photo_bytes  # the chunk, and the photo being read with its conversions
    print(
        f"peak traced memory of the {len(peaks)} chunks of {num} {side}x{side} photos: {max(peaks) / 2**20:.1f} MiB "
        f"(bound {bound / 2**20:.1f})"
    )
    assert max(peaks) < bound
    assert len(prepared.frames) == num
