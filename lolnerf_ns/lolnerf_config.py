"""Registers the ``lolnerf`` method and its dataparser with nerfstudio.

Every ``ns-*`` command imports this module at start-up: it must stay light (no diffusers, transformers, open_clip or
mediapipe here or in what it imports at module level).
"""

from __future__ import annotations

from nerfstudio.configs.base_config import ViewerConfig
from nerfstudio.engine.optimizers import AdamOptimizerConfig
from nerfstudio.engine.schedulers import ExponentialDecaySchedulerConfig
from nerfstudio.plugins.types import MethodSpecification

from lift_common.trainer import LiftTrainerConfig
from lolnerf_ns.data.datamanager import LOLNeRFDataManagerConfig
from lolnerf_ns.model import LOLNeRFModelConfig
from lolnerf_ns.pipeline import LOLNeRFPipelineConfig

lolnerf_method = MethodSpecification(
    config=LiftTrainerConfig(
        method_name="lolnerf",
        steps_per_eval_batch=500,
        steps_per_save=2000,
        max_num_iterations=100000,
        mixed_precision=False,
        pipeline=LOLNeRFPipelineConfig(
            datamanager=LOLNeRFDataManagerConfig(
                images_per_batch=8, pixels_per_image=256, eval_num_rays_per_batch=2048
            ),
            model=LOLNeRFModelConfig(eval_num_rays_per_chunk=1 << 12),
        ),
        # Rates measured by `python -m benchmarks.lolnerf_train --part defaults` (README, "LOLNeRF: proof and
        # benchmark"): the 8x256 networks learn the synthetic class at these rates, and twice or four times the
        # network rate gains only 0.2-0.4 dB in the first 300 steps.
        optimizers={
            "fields": {
                # jax3d's LOLNeRF (projects/generative/nerf/glo_nerf/trainer.py): Adam, learning_rate_start 5e-4
                # decaying exponentially to learning_rate_end 1e-4.
                "optimizer": AdamOptimizerConfig(lr=5e-4, eps=1e-15),
                "scheduler": ExponentialDecaySchedulerConfig(lr_final=1e-4, max_steps=100000),
            },
            "latents": {
                # Not jax3d's plain SGD at the network's rate, which left the codes at the class mean for the first
                # 300 steps (16.1 dB held-out against 19.8 dB with these).
                "optimizer": AdamOptimizerConfig(lr=1e-2, eps=1e-15),
                "scheduler": ExponentialDecaySchedulerConfig(lr_final=1e-3, max_steps=100000),
            },
        },
        viewer=ViewerConfig(num_rays_per_chunk=1 << 12),
        vis="viewer",
    ),
    description="LOLNeRF: one latent-conditioned NeRF learnt from single-view photos of many instances of one class.",
)
