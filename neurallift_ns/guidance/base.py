"""The interface between the model and whatever prior completes the unseen views.

The model renders sampled views and asks a guidance object for one loss on them; it never knows which prior is
inside (Stable Diffusion with CLIP, Zero-1-to-3, both, or a test's ground truth). Guidance objects are built lazily, on
the first training step that needs them, and live outside the model's module tree, so their (possibly large, frozen)
networks never go into checkpoints and commands that do not train (ns-export, ns-viewer, ns-eval) never load them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Type

from jaxtyping import Float, Int
from nerfstudio.cameras.cameras import Cameras
from nerfstudio.configs.base_config import InstantiateConfig
from torch import Tensor

from neurallift_ns.data.orbit_views import OrbitViewsConfig, ReferenceView


@dataclass
class GuidanceOutput:
    """A guidance loss and numbers worth logging about it."""

    loss: Float[Tensor, ""]
    """Scalar to add to the training loss (already weighted)."""
    diagnostics: dict[str, float] = field(default_factory=dict)
    """Logged per step, e.g. the timestep drawn or a CLIP distance."""


class Guidance:
    """Supervision for rendered sampled views."""

    def __call__(
        self,
        images: Float[Tensor, "views H W 3"],
        cameras: Cameras,
        directions: Int[Tensor, "views"],
        shading: Int[Tensor, "views"],
        step: int,
    ) -> GuidanceOutput:
        """Loss on ``images`` (renders in [0, 1], differentiable) seen by ``cameras`` from ``directions``.

        ``directions`` index :data:`~neurallift_ns.data.orbit_views.DIRECTION_NAMES`; ``shading`` indexes
        :data:`~neurallift_ns.shading.SHADING_MODES` (how each view was shaded).
        """
        raise NotImplementedError


@dataclass
class GuidanceConfig(InstantiateConfig):
    """Builds a :class:`Guidance`."""

    _target: Type = field(default_factory=lambda: Guidance)

    def setup(self, **kwargs) -> Guidance:
        return self._target(self, **kwargs)

    def sampled_orbit(self, orbit: OrbitViewsConfig, reference: ReferenceView) -> OrbitViewsConfig:
        """Where sampled views come from under this prior, given the datamanager's orbit and the photo's camera: the
        orbit as configured, unless the prior only knows some views (a view-conditioned model was trained at one
        field of view and distance). The pipeline applies it when it is set up."""
        return orbit
