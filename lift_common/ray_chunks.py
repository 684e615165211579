"""A model's forward pass over a large batch of rays, a chunk at a time, so memory stays bounded outside training.

nerfstudio's exporters (``ns-export pointcloud`` and ``poisson``) hand the model 32,768 rays at once, through
``model(ray_bundle)``, not through ``get_outputs_for_camera_ray_bundle``, which is the only path nerfstudio chunks.
At the methods' default sizes one such batch held 7 GB (neurallift) and 14 GB (lolnerf) of activations on a CPU
(``benchmarks/mesh_export.py``); in chunks of the model's ``eval_num_rays_per_chunk`` it holds what the viewer's
renders hold.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from nerfstudio.cameras.rays import RayBundle
from torch import Tensor


def forward_in_chunks(
    forward: Callable[[RayBundle], dict[str, Tensor]], ray_bundle: RayBundle, rays_per_chunk: int
) -> dict[str, Tensor]:
    """``forward(ray_bundle)``, computed ``rays_per_chunk`` rays at a time and put back together in the bundle's
    shape. Every output must be a per-ray tensor (what models return outside training)."""
    shape = tuple(ray_bundle.shape)
    num_rays = math.prod(shape)
    if num_rays <= rays_per_chunk:
        return forward(ray_bundle)
    flat = ray_bundle.flatten()
    pieces: dict[str, list[Tensor]] = {}
    for start in range(0, num_rays, rays_per_chunk):
        for name, value in forward(flat[start : start + rays_per_chunk]).items():
            if not isinstance(value, Tensor):
                raise TypeError(f"Output {name!r} is not a per-ray tensor, so it cannot be computed in chunks.")
            pieces.setdefault(name, []).append(value)
    return {name: torch.cat(values).reshape(*shape, *values[0].shape[1:]) for name, values in pieces.items()}
