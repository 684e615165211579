"""Shading of sampled views: albedo, lambertian under a random light, or textureless (shape only).

Shading the object under random lights makes the diffusion prior judge its *shape* as well as its colours, which is
how DreamFusion-style methods (and NeuralLift-360) avoid flat "painted" geometry.
"""

from __future__ import annotations

from typing import Literal

import torch
from jaxtyping import Float
from torch import Tensor

ShadingMode = Literal["albedo", "lambertian", "textureless"]
SHADING_MODES: tuple[ShadingMode, ...] = ("albedo", "lambertian", "textureless")


def shade(
    albedo: Float[Tensor, "*batch 3"],
    normals: Float[Tensor, "*batch 3"] | None,
    light_direction: Float[Tensor, "*batch 3"] | None,
    mode: ShadingMode,
    ambient: float = 0.1,
) -> Float[Tensor, "*batch 3"]:
    """Colour of a surface point: its albedo, or lit by a directional light (unit vector towards the light)."""
    if mode == "albedo":
        return albedo
    assert normals is not None and light_direction is not None, f"{mode} shading needs normals and a light"
    diffuse = (normals * light_direction).sum(dim=-1, keepdim=True).clamp(min=0.0)
    lighting = ambient + (1.0 - ambient) * diffuse
    surface = torch.ones_like(albedo) if mode == "textureless" else albedo
    return surface * lighting


def random_light_directions(
    camera_positions: Float[Tensor, "views 3"], spread: float = 0.5, generator: torch.Generator | None = None
) -> Float[Tensor, "views 3"]:
    """Lights roughly behind each camera (so the visible side is lit), jittered by ``spread`` of the distance."""
    noise = torch.randn(camera_positions.shape, generator=generator).to(camera_positions)
    jittered = camera_positions + spread * camera_positions.norm(dim=-1, keepdim=True) * noise
    return torch.nn.functional.normalize(jittered, dim=-1)
