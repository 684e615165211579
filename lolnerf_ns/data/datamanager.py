"""Ray batches for LOLNeRF: a few identities per step, many pixels of each.

LOLNeRF trains on several instances per step with many rays each, so each latent code sees a dense sample of its
image. Every ray carries its image (``camera_indices``) and latent index (camera metadata), and the mask value of its
pixel where the data has masks; unlike nerfstudio's default sampler, pixels are drawn from the whole image, not only
inside the mask, because the mask supervises the foreground opacity.

Under multi-GPU training (torch DDP) each process draws its identities from its own share of the images (image index
modulo the number of processes), so in one step no two processes train the same code twice over and each code's
gradient comes from one process; DDP then averages the gradients, so all processes keep identical tables.

Outside training (``ns-export``, ``ns-eval``: every tool that loads a run with ``eval_setup``) nothing seeds the random
generators, yet nerfstudio's exporters draw their rays from ``next_train``. There the pixels come from a generator of
their own with a fixed seed, and the images are drawn in dataset order, so an export of a run is the same every time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Type

import torch
from jaxtyping import Int
from nerfstudio.data.datamanagers.base_datamanager import VanillaDataManager, VanillaDataManagerConfig
from nerfstudio.data.pixel_samplers import PixelSampler, PixelSamplerConfig
from nerfstudio.utils import comms
from torch import Tensor

from lolnerf_ns.data.collection_dataparser import LOLNeRFCollectionDataParserConfig


@dataclass
class IdentityBatchPixelSamplerConfig(PixelSamplerConfig):
    """Pixels drawn as (images per batch) x (pixels per image)."""

    _target: Type = field(default_factory=lambda: IdentityBatchPixelSampler)
    images_per_batch: int = 8
    """Distinct images (identities) in each batch."""


class IdentityBatchPixelSampler(PixelSampler):
    """Draws ``images_per_batch`` distinct images, then an equal share of the batch's pixels from each."""

    config: IdentityBatchPixelSamplerConfig

    def __init__(self, config: IdentityBatchPixelSamplerConfig, **kwargs) -> None:
        super().__init__(config, **kwargs)
        self._shard_positions: Tensor | None = None
        self.generator: torch.Generator | None = None
        """Draws the images and pixels where set (outside training); ``None``: torch's global generator, which
        ns-train seeds from ``--machine.seed``."""

    def collate_image_dataset_batch(self, batch: dict, num_rays_per_batch: int, keep_full_image: bool = False):
        positions = process_shard(batch["image_idx"], comms.get_rank(), comms.get_world_size())
        if self.generator is not None:
            # nerfstudio's image cache stacks the images in an order drawn from Python's (there unseeded) random
            # module; in dataset order the seeded draw picks the same images every run.
            positions = positions[batch["image_idx"].cpu()[positions].argsort()]
        self._shard_positions = positions
        return super().collate_image_dataset_batch(batch, num_rays_per_batch, keep_full_image)

    def sample_method(
        self,
        batch_size: int,
        num_images: int,
        image_height: int,
        image_width: int,
        mask: Tensor | None = None,
        device: torch.device | str = "cpu",
    ) -> Int[Tensor, "batch_size 3"]:
        candidates = self._shard_positions if self._shard_positions is not None else torch.arange(num_images)
        candidates = candidates.to(device)
        num_identities = min(self.config.images_per_batch, len(candidates))
        pixels_per_image = -(-batch_size // num_identities)  # ceil: ns-export may ask for any batch size
        chosen = candidates[torch.randperm(len(candidates), device=device, generator=self.generator)[:num_identities]]
        images = chosen.repeat_interleave(pixels_per_image)
        rows = torch.randint(0, image_height, (len(images),), device=device, generator=self.generator)
        cols = torch.randint(0, image_width, (len(images),), device=device, generator=self.generator)
        return torch.stack([images, rows, cols], dim=-1)[:batch_size]


def process_shard(image_indices: Int[Tensor, "num_images"], rank: int, world_size: int) -> Int[Tensor, "num_shard"]:
    """Positions in a batch of images (whose dataset indices are ``image_indices``) that process ``rank`` of
    ``world_size`` trains on: the images whose index modulo ``world_size`` is ``rank``, or all of them when there
    are fewer images than processes."""
    positions = torch.arange(len(image_indices))
    if world_size <= 1:
        return positions
    mine = positions[image_indices.cpu() % world_size == rank]
    return mine if len(mine) else positions


@dataclass
class LOLNeRFDataManagerConfig(VanillaDataManagerConfig):
    """Batches of several identities with many pixels each."""

    _target: Type = field(default_factory=lambda: LOLNeRFDataManager)
    dataparser: LOLNeRFCollectionDataParserConfig = field(default_factory=LOLNeRFCollectionDataParserConfig)
    """The photos (or transforms.json) of one class."""
    images_per_batch: int = 8
    """Identities (images) in each training batch."""
    pixels_per_image: int = 256
    """Pixels drawn from each of them."""
    pixel_sampler: IdentityBatchPixelSamplerConfig = field(default_factory=IdentityBatchPixelSamplerConfig)
    """Draws the pixels (its batch shape comes from images-per-batch and pixels-per-image)."""

    def __post_init__(self) -> None:
        self.train_num_rays_per_batch = self.images_per_batch * self.pixels_per_image
        self.pixel_sampler.images_per_batch = self.images_per_batch


TOOL_RAYS_SEED = 0
"""Seed of the rays the datamanager draws outside training (see the module docstring)."""


class LOLNeRFDataManager(VanillaDataManager):
    """nerfstudio's datamanager with the identity-batch pixel sampler; each process draws identities from its own
    share of the images, and outside training the draws are seeded (see the module docstring)."""

    config: LOLNeRFDataManagerConfig

    def __init__(
        self,
        config: LOLNeRFDataManagerConfig,
        device: torch.device | str = "cpu",
        test_mode: Literal["test", "val", "inference"] = "val",
        world_size: int = 1,
        local_rank: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(config, device, test_mode, world_size, local_rank, **kwargs)
        # ns-train sets up its datamanager in "val" mode; eval_setup (every other tool) in "test" or "inference".
        if test_mode != "val" and isinstance(self.train_pixel_sampler, IdentityBatchPixelSampler):
            self.train_pixel_sampler.generator = torch.Generator(device).manual_seed(TOOL_RAYS_SEED)
