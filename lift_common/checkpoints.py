"""Checkpoints that load back with the torch this package installs, and that are never left half-written.

nerfstudio 1.1.5 calls ``torch.load`` without ``weights_only``; since torch 2.6 that means safe loading, which rejects
the numpy scalars nerfstudio's own schedulers leave in optimizer and scheduler states (nerfstudio issue #3683). Rather
than turning safe loading off, we add numpy's scalar and numeric dtype reconstructors to torch's allowlist: they
rebuild numbers from bytes and cannot run code.

A checkpoint that holds anything else is refused, never loaded unsafely (``weights_only=False`` would run whatever
code its pickle names). nerfstudio's own commands (``ns-eval``, ``ns-render``, ``ns-train --load-dir`` ...) call
``torch.load`` where we cannot catch the refusal, so :func:`report_refused_checkpoints_in_one_line` turns the
uncaught refusal into one line naming the file; our own commands raise :class:`UserInputError` for it.
"""

from __future__ import annotations

import contextlib
import inspect
import pickle
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import torch

from lift_common.atomic_files import write_atomically
from lift_common.errors import UserInputError


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
    write_atomically(path, lambda file: torch.save(state, file), partial_dir=partial_dir)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint read with torch's safe loading only; a missing, corrupt or unsafe file raises
    :class:`UserInputError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"Checkpoint {path} does not exist. Pass a .ckpt that ns-train wrote.")
    with refused_checkpoints_as_user_errors():
        return torch.load(path, map_location="cpu", weights_only=True)


def refused_checkpoint_error(error: BaseException) -> UserInputError | None:
    """The one-line error for a file ``torch.load`` refused (unsafe objects) or could not read (truncated), naming
    the file from torch.load's frame; None for an error raised elsewhere."""
    if not isinstance(error, (pickle.UnpicklingError, RuntimeError, EOFError)):
        return None
    path = _file_passed_to_torch_load(error.__traceback__)
    if path is None:
        return None
    if not isinstance(error, pickle.UnpicklingError):  # torch's zip reader reports a truncated file as RuntimeError
        return UserInputError(
            f"{path} could not be read as a checkpoint ({str(error).splitlines()[0] if str(error) else 'no data'}). "
            "It may be truncated: use another step's checkpoint, or train again."
        )
    found = re.search(r"Unsupported global: GLOBAL (\S+)", str(error))
    names = f" ({found.group(1)})" if found else ""
    return UserInputError(
        f"{path} holds objects that are not safe to load{names}, so it was not loaded. Use a checkpoint that "
        "ns-train wrote, or one from a source you trust re-saved with only tensors and numbers."
    )


@contextlib.contextmanager
def refused_checkpoints_as_user_errors() -> Iterator[None]:
    """Inside the block, a checkpoint ``torch.load`` refuses or cannot read raises :class:`UserInputError`."""
    try:
        yield
    except (pickle.UnpicklingError, RuntimeError, EOFError) as error:
        refused = refused_checkpoint_error(error)
        if refused is None:
            raise
        raise refused from None


def report_refused_checkpoints_in_one_line() -> None:
    """Print an uncaught refusal or read error of ``torch.load`` as one line naming the file instead of a traceback
    (the process still exits with status 1). Other uncaught errors go to the previous hook. Idempotent."""
    previous = sys.excepthook
    if getattr(previous, "reports_refused_checkpoints", False):
        return

    def hook(kind: type[BaseException], error: BaseException, traceback: TracebackType | None) -> None:
        refused = refused_checkpoint_error(error)
        if refused is None:
            previous(kind, error, traceback)
        else:
            print(refused.code, file=sys.stderr)

    hook.reports_refused_checkpoints = True  # type: ignore[attr-defined]
    sys.excepthook = hook


def _file_passed_to_torch_load(traceback: TracebackType | None) -> Any:
    load = inspect.unwrap(torch.serialization.load)
    first_parameter = next(iter(inspect.signature(load).parameters))
    while traceback is not None:
        frame = traceback.tb_frame
        if frame.f_code is load.__code__:
            return frame.f_locals.get(first_parameter)
        traceback = traceback.tb_next
    return None
