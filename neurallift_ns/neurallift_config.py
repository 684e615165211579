"""Registers the ``neurallift`` method and its dataparser with nerfstudio.

Every ``ns-*`` command imports this module at start-up: it must stay light (no diffusers, transformers, open_clip or
mediapipe here or in what it imports at module level).
"""

from __future__ import annotations

from nerfstudio.configs.base_config import ViewerConfig
from nerfstudio.engine.optimizers import AdamOptimizerConfig
from nerfstudio.plugins.types import MethodSpecification

from lift_common.trainer import LiftTrainerConfig
from neurallift_ns.data.datamanager import NeuralLiftDataManagerConfig
from neurallift_ns.model import NeuralLiftModelConfig
from neurallift_ns.pipeline import NeuralLiftPipelineConfig

neurallift_method = MethodSpecification(
    config=LiftTrainerConfig(
        method_name="neurallift",
        steps_per_eval_batch=500,
        steps_per_save=1000,
        max_num_iterations=10000,
        mixed_precision=True,
        pipeline=NeuralLiftPipelineConfig(
            datamanager=NeuralLiftDataManagerConfig(train_num_rays_per_batch=4096, eval_num_rays_per_batch=4096),
            model=NeuralLiftModelConfig(eval_num_rays_per_chunk=1 << 13),
        ),
        # Constant learning rates, the hash grids at 1e-2 and the MLPs at 1e-3: Magic123 (threestudio
        # configs/magic123-coarse-sd.yaml, no scheduler) and NeuralLift-360's released code
        # (nerf/network_grid_finite.py, constant scheduler). Against a prior that keeps pushing, the photo keeps its
        # full say until the end.
        optimizers={
            "proposal_networks": {"optimizer": AdamOptimizerConfig(lr=1e-2, eps=1e-15), "scheduler": None},
            "hash_grid": {"optimizer": AdamOptimizerConfig(lr=1e-2, eps=1e-15), "scheduler": None},
            "mlps": {"optimizer": AdamOptimizerConfig(lr=1e-3, eps=1e-15), "scheduler": None},
        },
        viewer=ViewerConfig(num_rays_per_chunk=1 << 14),
        vis="viewer",
    ),
    description="NeuralLift-360: lift one photo of an object to a NeRF viewable from 360 degrees.",
)
