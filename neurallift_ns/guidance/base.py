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

DEFAULT_CLIP_MODEL = "ViT-B-16"
"""open_clip model that scores novel views against the photo (ns-eval's clip_similarity), unless the guidance has its
own CLIP: NeuralLift-360's."""
DEFAULT_CLIP_PRETRAINED = "openai"
"""Pretrained tag of that model."""

DEFAULT_PRIOR_WEIGHT = 1e-3
"""A prior's weight beside the photo where its recipe has none of its own (the keep-the-photo proofs' stand-ins,
which pull every view, the front included, toward another object). Measured by those proofs
(tests/neurallift/test_keeps_the_photo_against_a_disagreeing_prior.py; the sweep is in
docs/neurallift_prior_defaults.md): against such a pull at three times Stable Diffusion's estimated strength the photo
keeps 33 dB here, and it stays above 28 dB only while weight times strength is below about 0.005. Each real prior
has its own, measured on a miniature that has learnt a class: stable-diffusion's and zero123's."""


@dataclass
class GuidanceOutput:
    """A guidance loss and numbers worth logging about it."""

    loss: Float[Tensor, ""]
    """The prior's loss on the views, before the model's ``lambda_guidance``, which the model applies (the one weight
    between prior and photo); a guidance may weigh its own parts inside it (joint: its two priors)."""
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

    def default_weight(self) -> float:
        """The prior's weight beside the photo's (``lambda_rgb`` 1000) where the model's ``lambda_guidance`` is unset:
        :data:`DEFAULT_PRIOR_WEIGHT` unless the prior's recipe has its own."""
        return DEFAULT_PRIOR_WEIGHT

    def shows_albedo_on_white(self) -> bool:
        """Whether sampled views are shown to this prior as albedo on white, whatever the model's shading and
        background settings: a model trained only on such renders (Zero-1-to-3) misreads shaded views on coloured
        backgrounds. The model asks it for every sampled view."""
        return False

    def clip_for_evaluation(self) -> tuple[str, str]:
        """The open_clip model and pretrained tag that score novel views' similarity to the photo in evaluation: this
        prior's own CLIP where it has one, else :data:`DEFAULT_CLIP_MODEL`. Asked of the config, so evaluation never
        loads the prior."""
        return DEFAULT_CLIP_MODEL, DEFAULT_CLIP_PRETRAINED
