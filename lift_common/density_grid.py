"""A field's density sampled on a regular grid over its box, in chunks, so memory stays bounded at any resolution."""

from __future__ import annotations

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from lift_common.object_field import DensityFunction

DEFAULT_POINTS_PER_CHUNK = 1 << 16
"""Points per call of the density function: one 256^2 slice of the grid, a few hundred MB of activations in the
largest of our fields (LOLNeRF's 8x256 MLP) on a CPU."""


def grid_axes(box: Float[Tensor, "2 3"], resolution: int) -> list[np.ndarray]:
    """The ``resolution`` sample coordinates along x, y and z: the box's corners are the first and last samples."""
    low, high = np.asarray(box[0], dtype=np.float64), np.asarray(box[1], dtype=np.float64)
    return [np.linspace(low[axis], high[axis], resolution) for axis in range(3)]


@torch.no_grad()
def sample_density_grid(
    density: DensityFunction,
    box: Float[Tensor, "2 3"],
    resolution: int,
    device: torch.device | str = "cpu",
    points_per_chunk: int = DEFAULT_POINTS_PER_CHUNK,
    progress: bool = True,
) -> np.ndarray:
    """``density`` at the ``resolution``^3 points of a grid spanning ``box`` (``[x, y, z]`` indexing), float32.

    Points are made and evaluated a chunk at a time, so only the grid itself (4 bytes a point: 64 MiB at 256^3) and
    one chunk's activations are held at once.
    """
    from lift_common.progress import stage_progress

    if resolution < 2:
        raise ValueError(f"A grid needs at least 2 points a side, not {resolution}.")
    xs, ys, zs = (torch.from_numpy(axis).float() for axis in grid_axes(box, resolution))
    grid = np.empty((resolution,) * 3, dtype=np.float32)
    flat = grid.reshape(-1)
    total = resolution**3
    plane = resolution * resolution
    with stage_progress("Sampling density", total=total, enabled=progress) as advance:
        for start in range(0, total, points_per_chunk):
            index = torch.arange(start, min(start + points_per_chunk, total))
            rows, columns, depths = index // plane, (index // resolution) % resolution, index % resolution
            points = torch.stack([xs[rows], ys[columns], zs[depths]], dim=-1)
            values = density(points.to(device)).reshape(-1).float().cpu().numpy()
            flat[start : start + len(values)] = values
            advance(len(values))
    return grid
