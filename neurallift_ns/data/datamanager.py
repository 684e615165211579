"""Batches for NeuralLift-360: the reference view with its photo, mask and depth, or sampled views around the object.

Each training step is one or the other: after a short warm-up on the photo alone, one step in
``reference_step_interval`` is a reference step (stable-dreamfusion's ``known_view_interval``), so the photo is seen
at a fixed rate all through training and the prior can never starve it. Every batch says which in
``batch["is_reference"]``, the one place the model learns a step's kind (evaluation batches are the photo's pixels:
reference).

Outside training (``ns-export``, ``ns-eval``: test modes "test" and "inference"), ``next_train`` returns rays from
cameras all around the object, so exported point clouds and meshes cover every side, not only the photo's. Each ray is
aimed through a random point inside the object (:mod:`lift_common.object_targets`, from the field the pipeline hands
over), so nearly every ray ends on the surface and ``ns-export pointcloud`` / ``poisson`` need few batches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Dict, Literal, Tuple, Type

import numpy as np
import torch
from nerfstudio.cameras.cameras import Cameras
from nerfstudio.cameras.rays import RayBundle
from nerfstudio.data.datamanagers.base_datamanager import VanillaDataManager, VanillaDataManagerConfig

from lift_common.cameras import pixel_coordinates
from lift_common.images import composite_on_white
from lift_common.object_field import ObjectField
from lift_common.object_targets import ObjectTargets
from neurallift_ns.data.orbit_views import (
    OrbitViewsConfig,
    ReferenceView,
    orbit_cameras,
    sample_orbit_views,
    view_major_rays,
)
from neurallift_ns.data.photo_dataparser import NeuralLiftPhotoDataParserConfig

EXPORT_ELEVATION_SCALE = 0.9
"""Exporters' cameras have elevations drawn uniformly over the sphere (an arcsine of a uniform number, in [-90, 90]
degrees) and then scaled by this, so none is within 9 degrees of a pole: straight above or below the object the
look-at frame's right vector vanishes (:func:`lift_common.cameras.look_at_camera_to_world` falls back to another up
vector there), and the object's top and bottom are still seen from 81 degrees. The commit that added the factor gave
no reason; this is what it does."""


@dataclass
class NeuralLiftDataManagerConfig(VanillaDataManagerConfig):
    """Reference view and sampled orbit views of one photo's object."""

    _target: Type = field(default_factory=lambda: NeuralLiftDataManager)
    dataparser: NeuralLiftPhotoDataParserConfig = field(default_factory=NeuralLiftPhotoDataParserConfig)
    """The photo and its reference camera."""
    reference_resolution: int = 128
    """Side of the reference view rendered in a reference step, in pixels."""
    reference_patch_size: int = 0
    """If positive and smaller than the reference resolution, a reference step renders a random square patch of this
    side instead of the whole view (keeps memory bounded at large resolutions)."""
    sampled_resolution: int = 128
    """Side of each sampled view rendered in a sampled step, in pixels."""
    sampled_views_per_step: int = 1
    """Sampled views rendered together in one sampled step."""
    orbit: OrbitViewsConfig = field(default_factory=OrbitViewsConfig)
    """Where sampled views come from."""
    reference_only_steps: int = 100
    """Warm-up steps that train on the reference view only (the object's front takes shape before the prior sees
    it; stable-dreamfusion has no warm-up, NeuralLift-360's released code none either: ours is short and harmless)."""
    reference_step_interval: int = 2
    """After the warm-up, one step in this many is a reference step, the others sampled steps (stable-dreamfusion's
    known_view_interval, set to 2 in its image mode: main.py)."""
    num_eval_orbit_views: int = 8
    """Views evenly spaced around the object that evaluation renders for the logs (no ground truth)."""
    eval_orbit_resolution: int = 128
    """Side of those evaluation views, in pixels."""


def is_reference_step(step: int, config: NeuralLiftDataManagerConfig) -> bool:
    """Whether training step ``step`` is a reference step."""
    if step < config.reference_only_steps:
        return True
    return (step - config.reference_only_steps) % max(1, config.reference_step_interval) == 0


def _resize(image: torch.Tensor, size: int, mode: str) -> torch.Tensor:
    """``[H, W, C]`` to ``[size, size, C]``; area averaging when shrinking."""
    if image.shape[0] == size:
        return image
    nchw = image.permute(2, 0, 1)[None]
    if mode == "area" and size > image.shape[0]:
        mode = "bilinear"  # area averaging only shrinks
    resized = torch.nn.functional.interpolate(nchw, size=(size, size), mode=mode)
    return resized[0].permute(1, 2, 0)


class NeuralLiftDataManager(VanillaDataManager):
    """Yields a reference step or a sampled-views step each training step; see the module docstring."""

    config: NeuralLiftDataManagerConfig

    def __init__(
        self,
        config: NeuralLiftDataManagerConfig,
        device: torch.device | str = "cpu",
        test_mode: Literal["test", "val", "inference"] = "val",
        world_size: int = 1,
        local_rank: int = 0,
        **kwargs,
    ):
        super().__init__(config, device, test_mode, world_size, local_rank, **kwargs)
        self._load_reference()
        # Where sampled views come from: the configured orbit, until the pipeline sets the one its prior needs.
        self.orbit = config.orbit
        self._eval_image_count = 0
        # Each rank draws its own views; seeded so a run is repeatable.
        self._generator = torch.Generator().manual_seed(1234 + local_rank)
        self.object_field: Callable[[], ObjectField] | None = None
        """The trained object, for aiming exporters' rays; set by the pipeline, read at the first export batch (after
        the checkpoint has loaded)."""
        self._object_targets: ObjectTargets | None = None

    def _load_reference(self) -> None:
        """Photo (on white), mask and depth at the reference resolution, on the training device."""
        from PIL import Image

        metadata = self.train_dataparser_outputs.metadata
        mask = torch.from_numpy(np.array(Image.open(metadata["mask_path"]))).float()[..., None] / 255
        depth = torch.from_numpy(np.load(metadata["depth_path"])).float()[..., None]
        size = self.config.reference_resolution
        rgb = torch.from_numpy(composite_on_white(self.train_dataparser_outputs.image_filenames[0]))
        self.reference_rgb = _resize(rgb, size, "area").to(self.device)
        self.reference_mask = (_resize(mask, size, "area") >= 0.5).float().to(self.device)
        self.reference_depth = _resize(depth, size, "bilinear").to(self.device)
        cameras = self.train_dataparser_outputs.cameras
        self.reference_camera: Cameras = reference_camera_at_resolution(cameras, size).to(self.device)

    def _reference_step(self) -> Tuple[RayBundle, Dict]:
        size = self.config.reference_resolution
        patch = self.config.reference_patch_size
        if 0 < patch < size:
            top, left = (int(v) for v in torch.randint(0, size - patch + 1, (2,), generator=self._generator))
            rows, cols = slice(top, top + patch), slice(left, left + patch)
        else:
            rows, cols = slice(0, size), slice(0, size)
        y, x = torch.meshgrid(
            torch.arange(size, device=self.device)[rows], torch.arange(size, device=self.device)[cols], indexing="ij"
        )
        # Each ray at a random point of its pixel, not its centre: rays fixed at the centres let a prior that
        # disagrees with the photo paint between them (the photo then holds only at this one resolution). The
        # target is the pixel's area average, which is what a ray anywhere in the pixel should see on average.
        jitter = torch.rand((*y.shape, 2), generator=self._generator).to(self.device)
        coords = torch.stack([y, x], dim=-1).float() + jitter
        ray_bundle = self.reference_camera.generate_rays(camera_indices=0, coords=coords).flatten()
        height, width = y.shape
        batch = {
            "is_reference": True,
            "image": self.reference_rgb[rows, cols].reshape(-1, 3),
            "mask": self.reference_mask[rows, cols].reshape(-1, 1),
            "depth": self.reference_depth[rows, cols].reshape(-1, 1),
            "image_shape": (height, width),
        }
        return ray_bundle, batch

    @property
    def reference_view(self) -> ReferenceView:
        """Where the photo's camera is."""
        dataparser = self.config.dataparser
        return ReferenceView(
            dataparser.reference_elevation_deg, dataparser.reference_radius, dataparser.reference_fov_deg
        )

    def _sampled_step(self, step: int) -> Tuple[RayBundle, Dict]:
        num = self.config.sampled_views_per_step
        size = self.config.sampled_resolution
        views = sample_orbit_views(
            num, size, self.orbit, step, reference=self.reference_view, generator=self._generator
        )
        cameras = views.cameras.to(self.device)
        ray_bundle = view_major_rays(cameras).flatten()  # [num * size * size] rays, view-major
        ray_bundle.camera_indices = torch.zeros_like(ray_bundle.camera_indices)  # the field has one image's worth
        batch = {
            "is_reference": False,
            "num_views": num,
            "image_shape": (size, size),
            "cameras": cameras,
            "directions": views.directions,
        }
        return ray_bundle, batch

    def _all_around_rays(self) -> Tuple[RayBundle, Dict]:
        """Rays of random cameras over the whole orbit (azimuth and elevation), for exporters: each through a random
        point inside the object where the pipeline has said where it is, else through a random pixel."""
        # ns-export sets the pixel sampler's batch size; in "inference" mode there is no sampler, so the config's.
        sampler = self.train_pixel_sampler
        num_rays = sampler.num_rays_per_batch if sampler is not None else self.config.train_num_rays_per_batch
        size = self.config.sampled_resolution
        azimuth = -180.0 + 360.0 * torch.rand(num_rays, generator=self._generator)
        uniform = 2.0 * torch.rand(num_rays, generator=self._generator) - 1.0
        elevation = torch.rad2deg(torch.asin(uniform)) * EXPORT_ELEVATION_SCALE
        radius = torch.full((num_rays,), self.config.dataparser.reference_radius)
        fov = torch.full((num_rays,), self.config.dataparser.reference_fov_deg)
        cameras = orbit_cameras(azimuth, elevation, radius, fov, size)
        if self._object_targets is None and self.object_field is not None:
            self._object_targets = ObjectTargets(self.object_field())
        if self._object_targets is not None:
            targets = self._object_targets.sample(num_rays, self._generator)
            intrinsics = (cameras.fx, cameras.fy, cameras.cx, cameras.cy)
            coords = pixel_coordinates(targets, cameras.camera_to_worlds, *intrinsics)
        else:
            coords = torch.rand(num_rays, 2, generator=self._generator) * size
        cameras = cameras.to(self.device)
        indices = torch.arange(num_rays, device=self.device)[:, None]
        ray_bundle = cameras.generate_rays(camera_indices=indices, coords=coords.to(self.device))
        ray_bundle = ray_bundle.flatten()
        ray_bundle.camera_indices = torch.zeros_like(ray_bundle.camera_indices)
        return ray_bundle, {"is_reference": False}

    def next_train(self, step: int) -> Tuple[RayBundle, Dict]:
        self.train_count += 1
        if self.test_mode != "val":
            return self._all_around_rays()
        if is_reference_step(step, self.config):
            return self._reference_step()
        return self._sampled_step(step)

    def next_eval(self, step: int) -> Tuple[RayBundle, Dict]:
        """Pixels of the photo's view with their colours (nerfstudio's), for the evaluation loss: a reference batch."""
        ray_bundle, batch = super().next_eval(step)
        return ray_bundle, {**batch, "is_reference": True}

    def next_eval_image(self, step: int) -> Tuple[Cameras, Dict]:
        """The reference view with its photo, then each evaluation orbit view in turn (without ground truth)."""
        slot = self._eval_image_count % (1 + self.config.num_eval_orbit_views)
        self._eval_image_count += 1
        if slot == 0:
            return super().next_eval_image(step)
        azimuth = 360.0 * (slot - 1) / self.config.num_eval_orbit_views
        return self.eval_orbit_cameras()[slot - 1 : slot], {"orbit_azimuth_deg": azimuth, "image_idx": 0}

    def eval_orbit_cameras(self) -> Cameras:
        """The evaluation orbit views: evenly spaced azimuths at the reference camera's elevation, radius and FOV."""
        num = self.config.num_eval_orbit_views
        dataparser = self.config.dataparser
        return orbit_cameras(
            torch.arange(num) * 360.0 / num,
            torch.full((num,), dataparser.reference_elevation_deg),
            torch.full((num,), dataparser.reference_radius),
            torch.full((num,), dataparser.reference_fov_deg),
            self.config.eval_orbit_resolution,
        ).to(self.device)


def reference_camera_at_resolution(cameras: Cameras, size: int) -> Cameras:
    """The reference camera rescaled to ``size`` x ``size`` pixels."""
    reference = cameras[0:1]
    return Cameras(
        camera_to_worlds=reference.camera_to_worlds,
        fx=reference.fx * size / reference.width,
        fy=reference.fy * size / reference.height,
        cx=torch.full_like(reference.cx, size / 2.0),
        cy=torch.full_like(reference.cy, size / 2.0),
        width=size,
        height=size,
        camera_type=reference.camera_type,
    )
