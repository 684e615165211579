"""The ``lolnerf`` model: one NeRF for a whole class, conditioned on a learnt latent code per instance (GLO)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Type

import torch
from jaxtyping import Float
from nerfstudio.cameras.rays import RayBundle, RaySamples
from torch import Tensor, nn

from lift_common.coarse_fine_model import CoarseFineModel, CoarseFineModelConfig
from lolnerf_ns.data.transforms_dataparser import LATENT_INDEX_KEY
from lolnerf_ns.field import LatentConditionedField


@dataclass
class LOLNeRFModelConfig(CoarseFineModelConfig):
    """LOLNeRF model."""

    _target: Type = field(default_factory=lambda: LOLNeRFModel)
    latent_dim: int = 64
    """Size of each instance's latent code."""
    latent_init_std: float = 0.01
    """Latent codes start near zero, drawn from N(0, std^2)."""
    num_layers: int = 8
    """Layers of the foreground MLP."""
    layer_width: int = 256
    """Width of the foreground MLP."""
    skip_layer: int = 4
    """Layer at which the encoded position and latent code are fed in again."""
    num_frequencies: int = 10
    """Frequencies of the positional encoding of position."""


class LOLNeRFModel(CoarseFineModel):
    """LOLNeRF model. Each ray renders the instance named by its camera's ``latent_index`` metadata."""

    config: LOLNeRFModelConfig

    def populate_modules(self) -> None:
        super().populate_modules()
        num_latents = int(self.kwargs.get("metadata", {}).get("num_latents", self.num_train_data))
        self.latent_table = nn.Embedding(num_latents, self.config.latent_dim)
        nn.init.normal_(self.latent_table.weight, std=self.config.latent_init_std)
        self.field = LatentConditionedField(
            latent_dim=self.config.latent_dim,
            num_frequencies=self.config.num_frequencies,
            num_layers=self.config.num_layers,
            layer_width=self.config.layer_width,
            skip_layer=self.config.skip_layer,
        )

    def get_param_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"fields": list(self.field.parameters()), "latents": list(self.latent_table.parameters())}

    def ray_latents(self, ray_bundle: RayBundle) -> Float[Tensor, "*batch latent_dim"]:
        """The latent code of each ray's instance; rays without one (the viewer's) render instance 0."""
        indices = (ray_bundle.metadata or {}).get(LATENT_INDEX_KEY)
        if indices is None:
            indices = torch.zeros((*ray_bundle.shape, 1), dtype=torch.long, device=ray_bundle.origins.device)
        return self.latent_table(indices.long().squeeze(-1))

    def query_field(
        self, ray_samples: RaySamples, ray_bundle: RayBundle
    ) -> tuple[Float[Tensor, "*batch samples 1"], Float[Tensor, "*batch samples 3"]]:
        positions = ray_samples.frustums.get_positions()
        latents = self.ray_latents(ray_bundle)[..., None, :].expand(*positions.shape[:-1], -1)
        return self.field(positions, latents)
