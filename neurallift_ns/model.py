"""The ``neurallift`` model: wires NeuralLift-360's field, view looks and guidance, and sums their weighted losses.

Each training step is a reference step (the photo's view, supervised by the photo, its mask and the rough depth's
order) or a sampled step (views around the object, supervised by the guidance and regularisers); the datamanager says
which in ``batch["is_reference"]``. Before rendering, :meth:`NeuralLiftModel.prepare_rays` writes how each view looks
into its rays (:mod:`neurallift_ns.view_rendering`), and the pixel gradients of photo and prior are watched by
:class:`~neurallift_ns.prior_balance.PriorBalanceMonitor`.

Sampling is nerfacto's proposal networks (two small hash-grid density fields) inside the scene box: a handful of
samples per ray where the object is, so a 128^2 view renders with small memory on a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Dict, List, Literal, Tuple, Type

import numpy as np
import torch
from nerfstudio.cameras.rays import RayBundle
from nerfstudio.engine.callbacks import TrainingCallback, TrainingCallbackAttributes, TrainingCallbackLocation
from nerfstudio.field_components.field_heads import FieldHeadNames
from nerfstudio.fields.density_fields import HashMLPDensityField
from nerfstudio.model_components.losses import distortion_loss, interlevel_loss, orientation_loss
from nerfstudio.model_components.ray_samplers import ProposalNetworkSampler
from nerfstudio.model_components.renderers import AccumulationRenderer, DepthRenderer, NormalsRenderer
from nerfstudio.model_components.scene_colliders import AABBBoxCollider
from nerfstudio.models.base_model import Model, ModelConfig
from nerfstudio.utils import colormaps
from nerfstudio.viewer.viewer_elements import ViewerNumber
from torch import Tensor, nn

from lift_common.errors import UserInputError
from lift_common.marching_cubes import MarchingCubesSupport
from lift_common.metrics import ImageQualityMetrics, psnr
from lift_common.object_field import ObjectField
from lift_common.ray_chunks import forward_in_chunks
from lift_common.tcnn import field_implementation
from neurallift_ns import losses, view_rendering
from neurallift_ns.field import BackgroundField, NeuralLiftField
from neurallift_ns.guidance.base import Guidance
from neurallift_ns.guidance.guidance_configs import AnnotatedGuidanceUnion, option_prefix
from neurallift_ns.guidance.stable_diffusion_guidance import StableDiffusionGuidanceConfig
from neurallift_ns.prior_balance import PriorBalanceMonitor
from neurallift_ns.view_rendering import SHADING_KEY, reference_view_looks, sampled_view_looks

IS_REFERENCE_KEY = "is_reference"
"""The batch key, set by the datamanager, that says whether a step is a reference step (True) or a sampled one."""


@dataclass
class NeuralLiftModelConfig(ModelConfig):
    """NeuralLift-360 model. Loss weights default to the paper's configuration where it states them."""

    _target: Type = field(default_factory=lambda: NeuralLiftModel)
    enable_collider: bool = False
    """Rays are clipped to the scene box instead of fixed near and far planes."""
    near_plane: float = 0.05
    """No sample is closer to the camera than this."""
    # Field.
    num_levels: int = 16
    """Levels of the hash grid."""
    base_res: int = 16
    """Resolution of the coarsest hash-grid level."""
    max_res: int = 1024
    """Resolution of the finest hash-grid level."""
    log2_hashmap_size: int = 19
    """Log2 of the number of entries in each hash table."""
    features_per_level: int = 2
    """Features stored per hash-grid entry."""
    hidden_dim: int = 64
    """Width of the density MLP."""
    hidden_dim_color: int = 64
    """Width of the albedo MLP."""
    blob_density: float = 5.0
    """Log-density added at the centre, falling linearly through zero at ``blob_radius`` (the paper's blob_density)."""
    blob_radius: float = 0.5
    """Radius of that density blob, in scene units (the object fits in [-1, 1]^3)."""
    blob_fade_steps: int | None = None
    """Steps over which the blob fades out linearly; None keeps it all through training, as stable-dreamfusion
    (nerf/network_grid.py, density_blob on every step) and threestudio (implicit_volume.py, density_bias
    "blob_magic3d") do; measured with a trained prior on cups, bottles and boxes: silhouette IoU +0.01 to +0.14, a
    quarter to a half of the haze (docs/miniature-priors.md, "The blob kept by default", "A class the blob does not
    fit")."""
    normal_epsilon: float = 1e-2
    """Step of the finite differences that give normals, in scene units."""
    surface_density: float = 10.0
    """Density at which ns-export marching-cubes draws the object's surface."""
    implementation: Literal["auto", "tcnn", "torch"] = "auto"
    """Hash grid and MLP implementation: ``auto`` picks tiny-cuda-nn when it is installed and a GPU is visible."""
    # Sampling.
    num_proposal_samples_per_ray: Tuple[int, ...] = (96, 48)
    """Samples per ray of each proposal network, coarsest first."""
    num_nerf_samples_per_ray: int = 48
    """Samples per ray evaluated by the field."""
    proposal_update_every: int = 5
    """Proposal networks are updated every this many steps once warmed up."""
    proposal_warmup: int = 1000
    """Steps over which the proposal update interval grows to ``proposal_update_every``."""
    proposal_weights_anneal_max_num_iters: int = 1000
    """Steps over which proposal weights are annealed (mip-NeRF 360, eq. 18)."""
    proposal_weights_anneal_slope: float = 10.0
    """Slope of that annealing."""
    proposal_net_args_list: List[Dict] = field(
        default_factory=lambda: [
            {"hidden_dim": 16, "log2_hashmap_size": 17, "num_levels": 5, "max_res": 128, "use_linear": False},
            {"hidden_dim": 16, "log2_hashmap_size": 17, "num_levels": 5, "max_res": 256, "use_linear": False},
        ]
    )
    """Arguments of each proposal network."""
    # Shading and background of sampled views, where the prior takes them (zero123 and joint show theirs albedo on
    # white: their guidance's albedo-on-white option).
    shading_start_step: int = 400
    """Sampled views are albedo only before this step (the paper's albedo_iters)."""
    shading_probabilities: Tuple[float, float, float] = (0.25, 0.375, 0.375)
    """Chances of albedo, lambertian and textureless shading for a sampled view (the paper: p_albedo 0.25,
    textureless half of the rest)."""
    ambient: float = 0.1
    """Ambient light in lambertian and textureless shading."""
    p_random_background: float = 0.75
    """Chance that a sampled view is seen against a random flat colour (the paper's p_randbg)."""
    random_background_range: Tuple[float, float] = (0.2, 0.8)
    """Range of each channel of that random colour; textureless views never get one (NeuralLift-360's released code:
    U[0.2, 0.8], not on textureless views, which a flat dark colour would leave with nothing to see)."""
    background: Literal["network", "white"] = "network"
    """Background of sampled views otherwise: the background network of ray direction, or white."""
    # Reference-view losses. The balance against the prior follows stable-dreamfusion's text+image recipe (see
    # docs/neurallift_prior_defaults.md): NeuralLift-360's released weights were balanced against a prior that its
    # fp16 gradient scaler had all but switched off.
    lambda_rgb: float = 1000.0
    """Weight of the reference view's RGB loss, a plain mean squared error over the whole view with the photo on white
    (stable-dreamfusion: lambda_rgb 1000; Magic123: 1000)."""
    lambda_mask: float = 500.0
    """Weight of the reference view's mask loss (stable-dreamfusion: lambda_mask 500)."""
    lambda_depth_ranking: float = 10.0
    """Weight of the depth ranking loss on the reference view (NeuralLift-360's released code: a hard-coded 10; the
    references use no ranking loss, stable-dreamfusion weighs its depth correlation loss 10)."""
    num_depth_pairs: int = 4096
    """Pixel pairs the depth ranking loss compares per reference step."""
    depth_ranking_margin: float = 1e-4
    """Margin of the depth ranking loss, in scene units."""
    depth_tie_threshold: float = 0.01
    """Pairs whose rough depths differ by less than this fraction of the object's depth range are skipped."""
    lambda_depth_smoothness: float = 0.01
    """Weight of the edge-aware depth smoothness on the reference view."""
    reference_smoothness_amplify: float = 5.0
    """Multiplies the depth smoothness on the reference view (the paper's front_dsmooth_amplify)."""
    reference_distortion_amplify: float = 10.0
    """Multiplies the distortion loss on reference steps (NeuralLift-360's front_dist_amplify, which multiplies the
    distortion loss, not the depth ranking loss)."""
    # Sampled-view losses.
    guidance: AnnotatedGuidanceUnion = field(default_factory=StableDiffusionGuidanceConfig)
    """The prior that supervises sampled views: stable-diffusion, zero123 or joint (a subcommand, after the other
    options; its own options follow it)."""
    lambda_guidance: float | None = None
    """Weight of the prior's loss beside the photo's, applied here and only here (the guidance's loss comes unweighted;
    joint's own weights share it between its two); 0 turns the prior off (nothing is loaded) and fits the photo alone.
    Unset (None), each prior's own: 0.1 for stable-diffusion, zero123 and joint (where each comes from: the
    prior's default_weight, docs/neurallift_prior_defaults.md)."""
    lambda_orientation: float = 10.0
    """Weight of the orientation loss on normals facing away from the camera (the paper's lambda_orient)."""
    lambda_opacity: float = 1e-3
    """Weight of the mean opacity of sampled views (the paper's lambda_opacity)."""
    lambda_entropy: float = 0.0
    """Weight of the opacity entropy of sampled views (the paper's lambda_entropy)."""
    # Every step.
    lambda_distortion: float = 0.1
    """Weight of the mip-NeRF 360 distortion loss (the paper's distortion)."""
    lambda_interlevel: float = 1.0
    """Weight of the proposal networks' interlevel loss."""

    sdf_field = MarchingCubesSupport()  # lets ns-export marching-cubes extract the density isosurface

    def guidance_weight(self) -> float:
        """``lambda_guidance``, or the prior's own default weight where it is unset."""
        return self.guidance.default_weight() if self.lambda_guidance is None else self.lambda_guidance


class NeuralLiftModel(Model):
    """NeuralLift-360 model."""

    config: NeuralLiftModelConfig

    def populate_modules(self) -> None:
        super().populate_modules()
        implementation = self.config.implementation
        implementation = field_implementation() if implementation == "auto" else implementation
        aabb = self.scene_box.aabb
        self.field = NeuralLiftField(
            aabb,
            num_levels=self.config.num_levels,
            base_res=self.config.base_res,
            max_res=self.config.max_res,
            log2_hashmap_size=self.config.log2_hashmap_size,
            features_per_level=self.config.features_per_level,
            hidden_dim=self.config.hidden_dim,
            hidden_dim_color=self.config.hidden_dim_color,
            blob_density=self.config.blob_density,
            blob_radius=self.config.blob_radius,
            normal_epsilon=self.config.normal_epsilon,
            surface_density=self.config.surface_density,
            implementation=implementation,
        )
        self.background_field = BackgroundField(implementation=implementation)
        self.proposal_networks = nn.ModuleList(
            [
                HashMLPDensityField(aabb, implementation=implementation, **args)
                for args in self.config.proposal_net_args_list
            ]
        )
        self.density_fns = [network.density_fn for network in self.proposal_networks]

        def update_schedule(step: int) -> int:
            ramp = np.interp(step, [0, self.config.proposal_warmup], [0, self.config.proposal_update_every])
            return int(np.clip(ramp, 1, self.config.proposal_update_every))

        self.proposal_sampler = ProposalNetworkSampler(
            num_nerf_samples_per_ray=self.config.num_nerf_samples_per_ray,
            num_proposal_samples_per_ray=self.config.num_proposal_samples_per_ray,
            num_proposal_network_iterations=len(self.config.proposal_net_args_list),
            single_jitter=True,
            update_sched=update_schedule,
        )
        self.collider = AABBBoxCollider(self.scene_box, near_plane=self.config.near_plane)
        self.renderer_accumulation = AccumulationRenderer()
        self.renderer_depth = DepthRenderer(method="expected")
        self.renderer_normals = NormalsRenderer()
        self.step = 0
        self._generator = torch.Generator().manual_seed(0)  # sampled views' looks and the depth ranking's pairs
        self.prior_balance = PriorBalanceMonitor()
        # Read-only: the viewer shows the balance of prior against photo as training goes on.
        self.viewer_prior_balance = ViewerNumber(
            "Prior / photo gradient",
            0.0,
            disabled=True,
            hint="Norm of the prior's gradient on sampled views' pixels over the photo loss's on the reference view's",
        )
        # Kept out of the module tree, so out of checkpoints: LPIPS's AlexNet and the guidance's networks.
        self.__dict__["image_metrics"] = ImageQualityMetrics()

    # A cached_property, not a property: nerfstudio's viewer reads every plain property of the pipeline's modules
    # while it looks for viewer controls, which would load Stable Diffusion in `ns-viewer`; it skips cached ones.
    # The value lands in the instance __dict__, outside the module tree, so outside checkpoints.
    @cached_property
    def guidance(self) -> Guidance:
        """The guidance, built on first use (never by commands that do not train)."""
        if self.config.prompt:  # nerfstudio's ModelConfig.prompt (``--prompt``), which a text prompt here is not
            raise UserInputError(
                "The prompt is an option of the prior that reads one: `ns-train neurallift --data photo.png "
                'stable-diffusion --prompt "..."` (or `joint --stable-diffusion.prompt "..."`), not --prompt.'
            )
        return self.config.guidance.setup(
            device=self.device,
            model_metadata=self.kwargs.get("metadata", {}),
            option_prefix=option_prefix(self.config.guidance),
        )

    def get_param_groups(self) -> dict[str, list[nn.Parameter]]:
        grid = list(self.field.encoding.parameters())
        grid_ids = {id(parameter) for parameter in grid}
        return {
            "proposal_networks": list(self.proposal_networks.parameters()),
            "hash_grid": grid,
            "mlps": [p for p in self.field.parameters() if id(p) not in grid_ids]
            + list(self.background_field.parameters()),
        }

    def get_training_callbacks(
        self, training_callback_attributes: TrainingCallbackAttributes
    ) -> List[TrainingCallback]:
        # The trainer's loss scaler, to unscale the pixel gradients the balance is measured on.
        self.prior_balance.grad_scaler = getattr(training_callback_attributes, "grad_scaler", None)

        def before_step(step: int) -> None:
            if self.config.guidance_weight() > 0:
                _ = self.guidance  # loaded before the first step, so a missing model stops the run at once
            self.update_to_step(step)

        def after_step(step: int) -> None:
            ratio = self.prior_balance.take_new_ratio()
            if ratio is not None:
                self.viewer_prior_balance.value = ratio

        return [
            TrainingCallback([TrainingCallbackLocation.BEFORE_TRAIN_ITERATION], before_step),
            TrainingCallback([TrainingCallbackLocation.AFTER_TRAIN_ITERATION], self.proposal_sampler.step_cb),
            TrainingCallback([TrainingCallbackLocation.AFTER_TRAIN_ITERATION], after_step),
        ]

    def update_to_step(self, step: int) -> None:
        """Set what follows the training step: the blob's fade and the proposal weights' anneal.

        Training calls it before every step; nerfstudio calls it when it loads a checkpoint, so ``ns-viewer``,
        ``ns-eval`` and ``ns-export`` render the model training had at that step (not one with the blob at full
        strength, which hides the density the learnt field has outside the object).
        """
        self.step = step
        fade_steps = self.config.blob_fade_steps
        self.field.blob_scale = 1.0 if fade_steps is None else max(0.0, 1.0 - step / max(1, fade_steps))
        fraction = float(np.clip(step / self.config.proposal_weights_anneal_max_num_iters, 0.0, 1.0))
        slope = self.config.proposal_weights_anneal_slope
        self.proposal_sampler.set_anneal(slope * fraction / ((slope - 1.0) * fraction + 1.0))

    def prepare_rays(self, ray_bundle: RayBundle, batch: dict) -> RayBundle:
        """``ray_bundle`` with how each of this step's views looks written into its rays (see
        :mod:`neurallift_ns.view_rendering`); the renderer reads it back, and the shading reaches the guidance through
        the outputs."""
        config = self.config
        if batch[IS_REFERENCE_KEY]:
            return reference_view_looks().write_into(ray_bundle, needs_normals=False)
        cameras = batch.get("cameras")
        albedo_on_white = config.guidance.shows_albedo_on_white()
        looks = sampled_view_looks(
            batch.get("num_views", 1),
            cameras.camera_to_worlds[:, :, 3] if cameras is not None else None,
            shaded=self.step >= config.shading_start_step and not albedo_on_white,
            shading_probabilities=config.shading_probabilities,
            p_random_background=0.0 if albedo_on_white else config.p_random_background,
            random_background_range=config.random_background_range,
            background_network=config.background == "network" and not albedo_on_white,
            generator=self._generator,
        )
        return looks.write_into(ray_bundle, needs_normals=config.lambda_orientation > 0)

    def forward(self, ray_bundle: RayBundle) -> dict[str, Tensor]:
        """Outside training, large batches (ns-export's) are rendered in chunks of ``eval_num_rays_per_chunk``."""
        if self.training:
            return super().forward(ray_bundle)
        return forward_in_chunks(super().forward, ray_bundle, self.config.eval_num_rays_per_chunk)

    def get_outputs(self, ray_bundle: RayBundle) -> dict[str, Tensor]:
        ray_samples, weights_list, ray_samples_list = self.proposal_sampler(ray_bundle, density_fns=self.density_fns)
        field_outputs = self.field(ray_samples)
        density, albedo = field_outputs[FieldHeadNames.DENSITY], field_outputs[FieldHeadNames.RGB]
        weights = ray_samples.get_weights(density)
        weights_list.append(weights)
        ray_samples_list.append(ray_samples)

        metadata = ray_bundle.metadata or {}
        needs_normals = view_rendering.needs_normals(metadata)
        normals = self.field.normals_at(ray_samples.frustums.get_positions()) if needs_normals else None
        colour = view_rendering.shade_samples(albedo, normals, metadata, self.config.ambient)
        accumulation = self.renderer_accumulation(weights)
        foreground = (weights * colour).sum(dim=-2)
        background = view_rendering.background_colours(
            metadata, foreground, lambda: self.background_field(ray_bundle.directions)
        )
        outputs = {
            "rgb": foreground + (1.0 - accumulation) * background,
            "accumulation": accumulation,
            "depth": self.renderer_depth(weights, ray_samples),
        }
        if normals is not None:
            outputs["normals"] = (self.renderer_normals(normals, weights) + 1.0) / 2.0
        elif not self.training:
            # One normal per ray, at its rendered depth, instead of one per sample: finite differences cost 6 density
            # evaluations a point, which at every sample made ns-export's 32k-ray batches 7 times the field's work.
            surface = ray_bundle.origins + ray_bundle.directions * outputs["depth"].detach()
            outputs["normals"] = (self.field.normals_at(surface) + 1.0) / 2.0
        if self.training:
            outputs["weights_list"] = weights_list
            outputs["ray_samples_list"] = ray_samples_list
            if normals is not None:
                outputs["orientation"] = orientation_loss(weights.detach(), normals, ray_bundle.directions)
            if SHADING_KEY in metadata:
                outputs[SHADING_KEY] = metadata[SHADING_KEY]  # for the guidance, which is told each view's shading
        return outputs

    def object_field(self) -> ObjectField:
        """The object's density and albedo (the albedo MLP: no shading, no background) for mesh exporters."""
        field = self.field

        def density(positions: Tensor) -> Tensor:
            return field.density_at(positions)[..., 0]

        def albedo(positions: Tensor) -> Tensor:
            _, features = field.log_density(positions)
            return field.albedo_mlp(features.reshape(-1, field.geo_feat_dim)).reshape(*positions.shape[:-1], 3).float()

        return ObjectField(
            density=density,
            albedo=albedo,
            box=self.scene_box.aabb.detach().cpu().float(),
            surface_density=float(self.config.surface_density),
            device=self.device,
        )

    def get_rgba_image(self, outputs: dict[str, Tensor], output_name: str = "rgb") -> Tensor:
        """The object's colour with its opacity as alpha (what ``ns-export`` colours points with).

        Renders outside training are composited on white, so the object's own colour is recovered by removing it.
        """
        accumulation = outputs[output_name.replace("rgb", "accumulation")]
        colour = (outputs[output_name] - (1.0 - accumulation)) / accumulation.clamp(min=1e-6)
        return torch.cat([colour.clamp(0.0, 1.0), accumulation], dim=-1)

    def get_metrics_dict(self, outputs, batch) -> dict[str, Tensor]:
        metrics = {}
        if "image" in batch:  # a ground-truth photo to compare with: reference steps and evaluation batches
            metrics["psnr"] = psnr(outputs["rgb"].detach(), batch["image"])
        return metrics

    def get_loss_dict(self, outputs, batch, metrics_dict=None) -> dict[str, Tensor]:
        config = self.config
        is_reference = batch[IS_REFERENCE_KEY]
        loss = {}
        if self.training:
            loss["interlevel"] = config.lambda_interlevel * interlevel_loss(
                outputs["weights_list"], outputs["ray_samples_list"]
            )
            amplify = config.reference_distortion_amplify if is_reference else 1.0
            loss["distortion"] = (
                amplify
                * config.lambda_distortion
                * distortion_loss(outputs["weights_list"], outputs["ray_samples_list"])
            )
        if self.training and metrics_dict is not None and outputs["rgb"].requires_grad:
            self.prior_balance.watch(outputs["rgb"], is_reference, metrics_dict)
        if is_reference:
            loss.update(self._reference_losses(outputs, batch))
        elif self.training:
            loss.update(self._sampled_view_losses(outputs, batch, metrics_dict))
        return loss

    def _reference_losses(self, outputs: dict, batch: dict) -> dict[str, Tensor]:
        config = self.config
        image = batch["image"].to(self.device)
        # The photo on white against the render on white, over the whole view (stable-dreamfusion's and Magic123's).
        rgb = {"rgb": config.lambda_rgb * torch.mean((outputs["rgb"] - image) ** 2)}
        if "mask" not in batch:  # evaluation batches
            return rgb
        mask = batch["mask"].to(self.device)
        rough_depth = batch["depth"].to(self.device)
        loss = {
            **rgb,
            "mask": config.lambda_mask * losses.mask_loss(outputs["accumulation"], mask),
            "depth_ranking": config.lambda_depth_ranking
            * losses.depth_ranking_loss(
                outputs["depth"],
                rough_depth,
                mask,
                config.num_depth_pairs,
                config.depth_ranking_margin,
                config.depth_tie_threshold,
                generator=self._generator,
            ),
        }
        if config.lambda_depth_smoothness > 0 and "image_shape" in batch:
            height, width = batch["image_shape"]
            loss["depth_smoothness"] = (
                config.lambda_depth_smoothness
                * config.reference_smoothness_amplify
                * losses.edge_aware_depth_smoothness(
                    outputs["depth"].reshape(height, width, 1),
                    image.reshape(height, width, 3),
                    mask.reshape(height, width, 1),
                )
            )
        return loss

    def _sampled_view_losses(self, outputs: dict, batch: dict, metrics_dict: dict | None) -> dict[str, Tensor]:
        config = self.config
        loss = {
            "opacity": config.lambda_opacity * losses.opacity_sparsity_loss(outputs["accumulation"]),
        }
        if config.lambda_entropy > 0:
            loss["entropy"] = config.lambda_entropy * losses.opacity_entropy_loss(outputs["accumulation"])
        if "orientation" in outputs and config.lambda_orientation > 0:
            loss["orientation"] = config.lambda_orientation * outputs["orientation"].mean()
        weight = config.guidance_weight()
        if "cameras" in batch and weight > 0:
            height, width = batch["image_shape"]
            num_views = batch["num_views"]
            images = outputs["rgb"].reshape(num_views, height, width, 3)
            shading = (
                outputs[SHADING_KEY].reshape(num_views, -1)[:, 0]
                if SHADING_KEY in outputs
                else torch.zeros_like(batch["directions"])
            )
            guided = self.guidance(images, batch["cameras"], batch["directions"], shading, self.step)
            loss["guidance"] = weight * guided.loss
            if metrics_dict is not None:
                metrics_dict.update({f"guidance/{name}": value for name, value in guided.diagnostics.items()})
        return loss

    def get_image_metrics_and_images(
        self, outputs: dict[str, Tensor], batch: dict[str, Tensor]
    ) -> tuple[dict[str, float], dict[str, Tensor]]:
        depth = colormaps.apply_depth_colormap(outputs["depth"], accumulation=outputs["accumulation"])
        accumulation = colormaps.apply_colormap(outputs["accumulation"])
        normals = outputs.get("normals", torch.zeros_like(outputs["rgb"]))
        if "image" not in batch:  # an evaluation orbit view: images for the logs, no ground truth to score against
            return {}, {"novel_view": torch.cat([outputs["rgb"], normals, depth, accumulation], dim=1)}
        image = batch["image"].to(outputs["rgb"].device)
        metrics = self.image_metrics.all(image, outputs["rgb"])
        images = {"img": torch.cat([image, outputs["rgb"]], dim=1), "accumulation": accumulation, "depth": depth}
        images["normals"] = normals
        return metrics, images
