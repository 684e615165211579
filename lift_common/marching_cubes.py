"""What ``ns-export marching-cubes`` needs from a density field.

nerfstudio 1.1.5's exporter is written for SDF models: it checks ``hasattr(model.config, "sdf_field")`` and
extracts the zero level set of ``model.field.forward_geonetwork(points)[:, 0]``. A density field gives it the same by
answering ``threshold - density``: negative inside the object, zero on the surface where the density equals the
threshold (a config field of each model), positive outside, as an SDF would be.
"""

from __future__ import annotations

from jaxtyping import Float
from torch import Tensor

from lift_common.errors import UserInputError


def isosurface_values(density: Float[Tensor, "*batch 1"], threshold: float) -> Float[Tensor, "*batch 1"]:
    """SDF-like values whose zero level set is the surface where ``density`` equals ``threshold``."""
    return threshold - density


class MarchingCubesSupport:
    """A model config's ``sdf_field``: present, so the exporter proceeds; where it cannot run, one clear message.

    A plain class attribute (not a dataclass field), so it is neither a command-line option nor saved in config.yml.
    """

    def __get__(self, instance, owner):
        if instance is None:
            return self
        import torch

        if not torch.cuda.is_available():
            raise UserInputError(
                "ns-export marching-cubes needs a CUDA GPU: nerfstudio 1.1.5's exporter builds its grid with .cuda(). "
                "On this machine use `ns-export poisson` (a watertight mesh from the same checkpoint) or run "
                "marching-cubes where a GPU is available."
            )
        return True
