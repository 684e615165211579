"""The ``neurallift`` pipeline: nerfstudio's, except that the model learns what kind of step each batch is."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Type

from nerfstudio.pipelines.base_pipeline import VanillaPipeline, VanillaPipelineConfig


@dataclass
class NeuralLiftPipelineConfig(VanillaPipelineConfig):
    """Pipeline of the neurallift method."""

    _target: Type = field(default_factory=lambda: NeuralLiftPipeline)


class NeuralLiftPipeline(VanillaPipeline):
    """Before rendering a training batch, the model writes each ray's shading and background into the rays (the
    model's forward sees only rays, so this is how a reference step and a sampled step reach it, also under DDP)."""

    def get_train_loss_dict(self, step: int):
        ray_bundle, batch = self.datamanager.next_train(step)
        ray_bundle = self.model.prepare_rays(ray_bundle, batch)
        model_outputs = self._model(ray_bundle)  # the DDP-wrapped model when world_size > 1
        metrics_dict = self.model.get_metrics_dict(model_outputs, batch)
        loss_dict = self.model.get_loss_dict(model_outputs, batch, metrics_dict)
        return model_outputs, loss_dict, metrics_dict
