"""NeuralLift-360's losses, each a small pure function of tensors returning a scalar."""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor


def mask_loss(accumulation: Float[Tensor, "*rays 1"], mask: Float[Tensor, "*rays 1"]) -> Float[Tensor, ""]:
    """Opacity up inside the object's mask, down outside it (mean squared error)."""
    return torch.mean((accumulation - mask) ** 2)


def depth_ranking_loss(
    rendered_depth: Float[Tensor, "rays 1"],
    rough_depth: Float[Tensor, "rays 1"],
    mask: Float[Tensor, "rays 1"],
    num_pairs: int,
    margin: float = 1e-4,
    tie_threshold: float = 0.01,
    generator: torch.Generator | None = None,
) -> Float[Tensor, ""]:
    """Margin ranking loss on random pairs of object pixels, ordered as the rough depth map orders them.

    For each pair whose rough depths differ by more than ``tie_threshold`` of the object's depth range, the rendered
    depth of the nearer pixel should be smaller by at least ``margin``: ``max(0, d_near - d_far + margin)``. Only the
    rough map's order is used, so the loss does not change when the map is scaled or shifted. Sampling a fixed number
    of pairs (instead of every pair of pixels, as the official code does) keeps memory constant.
    """
    foreground = torch.nonzero(mask[:, 0] > 0.5, as_tuple=False)[:, 0]
    if len(foreground) < 2:
        return rendered_depth.sum() * 0.0
    picks = torch.randint(0, len(foreground), (2, num_pairs), generator=generator).to(foreground.device)
    first, second = foreground[picks[0]], foreground[picks[1]]
    rough = rough_depth[:, 0]
    scale = (rough[foreground].max() - rough[foreground].min()).clamp(min=1e-8)
    difference = (rough[first] - rough[second]) / scale
    decided = difference.abs() > tie_threshold
    if not decided.any():
        return rendered_depth.sum() * 0.0
    near = torch.where(difference < 0, first, second)[decided]
    far = torch.where(difference < 0, second, first)[decided]
    rendered = rendered_depth[:, 0]
    return torch.relu(rendered[near] - rendered[far] + margin).mean()


def edge_aware_depth_smoothness(
    depth: Float[Tensor, "H W 1"], image: Float[Tensor, "H W 3"], mask: Float[Tensor, "H W 1"]
) -> Float[Tensor, ""]:
    """Depth gradients penalised where the photo is flat, allowed at the photo's edges (Godard et al. 2017)."""
    depth_dx = (depth[:, 1:] - depth[:, :-1]).abs()
    depth_dy = (depth[1:] - depth[:-1]).abs()
    image_dx = (image[:, 1:] - image[:, :-1]).abs().mean(dim=-1, keepdim=True)
    image_dy = (image[1:] - image[:-1]).abs().mean(dim=-1, keepdim=True)
    inside_x = mask[:, 1:] * mask[:, :-1]
    inside_y = mask[1:] * mask[:-1]
    smooth_x = (depth_dx * torch.exp(-10.0 * image_dx) * inside_x).sum() / inside_x.sum().clamp(min=1.0)
    smooth_y = (depth_dy * torch.exp(-10.0 * image_dy) * inside_y).sum() / inside_y.sum().clamp(min=1.0)
    return smooth_x + smooth_y


def opacity_entropy_loss(accumulation: Float[Tensor, "*rays 1"], eps: float = 1e-5) -> Float[Tensor, ""]:
    """Binary entropy of each ray's opacity: lowest when rays are fully opaque or fully clear, so no haze."""
    alpha = accumulation.clamp(eps, 1.0 - eps)
    return torch.mean(-alpha * torch.log(alpha) - (1.0 - alpha) * torch.log(1.0 - alpha))


def opacity_sparsity_loss(accumulation: Float[Tensor, "*rays 1"]) -> Float[Tensor, ""]:
    """Mean opacity of sampled views: a small weight keeps empty space empty (DreamFusion's opacity loss)."""
    return accumulation.mean()
