"""Ray batches for LOLNeRF: a few identities per step, many pixels of each, read from disk as they are needed.

LOLNeRF trains on several instances per step with many rays each, so each latent code sees a dense sample of its
image. Every ray carries its image (``camera_indices``) and latent index (camera metadata), and the mask value of its
pixel where the data has masks; unlike nerfstudio's default sampler, pixels are drawn from the whole image, not only
inside the mask, because the mask supervises the foreground opacity.

nerfstudio's ``VanillaDataManager`` caches every image in memory as float32 (16 bytes a pixel with its mask), which
for a dataset of 50,000 photos is tens of gigabytes. Here the images live in an image store on disk
(:mod:`lolnerf_ns.data.image_store`, uint8) and each step reads only its identities' images, so memory does not grow
with the number of photos (apart from the model's latent table), and training starts without reading any image.
nerfstudio's settings for the image cache (``train_num_images_to_sample_from`` and the like) have no effect.

Under multi-GPU training (torch DDP) each process draws its images from its own share (image index modulo the number
of processes), so no two processes train on the same image in one step. For a folder of photos, where every image has
its own latent code, neither do they train the same code; but the frames of a transforms.json that share an
``instance_id`` share a code, which two processes may then train at once (as they may any code when there are fewer
images than processes and every process draws from all). DDP averages the gradients either way, so all processes
keep identical tables.

Outside training (``ns-export``, ``ns-eval``: every tool that loads a run with ``eval_setup``) nothing seeds the random
generators, yet nerfstudio's exporters draw their rays from ``next_train``. There the identities and pixels come from
a generator of their own with a fixed seed, so an export of a run is the same every time. The exporters keep only the
rays that end on an object (opacity over 0.5) and draw until they hold a million by default, so there ``next_train``
draws its pixels inside the images' masks, where the objects are: nearly every ray counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Type

import torch
from jaxtyping import Float, Int
from nerfstudio.cameras.rays import RayBundle
from nerfstudio.data.datamanagers.base_datamanager import DataManager, VanillaDataManager, VanillaDataManagerConfig
from nerfstudio.data.pixel_samplers import PixelSampler, PixelSamplerConfig
from nerfstudio.data.utils.dataloaders import FixedIndicesEvalDataloader, RandIndicesEvalDataloader
from nerfstudio.model_components.ray_generators import RayGenerator
from nerfstudio.utils import comms
from torch import Tensor

from lolnerf_ns.data.collection_dataparser import LOLNeRFCollectionDataParserConfig
from lolnerf_ns.data.stored_dataset import StoredImageDataset


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
        self.generator: torch.Generator | None = None
        """Draws the images and pixels where set (outside training); ``None``: torch's global generator, which
        ns-train seeds from ``--machine.seed``."""

    def sample_images(self, num_images: int) -> Int[Tensor, "num_identities"]:
        """Distinct images of this process's share (see :func:`process_shard`), in random order."""
        candidates = process_shard(torch.arange(num_images), comms.get_rank(), comms.get_world_size())
        chosen = torch.randperm(len(candidates), generator=self.generator)[: self.config.images_per_batch]
        return candidates[chosen]

    def sample_pixels(
        self,
        images: Int[Tensor, "num_identities"],
        sizes: list[tuple[int, int]],
        masks: list[Float[Tensor, "height width 1"] | None] | None = None,
    ) -> Int[Tensor, "num_rays 3"]:
        """``num_rays_per_batch`` (image, row, column) indices shared out evenly over ``images``, whose heights and
        widths are ``sizes``; pixels come from the whole image, or from inside each image's mask where ``masks``
        gives one that is not empty."""
        pixels_per_image = -(-self.num_rays_per_batch // len(images))  # ceil: ns-export may ask for any batch size
        indices = []
        for position, (image, (height, width)) in enumerate(zip(images.tolist(), sizes, strict=True)):
            inside = None if masks is None or masks[position] is None else torch.nonzero(masks[position][..., 0] > 0.5)
            if inside is not None and len(inside):
                rows, cols = inside[torch.randint(0, len(inside), (pixels_per_image,), generator=self.generator)].T
            else:
                rows = torch.randint(0, height, (pixels_per_image,), generator=self.generator)
                cols = torch.randint(0, width, (pixels_per_image,), generator=self.generator)
            indices.append(torch.stack([torch.full_like(rows, image), rows, cols], dim=-1))
        return torch.cat(indices)[: self.num_rays_per_batch]


def process_shard(image_indices: Int[Tensor, "num_images"], rank: int, world_size: int) -> Int[Tensor, "num_shard"]:
    """Positions in ``image_indices`` (dataset indices of images) that process ``rank`` of ``world_size`` trains on:
    the images whose index modulo ``world_size`` is ``rank``, or all of them when there are fewer images than
    processes."""
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
    """nerfstudio's datamanager, reading each batch's identities from the image store; each process draws identities
    from its own share of the images, and outside training the draws are seeded (see the module docstring)."""

    config: LOLNeRFDataManagerConfig
    train_dataset: StoredImageDataset
    eval_dataset: StoredImageDataset

    def __init__(
        self,
        config: LOLNeRFDataManagerConfig,
        device: torch.device | str = "cpu",
        test_mode: Literal["test", "val", "inference"] = "val",
        world_size: int = 1,
        local_rank: int = 0,
        **kwargs,
    ) -> None:
        # VanillaDataManager.__init__ less its look at every camera for variable image sizes (seconds for 50,000
        # cameras; sizes are the store's business here) and its image caches.
        self.config = config
        self.device = device
        self.world_size = world_size
        self.local_rank = local_rank
        self.sampler = None
        self.test_mode = test_mode
        self.test_split = "test" if test_mode in ["test", "inference"] else "val"
        self.dataparser_config = self.config.dataparser
        if self.config.data is not None:
            self.config.dataparser.data = Path(self.config.data)
        else:
            self.config.data = self.config.dataparser.data
        self.dataparser = self.dataparser_config.setup()
        if test_mode == "inference":
            self.dataparser.downscale_factor = 1
        self.includes_time = self.dataparser.includes_time
        self.train_dataparser_outputs = self.dataparser.get_dataparser_outputs(split="train")
        self.train_dataset = self.create_train_dataset()
        self.eval_dataset = self.create_eval_dataset()
        self.exclude_batch_keys_from_device = self.train_dataset.exclude_batch_keys_from_device
        DataManager.__init__(self)  # calls setup_train and setup_eval
        # ns-train sets up its datamanager in "val" mode; eval_setup (every other tool) in "test" or "inference".
        if test_mode != "val":
            for sampler in (self.train_pixel_sampler, self.eval_pixel_sampler):
                if sampler is not None:
                    sampler.generator = torch.Generator().manual_seed(TOOL_RAYS_SEED)
        self.exporters_aim_at_masks = True
        """Whether exporters' pixels are drawn inside the images' masks: right where each ray renders its own image's
        identity (the model's default); the pipeline turns it off when the model shows chosen identities instead,
        whose silhouettes the masks do not give."""

    def create_train_dataset(self) -> StoredImageDataset:
        return StoredImageDataset(self.train_dataparser_outputs, scale_factor=self.config.camera_res_scale_factor)

    def create_eval_dataset(self) -> StoredImageDataset:
        return StoredImageDataset(
            self.dataparser.get_dataparser_outputs(split=self.test_split),
            scale_factor=self.config.camera_res_scale_factor,
        )

    def _pixel_sampler(self, num_rays_per_batch: int) -> IdentityBatchPixelSampler:
        return self.config.pixel_sampler.setup(num_rays_per_batch=num_rays_per_batch)

    def setup_train(self) -> None:
        self.train_pixel_sampler = self._pixel_sampler(self.config.train_num_rays_per_batch)
        self.train_ray_generator = RayGenerator(self.train_dataset.cameras.to(self.device))

    def setup_eval(self) -> None:
        self.eval_pixel_sampler = self._pixel_sampler(self.config.eval_num_rays_per_batch)
        self.eval_ray_generator = RayGenerator(self.eval_dataset.cameras.to(self.device))
        # Whole images (ns-eval, the trainer's image evaluations), read one at a time as nerfstudio's loaders ask.
        self.fixed_indices_eval_dataloader = FixedIndicesEvalDataloader(self.eval_dataset, device=self.device)
        self.eval_dataloader = RandIndicesEvalDataloader(self.eval_dataset, device=self.device)

    def next_train(self, step: int) -> tuple[RayBundle, dict]:
        self.train_count += 1
        if self.test_mode == "val":
            return self._identity_batch(self.train_dataset, self.train_pixel_sampler, self.train_ray_generator)
        return self._exporters_batch()

    def next_eval(self, step: int) -> tuple[RayBundle, dict]:
        self.eval_count += 1
        return self._identity_batch(self.eval_dataset, self.eval_pixel_sampler, self.eval_ray_generator)

    def _identity_batch(
        self, dataset: StoredImageDataset, sampler: IdentityBatchPixelSampler, ray_generator: RayGenerator
    ) -> tuple[RayBundle, dict]:
        """Rays (through pixel centres) and targets of the pixels ``sampler`` draws."""
        batch = self._identity_pixels(dataset, sampler, inside_masks=False)
        return ray_generator(batch["indices"].to(self.device)), batch

    def _identity_pixels(
        self, dataset: StoredImageDataset, sampler: IdentityBatchPixelSampler, inside_masks: bool
    ) -> dict:
        """The pixels ``sampler`` draws (inside the images' masks if ``inside_masks``) and their targets, in the form
        nerfstudio's pixel samplers give them: ``image`` and ``mask`` (on the CPU) and ``indices`` (image, row,
        column)."""
        images = sampler.sample_images(len(dataset))
        data = [dataset.get_data(int(image)) for image in images]
        masks = [item.get("mask") for item in data] if inside_masks else None
        indices = sampler.sample_pixels(images, [tuple(item["image"].shape[:2]) for item in data], masks)
        rows = [indices[indices[:, 0] == image, 1:] for image in images]
        batch = {
            key: torch.cat([item[key][pixels[:, 0], pixels[:, 1]] for item, pixels in zip(data, rows, strict=True)])
            for key in ("image", "mask")
            if key in data[0]
        }
        batch["indices"] = indices
        return batch

    def _exporters_batch(self) -> tuple[RayBundle, dict]:
        """Rays for exporters: pixels inside the training images' masks (see ``exporters_aim_at_masks``), each ray
        through a random point of its pixel.

        Through pixel centres, a run of small images has few distinct rays (24 images of 32^2 pixels: under 25,000),
        so a million points would be each point many times over, and ns-export's outlier removal, which measures each
        point's distance to its 20 nearest neighbours, then finds every point that is not a duplicate an outlier.
        """
        batch = self._identity_pixels(self.train_dataset, self.train_pixel_sampler, self.exporters_aim_at_masks)
        indices = batch["indices"]
        coords = indices[:, 1:].float() + torch.rand(len(indices), 2, generator=self.train_pixel_sampler.generator)
        cameras = self.train_dataset.cameras.to(self.device)
        ray_bundle = cameras.generate_rays(camera_indices=indices[:, :1].to(self.device), coords=coords.to(self.device))
        return ray_bundle, batch
