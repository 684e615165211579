"""Points inside a trained object, drawn at random, so that nerfstudio's exporters can aim their rays at it.

``ns-export pointcloud`` and ``poisson`` keep a ray's point only where the render is opaque (accumulation over 0.5)
and draw batches until they hold ``--num-points`` (a million by default). Rays through random pixels of views all
around mostly miss an object that fills a quarter of the frame, and each miss costs the whole field's work along the
ray. Aimed through points inside the object, nearly every ray ends on its surface, seen from its camera.

Where the object lies comes from its density on a coarse grid over its box (:func:`sample_density_grid`, 64^3
points: a quarter of a million density evaluations, a second or two on a CPU): the points whose density passes the
surface's are its inside.
"""

from __future__ import annotations

import torch
from jaxtyping import Float
from nerfstudio.utils.rich_utils import CONSOLE
from torch import Tensor

from lift_common.density_grid import grid_axes, sample_density_grid
from lift_common.object_field import ObjectField

TARGET_GRID_RESOLUTION = 64
"""Grid points a side: cells of 2/63 scene units on the [-1, 1] box, about two pixels of a 128-pixel view of the
object at the photo's distance, so a ray aimed at an inside cell's random point rarely grazes past the surface."""


class ObjectTargets:
    """Random points in the cells of a coarse grid where ``field``'s density passes its surface density."""

    def __init__(self, field: ObjectField, resolution: int = TARGET_GRID_RESOLUTION) -> None:
        grid = torch.from_numpy(sample_density_grid(field.density, field.box, resolution, field.device, progress=False))
        axes = [torch.from_numpy(axis).float() for axis in grid_axes(field.box, resolution)]
        self.cell_size = (field.box[1] - field.box[0]).float() / (resolution - 1)
        inside = torch.nonzero(grid > field.surface_density)
        if len(inside) == 0:
            CONSOLE.print(
                f"[yellow]The object's density stays under its surface density ({field.surface_density:g}; highest "
                f"{float(grid.max()):.3g}): rays are aimed at its whole box, and exporters may find few opaque points."
            )
            inside = torch.nonzero(torch.ones_like(grid, dtype=torch.bool))
        self.centres: Float[Tensor, "num_cells 3"] = torch.stack(
            [axes[axis][inside[:, axis]] for axis in range(3)], dim=-1
        )

    def sample(self, num: int, generator: torch.Generator | None = None) -> Float[Tensor, "num 3"]:
        """``num`` points, each uniform within a random inside cell."""
        cells = torch.randint(0, len(self.centres), (num,), generator=generator)
        offsets = torch.rand(num, 3, generator=generator) - 0.5
        return self.centres[cells] + offsets * self.cell_size
