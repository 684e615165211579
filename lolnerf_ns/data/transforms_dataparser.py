"""Dataparser for a nerfstudio ``transforms.json`` whose frames are instances of one class, with known cameras.

It is nerfstudio's own ``transforms.json`` reader, with two differences: poses are kept as written (the object sits
at the origin of the file's world, inside [-1, 1]^3) and every camera carries the index of its instance's latent code.
Frames are different instances unless they share an ``instance_id``; the split keys (``train_filenames`` ...) choose
held-out views of training instances.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Type

import torch
from nerfstudio.data.dataparsers.base_dataparser import DataparserOutputs
from nerfstudio.data.dataparsers.nerfstudio_dataparser import Nerfstudio, NerfstudioDataParserConfig

from lift_common.errors import UserInputError

LATENT_INDEX_KEY = "latent_index"
"""Camera (and so ray) metadata holding the row of the latent table that renders it."""


@dataclass
class LOLNeRFTransformsDataParserConfig(NerfstudioDataParserConfig):
    """A ``transforms.json`` of single views of many instances of one class, with known cameras."""

    _target: Type = field(default_factory=lambda: LOLNeRFTransformsDataParser)
    orientation_method: Literal["pca", "up", "vertical", "none"] = "none"
    """Poses are kept as written: the object is already at the origin of the file's world."""
    center_method: Literal["poses", "focus", "none"] = "none"
    """Poses are kept as written: the object is already at the origin of the file's world."""
    auto_scale_poses: bool = False
    """Poses are kept as written: the object already fits in [-1, 1]^3."""
    eval_mode: Literal["fraction", "filename", "interval", "all"] = "all"
    """Without split keys in the file every frame is its own instance, so evaluation re-renders training views."""


@dataclass
class LOLNeRFTransformsDataParser(Nerfstudio):
    """Adds each frame's latent index to nerfstudio's ``transforms.json`` reader."""

    config: LOLNeRFTransformsDataParserConfig

    def _generate_dataparser_outputs(self, split: str = "train", **kwargs) -> DataparserOutputs:
        transforms_path = self.config.data / "transforms.json" if self.config.data.is_dir() else self.config.data
        if not transforms_path.exists():
            raise UserInputError(
                f"{transforms_path} does not exist. Pass a folder holding transforms.json with --data."
            )
        outputs = super()._generate_dataparser_outputs(split, **kwargs)
        latent_of_name, names = latent_indices_by_image_name(json.loads(transforms_path.read_text()))
        indices = torch.tensor([latent_of_name[path.name] for path in outputs.image_filenames], dtype=torch.long)
        cameras = outputs.cameras
        cameras.metadata = dict(cameras.metadata or {}, **{LATENT_INDEX_KEY: indices[:, None]})
        outputs.metadata = dict(outputs.metadata, num_latents=len(names), latent_names=names)
        return outputs


def latent_indices_by_image_name(meta: dict) -> tuple[dict[str, int], list[str]]:
    """Map each frame's image file name to its latent index, and name each index; frames sharing an
    ``instance_id`` share an index, named by that id (a frame without one is named by its image file name).

    Indices follow the order of first appearance in the file, so every split of the same file agrees on them.
    """
    latent_of_instance: dict[str, int] = {}
    latent_of_name: dict[str, int] = {}
    for frame in meta.get("frames", []):
        name = Path(frame["file_path"]).name
        if name in latent_of_name:
            raise UserInputError(f"Two frames share the image name '{name}'; give every image its own file name.")
        instance = str(frame.get("instance_id", name))
        latent_of_name[name] = latent_of_instance.setdefault(instance, len(latent_of_instance))
    return latent_of_name, list(latent_of_instance)
