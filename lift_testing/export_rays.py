"""What nerfstudio's point-cloud and Poisson exporters get from a trained run: the share of their rays that end on
the object (the only rays whose points they keep)."""

from __future__ import annotations

from pathlib import Path

import torch


@torch.no_grad()
def opaque_fraction_of_export_rays(config_path: Path, num_rays: int = 2048) -> float:
    """Load the run as ``ns-export`` does, draw one batch of ``num_rays`` from ``next_train`` as its exporters do, and
    return the fraction whose opacity passes 0.5 (nerfstudio's ``generate_point_cloud`` threshold)."""
    from nerfstudio.utils.eval_utils import eval_setup

    _, pipeline, _, _ = eval_setup(config_path)
    pipeline.datamanager.train_pixel_sampler.num_rays_per_batch = num_rays
    rays, _ = pipeline.datamanager.next_train(0)
    opacity = pipeline.model.get_rgba_image(pipeline.model(rays))[..., 3]
    return float((opacity > 0.5).float().mean())
