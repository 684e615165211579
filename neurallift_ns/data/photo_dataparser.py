"""Dataparser for ``ns-train neurallift --data photo.png``: the preprocessed photo and its reference camera.

The photo is preprocessed on first use (see :mod:`neurallift_ns.data.preprocess`: mask, depth, framing, cached beside
the photo). Its camera is the *reference camera*: a front view (azimuth 0) of an object centred at the origin, at a
configurable distance, elevation and field of view, in nerfstudio's conventions with world +Z up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Type

import torch
from nerfstudio.data.dataparsers.base_dataparser import DataParser, DataParserConfig, DataparserOutputs
from nerfstudio.data.scene_box import SceneBox

from neurallift_ns.data.orbit_views import orbit_cameras
from neurallift_ns.data.preprocess import PreprocessConfig, preprocess_photo


@dataclass
class NeuralLiftPhotoDataParserConfig(DataParserConfig):
    """One photo of an object, seen from a known front-facing reference camera."""

    _target: Type = field(default_factory=lambda: NeuralLiftPhotoDataParser)
    data: Path = Path("photo.png")
    """The photo (PNG, JPEG or WebP; an RGBA photo's alpha is the object mask), or a folder holding it and optionally
    mask.png and depth.npy / depth.png."""
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    """How the photo's mask, depth and framing are made."""
    reference_radius: float = 3.0
    """Distance of the reference camera from the object's centre, in scene units (the object fits in [-1, 1]^3)."""
    reference_elevation_deg: float = 0.0
    """Elevation of the reference camera above the object's equator, in degrees."""
    reference_fov_deg: float = 40.0
    """Field of view of the reference camera, in degrees."""
    scene_half_extent: float = 1.0
    """Half the side of the scene box around the origin that holds the object."""


@dataclass
class NeuralLiftPhotoDataParser(DataParser):
    """Preprocesses the photo and places its camera. Every split is the reference view."""

    config: NeuralLiftPhotoDataParserConfig

    def _generate_dataparser_outputs(self, split: str = "train", **kwargs) -> DataparserOutputs:
        preprocessed = preprocess_photo(self.config.data, self.config.preprocess)
        size = self.config.preprocess.image_size
        cameras = orbit_cameras(
            azimuth_deg=torch.tensor([0.0]),
            elevation_deg=torch.tensor([self.config.reference_elevation_deg]),
            radius=torch.tensor([self.config.reference_radius]),
            fov_deg=torch.tensor([self.config.reference_fov_deg]),
            resolution=size,
        )
        half = self.config.scene_half_extent
        return DataparserOutputs(
            image_filenames=[preprocessed.image_path],
            cameras=cameras,
            alpha_color=torch.ones(3),  # the framed photo is RGBA: the object on white, the background NeuralLift uses
            scene_box=SceneBox(aabb=torch.tensor([[-half] * 3, [half] * 3], dtype=torch.float32)),
            metadata={
                "image_path": preprocessed.image_path,
                "mask_path": preprocessed.mask_path,
                "depth_path": preprocessed.depth_path,
                "reference_camera_to_world": cameras.camera_to_worlds[0],
            },
        )
