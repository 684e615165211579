"""Which diffusion timesteps score distillation draws from, as training goes on.

By default the range is fixed at [0.2, 0.6] of the scheduler's timesteps, as in the proven recipes for a prior beside
a photo (stable-dreamfusion's image mode, ``main.py``; Magic123, threestudio ``configs/magic123-coarse-sd.yaml``):
heavy noise (t near 1) lets the prior redraw the object, which a photo-conditioned run does not want. The lower bound
can be annealed, as NeuralLift-360 does (from 0.95 down to 0.05 over the first third of its run).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Int
from torch import Tensor

from lift_common.schedules import linear_ramp


@dataclass
class TimestepSchedule:
    """The range of diffusion timesteps drawn at each step, as fractions of the scheduler's training timesteps."""

    max_fraction: float = 0.6
    """Upper bound, all through training unless max-fraction-end is set (stable-dreamfusion's image mode t_range
    [0.2, 0.6], main.py; Magic123's max_step_percent 0.6; NeuralLift-360's released code: 0.95)."""
    min_fraction_start: float = 0.2
    """Lower bound at the first step (stable-dreamfusion and Magic123: 0.2, fixed)."""
    min_fraction_end: float = 0.2
    """Lower bound once annealing ends (stable-dreamfusion and Magic123: 0.2, fixed; NeuralLift-360: 0.05)."""
    anneal_start_step: int = 0
    """Step at which the bounds start to move from their start values (threestudio's Stable Zero123 recipe waits 50
    of its 600 steps)."""
    anneal_steps: int = 3333
    """Step by which the bounds have reached their end values (only matters when they differ)."""
    max_fraction_end: float | None = None
    """Upper bound once annealing ends, reached over the same steps from max-fraction; unset: the upper bound stays
    at max-fraction (threestudio's Zero-1-to-3 recipe anneals both bounds)."""

    def bounds(self, step: int, num_train_timesteps: int) -> tuple[int, int]:
        """Smallest and largest timestep that may be drawn at ``step`` (inclusive)."""
        start, end = self.anneal_start_step, self.anneal_steps
        low = linear_ramp(step, start, end, self.min_fraction_start, self.min_fraction_end)
        high_fraction = self.max_fraction
        if self.max_fraction_end is not None:
            high_fraction = linear_ramp(step, start, end, self.max_fraction, self.max_fraction_end)
        high = int(round(high_fraction * num_train_timesteps))
        return min(int(round(low * num_train_timesteps)), high), high

    def sample(
        self, step: int, num_train_timesteps: int, num: int, generator: torch.Generator | None = None
    ) -> Int[Tensor, "num"]:
        """``num`` timesteps drawn uniformly between this step's bounds."""
        low, high = self.bounds(step, num_train_timesteps)
        return torch.randint(low, high + 1, (num,), generator=generator)
