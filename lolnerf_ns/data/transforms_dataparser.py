"""Dataparser for a nerfstudio ``transforms.json`` whose frames are instances of one class, with known cameras.

It is nerfstudio's own ``transforms.json`` reader, with three differences: poses are kept as written (the object sits
at the origin of the file's world, inside [-1, 1]^3), every camera carries the index of its instance's latent code,
and the images and masks are copied once into an image store that training reads
(:mod:`lolnerf_ns.data.image_files_store`).
Frames are different instances unless they share an ``instance_id``; the split keys (``train_filenames`` ...) choose
held-out views of training instances.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Type

import torch
from nerfstudio.data.dataparsers.base_dataparser import DataparserOutputs
from nerfstudio.data.dataparsers.nerfstudio_dataparser import Nerfstudio, NerfstudioDataParserConfig

from lift_common.errors import UserInputError
from lift_common.images import check_image_file
from lift_common.user_files import finite_array, positive_number, read_json
from lolnerf_ns.data.image_files_store import store_of_files
from lolnerf_ns.data.stored_dataset import IMAGE_STORE_KEY
from lolnerf_ns.ray_keys import LATENT_INDEX_KEY


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
        meta = read_json(transforms_path, FIX_TRANSFORMS)
        check_transforms(meta, transforms_path)
        outputs = super()._generate_dataparser_outputs(split, **kwargs)
        # nerfstudio swaps in images_<N>/ (masks_<N>/) folders when downscaling: those must hold the files too.
        for kind, files in (("image", outputs.image_filenames), ("mask", outputs.mask_filenames or [])):
            _raise_for_missing(transforms_path, kind, [f for f in files if not Path(f).is_file()])
        latent_of_name, names = latent_indices_by_image_name(meta)
        indices = torch.tensor([latent_of_name[path.name] for path in outputs.image_filenames], dtype=torch.long)
        cameras = outputs.cameras
        cameras.metadata = dict(cameras.metadata or {}, **{LATENT_INDEX_KEY: indices[:, None]})
        store = store_of_files(
            outputs.image_filenames,
            outputs.mask_filenames,
            transforms_path,
            check_files=lambda: check_referenced_images(meta, transforms_path),
        )
        outputs.metadata = dict(outputs.metadata, num_latents=len(names), latent_names=names)
        outputs.metadata[IMAGE_STORE_KEY] = store
        return outputs


FIX_TRANSFORMS = "Fix the file (nerfstudio's transforms.json format), or pass a folder of photos instead."
INTRINSICS = ("fl_x", "fl_y", "cx", "cy", "w", "h")
"""What nerfstudio needs of each camera, given once at the top of the file or in every frame."""
REFERENCED_FILES = (("file_path", "image"), ("mask_path", "mask"), ("depth_file_path", "depth"))


def check_transforms(meta: object, path: Path) -> None:
    """Raise :class:`UserInputError` naming ``path`` and the frame unless ``meta`` is a transforms.json nerfstudio
    can read: frames with a file_path and a 4x4 (or 3x4) finite pose, positive intrinsics, and referenced files that
    exist."""
    frames = meta.get("frames") if isinstance(meta, dict) else None
    if not isinstance(frames, list) or not frames or not all(isinstance(f, dict) for f in frames):
        raise UserInputError(f"{path} has no list of 'frames' (one object per image). {FIX_TRANSFORMS}")
    for index, frame in enumerate(frames):
        where = f"{path}: frame {index}"
        if not isinstance(frame.get("file_path"), str):
            raise UserInputError(f"{where} has no 'file_path' (the image's path, relative to {path.parent}).")
        finite_array(frame.get("transform_matrix"), ((4, 4), (3, 4)), f"{where}'s 'transform_matrix'")
        for key in INTRINSICS:
            if key in frame:
                positive_number(frame[key], f"{where}'s '{key}'")
            elif key not in meta:
                raise UserInputError(f"{where} has no '{key}', and the file gives none for every frame. Add '{key}'.")
    for key in INTRINSICS:
        if key in meta:
            positive_number(meta[key], f"{path}: '{key}'")
    for key, kind in REFERENCED_FILES:
        named = [frame[key] for frame in frames if key in frame]
        _raise_for_missing(path, kind, [name for name in named if not (path.parent / str(name)).is_file()], path.parent)


def check_referenced_images(meta: dict, path: Path) -> None:
    """Raise :class:`UserInputError` naming the frame unless every image and mask ``meta`` (read from ``path``)
    names can be opened and its data checks out. Run before the images are first stored, not at every start."""
    for index, frame in enumerate(meta["frames"]):
        for key in ("file_path", "mask_path"):
            if key in frame:
                check_image_file(path.parent / frame[key], f"{path.parent / frame[key]} (frame {index} of {path})")


def _raise_for_missing(path: Path, kind: str, missing: list, folder: Path | None = None) -> None:
    if not missing:
        return
    names = ", ".join(str(name) for name in missing[:5]) + (", ..." if len(missing) > 5 else "")
    relative = f" (paths are relative to {folder})" if folder is not None else ""
    files = f"{len(missing)} {kind} file{'s' if len(missing) > 1 else ''} that do{'' if len(missing) > 1 else 'es'}"
    raise UserInputError(
        f"{path} names {files} not exist: {names}{relative}. Add the files, or fix the frames that name them."
    )


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
