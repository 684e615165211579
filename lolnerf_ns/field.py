"""LOLNeRF's fields: a foreground NeRF and a background of ray direction, both conditioned on the instance's code.

As in LOLNeRF, the latent code is concatenated with the positional encoding at the input and again at the skip layer
(nerfstudio's MLP re-concatenates its whole input there), so every instance of the class shares one network. Colour
does not depend on the view direction: with one view of each instance, view dependence cannot be told apart from
the instance's own colour.

The MLPs may run in bfloat16 (``torch.autocast``); positional encodings, densities and colours stay float32, so
compositing and the losses see float32 either way.
"""

from __future__ import annotations

from typing import Literal

import torch
from jaxtyping import Float
from nerfstudio.field_components.activations import trunc_exp
from nerfstudio.field_components.encodings import NeRFEncoding
from nerfstudio.field_components.mlp import MLP
from torch import Tensor, nn

from lift_common.marching_cubes import isosurface_values

MLPPrecision = Literal["auto", "float32", "bfloat16"]

DENSITY_BIAS = -1.0
"""Added to the density head's output before its activation, so that an untrained field (outputs near 0) starts at a
density of about exp(-1) = 0.37 rather than 1: a mostly transparent volume, so that the first gradients reach samples
all along each ray instead of only those in front of a fog. mip-NeRF's ``density_bias`` (-1, "shift added to raw
densities pre-activation"); LOLNeRF's own code (jax3d's GLO-NeRF decoder) applies no shift before its softplus."""


def mlp_autocast(device: torch.device, precision: MLPPrecision) -> torch.autocast:
    """``torch.autocast`` to bfloat16 for ``precision`` "bfloat16", and for "auto" on CUDA GPUs that support it;
    disabled otherwise. bfloat16 keeps float32's range, so unlike float16 it needs no loss scaling."""
    bfloat16 = precision == "bfloat16" or (
        precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported()
    )
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bfloat16)


class LatentConditionedField(nn.Module):
    """Density and colour of a class of objects at points, given each point's latent code."""

    def __init__(
        self,
        latent_dim: int,
        num_frequencies: int = 10,
        num_layers: int = 8,
        layer_width: int = 256,
        skip_layer: int = 4,
        color_hidden_dim: int = 128,
        precision: MLPPrecision = "float32",
    ) -> None:
        super().__init__()
        self.precision = precision
        self.position_encoding = NeRFEncoding(
            in_dim=3,
            num_frequencies=num_frequencies,
            min_freq_exp=0.0,
            max_freq_exp=num_frequencies - 1,
            include_input=True,
        )
        self.trunk = MLP(
            in_dim=self.position_encoding.get_out_dim() + latent_dim,
            num_layers=num_layers,
            layer_width=layer_width,
            skip_connections=(skip_layer,),
            out_activation=nn.ReLU(),
            implementation="torch",
        )
        self.density_head = nn.Linear(layer_width, 1)
        self.surface_density = 10.0
        self.isosurface_identity = lambda: torch.zeros(latent_dim)  # the model points this at its displayed identity
        self.color_head = nn.Sequential(
            nn.Linear(layer_width, color_hidden_dim), nn.ReLU(), nn.Linear(color_hidden_dim, 3), nn.Sigmoid()
        )

    def forward(
        self, positions: Float[Tensor, "*batch 3"], latents: Float[Tensor, "*batch latent_dim"]
    ) -> tuple[Float[Tensor, "*batch 1"], Float[Tensor, "*batch 3"]]:
        encoded = torch.cat([self.position_encoding(positions), latents], dim=-1)
        with mlp_autocast(positions.device, self.precision):
            features = self.trunk(encoded)
            density_logit, rgb = self.density_head(features), self.color_head(features)
        # trunc_exp keeps density positive with exp's dynamic range but bounded gradients (as in instant-ngp).
        density = trunc_exp(density_logit.float() + DENSITY_BIAS)
        return density, rgb.float()

    def forward_geonetwork(self, positions: Float[Tensor, "num 3"]) -> Float[Tensor, "num 1"]:
        """``surface_density - density`` of the identity the model displays (set by the model as
        ``isosurface_identity``, a function giving its code): what ``ns-export marching-cubes`` meshes."""
        code = self.isosurface_identity().to(positions.device)
        density, _ = self(positions, code.expand(*positions.shape[:-1], -1))
        return isosurface_values(density, self.surface_density)

    def normals(
        self, positions: Float[Tensor, "*batch 3"], latents: Float[Tensor, "*batch latent_dim"]
    ) -> Float[Tensor, "*batch 3"]:
        """Outward unit normals: minus the density gradient (autograd; works inside ``torch.no_grad`` renders)."""
        with torch.enable_grad():
            positions = positions.detach().requires_grad_(True)
            density, _ = self(positions, latents.detach())
            (gradient,) = torch.autograd.grad(density.sum(), positions)
        return -torch.nn.functional.normalize(gradient, dim=-1)


class LatentBackgroundField(nn.Module):
    """Colour seen behind the object along each ray direction, for each instance's code."""

    def __init__(
        self,
        latent_dim: int,
        num_frequencies: int = 4,
        num_layers: int = 3,
        layer_width: int = 64,
        precision: MLPPrecision = "float32",
    ) -> None:
        super().__init__()
        self.precision = precision
        self.direction_encoding = NeRFEncoding(
            in_dim=3,
            num_frequencies=num_frequencies,
            min_freq_exp=0.0,
            max_freq_exp=num_frequencies - 1,
            include_input=True,
        )
        self.mlp = MLP(
            in_dim=self.direction_encoding.get_out_dim() + latent_dim,
            num_layers=num_layers,
            layer_width=layer_width,
            out_dim=3,
            activation=nn.ReLU(),
            out_activation=nn.Sigmoid(),
            implementation="torch",
        )

    def forward(
        self, directions: Float[Tensor, "*rays 3"], latents: Float[Tensor, "*rays latent_dim"]
    ) -> Float[Tensor, "*rays 3"]:
        encoded = torch.cat([self.direction_encoding(directions), latents], dim=-1)
        with mlp_autocast(directions.device, self.precision):
            return self.mlp(encoded).float()
