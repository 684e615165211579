"""Where the class has matter: an occupancy grid over the scene box that is the union over identities.

A cell is occupied when, at a random point inside it, the field's density for at least one of a sample of training
codes exceeds a threshold; occupied cells then grow by a margin of neighbouring cells. Samples that fall in empty
cells need no network evaluation: their density is taken as zero. The grid is refreshed from the network every few
hundred training steps, so it follows what the network has learnt; a cell whose density rises again for some code
is occupied at the next refresh, sampled, and corrected by the losses.

The grid is only a statement about the codes it was built from. A code outside the training set (a photo being
lifted, the class mean, a sampled identity, an interpolation) may have matter where no training code has, so the
model renders such codes without skipping (see :mod:`lolnerf_ns.model`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from jaxtyping import Bool, Float
from torch import Tensor, nn

DensityFunction = Callable[[Float[Tensor, "num 3"], Float[Tensor, "num latent_dim"]], Float[Tensor, "num 1"]]
"""The field's density at points, each with its code."""


class ClassOccupancyGrid(nn.Module):
    """A ``resolution``^3 grid of occupied / empty cells over an axis-aligned box.

    The grid is a buffer, so checkpoints carry it and a resumed run continues with the grid an unbroken run has. A
    new grid, and one loaded from a checkpoint written before grids existed, marks every cell occupied (no skipping).
    """

    def __init__(self, aabb: Float[Tensor, "2 3"], resolution: int) -> None:
        super().__init__()
        self.resolution = resolution
        self.register_buffer("aabb", aabb.detach().clone().float(), persistent=False)
        self.register_buffer("occupied", torch.ones((resolution,) * 3, dtype=torch.bool))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, *args) -> None:
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, *args)
        if prefix + "occupied" in missing_keys:  # a run from before grids existed: all occupied, as it rendered then
            missing_keys.remove(prefix + "occupied")

    @property
    def occupied_fraction(self) -> float:
        """Share of the box's cells that are occupied."""
        return float(self.occupied.float().mean())

    def cell_indices(self, positions: Float[Tensor, "*batch 3"]) -> Tensor:
        """Integer (x, y, z) cell of each position; positions outside the box fall in its border cells."""
        low, high = self.aabb[0], self.aabb[1]
        scaled = (positions.detach() - low) / (high - low) * self.resolution
        return scaled.floor().long().clamp(0, self.resolution - 1)

    def is_occupied(self, positions: Float[Tensor, "*batch 3"]) -> Bool[Tensor, "*batch"]:
        """Whether each position lies in an occupied cell."""
        cells = self.cell_indices(positions)
        return self.occupied[cells[..., 0], cells[..., 1], cells[..., 2]]

    def cell_points(self, generator: torch.Generator) -> Float[Tensor, "cells 3"]:
        """One point drawn uniformly inside each cell (x-major order, as ``occupied.flatten()``)."""
        axis = torch.arange(self.resolution, device=self.aabb.device, dtype=torch.float32)
        corners = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1).reshape(-1, 3)
        jitter = torch.rand(corners.shape, generator=generator).to(self.aabb.device)
        low, high = self.aabb[0], self.aabb[1]
        return low + (corners + jitter) / self.resolution * (high - low)

    @torch.no_grad()
    def refresh(
        self,
        density: DensityFunction,
        codes: Float[Tensor, "num_codes latent_dim"],
        threshold: float,
        margin: int,
        generator: torch.Generator,
    ) -> None:
        """Mark the cells where the density of at least one of ``codes``, at one random point per cell, exceeds
        ``threshold``, grown by ``margin`` cells on every side."""
        points = self.cell_points(generator)
        highest = torch.zeros(len(points), device=points.device)
        for code in codes:  # one code at a time: memory of one cell-sized batch
            values = density(points, code.to(points.device).expand(len(points), -1))
            highest = torch.maximum(highest, values[:, 0].float())
        occupied = (highest > threshold).reshape((1, 1) + (self.resolution,) * 3).float()
        if margin > 0:
            occupied = nn.functional.max_pool3d(occupied, kernel_size=2 * margin + 1, stride=1, padding=margin)
        self.occupied = occupied[0, 0] > 0.5
