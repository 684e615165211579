"""Checkpoints that run code when unpickled unsafely: proof that a loader refused them, if no marker appears."""

from __future__ import annotations

from pathlib import Path

import torch


class RunsCodeWhenUnpickled:
    """Unpickles as ``Path.touch(marker)``: proof, if the marker appears, that a loader ran the file's code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


def poisoned_checkpoint(folder: Path) -> tuple[Path, Path]:
    """A checkpoint in ``folder`` that runs code when unpickled unsafely, and the marker file that code would make."""
    path, marker = folder / "step-000000001.ckpt", folder / "code-ran"
    torch.save({"step": 1, "pipeline": {}, "thing": RunsCodeWhenUnpickled(marker)}, path)
    return path, marker
