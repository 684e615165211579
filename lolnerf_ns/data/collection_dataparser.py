"""Dataparser for ``ns-train lolnerf --data folder/``: a folder of single-view photos of one class.

Each photo is its own instance with its own latent code. Cameras, landmarks and masks come from
:mod:`lolnerf_ns.data.collection`, which keeps the resized photos and their masks in an image store that training
reads. A folder holding a ``transforms.json`` (known cameras) is read by :mod:`lolnerf_ns.data.transforms_dataparser`
instead, so one ``--data`` works for both kinds of input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Type

import torch
from nerfstudio.cameras.cameras import Cameras, CameraType
from nerfstudio.data.dataparsers.base_dataparser import DataParser, DataParserConfig, DataparserOutputs
from nerfstudio.data.scene_box import SceneBox
from nerfstudio.utils.rich_utils import CONSOLE

from lolnerf_ns.data.collection import CollectionConfig, prepare_collection
from lolnerf_ns.data.stored_dataset import IMAGE_STORE_KEY
from lolnerf_ns.data.transforms_dataparser import LOLNeRFTransformsDataParserConfig
from lolnerf_ns.ray_keys import LATENT_INDEX_KEY


@dataclass
class LOLNeRFCollectionDataParserConfig(DataParserConfig):
    """Single-view photos of many instances of one class; cameras estimated from five landmarks per photo."""

    _target: Type = field(default_factory=lambda: LOLNeRFCollectionDataParser)
    data: Path = Path("photos")
    """Folder of photos of one class (one instance per photo), or a folder holding a transforms.json."""
    collection: CollectionConfig = field(default_factory=CollectionConfig)
    """How landmarks, masks and cameras are found for the photos."""
    transforms: LOLNeRFTransformsDataParserConfig = field(default_factory=LOLNeRFTransformsDataParserConfig)
    """Options used when the folder holds a transforms.json."""


@dataclass
class LOLNeRFCollectionDataParser(DataParser):
    """Every split holds every kept photo: evaluation measures held-out pixels of training instances."""

    config: LOLNeRFCollectionDataParserConfig
    _collection: DataparserOutputs | None = field(default=None, init=False, repr=False)
    """The outputs of every split, made once."""

    def _generate_dataparser_outputs(self, split: str = "train", **kwargs) -> DataparserOutputs:
        data = Path(self.config.data)
        if (data / "transforms.json").exists() or data.name == "transforms.json":
            CONSOLE.log(f"{data} has a transforms.json: using its known cameras.")
            transforms = self.config.transforms
            transforms.data = data
            return transforms.setup().get_dataparser_outputs(split)
        if self._collection is None:
            self._collection = self._collection_outputs(data)
        return self._collection

    def _collection_outputs(self, data: Path) -> DataparserOutputs:
        prepared = prepare_collection(data, self.config.collection)
        arrays, names = prepared.camera_arrays, prepared.store.names
        width, height = (int(v) for v in arrays["image_size"])
        focal = float(arrays["focal_length"])
        cameras = Cameras(
            camera_to_worlds=torch.from_numpy(arrays["camera_to_world"]),
            fx=focal,
            fy=focal,
            cx=width / 2.0,
            cy=height / 2.0,
            width=width,
            height=height,
            camera_type=CameraType.PERSPECTIVE,
            metadata={LATENT_INDEX_KEY: torch.arange(len(names))[:, None]},
        )
        return DataparserOutputs(
            # The photos as the user gave them (ns-render names its images after them); the pixels training sees,
            # resized and masked, are in the store.
            image_filenames=[data / name for name in names],
            cameras=cameras,
            scene_box=SceneBox(aabb=torch.tensor([[-1.0] * 3, [1.0] * 3])),
            metadata={
                "num_latents": len(names),
                "latent_names": names,
                "canonical_keypoints": arrays["canonical_keypoints"].tolist(),
                IMAGE_STORE_KEY: prepared.folder,
            },
        )
