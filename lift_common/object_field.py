"""What a mesh exporter needs from a trained model: the object's density and albedo at points, its box, and its surface.

Both methods give one through ``model.object_field()``. Albedo is the field's own colour at a point: no view
direction, no shading, no background (NeuralLift-360's albedo MLP; LOLNeRF's colour head, which has no view input).

The surface is the level set ``density == surface_density``, with ``surface_density`` the model config's own
``surface_density`` (10 per scene unit in both methods), the level ``ns-export marching-cubes`` meshes too, so our
mesh and nerfstudio's agree. Why 10: a ray that crosses a layer of density 10 loses half its light within
ln(2) / 10 = 0.07 scene units, 3.5% of the [-1, 1] box, about two pixels of a training view at the object; the
rendered edge of the object (opacity 0.5) therefore lies within that distance of the level set on the trained
fields, whose density rises from near 0 to hundreds across the surface (LOLNeRF's hard-surface loss; NeuralLift's
exponential density), so the level matters little between about 1 and 100.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor

DensityFunction = Callable[[Float[Tensor, "num 3"]], Float[Tensor, "num"]]
AlbedoFunction = Callable[[Float[Tensor, "num 3"]], Float[Tensor, "num 3"]]


@dataclass(frozen=True)
class ObjectField:
    """One object's density and albedo (functions of world positions), where it lies and where its surface is.

    The functions are called under ``torch.no_grad`` with batches of any size the caller chooses; they return
    float32 tensors on the positions' device.
    """

    density: DensityFunction
    """Volume density at world positions (per scene unit)."""
    albedo: AlbedoFunction
    """Colour in [0, 1] at world positions, without view dependence or shading."""
    box: Float[Tensor, "2 3"]
    """Lowest and highest corner of an axis-aligned box that holds the object (the scene box)."""
    surface_density: float
    """The density at which the surface sits (see the module docstring)."""
    device: torch.device = torch.device("cpu")
    """Where the functions want their positions."""
