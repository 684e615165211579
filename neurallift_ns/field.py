"""NeuralLift-360's radiance field: a hash-grid density with a "blob" prior, an albedo MLP, and normals.

Normals are the normalised negative gradient of log-density, taken by **central finite differences** rather than
autograd: the orientation loss needs the gradient of the normals themselves, which tiny-cuda-nn's hash grid cannot
give (it has no second derivative), and finite differences behave the same on the tcnn and torch implementations.
Differencing log-density instead of density keeps the step well-conditioned where density is exponential.
"""

from __future__ import annotations

import torch
from jaxtyping import Float
from nerfstudio.cameras.rays import RaySamples
from nerfstudio.data.scene_box import SceneBox
from nerfstudio.field_components.activations import trunc_exp
from nerfstudio.field_components.encodings import HashEncoding, SHEncoding
from nerfstudio.field_components.field_heads import FieldHeadNames
from nerfstudio.field_components.mlp import MLP
from nerfstudio.fields.base_field import Field
from torch import Tensor, nn

from lift_common.marching_cubes import isosurface_values


class NeuralLiftField(Field):
    """Density and albedo of the object inside the scene box."""

    def __init__(
        self,
        aabb: Tensor,
        num_levels: int = 16,
        base_res: int = 16,
        max_res: int = 1024,
        log2_hashmap_size: int = 19,
        features_per_level: int = 2,
        hidden_dim: int = 64,
        geo_feat_dim: int = 15,
        hidden_dim_color: int = 64,
        blob_density: float = 5.0,
        blob_radius: float = 0.5,
        normal_epsilon: float = 1e-2,
        surface_density: float = 10.0,
        implementation: str = "torch",
    ) -> None:
        super().__init__()
        self.register_buffer("aabb", aabb)
        self.blob_density = blob_density
        self.blob_radius = blob_radius
        self.blob_scale = 1.0
        """Multiplies the blob; the model fades it to 0 when configured to (``blob_fade_steps``)."""
        self.normal_epsilon = normal_epsilon
        self.surface_density = surface_density
        self.geo_feat_dim = geo_feat_dim
        self.encoding = HashEncoding(
            num_levels=num_levels,
            min_res=base_res,
            max_res=max_res,
            log2_hashmap_size=log2_hashmap_size,
            features_per_level=features_per_level,
            implementation=implementation,
        )
        self.density_mlp = MLP(
            in_dim=self.encoding.get_out_dim(),
            num_layers=2,
            layer_width=hidden_dim,
            out_dim=1 + geo_feat_dim,
            activation=nn.ReLU(),
            implementation=implementation,
        )
        self.albedo_mlp = MLP(
            in_dim=geo_feat_dim,
            num_layers=2,
            layer_width=hidden_dim_color,
            out_dim=3,
            activation=nn.ReLU(),
            out_activation=nn.Sigmoid(),
            implementation=implementation,
        )

    def log_density(self, positions: Float[Tensor, "*batch 3"]) -> tuple[Float[Tensor, "*batch 1"], Tensor]:
        """Log-density (before the exponential) and geometry features at world positions."""
        normalized = SceneBox.get_normalized_positions(positions, self.aabb)
        inside = ((normalized >= 0.0) & (normalized <= 1.0)).all(dim=-1, keepdim=True)
        hidden = self.density_mlp(self.encoding(normalized.reshape(-1, 3))).reshape(*positions.shape[:-1], -1)
        # The blob (Magic3D / stable-dreamfusion): a density bump at the centre so training starts from a solid
        # object rather than empty space; negative far from the centre, it also clears the corners.
        blob = self.blob_scale * self.blob_density * (1.0 - positions.norm(dim=-1, keepdim=True) / self.blob_radius)
        log_density = hidden[..., :1].float() + blob
        log_density = torch.where(inside, log_density, torch.full_like(log_density, -20.0))
        return log_density, hidden[..., 1:]

    def density_at(self, positions: Float[Tensor, "*batch 3"]) -> Float[Tensor, "*batch 1"]:
        """Density at world positions (what marching cubes and exporters query)."""
        return trunc_exp(self.log_density(positions)[0])

    def forward_geonetwork(self, positions: Float[Tensor, "num 3"]) -> Float[Tensor, "num 1"]:
        """``surface_density - density``: what ``ns-export marching-cubes`` extracts the zero level set of."""
        return isosurface_values(self.density_at(positions), self.surface_density)

    def get_density(self, ray_samples: RaySamples) -> tuple[Tensor, Tensor]:
        log_density, features = self.log_density(ray_samples.frustums.get_positions())
        return trunc_exp(log_density), features

    def get_outputs(self, ray_samples: RaySamples, density_embedding: Tensor | None = None) -> dict:
        assert density_embedding is not None
        features = density_embedding.reshape(-1, self.geo_feat_dim)
        albedo = self.albedo_mlp(features).reshape(*ray_samples.frustums.shape, 3).float()
        return {FieldHeadNames.RGB: albedo}

    def normals_at(self, positions: Float[Tensor, "*batch 3"]) -> Float[Tensor, "*batch 3"]:
        """Outward unit normals: minus the log-density gradient, by central differences (see module docstring)."""
        eps = self.normal_epsilon
        offsets = torch.eye(3, device=positions.device, dtype=positions.dtype) * eps
        shifted = torch.cat([positions[..., None, :] + offsets, positions[..., None, :] - offsets], dim=-2)
        values = self.log_density(shifted)[0][..., 0]  # [*batch, 6]
        gradient = (values[..., :3] - values[..., 3:]) / (2.0 * eps)
        return -torch.nn.functional.normalize(gradient, dim=-1)


class BackgroundField(nn.Module):
    """Colour seen behind the object in each ray direction (spherical harmonics of the direction, then an MLP)."""

    def __init__(self, hidden_dim: int = 32, implementation: str = "torch") -> None:
        super().__init__()
        self.encoding = SHEncoding(levels=4, implementation=implementation)
        self.mlp = MLP(
            in_dim=self.encoding.get_out_dim(),
            num_layers=2,
            layer_width=hidden_dim,
            out_dim=3,
            activation=nn.ReLU(),
            out_activation=nn.Sigmoid(),
            implementation=implementation,
        )

    def forward(self, directions: Float[Tensor, "*rays 3"]) -> Float[Tensor, "*rays 3"]:
        encoded = self.encoding((directions.reshape(-1, 3) + 1.0) / 2.0)  # SHEncoding expects directions in [0, 1]
        return self.mlp(encoded).reshape(*directions.shape).float()
