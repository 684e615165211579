"""Values that change over training, as pure functions of the step."""

from __future__ import annotations


def linear_ramp(step: int, start_step: int, end_step: int, start_value: float, end_value: float) -> float:
    """``start_value`` until ``start_step``, then linearly to ``end_value`` at ``end_step``, constant after."""
    if end_step <= start_step:
        return end_value if step >= start_step else start_value
    progress = min(max((step - start_step) / (end_step - start_step), 0.0), 1.0)
    return start_value + progress * (end_value - start_value)
