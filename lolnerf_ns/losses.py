"""LOLNeRF's losses, each a small pure function of tensors returning a scalar, and the measure the hard-surface loss
is meant to improve."""

from __future__ import annotations

import math

import torch
from jaxtyping import Float
from torch import Tensor

HARD_SURFACE_MINIMUM = -math.log(1.0 + math.exp(-1.0))
"""Value of the unshifted hard-surface term at w = 0 and w = 1, its minima."""


def rgb_loss(rgb: Float[Tensor, "*rays 3"], target: Float[Tensor, "*rays 3"]) -> Float[Tensor, ""]:
    """Mean squared colour error of the composited pixel (foreground over background) against the photo."""
    return torch.mean((rgb - target) ** 2)


def mask_loss(
    foreground_opacity: Float[Tensor, "*rays 1"], mask: Float[Tensor, "*rays 1"], eps: float = 1e-4
) -> Float[Tensor, ""]:
    """Binary cross-entropy between the foreground opacity alpha_fg and the segmentation mask.

    The mask says which pixels the foreground network must cover (alpha_fg -> 1) and which it must leave to the
    background network (alpha_fg -> 0). Cross-entropy, unlike a squared error, keeps a strong gradient where the
    opacity is confidently wrong. Opacity is clamped to [eps, 1 - eps] so that log stays finite.
    """
    alpha = foreground_opacity.clamp(eps, 1.0 - eps)
    target = mask.to(alpha.dtype)
    return -torch.mean(target * torch.log(alpha) + (1.0 - target) * torch.log(1.0 - alpha))


def hard_surface_loss(weights: Float[Tensor, "*rays samples 1"]) -> Float[Tensor, ""]:
    """LOLNeRF's hard-surface loss, -log(e^-|w| + e^-|1-w|), averaged over samples and shifted so its minimum is 0.

    The term is a mixture of two Laplacians centred at 0 and 1: each sample's rendering weight w is pulled towards
    "empty" or "all of the ray's colour", so density rises sharply at surfaces instead of forming a haze.
    """
    return torch.mean(-torch.log(torch.exp(-weights.abs()) + torch.exp(-(1.0 - weights).abs())) - HARD_SURFACE_MINIMUM)


def semi_transparent_fraction(
    weights: Float[Tensor, "*rays samples 1"], low: float = 0.1, high: float = 0.9
) -> Float[Tensor, ""]:
    """Of the samples that contribute visibly to a pixel (weight above ``low``), the fraction that contribute only
    partly (weight below ``high``). A hard surface puts a ray's colour on one sample (fraction near 0); a haze spreads
    it over several (fraction near 1)."""
    visible = weights > low
    partial = visible & (weights < high)
    return partial.sum().float() / visible.sum().clamp(min=1).float()
