"""Which diffusion timesteps score distillation draws from, as training goes on.

NeuralLift-360 keeps the upper bound fixed and lowers the lower bound over the first part of training: early steps
see only heavy noise (the prior decides coarse shape), later steps also light noise (the prior refines detail).
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

    max_fraction: float = 0.95
    """Upper bound, all through training (NeuralLift-360: max_sd 950 of 1000)."""
    min_fraction_start: float = 0.5
    """Lower bound at the first step."""
    min_fraction_end: float = 0.05
    """Lower bound once annealing ends (NeuralLift-360: min_sd 50 of 1000)."""
    anneal_steps: int = 3333
    """Steps over which the lower bound falls from start to end (the first third of a default run)."""

    def bounds(self, step: int, num_train_timesteps: int) -> tuple[int, int]:
        """Smallest and largest timestep that may be drawn at ``step`` (inclusive)."""
        low = linear_ramp(step, 0, self.anneal_steps, self.min_fraction_start, self.min_fraction_end)
        high = int(round(self.max_fraction * num_train_timesteps))
        return min(int(round(low * num_train_timesteps)), high), high

    def sample(
        self, step: int, num_train_timesteps: int, num: int, generator: torch.Generator | None = None
    ) -> Int[Tensor, "num"]:
        """``num`` timesteps drawn uniformly between this step's bounds."""
        low, high = self.bounds(step, num_train_timesteps)
        return torch.randint(low, high + 1, (num,), generator=generator)
