"""Step timing and peak memory, measured the same way by every benchmark."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from typing import Any


def time_steps(
    num_steps: int, device: str, step: Callable[[Any], None], prepare: Callable[[int], Any] = lambda index: index
) -> list[float]:
    """Run ``step(prepare(index))`` for ``num_steps + 1`` indices; return the seconds of each step after the first,
    which pays for one-off set-up. ``prepare`` (untimed) makes each step's input. On CUDA the peak-memory counter is
    reset first and each step is synchronised, so its time includes the GPU's work."""
    import torch

    cuda = device == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    timings = []
    for index in range(num_steps + 1):
        prepared = prepare(index)
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        step(prepared)
        if cuda:
            torch.cuda.synchronize()
        if index:
            timings.append(time.perf_counter() - start)
    return timings


def peak_memory_mb(device: str) -> float:
    """CUDA: the most memory torch has allocated since the last reset; CPU: the process's peak resident set."""
    if device == "cuda":
        import torch

        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
