"""A NeRF model rendered by coarse uniform sampling plus importance sampling inside the scene box.

A model derives from it (LOLNeRF's does) and only says how a field turns samples into density and colour. Rays are
clipped to the scene box (the object lives inside [-1, 1]^3), the same field answers both passes, and both passes
are supervised, as in NeRF.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from typing import Literal, Type

import torch
from jaxtyping import Float
from nerfstudio.cameras.rays import RayBundle, RaySamples
from nerfstudio.model_components.ray_samplers import PDFSampler, UniformSampler
from nerfstudio.model_components.renderers import AccumulationRenderer, DepthRenderer, RGBRenderer
from nerfstudio.model_components.scene_colliders import AABBBoxCollider
from nerfstudio.models.base_model import Model, ModelConfig
from nerfstudio.utils import colormaps
from torch import Tensor

from lift_common.metrics import ImageQualityMetrics


@dataclass
class CoarseFineModelConfig(ModelConfig):
    """Sampling and background of a coarse-to-fine NeRF in a bounded scene."""

    _target: Type = field(default_factory=lambda: CoarseFineModel)
    enable_collider: bool = False
    """Rays are clipped to the scene box instead of fixed near and far planes."""
    near_plane: float = 0.05
    """No sample is closer to the camera than this, even where the camera is inside the scene box."""
    num_coarse_samples: int = 64
    """Samples per ray spread uniformly between the ray's entry into and exit from the scene box."""
    num_importance_samples: int = 64
    """Samples per ray placed where the coarse pass found density."""
    background_color: Literal["white", "black", "random", "last_sample"] = "white"
    """Colour behind the object."""


class CoarseFineModel(Model):
    """Renders ``rgb``, ``depth`` (distance along the unit ray) and ``accumulation`` from a field."""

    config: CoarseFineModelConfig

    def populate_modules(self) -> None:
        super().populate_modules()
        self.collider = AABBBoxCollider(self.scene_box, near_plane=self.config.near_plane)
        self.sampler_uniform = UniformSampler(num_samples=self.config.num_coarse_samples)
        self.sampler_pdf = PDFSampler(num_samples=self.config.num_importance_samples)
        self.renderer_rgb = RGBRenderer(background_color=self.config.background_color)
        self.renderer_accumulation = AccumulationRenderer()
        self.renderer_depth = DepthRenderer(method="expected")
        # Metrics hold LPIPS's AlexNet: kept out of the module tree, so out of checkpoints.
        self.__dict__["image_metrics"] = ImageQualityMetrics()

    @abstractmethod
    def query_field(
        self, ray_samples: RaySamples, ray_bundle: RayBundle
    ) -> tuple[Float[Tensor, "*batch samples 1"], Float[Tensor, "*batch samples 3"]]:
        """Density and colour at each sample."""

    def _render_pass(self, ray_samples: RaySamples, ray_bundle: RayBundle) -> dict[str, Tensor]:
        density, rgb = self.query_field(ray_samples, ray_bundle)
        weights = ray_samples.get_weights(density)
        return {
            "rgb": self.renderer_rgb(rgb=rgb, weights=weights),
            "accumulation": self.renderer_accumulation(weights),
            "depth": self.renderer_depth(weights, ray_samples),
            "weights": weights,
        }

    def get_outputs(self, ray_bundle: RayBundle) -> dict[str, Tensor]:
        coarse_samples = self.sampler_uniform(ray_bundle)
        coarse = self._render_pass(coarse_samples, ray_bundle)
        fine_samples = self.sampler_pdf(ray_bundle, coarse_samples, coarse["weights"])
        fine = self._render_pass(fine_samples, ray_bundle)
        outputs = {name: value for name, value in fine.items() if name != "weights"}
        outputs.update({f"{name}_coarse": value for name, value in coarse.items() if name != "weights"})
        if self.training:
            outputs["weights_fine"] = fine["weights"]
        return outputs

    def get_loss_dict(self, outputs, batch, metrics_dict=None) -> dict[str, Tensor]:
        image = batch["image"].to(self.device)
        losses = {}
        for suffix in ("", "_coarse"):
            pred, gt = self.renderer_rgb.blend_background_for_loss_computation(
                pred_image=outputs[f"rgb{suffix}"], pred_accumulation=outputs[f"accumulation{suffix}"], gt_image=image
            )
            losses[f"rgb_loss{suffix}"] = torch.nn.functional.mse_loss(pred, gt)
        return losses

    def get_metrics_dict(self, outputs, batch) -> dict[str, Tensor]:
        if "image" not in batch:  # a view with no ground truth (e.g. a sampled view)
            return {}
        image = self.renderer_rgb.blend_background(batch["image"].to(self.device))
        mse = torch.mean((outputs["rgb"].detach() - image) ** 2)
        return {"psnr": -10.0 * torch.log10(mse.clamp_min(1e-10))}

    def get_image_metrics_and_images(
        self, outputs: dict[str, Tensor], batch: dict[str, Tensor]
    ) -> tuple[dict[str, float], dict[str, Tensor]]:
        depth = colormaps.apply_depth_colormap(outputs["depth"], accumulation=outputs["accumulation"])
        accumulation = colormaps.apply_colormap(outputs["accumulation"])
        if "image" not in batch:  # a view with no ground truth: images for the logs, no metrics
            return {}, {"novel_view": torch.cat([outputs["rgb"], depth, accumulation], dim=1)}
        image = self.renderer_rgb.blend_background(batch["image"].to(outputs["rgb"].device))
        metrics = self.image_metrics.all(image, outputs["rgb"])
        images = {"img": torch.cat([image, outputs["rgb"]], dim=1), "accumulation": accumulation, "depth": depth}
        return metrics, images
