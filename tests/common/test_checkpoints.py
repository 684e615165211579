"""Checkpoints load under torch's safe loading, are written atomically, and hold no frozen networks."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

import lift_common  # noqa: F401  (registers the allowlist, as every ns-* command does through our entry points)
from lift_common.checkpoints import save_checkpoint_atomically


class NotAllowed:
    """A class torch's safe loading must keep rejecting."""


def test_numpy_scalars_load_with_safe_loading(tmp_path: Path) -> None:
    path = tmp_path / "state.ckpt"
    torch.save({"lr": np.float64(0.01), "count": np.int64(3), "flag": np.bool_(True)}, path)
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert state["lr"] == pytest.approx(0.01) and state["count"] == 3 and bool(state["flag"])


def test_safe_loading_still_rejects_arbitrary_objects(tmp_path: Path) -> None:
    path = tmp_path / "state.ckpt"
    torch.save({"thing": NotAllowed()}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, map_location="cpu", weights_only=True)


def test_atomic_save_replaces_the_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "models" / "step-000000001.ckpt"
    save_checkpoint_atomically({"step": 1}, path)
    save_checkpoint_atomically({"step": 2}, path)
    assert torch.load(path, weights_only=True)["step"] == 2
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_failed_save_keeps_the_previous_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "models" / "step-000000001.ckpt"
    partial_dir = tmp_path / ".models.partial"
    save_checkpoint_atomically({"step": 1}, path, partial_dir=partial_dir)

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        save_checkpoint_atomically({"step": 2, "bad": Unpicklable()}, path, partial_dir=partial_dir)
    assert torch.load(path, weights_only=True)["step"] == 1
    assert list(partial_dir.iterdir()) == []
