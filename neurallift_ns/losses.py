"""NeuralLift-360's losses, each a small pure function of tensors returning a scalar."""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor


def mask_loss(accumulation: Float[Tensor, "*rays 1"], mask: Float[Tensor, "*rays 1"]) -> Float[Tensor, ""]:
    """Opacity up inside the object's mask, down outside it (mean squared error)."""
    return torch.mean((accumulation - mask) ** 2)


def opacity_entropy_loss(accumulation: Float[Tensor, "*rays 1"], eps: float = 1e-5) -> Float[Tensor, ""]:
    """Binary entropy of each ray's opacity: lowest when rays are fully opaque or fully clear, so no haze."""
    alpha = accumulation.clamp(eps, 1.0 - eps)
    return torch.mean(-alpha * torch.log(alpha) - (1.0 - alpha) * torch.log(1.0 - alpha))
