"""Dataparser for ``ns-train neurallift --data photo.png``: the photo and the camera it was taken from.

The photo is read with :func:`lift_common.images.load_photo` (so any format or size works, or the user gets one clear
message) and written, normalised to 8-bit RGB or RGBA, into a cache folder beside it that is keyed by the photo's
content; nothing else beside the user's files is written. Its camera is the *reference camera*: a front view of an
object centred at the origin, at a configurable distance, elevation and field of view.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Type

import torch
from nerfstudio.cameras.cameras import Cameras, CameraType
from nerfstudio.data.dataparsers.base_dataparser import DataParser, DataParserConfig, DataparserOutputs
from nerfstudio.data.scene_box import SceneBox
from nerfstudio.utils.rich_utils import CONSOLE

from lift_common.cameras import focal_length_from_fov, orbit_camera_to_world
from lift_common.errors import UserInputError
from lift_common.images import SUPPORTED_SUFFIXES, load_photo

CACHE_FOLDER_NAME = ".neurallift_cache"
"""Folder created beside the input photo for everything derived from it."""


@dataclass
class NeuralLiftPhotoDataParserConfig(DataParserConfig):
    """One photo of an object, seen from a known front-facing reference camera."""

    _target: Type = field(default_factory=lambda: NeuralLiftPhotoDataParser)
    data: Path = Path("photo.png")
    """The photo (PNG, JPEG or WebP; an RGBA photo's alpha is the object mask), or a folder holding exactly one."""
    reference_radius: float = 3.0
    """Distance of the reference camera from the object's centre, in scene units (the object fits in [-1, 1]^3)."""
    reference_elevation_deg: float = 0.0
    """Elevation of the reference camera above the object's equator, in degrees."""
    reference_fov_deg: float = 40.0
    """Field of view of the reference camera, in degrees (the photo's width and height: it is made square later)."""
    scene_half_extent: float = 1.0
    """Half the side of the scene box around the origin that holds the object."""


@dataclass
class NeuralLiftPhotoDataParser(DataParser):
    """Reads the photo and places its camera."""

    config: NeuralLiftPhotoDataParserConfig

    def _generate_dataparser_outputs(self, split: str = "train", **kwargs) -> DataparserOutputs:
        photo_path = find_photo(self.config.data)
        photo = load_photo(photo_path)
        cached_photo = self._write_normalised_photo(photo_path, photo)
        height, width = photo.shape[:2]

        camera_to_world = orbit_camera_to_world(
            torch.tensor([0.0]),
            torch.tensor([self.config.reference_elevation_deg]),
            torch.tensor([self.config.reference_radius]),
        )
        focal = focal_length_from_fov(self.config.reference_fov_deg, max(width, height))
        cameras = Cameras(
            camera_to_worlds=camera_to_world,
            fx=focal,
            fy=focal,
            cx=width / 2.0,
            cy=height / 2.0,
            width=width,
            height=height,
            camera_type=CameraType.PERSPECTIVE,
        )
        half = self.config.scene_half_extent
        has_alpha = photo.shape[-1] == 4
        return DataparserOutputs(
            image_filenames=[cached_photo],
            cameras=cameras,
            # An RGBA photo's transparent pixels are composited on white, the background the model learns there.
            alpha_color=torch.ones(3) if has_alpha else None,
            scene_box=SceneBox(aabb=torch.tensor([[-half, -half, -half], [half, half, half]], dtype=torch.float32)),
            metadata={"photo_path": photo_path},
        )

    def _write_normalised_photo(self, photo_path: Path, photo) -> Path:
        from PIL import Image

        digest = hashlib.sha256(photo_path.read_bytes()).hexdigest()[:16]
        cache_dir = photo_path.parent / CACHE_FOLDER_NAME / f"{photo_path.stem}-{digest}"
        cached_photo = cache_dir / "photo.png"
        if not cached_photo.exists():
            cache_dir.mkdir(parents=True, exist_ok=True)
            partial = cache_dir / "photo.partial.png"
            Image.fromarray(photo).save(partial)
            partial.replace(cached_photo)
            CONSOLE.log(f"Normalised photo written to {cached_photo}")
        return cached_photo


def find_photo(data: Path) -> Path:
    """The photo ``--data`` names: the file itself, or the one image in a folder."""
    data = Path(data)
    if not data.exists():
        raise UserInputError(
            f"{data} does not exist. Pass a photo (PNG, JPEG or WebP) or a folder holding one with --data."
        )
    if data.is_file():
        return data
    images = sorted(p for p in data.iterdir() if p.suffix.lower() in SUPPORTED_SUFFIXES and p.is_file())
    if not images:
        raise UserInputError(
            f"{data} holds no image ({', '.join(SUPPORTED_SUFFIXES)}). Put the photo in it, or pass the photo itself."
        )
    if len(images) > 1:
        names = ", ".join(p.name for p in images[:5])
        raise UserInputError(
            f"{data} holds {len(images)} images ({names}); NeuralLift lifts one photo. "
            "Pass the photo itself with --data."
        )
    return images[0]
