"""nerfstudio's dataset of images, read from an image store (:mod:`lolnerf_ns.data.image_store`) instead of one file
per image, so that nothing is read until it is needed.

The dataparsers name the store's folder in their outputs' metadata (``IMAGE_STORE_KEY``); image ``i`` of the outputs
is image ``i`` of the store. The rest is nerfstudio's ``InputDataset``: the same float images in [0, 1] (an alpha
channel kept, or composited over the dataparser's alpha colour where it names one), boolean masks, ``mask_color``, and
``camera_res_scale_factor`` resizing as nerfstudio resizes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import torch
from jaxtyping import UInt8
from nerfstudio.data.dataparsers.base_dataparser import DataparserOutputs
from nerfstudio.data.datasets.base_dataset import InputDataset

from lolnerf_ns.data.image_store import DamagedStoreError, ImageStore

IMAGE_STORE_KEY = "image_store"
"""Dataparser-outputs metadata: the folder of the store holding the outputs' images, in their order."""


class StoredImageDataset(InputDataset):
    """Images and masks from an image store, as nerfstudio's ``InputDataset`` returns them from files."""

    def __init__(self, dataparser_outputs: DataparserOutputs, scale_factor: float = 1.0) -> None:
        super().__init__(dataparser_outputs, scale_factor)
        self.store = ImageStore(Path(dataparser_outputs.metadata[IMAGE_STORE_KEY]))
        if len(self.store) != len(self):
            raise DamagedStoreError(self.store.folder, f"it holds {len(self.store)} images, not {len(self)}")

    def get_numpy_image(self, image_idx: int) -> UInt8[np.ndarray, "H W C"]:
        return self._rescaled(self.store.image(image_idx), "BILINEAR")

    def get_data(self, image_idx: int, image_type: Literal["uint8", "float32"] = "float32") -> dict:
        if image_type == "float32":
            image = self.get_image_float32(image_idx)
        elif image_type == "uint8":
            image = self.get_image_uint8(image_idx)
        else:
            raise NotImplementedError(f"image_type (={image_type}) getter was not implemented, use uint8 or float32")
        data = {"image_idx": image_idx, "image": image}
        mask = self.store.mask(image_idx)
        if mask is not None:
            data["mask"] = torch.from_numpy(self._rescaled(mask, "NEAREST") > 0)[..., None]
        if self.mask_color:
            data["image"] = torch.where(
                data["mask"] == 1.0, data["image"], torch.ones_like(data["image"]) * torch.tensor(self.mask_color)
            )
        data.update(self.get_metadata(data))
        return data

    def _rescaled(self, array: np.ndarray, resample: Literal["BILINEAR", "NEAREST"]) -> np.ndarray:
        """``array`` resized by the dataset's scale factor, with PIL as nerfstudio's ``InputDataset`` resizes."""
        if self.scale_factor == 1.0:
            return array
        from PIL import Image

        height, width = array.shape[:2]
        size = (int(width * self.scale_factor), int(height * self.scale_factor))
        return np.asarray(Image.fromarray(array).resize(size, resample=getattr(Image.Resampling, resample)))
