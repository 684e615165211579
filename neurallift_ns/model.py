"""The ``neurallift`` model.

This first version is a multi-resolution hash-grid NeRF (nerfstudio's ``NerfactoField``, tiny-cuda-nn when it can
run) inside the [-1, 1] scene box, rendered coarse-to-fine and fitted to the photo from the reference camera. The
NeuralLift-360 field, shading, losses and diffusion guidance build on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Type

from jaxtyping import Float
from nerfstudio.cameras.rays import RayBundle, RaySamples
from nerfstudio.field_components.field_heads import FieldHeadNames
from nerfstudio.fields.nerfacto_field import NerfactoField
from torch import Tensor, nn

from lift_common.coarse_fine_model import CoarseFineModel, CoarseFineModelConfig
from lift_common.tcnn import field_implementation
from neurallift_ns.losses import mask_loss, opacity_entropy_loss


@dataclass
class NeuralLiftModelConfig(CoarseFineModelConfig):
    """NeuralLift-360 model."""

    _target: Type = field(default_factory=lambda: NeuralLiftModel)
    num_levels: int = 16
    """Levels of the hash grid."""
    base_res: int = 16
    """Resolution of the coarsest hash-grid level."""
    max_res: int = 1024
    """Resolution of the finest hash-grid level."""
    log2_hashmap_size: int = 19
    """Log2 of the number of entries in each hash table."""
    features_per_level: int = 2
    """Features stored per hash-grid entry."""
    hidden_dim: int = 64
    """Width of the density MLP."""
    hidden_dim_color: int = 64
    """Width of the colour MLP."""
    implementation: Literal["auto", "tcnn", "torch"] = "auto"
    """Hash grid and MLP implementation: ``auto`` picks tiny-cuda-nn when it is installed and a GPU is visible."""
    lambda_rgb: float = 1.0
    """Weight of the reference view's RGB loss (photo composited on white)."""
    lambda_mask: float = 0.5
    """Weight of the reference view's mask loss (opacity against the object mask)."""
    lambda_opacity_entropy: float = 1e-3
    """Weight of the opacity entropy on sampled views (pushes rays to be fully opaque or clear)."""


class NeuralLiftModel(CoarseFineModel):
    """NeuralLift-360 model."""

    config: NeuralLiftModelConfig

    def populate_modules(self) -> None:
        super().populate_modules()
        implementation = self.config.implementation
        self.field = NerfactoField(
            self.scene_box.aabb,
            num_images=self.num_train_data,
            hidden_dim=self.config.hidden_dim,
            num_levels=self.config.num_levels,
            base_res=self.config.base_res,
            max_res=self.config.max_res,
            log2_hashmap_size=self.config.log2_hashmap_size,
            features_per_level=self.config.features_per_level,
            hidden_dim_color=self.config.hidden_dim_color,
            appearance_embedding_dim=0,  # one photo, one appearance
            spatial_distortion=None,  # the object is inside the scene box: nothing unbounded to contract
            implementation=field_implementation() if implementation == "auto" else implementation,
        )

    def get_param_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"fields": list(self.field.parameters())}

    def query_field(
        self, ray_samples: RaySamples, ray_bundle: RayBundle
    ) -> tuple[Float[Tensor, "*batch samples 1"], Float[Tensor, "*batch samples 3"]]:
        field_outputs = self.field(ray_samples)
        return field_outputs[FieldHeadNames.DENSITY], field_outputs[FieldHeadNames.RGB]

    def get_loss_dict(self, outputs, batch, metrics_dict=None) -> dict[str, Tensor]:
        """Reference steps (and evaluation): RGB and mask losses. Sampled steps: regularisers of the sampled views."""
        if "image" not in batch:
            return {
                "opacity_entropy": self.config.lambda_opacity_entropy * opacity_entropy_loss(outputs["accumulation"])
            }
        losses = {name: self.config.lambda_rgb * value for name, value in super().get_loss_dict(outputs, batch).items()}
        if "mask" in batch:
            mask = batch["mask"].to(self.device)
            losses["mask_loss"] = self.config.lambda_mask * mask_loss(outputs["accumulation"], mask)
        return losses
