"""Checkpoints that load back with the torch this package installs, and that are never left half-written.

nerfstudio 1.1.5 calls ``torch.load`` without ``weights_only``; since torch 2.6 that means safe loading, which rejects
the numpy scalars nerfstudio's own schedulers leave in optimizer and scheduler states (nerfstudio issue #3683). Rather
than turning safe loading off, we add numpy's scalar and numeric dtype reconstructors to torch's allowlist: they
rebuild numbers from bytes and cannot run code.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch


def _numpy_scalar_reconstructor() -> Any:
    # The callable pickle records for a numpy scalar (numpy.core.multiarray.scalar, numpy._core... in numpy 2).
    return np.float64(0.0).__reduce__()[0]


def numpy_safe_globals() -> list[Any]:
    """The numpy callables a checkpoint of numeric numpy scalars needs, and nothing that can hold Python objects."""
    dtype_classes = [
        getattr(np.dtypes, name)
        for name in dir(np.dtypes)
        if name.endswith("DType") and name not in ("ObjectDType", "VoidDType", "StringDType")
    ]
    return [_numpy_scalar_reconstructor(), np.dtype, *dtype_classes]


def allow_numpy_scalars_in_checkpoints() -> None:
    """Let ``torch.load(..., weights_only=True)`` read numeric numpy scalars. Idempotent."""
    add_safe_globals = getattr(torch.serialization, "add_safe_globals", None)
    if add_safe_globals is not None:  # torch < 2.4 has no safe loading by default, so nothing to allow
        add_safe_globals(numpy_safe_globals())


def save_checkpoint_atomically(state: dict[str, Any], path: Path, partial_dir: Path | None = None) -> None:
    """Write ``state`` to ``path`` so that a crash leaves either the old file or the complete new one, never a part.

    Args:
        state: What ``torch.save`` writes.
        path: The checkpoint's final name.
        partial_dir: Where the file is written before it is renamed into place (same file system as ``path``);
            defaults to ``path``'s folder.
    """
    path = Path(path)
    partial_dir = Path(partial_dir) if partial_dir is not None else path.parent
    path.parent.mkdir(parents=True, exist_ok=True)
    partial_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=partial_dir)
    try:
        with os.fdopen(fd, "wb") as tmp_file:
            torch.save(state, tmp_file)
            tmp_file.flush()
            os.fsync(tmp_file.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
