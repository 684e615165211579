"""How each training step's views look: their shading, light and background, chosen per view and carried in the rays.

A reference step renders the photo's view as albedo on white (the photo is on white). A sampled step gives each view a
shading (:data:`~neurallift_ns.shading.SHADING_MODES`; albedo only before the shading starts), a light roughly behind
its camera, and a background: a random flat colour, never behind a textureless view, or else the background network
or white. The model's forward sees only rays (also under DDP), so the choice travels in each ray's metadata, and the
renderer reads it back with :func:`shade_samples` and :func:`background_colours`; renders without it (viewer,
``ns-render``, ``ns-eval``) are albedo on white, the photo's own background.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Tuple

import torch
from jaxtyping import Bool, Float, Int
from nerfstudio.cameras.rays import RayBundle
from torch import Tensor

from neurallift_ns.shading import SHADING_MODES, random_light_directions, shade

# Per-ray metadata written by ViewLooks.write_into.
SHADING_KEY = "shading_mode"
LIGHT_KEY = "light_direction"
BACKGROUND_KEY = "background_rgb"
USE_BACKGROUND_NETWORK_KEY = "use_background_network"
NORMALS_KEY = "needs_normals"
"""Whether the renderer must compute normals although no view is lit (for a loss on them)."""

TEXTURELESS = SHADING_MODES.index("textureless")


@dataclass
class ViewLooks:
    """What one training step's views look like, one row per view; each view's rays are one block (view-major)."""

    shading: Int[Tensor, "views"]
    """Index into :data:`~neurallift_ns.shading.SHADING_MODES`."""
    light: Float[Tensor, "views 3"]
    """Unit vector towards the light."""
    background: Float[Tensor, "views 3"]
    """Flat background colour, where the background network is not used."""
    use_background_network: Bool[Tensor, "views"]
    """Whether the background network of ray direction is seen behind the view instead."""

    def write_into(self, ray_bundle: RayBundle, needs_normals: bool) -> RayBundle:
        """``ray_bundle`` with each ray's shading, light and background in its metadata (``needs_normals``: whether
        the renderer must compute normals even for unlit views)."""
        num_rays = ray_bundle.shape[0]
        rays_per_view = num_rays // len(self.shading)
        device = ray_bundle.origins.device

        def per_ray(values: Tensor) -> Tensor:
            return values.repeat_interleave(rays_per_view, dim=0).to(device)

        ray_bundle.metadata = dict(
            ray_bundle.metadata or {},
            **{
                SHADING_KEY: per_ray(self.shading)[:, None],
                LIGHT_KEY: per_ray(self.light),
                BACKGROUND_KEY: per_ray(self.background),
                USE_BACKGROUND_NETWORK_KEY: per_ray(self.use_background_network)[:, None],
                NORMALS_KEY: torch.full((num_rays, 1), needs_normals, dtype=torch.bool, device=device),
            },
        )
        return ray_bundle


def reference_view_looks() -> ViewLooks:
    """The photo's view: albedo, no light, on white (the photo is on white), no background network."""
    return ViewLooks(
        shading=torch.zeros(1, dtype=torch.long),
        light=torch.zeros(1, 3),
        background=torch.ones(1, 3),
        use_background_network=torch.zeros(1, dtype=torch.bool),
    )


def sampled_view_looks(
    num_views: int,
    camera_positions: Float[Tensor, "views 3"] | None,
    shaded: bool,
    shading_probabilities: Tuple[float, float, float],
    p_random_background: float,
    random_background_range: Tuple[float, float],
    background_network: bool,
    generator: torch.Generator,
) -> ViewLooks:
    """A random look for each sampled view: a shading drawn with ``shading_probabilities`` (albedo unless
    ``shaded``), a light behind its camera (at random without cameras), and with chance ``p_random_background`` a
    flat colour in ``random_background_range`` behind it (never behind a textureless view, which a dark colour would
    leave with nothing to see), otherwise the background network if ``background_network``, else white."""
    if shaded:
        probabilities = torch.tensor(shading_probabilities, dtype=torch.float)
        shading = torch.multinomial(probabilities, num_views, replacement=True, generator=generator)
    else:
        shading = torch.zeros(num_views, dtype=torch.long)
    positions = camera_positions.cpu() if camera_positions is not None else torch.randn(num_views, 3)
    light = random_light_directions(positions, generator=generator)
    random_colour = torch.rand(num_views, 1, generator=generator) < p_random_background
    random_colour &= (shading != TEXTURELESS)[:, None]
    low, high = random_background_range
    colours = low + (high - low) * torch.rand(num_views, 3, generator=generator)
    return ViewLooks(
        shading=shading,
        light=light,
        background=torch.where(random_colour, colours, 1.0),
        use_background_network=(~random_colour & background_network)[:, 0],
    )


def needs_normals(metadata: dict) -> bool:
    """Whether these rays need normals: some are lit, or a loss on normals was asked for."""
    modes = metadata.get(SHADING_KEY)
    lit = modes is not None and bool((modes > 0).any())
    return lit or (NORMALS_KEY in metadata and bool(metadata[NORMALS_KEY].any()))


def shade_samples(
    albedo: Float[Tensor, "rays samples 3"],
    normals: Float[Tensor, "rays samples 3"] | None,
    metadata: dict,
    ambient: float,
) -> Float[Tensor, "rays samples 3"]:
    """Each sample's colour under its ray's shading (albedo where none was written)."""
    modes = metadata.get(SHADING_KEY)
    if modes is None or not bool((modes > 0).any()):
        return albedo
    colour = albedo
    light = metadata[LIGHT_KEY][:, None, :].expand_as(albedo)
    for index, mode in enumerate(SHADING_MODES[1:], start=1):
        chosen = (modes == index)[:, None, :]
        if chosen.any():
            colour = torch.where(chosen, shade(albedo, normals, light, mode, ambient), colour)
    return colour


def background_colours(
    metadata: dict,
    like: Float[Tensor, "rays 3"],
    background_network: Callable[[], Float[Tensor, "rays 3"]],
) -> Float[Tensor, "rays 3"]:
    """Each ray's background: its flat colour (white where none was written), or ``background_network()`` where its
    rays ask for it (called only then)."""
    background = metadata.get(BACKGROUND_KEY, torch.ones_like(like))
    if USE_BACKGROUND_NETWORK_KEY in metadata and bool(metadata[USE_BACKGROUND_NETWORK_KEY].any()):
        background = torch.where(metadata[USE_BACKGROUND_NETWORK_KEY], background_network(), background)
    return background
