"""A small lolnerf model of three identities with codes easy to tell apart, and rays to render it with."""

from __future__ import annotations

import torch
from nerfstudio.cameras.rays import RayBundle
from nerfstudio.data.scene_box import SceneBox

from lolnerf_ns.model import LOLNeRFModelConfig
from lolnerf_ns.ray_keys import LATENT_INDEX_KEY

SMALL = dict(latent_dim=4, num_layers=3, layer_width=16, skip_layer=1, num_frequencies=2, color_hidden_dim=8)
SMALL.update(num_coarse_samples=8, num_importance_samples=8, background_num_layers=2, background_layer_width=8)
NAMES = ["a.png", "b.png", "c.png"]


def make_model(**options):
    torch.manual_seed(0)
    config = LOLNeRFModelConfig(**{**SMALL, **options})
    metadata = {"num_latents": 3, "latent_names": NAMES, "canonical_keypoints": [[0.0, 0.0, 0.0]] * 5}
    model = config.setup(scene_box=SceneBox(torch.tensor([[-1.0] * 3, [1.0] * 3])), num_train_data=3, metadata=metadata)
    with torch.no_grad():
        model.latent_table.weight[:3] = torch.arange(12.0).reshape(3, 4)  # codes easy to tell apart
    return model


def rays(num: int = 6, indices: list[int] | None = None, times: torch.Tensor | None = None) -> RayBundle:
    """Rays from -Y through the scene box's centre region."""
    origins = torch.tensor([[0.0, -3.0, 0.0]]).repeat(num, 1) + torch.linspace(-0.3, 0.3, num)[:, None] * torch.tensor(
        [1.0, 0.0, 0.0]
    )
    metadata = {LATENT_INDEX_KEY: torch.tensor(indices)[:, None]} if indices is not None else {}
    return RayBundle(
        origins=origins,
        directions=torch.tensor([[0.0, 1.0, 0.0]]).repeat(num, 1),
        pixel_area=torch.ones(num, 1),
        metadata=metadata,
        times=times,
    )
