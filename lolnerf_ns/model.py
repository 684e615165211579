"""The ``lolnerf`` model: one NeRF for a whole class, conditioned on a learnt latent code per instance (GLO).

Each pixel is the foreground NeRF composited over a background network, both given the instance's code:
``C = C_fg + (1 - alpha_fg) * C_bg``. Foreground rays are clipped to the scene box ([-1, 1]^3) and rendered by
coarse uniform sampling plus importance sampling, both passes supervised as in NeRF.

Which code a ray renders:

1. an explicit code in the ray metadata (``LATENT_CODE_KEY``; lifting a new photo optimises one this way);
2. while training, and while the pipeline evaluates (``ns-eval``), the code of the ray's own image
   (``LATENT_INDEX_KEY``, written by the dataparsers);
3. otherwise the *displayed* identities: the viewer's controls while a viewer runs, else ``render_identities`` from
   the config. Several identities form a path that a camera's time (``render_time`` in a camera path) walks along.
   With ``render_identities`` empty, rays of the data's own cameras (``ns-export``, ``ns-render dataset``) keep their
   own identity and other cameras show identity 0.

Empty space is skipped for the whole class (:mod:`lolnerf_ns.occupancy`): samples in cells where no training identity
has matter are not evaluated. The grid speaks only for training codes, so rays rendering any other code (an explicit
code, the mean, a sample, an interpolation, a lifted identity) are rendered without skipping.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal, Tuple, Type

import torch
from jaxtyping import Float
from nerfstudio.cameras.rays import RayBundle, RaySamples
from nerfstudio.engine.callbacks import TrainingCallback, TrainingCallbackAttributes, TrainingCallbackLocation
from nerfstudio.model_components.ray_samplers import PDFSampler, UniformSampler
from nerfstudio.model_components.renderers import AccumulationRenderer, DepthRenderer
from nerfstudio.model_components.scene_colliders import AABBBoxCollider
from nerfstudio.models.base_model import Model, ModelConfig
from nerfstudio.utils import colormaps
from nerfstudio.viewer.viewer_elements import ViewerButton, ViewerDropdown, ViewerSlider
from torch import Tensor, nn

from lift_common.errors import UserInputError
from lift_common.marching_cubes import MarchingCubesSupport
from lift_common.metrics import ImageQualityMetrics, psnr
from lift_common.object_field import ObjectField
from lift_common.ray_chunks import forward_in_chunks
from lolnerf_ns import losses
from lolnerf_ns.field import LatentBackgroundField, LatentConditionedField, MLPPrecision
from lolnerf_ns.latents import SAMPLE_PREFIX, identity_code, identity_row, interpolate_along
from lolnerf_ns.occupancy import ClassOccupancyGrid
from lolnerf_ns.ray_keys import LATENT_CODE_KEY, LATENT_INDEX_KEY

NO_INTERPOLATION = "(none)"
"""The viewer's "interpolate to" choice that shows the first identity alone."""


@dataclass
class LOLNeRFModelConfig(ModelConfig):
    """LOLNeRF model."""

    _target: Type = field(default_factory=lambda: LOLNeRFModel)
    enable_collider: bool = False
    """Rays are clipped to the scene box instead of fixed near and far planes."""
    near_plane: float = 0.05
    """No sample is closer to the camera than this, even where the camera is inside the scene box."""
    num_coarse_samples: int = 64
    """Samples per ray spread uniformly between the ray's entry into and exit from the scene box."""
    num_importance_samples: int = 64
    """Samples per ray placed where the coarse pass found density."""
    # Empty-space skipping.
    skip_empty_space: bool = True
    """Leave samples in empty cells of the class's occupancy grid unevaluated (density 0). The grid marks where at
    least one training identity has matter; renders of other codes (a photo being lifted, lifted identities, 'mean',
    samples, interpolations) do not skip."""
    occupancy_resolution: int = 32
    """Cells per side of the occupancy grid over the scene box. A refresh evaluates the network once per cell and
    code: at 32, 32 codes cost about one training step of the 8x256 network."""
    occupancy_refresh_every: int = 200
    """Training steps between refreshes of the grid from the network; every cell is occupied until the first."""
    occupancy_codes_per_refresh: int = 32
    """Training codes whose union each refresh takes (all of them when there are fewer); each refresh draws anew."""
    occupancy_density_threshold: float = 0.01
    """Density above which a cell is occupied. Measured on the synthetic class (4x64 model, 600 steps): learnt empty
    space stays below 4e-5 in 90% of cells and matter above 49, so 0.01 and 1.0 mark nearly the same cells (29% and
    23% of the box); the lower errs towards occupied."""
    occupancy_margin: int = 1
    """Cells added around occupied cells on every side: one random point per cell can miss a thin shell of surface.
    Measured on the synthetic class: without a margin renders differ from unskipped ones by up to 0.22 in a colour
    channel, with 1 cell by 0.002."""
    mlp_precision: MLPPrecision = "auto"
    """Arithmetic of the MLPs (torch.autocast): 'auto' is bfloat16 on CUDA GPUs that support it and float32
    elsewhere; 'bfloat16' also on a CPU. Encodings, densities, colours and losses stay float32."""
    # Latent table.
    latent_dim: int = 64
    """Size of each instance's latent code."""
    latent_init_std: float = 0.01
    """Latent codes start near zero, drawn from N(0, std^2) (jax3d's LOLNeRF starts them at zero:
    projects/generative/nerf/glo_nerf/trainer.py, init_state)."""
    # Foreground field.
    num_layers: int = 8
    """Layers of the foreground MLP."""
    layer_width: int = 256
    """Width of the foreground MLP."""
    skip_layer: int = 4
    """Layer at which the encoded position and latent code are fed in again."""
    num_frequencies: int = 10
    """Frequencies of the positional encoding of position."""
    color_hidden_dim: int = 128
    """Width of the colour head."""
    # Background.
    background: Literal["network", "white", "black"] = "network"
    """What the foreground is composited over: a network of ray direction and latent code (photos with their own
    backgrounds), or a flat colour (data rendered on white or black)."""
    background_num_layers: int = 3
    """Layers of the background MLP."""
    background_layer_width: int = 64
    """Width of the background MLP."""
    background_num_frequencies: int = 4
    """Frequencies of the positional encoding of the ray direction."""
    # Losses.
    lambda_rgb: float = 1.0
    """Weight of the squared colour error of the composited pixels (fine and coarse passes)."""
    lambda_mask: float = 0.1
    """Weight of the mask loss: binary cross-entropy between the foreground opacity and the segmentation mask (only
    where the data has masks)."""
    lambda_hard_surface: float = 0.1
    """Weight of the hard-surface loss on per-sample weights, -log(e^-|w| + e^-|1-w|) shifted to a minimum of 0,
    which makes density transitions sharp (0 turns it off)."""
    # What renders outside training show.
    render_identities: Tuple[str, ...] = ()
    """Identities that renders outside training show (ns-render, ns-export, the viewer's starting choice). Each is a
    row of the latent table (0, 1, ...), an identity's name (image file name, instance_id, lifted name), 'mean', or
    'sample:SEED' (a new identity from the Gaussian fitted to the training codes). With two or more, a camera's time
    (render_time of camera-path keyframes, 0 to 1) walks from the first to the last, interpolating the codes linearly;
    cameras without times show the first. Empty: data cameras keep their own identity, others show identity 0.
    ns-lolnerf-identities writes a config and camera path with these set."""
    sample_temperature: float = 1.0
    """Spread of sampled identities: 1 draws from the Gaussian fitted to the training codes, smaller values stay
    nearer their mean."""
    lifted_instances: Tuple[str, ...] = ()
    """Names of photos lifted into this run by ns-lolnerf-lift; their codes follow the training codes in the latent
    table. Written by ns-lolnerf-lift."""
    surface_density: float = 10.0
    """Density at which ns-export marching-cubes draws the surface of the displayed identity."""
    predict_normals: bool = True
    """Render normals outside training (minus the density gradient by autograd, at each ray's rendered depth): the
    'normals' output for the viewer, ns-render and ns-export's Poisson mesh."""

    sdf_field = MarchingCubesSupport()  # lets ns-export marching-cubes mesh the displayed identity's density


class LOLNeRFModel(Model):
    """LOLNeRF model. Outputs ``rgb``, ``depth`` (distance along the unit ray), ``accumulation`` (foreground opacity),
    ``normals`` (in [0, 1], outside training), ``rgb_foreground`` (the foreground on white) and ``rgb_background``."""

    config: LOLNeRFModelConfig

    def populate_modules(self) -> None:
        super().populate_modules()
        config = self.config
        if not 1 <= config.skip_layer <= config.num_layers - 2:
            raise UserInputError(
                f"--pipeline.model.skip-layer must be between 1 and {config.num_layers - 2} (num-layers - 2); "
                f"got {config.skip_layer}."
            )
        metadata = self.kwargs.get("metadata", {})
        self.num_training_latents = int(metadata.get("num_latents", self.num_train_data))
        training_names = [str(name) for name in metadata.get("latent_names", range(self.num_training_latents))]
        self.identity_names = training_names + list(config.lifted_instances)
        duplicates = sorted(name for name, count in Counter(self.identity_names).items() if count > 1)
        if duplicates:
            raise UserInputError(f"Identity names must be unique; {', '.join(duplicates)} appear more than once.")
        self.latent_table = nn.Embedding(len(self.identity_names), config.latent_dim)
        nn.init.normal_(self.latent_table.weight, std=config.latent_init_std)
        keypoints = metadata.get("canonical_keypoints")
        # Saved with the checkpoint: lifting a new photo solves its camera against them (NaN: cameras were given).
        self.register_buffer(
            "canonical_keypoints",
            torch.tensor(keypoints, dtype=torch.float32) if keypoints is not None else torch.full((5, 3), torch.nan),
        )
        self.field = LatentConditionedField(
            latent_dim=config.latent_dim,
            num_frequencies=config.num_frequencies,
            num_layers=config.num_layers,
            layer_width=config.layer_width,
            skip_layer=config.skip_layer,
            color_hidden_dim=config.color_hidden_dim,
            precision=config.mlp_precision,
        )
        self.background_field = (
            LatentBackgroundField(
                latent_dim=config.latent_dim,
                num_frequencies=config.background_num_frequencies,
                num_layers=config.background_num_layers,
                layer_width=config.background_layer_width,
                precision=config.mlp_precision,
            )
            if config.background == "network"
            else None
        )
        self.collider = AABBBoxCollider(self.scene_box, near_plane=config.near_plane)
        self.occupancy_grid = ClassOccupancyGrid(self.scene_box.aabb, config.occupancy_resolution)
        self.sampler_uniform = UniformSampler(num_samples=config.num_coarse_samples)
        self.sampler_pdf = PDFSampler(num_samples=config.num_importance_samples)
        self.renderer_accumulation = AccumulationRenderer()
        self.renderer_depth = DepthRenderer(method="expected")
        # Metrics hold LPIPS's AlexNet: kept out of the module tree, so out of checkpoints.
        self.__dict__["image_metrics"] = ImageQualityMetrics()
        self._own_identities = False
        self._displayed = list(config.render_identities) or [self.identity_names[0]]
        for identity in self._displayed:
            identity_row(identity, self.identity_names)  # a wrong name stops ns-render at once, with one message
        self._setup_viewer_controls()
        self.field.surface_density = config.surface_density
        self.field.isosurface_identity = lambda: self.identity_code(self._displayed[0])

    def get_param_groups(self) -> dict[str, list[nn.Parameter]]:
        fields = list(self.field.parameters())
        if self.background_field is not None:
            fields += list(self.background_field.parameters())
        return {"fields": fields, "latents": list(self.latent_table.parameters())}

    # The class's occupancy grid.

    def get_training_callbacks(self, attributes: TrainingCallbackAttributes) -> list[TrainingCallback]:
        if not self.config.skip_empty_space:
            return []
        return [
            TrainingCallback(
                where_to_run=[TrainingCallbackLocation.BEFORE_TRAIN_ITERATION],
                update_every_num_iters=self.config.occupancy_refresh_every,
                func=self.refresh_occupancy,
            )
        ]

    def refresh_occupancy(self, step: int) -> None:
        """Rebuild the grid from the network: the union over a sample of training codes (none at step 0, where the
        network has learnt nothing). Draws are seeded by the step, so every DDP process, and a resumed run, builds
        the same grid."""
        if step == 0:
            return
        generator = torch.Generator().manual_seed(step)
        codes = self.latent_table.weight[: self.num_training_latents].detach()
        if len(codes) > self.config.occupancy_codes_per_refresh:
            picks = torch.randperm(len(codes), generator=generator)[: self.config.occupancy_codes_per_refresh]
            codes = codes[picks.to(codes.device)]
        self.occupancy_grid.refresh(
            lambda positions, latents: self.field(positions, latents)[0],
            codes,
            threshold=self.config.occupancy_density_threshold,
            margin=self.config.occupancy_margin,
            generator=generator,
        )

    # Which code each ray renders.

    def ray_latents(self, ray_bundle: RayBundle) -> Float[Tensor, "*batch latent_dim"]:
        """Each ray's latent code (see the module docstring for the order of precedence)."""
        metadata = ray_bundle.metadata or {}
        if LATENT_CODE_KEY in metadata:
            return metadata[LATENT_CODE_KEY]
        if self._renders_data_identities(metadata):
            return self.latent_table(metadata[LATENT_INDEX_KEY].long().squeeze(-1))
        return self.displayed_latents(ray_bundle)

    def _renders_data_identities(self, metadata: dict) -> bool:
        """Whether rays with this metadata render the identities of their images (not the displayed ones)."""
        return metadata.get(LATENT_INDEX_KEY) is not None and (
            self.training or self._own_identities or not self.config.render_identities
        )

    def skips_empty_space(self, ray_bundle: RayBundle) -> bool:
        """Whether this bundle's rays skip the occupancy grid's empty cells: only where every ray renders a training
        identity's own code, the codes the grid was built from."""
        metadata = ray_bundle.metadata or {}
        if not self.config.skip_empty_space or LATENT_CODE_KEY in metadata:
            return False
        if self._renders_data_identities(metadata):
            return True
        rows = {identity_row(identity, self.identity_names) for identity in self._displayed}
        return len(rows) == 1 and None not in rows and rows.pop() < self.num_training_latents

    def identity_code(self, identity: str) -> Float[Tensor, "latent_dim"]:
        """The code of one identity (a name, a row, ``mean`` or ``sample:SEED``)."""
        return identity_code(
            identity,
            self.latent_table.weight,
            self.identity_names,
            self.num_training_latents,
            self.config.sample_temperature,
        )

    def object_field(self, code: Float[Tensor, "latent_dim"] | None = None) -> ObjectField:
        """One identity's foreground density and colour (the colour head: no view input, no background) for mesh
        exporters: ``code``, or by default the first displayed identity (``render_identities``, or identity 0)."""
        code = (self.identity_code(self._displayed[0]) if code is None else code).detach().to(self.device)
        field = self.field

        def evaluate(positions: Tensor) -> tuple[Tensor, Tensor]:
            return field(positions, code.to(positions.dtype).expand(*positions.shape[:-1], -1))

        return ObjectField(
            density=lambda positions: evaluate(positions)[0][..., 0],
            albedo=lambda positions: evaluate(positions)[1],
            box=self.scene_box.aabb.detach().cpu().float(),
            surface_density=float(self.config.surface_density),
            device=self.device,
        )

    def displayed_latents(self, ray_bundle: RayBundle) -> Float[Tensor, "*batch latent_dim"]:
        """Codes of the displayed identities: along their path at each ray's time, else at the viewer's slider."""
        stops = torch.stack([self.identity_code(identity) for identity in self._displayed])
        if ray_bundle.times is not None and len(stops) > 1:
            positions = ray_bundle.times
        else:
            positions = torch.full((*ray_bundle.shape, 1), float(self.viewer_interpolation.value))
        return interpolate_along(stops, positions.to(stops.device))

    @contextmanager
    def own_identities(self) -> Iterator[None]:
        """Within this block, rays of the data's cameras render their own identity (used for evaluation)."""
        previous, self._own_identities = self._own_identities, True
        try:
            yield
        finally:
            self._own_identities = previous

    # Viewer controls: attributes of the model, so nerfstudio's viewer finds them; without a viewer they keep their
    # default values and nothing else happens.

    def _setup_viewer_controls(self) -> None:
        options = list(dict.fromkeys([*self.identity_names, "mean", *self._displayed]))
        self._sample_seeds = itertools.count()
        self.viewer_identity = ViewerDropdown(
            "Identity",
            self._displayed[0],
            options,
            cb_hook=lambda _: self._on_viewer_change(),
            hint="Training identity, lifted photo, the class mean, or a sampled identity.",
        )
        self.viewer_interpolate_to = ViewerDropdown(
            "Interpolate to",
            self._displayed[-1] if len(self._displayed) > 1 else NO_INTERPOLATION,
            [NO_INTERPOLATION, *options],
            cb_hook=lambda _: self._on_viewer_change(),
            hint="Second identity; the slider below moves between the two.",
        )
        self.viewer_interpolation = ViewerSlider(
            "Interpolation",
            0.0,
            0.0,
            1.0,
            0.01,
            cb_hook=lambda _: self._on_viewer_change(),
            hint="0 shows the identity, 1 the one to interpolate to.",
        )
        self.viewer_sample = ViewerButton("Sample new identity", cb_hook=lambda _: self.sample_new_identity())

    def _on_viewer_change(self) -> None:
        second = self.viewer_interpolate_to.value
        self._displayed = [self.viewer_identity.value] + ([] if second == NO_INTERPOLATION else [second])

    def sample_new_identity(self) -> str:
        """Draw a new identity (the next ``sample:SEED``), offer it in the viewer and show it."""
        identity = f"{SAMPLE_PREFIX}{next(self._sample_seeds)}"
        for dropdown in (self.viewer_identity, self.viewer_interpolate_to):
            if identity not in dropdown.options:
                dropdown.set_options([*dropdown.options, identity])
        self.viewer_identity.value = identity
        self._on_viewer_change()
        return identity

    # Rendering.

    def _render_foreground(
        self, ray_samples: RaySamples, latents: Float[Tensor, "*batch latent_dim"], skip_empty: bool
    ) -> dict[str, Tensor]:
        positions = ray_samples.frustums.get_positions()
        sample_latents = latents[..., None, :].expand(*positions.shape[:-1], -1)
        if skip_empty:
            evaluated = self.occupancy_grid.is_occupied(positions)
            density = positions.new_zeros((*evaluated.shape, 1))
            rgb = positions.new_zeros((*evaluated.shape, 3))
            if evaluated.any():  # the encoding cannot reshape an empty batch
                density[evaluated], rgb[evaluated] = self.field(positions[evaluated], sample_latents[evaluated])
        else:
            evaluated = positions.new_ones(positions.shape[:-1], dtype=torch.bool)
            density, rgb = self.field(positions, sample_latents)
        weights = ray_samples.get_weights(density)
        return {
            "evaluated": evaluated.sum(),
            "foreground": (weights * rgb).sum(dim=-2),  # premultiplied: C_fg
            "accumulation": self.renderer_accumulation(weights),
            "depth": self.renderer_depth(weights, ray_samples),
            "weights": weights,
        }

    def _background(
        self, ray_bundle: RayBundle, latents: Float[Tensor, "*batch latent_dim"]
    ) -> Float[Tensor, "*batch 3"]:
        if self.background_field is not None:
            return self.background_field(ray_bundle.directions, latents)
        value = 1.0 if self.config.background == "white" else 0.0
        return torch.full_like(ray_bundle.directions, value)

    def forward(self, ray_bundle: RayBundle) -> dict[str, Tensor]:
        """Outside training, large batches (ns-export's) are rendered in chunks of ``eval_num_rays_per_chunk``."""
        if self.training:
            return super().forward(ray_bundle)
        return forward_in_chunks(super().forward, ray_bundle, self.config.eval_num_rays_per_chunk)

    def get_outputs(self, ray_bundle: RayBundle) -> dict[str, Tensor]:
        latents = self.ray_latents(ray_bundle).to(ray_bundle.origins.device)
        skip_empty = self.skips_empty_space(ray_bundle)
        coarse_samples = self.sampler_uniform(ray_bundle)
        coarse = self._render_foreground(coarse_samples, latents, skip_empty)
        fine_samples = self.sampler_pdf(ray_bundle, coarse_samples, coarse["weights"])
        fine = self._render_foreground(fine_samples, latents, skip_empty)
        background = self._background(ray_bundle, latents)
        outputs = {}
        for suffix, rendered in (("", fine), ("_coarse", coarse)):
            # pixel = C_fg + (1 - alpha_fg) * C_bg
            outputs[f"rgb{suffix}"] = rendered["foreground"] + (1.0 - rendered["accumulation"]) * background
            outputs[f"accumulation{suffix}"] = rendered["accumulation"]
            outputs[f"depth{suffix}"] = rendered["depth"]
        outputs["rgb_foreground"] = fine["foreground"] + (1.0 - fine["accumulation"])
        outputs["rgb_background"] = background
        if self.training:
            outputs["weights"] = fine["weights"]
            outputs["weights_coarse"] = coarse["weights"]
            outputs["field_evaluations_per_ray"] = (coarse["evaluated"] + fine["evaluated"]) / len(ray_bundle)
        elif self.config.predict_normals:
            # At the rendered surface point only: one gradient per ray instead of one per sample, so ns-export's
            # large batches stay affordable.
            surface = ray_bundle.origins + ray_bundle.directions * fine["depth"].detach()
            outputs["normals"] = (self.field.normals(surface, latents) + 1.0) / 2.0
        return outputs

    def get_rgba_image(self, outputs: dict[str, Tensor], output_name: str = "rgb") -> Tensor:
        """The foreground's own colour with its opacity as alpha (what ``ns-export`` colours points with)."""
        accumulation = outputs["accumulation"]
        colour = (outputs["rgb_foreground"] - (1.0 - accumulation)) / accumulation.clamp(min=1e-6)
        return torch.cat([colour.clamp(0.0, 1.0), accumulation], dim=-1)

    # Losses and metrics.

    def _targets(self, batch: dict) -> tuple[Float[Tensor, "*rays 3"], Float[Tensor, "*rays 1"] | None]:
        """The photo's colours and, where the data has them, mask values (an RGBA photo's alpha is its mask)."""
        image = batch["image"].to(self.device)
        mask = batch.get("mask")
        if image.shape[-1] == 4:  # transparent background: the object over white
            alpha = image[..., 3:]
            mask = alpha if mask is None else mask
            image = image[..., :3] * alpha + (1.0 - alpha)
        return image, (mask.to(self.device).float() if mask is not None else None)

    def get_loss_dict(self, outputs, batch, metrics_dict=None) -> dict[str, Tensor]:
        config = self.config
        image, mask = self._targets(batch)
        loss = {
            "rgb_loss": config.lambda_rgb * losses.rgb_loss(outputs["rgb"], image),
            "rgb_loss_coarse": config.lambda_rgb * losses.rgb_loss(outputs["rgb_coarse"], image),
        }
        if mask is not None and config.lambda_mask > 0:
            loss["mask_loss"] = config.lambda_mask * (
                losses.mask_loss(outputs["accumulation"], mask) + losses.mask_loss(outputs["accumulation_coarse"], mask)
            )
        if "weights" in outputs and config.lambda_hard_surface > 0:
            loss["hard_surface_loss"] = config.lambda_hard_surface * (
                losses.hard_surface_loss(outputs["weights"]) + losses.hard_surface_loss(outputs["weights_coarse"])
            )
        return loss

    def get_metrics_dict(self, outputs, batch) -> dict[str, Tensor]:
        if "image" not in batch:
            return {}
        image, _ = self._targets(batch)
        metrics = {"psnr": psnr(outputs["rgb"].detach(), image)}
        if "weights" in outputs:
            metrics["semi_transparent_fraction"] = losses.semi_transparent_fraction(outputs["weights"].detach())
        if "field_evaluations_per_ray" in outputs:
            metrics["field_evaluations_per_ray"] = outputs["field_evaluations_per_ray"]
            metrics["occupied_fraction"] = self.occupancy_grid.occupied_fraction
        return metrics

    def get_image_metrics_and_images(
        self, outputs: dict[str, Tensor], batch: dict[str, Tensor]
    ) -> tuple[dict[str, float], dict[str, Tensor]]:
        depth = colormaps.apply_depth_colormap(outputs["depth"], accumulation=outputs["accumulation"])
        accumulation = colormaps.apply_colormap(outputs["accumulation"])
        split = torch.cat([outputs["rgb_foreground"], outputs["rgb_background"]], dim=1)
        images = {"accumulation": accumulation, "depth": depth, "foreground_background": split}
        if "normals" in outputs:
            images["normals"] = outputs["normals"]
        if "image" not in batch:
            return {}, {"novel_view": outputs["rgb"], **images}
        image, _ = self._targets(batch)
        image = image.to(outputs["rgb"].device)
        metrics = self.image_metrics.all(image, outputs["rgb"])
        return metrics, {"img": torch.cat([image, outputs["rgb"]], dim=1), **images}
