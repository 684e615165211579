"""The miniatures' training loop: each group of parameters learns at its own step size (Zero-1-to-3 trains its camera
projection at ten times its UNet's)."""

from __future__ import annotations

import pytest
import torch

from lift_testing.denoiser_training import train_noise_prediction


def test_each_parameter_group_steps_at_its_multiple_of_the_learning_rate() -> None:
    unet_like, projection_like = torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(3))

    def batch_loss(_generator: torch.Generator) -> torch.Tensor:
        return unet_like.sum() + projection_like.sum()

    groups = [([unet_like], 1.0), ([projection_like], 10.0)]
    train_noise_prediction(groups, batch_loss, steps=1, learning_rate=1e-3, seed=0, description="One step")
    # Adam's first step moves every parameter by its step size, whatever the gradient's size.
    assert unet_like.detach() == pytest.approx([-1e-3] * 3, rel=1e-3)
    assert projection_like.detach() == pytest.approx([-1e-2] * 3, rel=1e-3)
