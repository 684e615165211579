"""LOLNeRF's losses against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from lolnerf_ns.losses import hard_surface_loss, mask_loss, rgb_loss, semi_transparent_fraction


def test_hard_surface_loss_is_zero_at_empty_and_full_weights() -> None:
    assert float(hard_surface_loss(torch.tensor([[[0.0], [1.0]]]))) == pytest.approx(0.0, abs=1e-7)


def test_hard_surface_loss_is_largest_at_half_weight() -> None:
    # -log(2 e^-0.5) + log(1 + e^-1) = 0.5 - log 2 + log(1 + e^-1)
    expected = 0.5 - math.log(2.0) + math.log(1.0 + math.exp(-1.0))
    assert float(hard_surface_loss(torch.tensor([[[0.5]]]))) == pytest.approx(expected, rel=1e-6)
    weights = torch.linspace(0.0, 1.0, 101)[:, None, None]
    values = torch.stack([hard_surface_loss(w[None]) for w in weights])
    assert int(values.argmax()) == 50 and torch.allclose(values, values.flip(0), atol=1e-6)  # symmetric about 0.5


def test_hard_surface_loss_averages_over_samples() -> None:
    weights = torch.tensor([[[0.0], [0.5]], [[1.0], [0.5]]])
    assert float(hard_surface_loss(weights)) == pytest.approx(float(hard_surface_loss(torch.tensor([[[0.5]]]))) / 2)


def test_mask_loss_is_cross_entropy_of_the_foreground_opacity() -> None:
    opacity = torch.tensor([[0.5], [0.9], [0.2]])
    mask = torch.tensor([[True], [True], [False]])
    expected = -(math.log(0.5) + math.log(0.9) + math.log(0.8)) / 3
    assert float(mask_loss(opacity, mask)) == pytest.approx(expected, rel=1e-5)
    assert float(mask_loss(torch.tensor([[1.0], [0.0]]), torch.tensor([[1.0], [0.0]]))) < 1e-3


def test_rgb_loss_is_the_mean_squared_error() -> None:
    assert float(rgb_loss(torch.zeros(2, 3), torch.full((2, 3), 0.5))) == pytest.approx(0.25)


def test_semi_transparent_fraction_counts_partly_visible_samples() -> None:
    hard = torch.tensor([[[0.0], [0.97], [0.02]]])  # one sample carries the ray's colour
    hazy = torch.tensor([[[0.3], [0.3], [0.3], [0.05]]])  # three share it
    mixed = torch.cat([hard, torch.tensor([[[0.5]]])], dim=1)
    assert float(semi_transparent_fraction(hard)) == 0.0
    assert float(semi_transparent_fraction(hazy)) == 1.0
    assert float(semi_transparent_fraction(mixed)) == 0.5
    assert float(semi_transparent_fraction(torch.zeros(1, 4, 1))) == 0.0  # nothing visible
