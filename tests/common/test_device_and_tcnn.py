"""Training defaults to the device the machine has; hash grids fall back to torch without tinycudann."""

from __future__ import annotations

import pytest
import torch

from lift_common import tcnn
from lift_common.trainer import LiftTrainerConfig


@pytest.mark.parametrize("cuda_available, expected", [(True, "cuda"), (False, "cpu")])
def test_trainer_device_defaults_to_cuda_when_present(monkeypatch, cuda_available: bool, expected: str) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda_available)
    assert LiftTrainerConfig().machine.device_type == expected


def test_both_methods_default_to_this_machines_device() -> None:
    from lolnerf_ns.lolnerf_config import lolnerf_method
    from neurallift_ns.neurallift_config import neurallift_method

    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert neurallift_method.config.machine.device_type == expected
    assert lolnerf_method.config.machine.device_type == expected


def test_torch_implementation_without_gpu_or_tinycudann(monkeypatch, capsys) -> None:
    tcnn.field_implementation.cache_clear()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(tcnn.importlib.util, "find_spec", lambda name: None)
    try:
        assert tcnn.field_implementation() == "torch"
        assert tcnn.field_implementation() == "torch"
        out = capsys.readouterr().out
        assert out.count("tinycudann not installed") == 1
        assert "tiny-cuda-nn" in out
    finally:
        tcnn.field_implementation.cache_clear()
