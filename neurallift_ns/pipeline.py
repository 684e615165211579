"""The ``neurallift`` pipeline: nerfstudio's training and evaluation loop, fitted to one photo's views.

Before rendering a training batch the model writes each view's look into the rays, and evaluation also scores novel
views by their CLIP similarity to the photo.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Type

from nerfstudio.pipelines.base_pipeline import VanillaPipeline, VanillaPipelineConfig


@dataclass
class NeuralLiftPipelineConfig(VanillaPipelineConfig):
    """Pipeline of the neurallift method."""

    _target: Type = field(default_factory=lambda: NeuralLiftPipeline)


class NeuralLiftPipeline(VanillaPipeline):
    """Before rendering a training batch, the model writes each ray's shading and background into the rays (the
    model's forward sees only rays, so this is how a view's look reaches it, also under DDP).
    Sampled views come from the orbit the model's prior asks for (a view-conditioned model only knows the photo's
    field of view and distance). Exporters' rays are aimed at the trained object (see the datamanager)."""

    def __init__(self, config: NeuralLiftPipelineConfig, device: str, *args, **kwargs) -> None:
        super().__init__(config, device, *args, **kwargs)
        datamanager = self.datamanager
        datamanager.orbit = self.model.config.guidance.sampled_orbit(
            datamanager.config.orbit, datamanager.reference_view
        )
        datamanager.object_field = self.model.object_field  # exporters' rays aim at the object

    def get_train_loss_dict(self, step: int):
        ray_bundle, batch = self.datamanager.next_train(step)
        ray_bundle = self.model.prepare_rays(ray_bundle, batch)
        model_outputs = self._model(ray_bundle)  # the DDP-wrapped model when world_size > 1
        metrics_dict = self.model.get_metrics_dict(model_outputs, batch)
        loss_dict = self.model.get_loss_dict(model_outputs, batch, metrics_dict)
        return model_outputs, loss_dict, metrics_dict

    def get_average_eval_image_metrics(
        self, step: int | None = None, output_path: Path | None = None, get_std: bool = False
    ) -> dict[str, float]:
        """Reference-view PSNR, SSIM and LPIPS against the photo (nerfstudio's), and ``clip_similarity``: the mean
        cosine similarity of CLIP embeddings between views all around the object and the photo (NaN where the CLIP
        weights cannot be had)."""
        metrics = super().get_average_eval_image_metrics(step, output_path, get_std)
        metrics.update(self.novel_view_clip_similarity(get_std))
        return metrics

    def novel_view_clip_similarity(self, get_std: bool = False) -> dict[str, float]:
        """CLIP similarity of the evaluation orbit views to the photo."""
        import torch

        from neurallift_ns.guidance.clip_similarity import photo_clip_similarity

        cameras = self.datamanager.eval_orbit_cameras()
        self.eval()
        with torch.no_grad():
            renders = [
                self.model.get_outputs_for_camera(cameras[index : index + 1])["rgb"] for index in range(len(cameras))
            ]
        self.train()
        clip_model, clip_pretrained = self.model.config.guidance.clip_for_evaluation()
        similarity = photo_clip_similarity(
            torch.stack(renders), self.model.kwargs["metadata"]["image_path"], clip_model, clip_pretrained
        )
        metrics = {"clip_similarity": float(similarity.mean())}
        if get_std:
            metrics["clip_similarity_std"] = float(similarity.std())
        return metrics
