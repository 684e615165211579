"""Choose tiny-cuda-nn when it can run, nerfstudio's torch implementations otherwise, and say so once."""

from __future__ import annotations

import functools
import importlib.util
from typing import Literal

import torch
from nerfstudio.utils.rich_utils import CONSOLE

TCNN_INSTALL_HINT = "pip install ninja git+https://github.com/NVlabs/tiny-cuda-nn/#subdirectory=bindings/torch"


@functools.cache
def field_implementation() -> Literal["tcnn", "torch"]:
    """``"tcnn"`` when tinycudann is installed and a GPU is visible, else ``"torch"``, logged once per process.

    nerfstudio's own fallback prints a multi-line warning from every encoding it builds; we pick the implementation
    up front and pass it explicitly, so a run says it once.
    """
    if not torch.cuda.is_available():
        CONSOLE.log("No GPU: hash grids and MLPs use nerfstudio's torch implementation.")
        return "torch"
    if importlib.util.find_spec("tinycudann") is None:
        CONSOLE.log(
            f"tinycudann not installed: using nerfstudio's slower torch implementation. For speed: {TCNN_INSTALL_HINT}"
        )
        return "torch"
    try:
        import tinycudann  # noqa: F401  (the CUDA extension can fail to load even when the package is found)
    except (ImportError, OSError) as error:
        CONSOLE.log(f"tinycudann is installed but does not load ({error}); using nerfstudio's torch implementation.")
        return "torch"
    return "tcnn"
