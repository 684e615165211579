"""The ``lolnerf`` pipeline: nerfstudio's, wrapped for multi-process training on GPUs or CPUs, with evaluation that
renders every data camera's own identity.

nerfstudio 1.1.5's ``VanillaPipeline`` wraps the model in ``DistributedDataParallel(device_ids=[local_rank])`` and
waits on ``dist.barrier(device_ids=[local_rank])``: both only work on CUDA with NCCL. Here the device ids are passed
only for a CUDA model, and the barrier names devices only under NCCL, so the same pipeline trains under torch DDP on
GPUs (NCCL) and on CPUs (gloo).

The latent table is an ordinary parameter of the wrapped model: each process's step reads only the codes of its own
images (see :mod:`lolnerf_ns.data.datamanager`), so only their rows get gradients there; DDP averages every gradient
across processes before the optimisers step, so all processes end each step with identical fields and tables.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from typing import Literal, Type

import torch
import torch.distributed as dist
from nerfstudio.models.base_model import Model
from nerfstudio.pipelines.base_pipeline import VanillaPipeline, VanillaPipelineConfig
from torch.cuda.amp.grad_scaler import GradScaler
from torch.nn.parallel import DistributedDataParallel as DDP


@dataclass
class LOLNeRFPipelineConfig(VanillaPipelineConfig):
    """Pipeline of the lolnerf method."""

    _target: Type = field(default_factory=lambda: LOLNeRFPipeline)


class LOLNeRFPipeline(VanillaPipeline):
    """nerfstudio's pipeline, with DDP on any device and evaluation of each camera's own identity."""

    def __init__(
        self,
        config: LOLNeRFPipelineConfig,
        device: str,
        test_mode: Literal["test", "val", "inference"] = "val",
        world_size: int = 1,
        local_rank: int = 0,
        grad_scaler: GradScaler | None = None,
    ) -> None:
        # Built as one process, then wrapped below in the way the device allows.
        super().__init__(config, device, test_mode, world_size=1, local_rank=local_rank, grad_scaler=grad_scaler)
        self.datamanager.world_size = world_size
        # Exporters' rays render each image's own identity unless the model shows chosen ones (render_identities).
        self.datamanager.exporters_aim_at_masks = not self.model.config.render_identities
        self.world_size = world_size
        if world_size > 1:
            on_cuda = torch.device(device).type == "cuda"
            device_ids = [local_rank] if on_cuda else None
            self._model = typing.cast(Model, DDP(self._model, device_ids=device_ids, find_unused_parameters=True))
            if dist.get_backend() == dist.Backend.NCCL:
                dist.barrier(device_ids=[local_rank])
            else:
                dist.barrier()

    def get_eval_loss_dict(self, step: int):
        with self.model.own_identities():
            return super().get_eval_loss_dict(step)

    def get_eval_image_metrics_and_images(self, step: int):
        with self.model.own_identities():
            return super().get_eval_image_metrics_and_images(step)

    def get_average_eval_image_metrics(self, *args, **kwargs):
        with self.model.own_identities():
            return super().get_average_eval_image_metrics(*args, **kwargs)
