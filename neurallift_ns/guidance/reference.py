"""What a guidance knows of the photo: its object on white and the camera that saw it (from the dataparser)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from lift_common.errors import UserInputError
from lift_common.images import composite_on_white

NEEDS_THE_PHOTO = "The guidance needs the preprocessed photo: train with the neurallift-photo dataparser."


def reference_photo(metadata: dict) -> Float[np.ndarray, "H W 3"]:
    """The preprocessed photo's object on white, in [0, 1] (what the priors compare renders with or condition on)."""
    path = metadata.get("image_path")
    if path is None:
        raise UserInputError(NEEDS_THE_PHOTO)
    return composite_on_white(Path(path))


def reference_camera_position(metadata: dict) -> Float[Tensor, "3"]:
    """Where the photo's camera is, around the object's centre at the origin."""
    camera_to_world = metadata.get("reference_camera_to_world")
    if camera_to_world is None:
        raise UserInputError(NEEDS_THE_PHOTO)
    return torch.as_tensor(camera_to_world, dtype=torch.float32)[:3, 3]
