"""A prepared collection's files: cameras.npz for training and cameras.json for people, beside its image store.

They are written once (:func:`write_cameras`) and read as :class:`PreparedCollection`.

``cameras.npz`` holds each photo's camera, the shared focal length and image size, and the canonical keypoints.
``cameras.json`` holds per photo its orientation, position, focal length, principal point, image size, landmarks and
residual, like LOLNeRF's released camera files, plus the canonical keypoints and the photos not used, with the reason.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from jaxtyping import Float

from lift_common.atomic_files import write_atomically
from lift_common.errors import UserInputError
from lolnerf_ns.data.camera_fit import LANDMARK_NAMES, CameraFit
from lolnerf_ns.data.collection_cache import CACHE_VERSION
from lolnerf_ns.data.image_store import DamagedStoreError, ImageStore

CAMERAS_RECORD = "cameras.json"
"""The preparation's record for people (see :attr:`PreparedCollection.cameras`); training reads cameras.npz."""
CAMERA_ARRAYS_FILE = "cameras.npz"
CAMERA_ARRAYS = ("camera_to_world", "focal_length", "image_size", "canonical_keypoints")
"""What cameras.npz holds (see :attr:`PreparedCollection.camera_arrays`)."""


@dataclass(frozen=True)
class PreparedCollection:
    """The cache folder of a prepared collection: its image store, its cameras, and its record (cameras.json)."""

    folder: Path

    @cached_property
    def cameras(self) -> dict:
        """cameras.json: every photo's camera, landmarks and residual, and the photos not used."""
        path = self.folder / CAMERAS_RECORD
        try:
            cameras = json.loads(path.read_text())
            problem = None if isinstance(cameras, dict) and isinstance(cameras.get("frames"), list) else "no frames"
        except (OSError, ValueError) as error:
            problem = str(error)
        if problem is not None:
            # Training reads cameras.npz, not this record, so it is not checked at every start (50,000 photos make
            # it tens of MB); deleted, it is written again from the committed chunks at the next preparation.
            raise UserInputError(
                f"{path} cannot be read ({problem}). It is a record for people; training does not read it: delete it "
                "and run the same command again to write it again (no photo is prepared again)."
            )
        return cameras

    @property
    def frames(self) -> list[dict]:
        return self.cameras["frames"]

    @cached_property
    def store(self) -> ImageStore:
        """The photos and masks, row ``i`` being ``frames[i]``."""
        return ImageStore(self.folder)

    @cached_property
    def camera_arrays(self) -> dict[str, np.ndarray]:
        """cameras.npz: ``camera_to_world`` [N, 3, 4], ``focal_length``, ``image_size`` (width, height) and
        ``canonical_keypoints`` [5, 3]; camera ``i`` is of the store's image ``i``."""
        path = self.folder / CAMERA_ARRAYS_FILE
        try:
            with np.load(path) as file:
                arrays = {name: file[name] for name in CAMERA_ARRAYS}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            raise DamagedStoreError(self.folder, f"{path} cannot be read ({error})") from None
        if len(arrays["camera_to_world"]) != len(self.store):
            raise DamagedStoreError(
                self.folder,
                f"{path} holds {len(arrays['camera_to_world'])} cameras for the {len(self.store)} images of the store",
            )
        return arrays


def write_cameras(
    out: Path,
    fit: CameraFit,
    names: list[str],
    landmarks: Float[np.ndarray, "num 5 2"],
    size: tuple[int, int],
    skipped: list[tuple[str, str]],
    mask_source: str,
) -> None:
    """Write cameras.json and cameras.npz of the photos ``names`` (those of ``fit``) into ``out``."""
    width, height = size
    frames = [
        {
            "file": name,
            "landmarks": points.tolist(),
            "orientation": camera_to_world[:, :3].tolist(),
            "position": camera_to_world[:, 3].tolist(),
            "focal_length": fit.focal_length,
            "principal_point": [width / 2.0, height / 2.0],
            "image_size": [width, height],
            "residual_px": float(residual),
        }
        for name, points, camera_to_world, residual in zip(
            names, landmarks, fit.camera_to_world, fit.residual_px, strict=True
        )
    ]
    cameras = {
        "version": CACHE_VERSION,
        "convention": "camera-to-world, OpenGL axes (nerfstudio), world +Z up, the class's front towards -Y",
        "landmark_names": list(LANDMARK_NAMES),
        "canonical_keypoints": fit.canonical_keypoints.tolist(),
        "focal_length": fit.focal_length,
        "image_size": [width, height],
        "mask_source": mask_source,
        "frames": frames,
        "skipped": [{"file": name, "reason": reason} for name, reason in skipped],
    }
    write_atomically(out / CAMERAS_RECORD, lambda file: file.write(json.dumps(cameras, indent=1).encode()))
    arrays = {
        "camera_to_world": fit.camera_to_world.astype(np.float32),
        "focal_length": np.array(fit.focal_length),
        "image_size": np.array([width, height]),
        "canonical_keypoints": fit.canonical_keypoints,
    }
    write_atomically(out / CAMERA_ARRAYS_FILE, lambda file: np.savez(file, **arrays))
