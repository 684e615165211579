"""The device a run trains on when the user does not say."""

from __future__ import annotations

from typing import Literal

import torch


def default_device_type() -> Literal["cuda", "cpu"]:
    """CUDA when a GPU is visible, else CPU, so ``ns-train`` works on either without ``--machine.device-type``."""
    return "cuda" if torch.cuda.is_available() else "cpu"
