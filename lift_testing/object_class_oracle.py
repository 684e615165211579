"""The upper bound of a lift of a class object: guidance by the object's own ground truth from every sampled view."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Type

import torch

from lift_testing.object_class import ProceduralObject, render
from neurallift_ns.guidance.base import Guidance, GuidanceConfig, GuidanceOutput


def read_procedural_object(object_folder: Path) -> ProceduralObject:
    """The procedural object whose parameters ``object.json`` holds."""
    values = json.loads((Path(object_folder) / "object.json").read_text())
    return ProceduralObject(
        **{key: tuple(value) if isinstance(value, list) else value for key, value in values.items()}
    )


class ObjectClassOracleGuidance(Guidance):
    """Mean squared error between each sampled view and the object's true render from its camera (albedo on white:
    runs with it sample albedo views on white)."""

    config: ObjectClassOracleGuidanceConfig

    def __init__(self, config: ObjectClassOracleGuidanceConfig, **kwargs) -> None:
        self.config = config
        self.item = read_procedural_object(config.object_folder)

    def __call__(self, images, cameras, directions, shading, step) -> GuidanceOutput:
        cameras = cameras.to("cpu")
        truth = torch.stack([render(self.item, cameras[index : index + 1])[0] for index in range(len(cameras))])
        error = torch.mean((images - truth.to(images)) ** 2)
        return GuidanceOutput(loss=error, diagnostics={"view_mse": float(error)})


@dataclass
class ObjectClassOracleGuidanceConfig(GuidanceConfig):
    """Test-only guidance by a procedural class object's ground truth."""

    _target: Type = field(default_factory=lambda: ObjectClassOracleGuidance)
    object_folder: Path = Path(".")
    """The object's folder in its class folder (its ``object.json``)."""
