"""Opening the viewer on a ``neurallift`` model never builds its prior.

nerfstudio's viewer reads every attribute of the pipeline's modules while it looks for viewer controls
(``nerfstudio.viewer.utils.parse_object``); before the guidance became a ``cached_property`` that read loaded Stable
Diffusion, so ``ns-viewer`` stopped offline (and loaded 5 GB online).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Type

import torch
from nerfstudio.data.scene_box import SceneBox
from nerfstudio.viewer.utils import parse_object
from nerfstudio.viewer.viewer_elements import ViewerElement

from neurallift_ns.guidance.base import Guidance, GuidanceConfig
from neurallift_ns.model import NeuralLiftModelConfig

BUILT: list[str] = []


class CountedGuidance(Guidance):
    def __init__(self, config: CountedGuidanceConfig, **kwargs) -> None:
        BUILT.append("guidance")


@dataclass
class CountedGuidanceConfig(GuidanceConfig):
    _target: Type = field(default_factory=lambda: CountedGuidance)


def test_viewer_control_search_builds_no_guidance_and_first_use_builds_it_once() -> None:
    BUILT.clear()
    config = NeuralLiftModelConfig(guidance=CountedGuidanceConfig(), num_levels=2, log2_hashmap_size=10, max_res=16)
    model = config.setup(scene_box=SceneBox(aabb=torch.tensor([[-1.0] * 3, [1.0] * 3])), num_train_data=1)

    parse_object(model, ViewerElement, "Custom Elements")
    assert BUILT == []

    assert model.guidance is model.guidance
    assert BUILT == ["guidance"]
    assert not [name for name in model.state_dict() if "guidance" in name]
