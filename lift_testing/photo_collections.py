"""Collections of thousands of tiny flat-coloured photos with a landmarks file: quick to write and to prepare."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from lift_testing.synthetic_landmarks import SIZE as LANDMARKS_SIZE
from lift_testing.synthetic_landmarks import synthetic_landmarks

PHOTO_SIZE = 24
"""Width and height of each photo."""


def write_photo_collection(folder: Path, num: int, seed: int = 0) -> Path:
    """``num`` flat-coloured photos in ``folder`` and, beside it, their landmarks file (returned)."""
    folder.mkdir(parents=True)
    landmarks, _, _ = synthetic_landmarks(num, seed=seed)
    landmarks *= PHOTO_SIZE / LANDMARKS_SIZE
    colours = np.random.default_rng(seed).integers(0, 256, (num, 3), dtype=np.uint8)
    for index, colour in enumerate(colours):
        Image.fromarray(np.broadcast_to(colour, (PHOTO_SIZE, PHOTO_SIZE, 3)).copy()).save(folder / f"p{index:05d}.png")
    points = folder.parent / f"{folder.name}_landmarks.json"
    points.write_text(json.dumps({f"p{index:05d}.png": lm.tolist() for index, lm in enumerate(landmarks)}))
    return points


def store_files(folder: Path) -> dict[str, bytes]:
    """The prepared collection's files, by name relative to ``folder`` (npz archives by their arrays)."""
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix == ".npz":
            with np.load(path) as arrays:
                files[str(path.relative_to(folder))] = b"".join(arrays[key].tobytes() for key in sorted(arrays))
        else:
            files[str(path.relative_to(folder))] = path.read_bytes()
    return files
