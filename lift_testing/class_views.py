"""Every view of every object of a class folder (``docs/object-class-layout.md``), held in memory for training priors.

Images are kept as uint8 (a class of 240 objects with 72 views of 64^2 pixels is 210 MB), with each view's camera
position in the world of :mod:`lift_common.cameras`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from jaxtyping import Float, UInt8
from torch import Tensor

from lift_common.errors import UserInputError


@dataclass(frozen=True)
class ClassViews:
    """The views of some objects, all of one size: ``images[object, view]`` seen from ``positions[object, view]``."""

    names: list[str]
    images: UInt8[Tensor, "objects views H W 3"]
    positions: Float[Tensor, "objects views 3"]

    @property
    def size(self) -> int:
        return int(self.images.shape[-2])

    def float_images(self, objects: Tensor, views: Tensor) -> Float[Tensor, "batch 3 H W"]:
        """The chosen views as float images in [0, 1], channels first."""
        return self.images[objects, views].permute(0, 3, 1, 2).float() / 255.0

    def view_nearest(self, azimuth_deg: float, elevation_deg: float) -> int:
        """The index of the view whose camera is nearest to the given direction (the same for every object)."""
        from lift_common.cameras import orbit_positions

        wanted = orbit_positions(torch.tensor(azimuth_deg), torch.tensor(elevation_deg), torch.tensor(1.0))
        directions = torch.nn.functional.normalize(self.positions[0], dim=-1)
        return int((directions @ wanted).argmax())


def read_class_views(object_folders: list[Path]) -> ClassViews:
    """Read the views of ``object_folders``; every object must have the same views at the same size."""
    from PIL import Image

    images, positions = [], []
    for folder in object_folders:
        meta = json.loads((folder / "transforms.json").read_text())
        frames = meta["frames"]
        if positions and len(frames) != len(positions[0]):
            raise UserInputError(f"{folder} has {len(frames)} views, {object_folders[0]} {len(positions[0])}.")
        views = [np.asarray(Image.open(folder / frame["file_path"]).convert("RGB")) for frame in frames]
        if images and views[0].shape != images[0].shape[1:]:
            raise UserInputError(f"{folder}'s views are {views[0].shape[:2]}, {object_folders[0]}'s not.")
        images.append(np.stack(views))
        positions.append([np.asarray(frame["transform_matrix"])[:3, 3] for frame in frames])
    return ClassViews(
        names=[folder.name for folder in object_folders],
        images=torch.from_numpy(np.stack(images)),
        positions=torch.tensor(np.array(positions), dtype=torch.float32),
    )
