"""A class of procedural objects with ground truth all around, written in the layout the miniature priors and the
lift benchmark read (``docs/object-class-layout.md``).

Each object is an upright ellipsoid body whose radii vary (so silhouettes differ), in a light colour of its own, seen
on white as albedo (no lighting: what the field's albedo renders and what Zero-1-to-3 was trained on). The "cups"
class draws every body near a ball; the "varied" class draws each from one of three shapes (:data:`SHAPE_RADII`):
cups, tall bottles and flat, wide boxes, whose silhouettes the lift's density blob (a ball at the centre) does not fit.

* The **front** (towards -Y, the photo's side in :mod:`lift_common.cameras`) carries a round label in a saturated
  colour of its own, at a height of its own.
* The **back** carries two things the front never shows:

  - a dark knob, the *handle*, the same on every object (what the whole class shares: a text-conditioned prior can
    learn that "the back view" has it, as the back of a mug has a handle); it sticks out of the body, so the
    silhouette from the sides shows it too;
  - a horizontal band in the label's colour, at the label's height (what depends on the front: a view-conditioned
    prior can carry it over from the photo). A band is neither a copy nor a mirror of a round label.

Rays come from nerfstudio's own cameras, so conventions match the methods exactly.
"""

from __future__ import annotations

import colorsys
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from jaxtyping import Float
from nerfstudio.cameras.cameras import Cameras
from torch import Tensor

from lift_common.cameras import focal_length_from_fov

CAMERA_RADIUS = 3.0
"""The neurallift dataparser's reference radius: every view is at the photo's distance."""
FOV_DEG = 40.0
"""The neurallift dataparser's reference field of view."""
HANDLE_COLOUR = (0.22, 0.16, 0.12)
"""The class's shared back feature is dark brown on every object."""
HANDLE_RADIUS = 0.17
HANDLE_HEIGHT = 0.05
"""Where the handle's centre sits (z), the same on every object."""
BAND_HALF_WIDTH = 0.12
"""Half-height of the back band, on the body's unit sphere."""
BACK_START = 0.2
"""The band covers the part of the body whose unit-sphere y passes this (the back, away from the label)."""
SHAPE_RADII = {
    "cup": ((0.4, 0.38, 0.5), (0.62, 0.55, 0.75)),
    "tall": ((0.18, 0.18, 0.75), (0.3, 0.3, 0.95)),
    "flat": ((0.72, 0.3, 0.2), (0.92, 0.42, 0.3)),
}
"""Low and high semi-axes (x, y, z) of the body of each shape; the radii are drawn uniformly between them."""
CLASS_SHAPES = {"cups": ("cup",), "varied": ("cup", "tall", "flat")}
"""The shapes each class draws from, one chosen at random for each object."""
DEFAULT_AZIMUTHS_DEG = tuple(float(azimuth) for azimuth in range(-180, 180, 15))
DEFAULT_ELEVATIONS_DEG = (0.0, 15.0, 30.0)


@dataclass(frozen=True)
class ProceduralObject:
    """One member of the class."""

    radii: tuple[float, float, float]
    """Semi-axes of the body along x, y, z."""
    body_colour: tuple[float, float, float]
    """The body's own colour, all around."""
    label_colour: tuple[float, float, float]
    """Colour of the front label and of the back band."""
    label_height: float
    """Elevation of the label's centre on the body, in radians (the band sits at the same height)."""
    label_size: float
    """Angular radius of the label, in radians."""


def random_objects(num: int, seed: int, shapes: str = "cups") -> list[ProceduralObject]:
    """``num`` objects of the class ``shapes`` (a key of :data:`CLASS_SHAPES`) with shapes and colours drawn from fixed
    ranges; the same seed draws the same objects."""
    rng = np.random.default_rng(seed)
    families = CLASS_SHAPES[shapes]
    objects = []
    for _ in range(num):
        hue = float(rng.uniform())
        label = colorsys.hsv_to_rgb(hue, float(rng.uniform(0.7, 1.0)), float(rng.uniform(0.6, 0.95)))
        # A one-shape class draws no shape, so the cups are the objects they were before there was a choice.
        family = families[int(rng.integers(len(families)))] if len(families) > 1 else families[0]
        objects.append(
            ProceduralObject(
                radii=tuple(rng.uniform(*SHAPE_RADII[family]).round(3).tolist()),
                body_colour=tuple(rng.uniform(0.6, 0.95, 3).round(3).tolist()),
                label_colour=tuple(round(channel, 3) for channel in label),
                label_height=round(float(rng.uniform(-0.35, 0.45)), 3),
                label_size=round(float(rng.uniform(0.3, 0.5)), 3),
            )
        )
    return objects


def handle_centre(item: ProceduralObject) -> Float[Tensor, "3"]:
    """The handle's centre: on the body's back (+Y) at :data:`HANDLE_HEIGHT`, half sunk into the body."""
    rx, ry, rz = item.radii
    back = ry * math.sqrt(max(0.0, 1.0 - (HANDLE_HEIGHT / rz) ** 2))
    return torch.tensor([0.0, back + 0.5 * HANDLE_RADIUS, HANDLE_HEIGHT])


def _ray_ellipsoid(origins: Tensor, directions: Tensor, centre: Tensor, radii: Tensor) -> Tensor:
    """Distance along each unit ray to its first hit of the ellipsoid (inf where it misses)."""
    scaled_origins, scaled_directions = (origins - centre) / radii, directions / radii
    a = (scaled_directions * scaled_directions).sum(-1)
    b = (scaled_origins * scaled_directions).sum(-1)
    c = (scaled_origins * scaled_origins).sum(-1) - 1.0
    disc = b * b - a * c
    t = (-b - torch.sqrt(disc.clamp(min=0.0))) / a
    return torch.where((disc > 0) & (t > 0), t, torch.full_like(t, float("inf")))


def trace(
    item: ProceduralObject, origins: Float[Tensor, "*rays 3"], directions: Float[Tensor, "*rays 3"]
) -> tuple[Float[Tensor, "*rays 3"], Float[Tensor, "*rays 1"], Float[Tensor, "*rays 1"]]:
    """Albedo on white, distance along the unit ray, and hit mask of each ray."""
    directions = torch.nn.functional.normalize(directions, dim=-1)
    radii = torch.tensor(item.radii)
    to_body = _ray_ellipsoid(origins, directions, torch.zeros(3), radii)
    to_handle = _ray_ellipsoid(origins, directions, handle_centre(item), torch.full((3,), HANDLE_RADIUS))
    nearest = torch.minimum(to_body, to_handle)
    hit = torch.isfinite(nearest)[..., None]
    distance = torch.where(hit, nearest[..., None], torch.zeros_like(nearest[..., None]))
    unit = torch.nn.functional.normalize((origins + directions * distance) / radii, dim=-1)  # on the unit sphere
    height = math.sin(item.label_height)
    label_centre = torch.tensor([0.0, -math.cos(item.label_height), height])
    on_label = (unit * label_centre).sum(-1, keepdim=True) > math.cos(item.label_size)
    on_band = (unit[..., 1:2] > BACK_START) & ((unit[..., 2:3] - height).abs() < BAND_HALF_WIDTH)
    colour = torch.tensor(item.body_colour).expand_as(origins)
    colour = torch.where(on_label | on_band, torch.tensor(item.label_colour), colour)
    colour = torch.where((to_handle < to_body)[..., None], torch.tensor(HANDLE_COLOUR), colour)
    colour = torch.where(hit, colour, torch.ones_like(colour))
    return colour, distance, hit.float()


def camera(azimuth_deg: float, elevation_deg: float, size: int) -> Cameras:
    """A square camera on the orbit, at the photo's distance and field of view, looking at the object's centre: the
    camera neurallift's sampled views use."""
    from neurallift_ns.data.orbit_views import orbit_cameras

    angles = torch.tensor([azimuth_deg]), torch.tensor([elevation_deg])
    return orbit_cameras(*angles, torch.tensor([CAMERA_RADIUS]), torch.tensor([FOV_DEG]), size)


def render(item: ProceduralObject, view: Cameras) -> tuple[Float[Tensor, "H W 3"], Float[Tensor, "H W 1"]]:
    """Albedo on white and mask of the object as nerfstudio's rays of the (single) camera see it."""
    rays = view.generate_rays(camera_indices=0, keep_shape=True)
    colour, _, mask = trace(item, rays.origins, rays.directions)
    return colour, mask


def _save_png(path: Path, values: Tensor) -> None:
    from PIL import Image

    array = (values.clamp(0, 1).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(path)


def write_object(
    folder: Path,
    item: ProceduralObject,
    size: int,
    azimuths_deg: tuple[float, ...] = DEFAULT_AZIMUTHS_DEG,
    elevations_deg: tuple[float, ...] = DEFAULT_ELEVATIONS_DEG,
) -> None:
    """One object's folder: its views and masks all around, ``transforms.json``, ``photo.png`` (the front view as
    RGBA: what ``ns-train neurallift --data`` takes) and ``object.json`` (its parameters)."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "masks").mkdir(exist_ok=True)
    frames = []
    for elevation in elevations_deg:
        for azimuth in azimuths_deg:
            name = f"az{azimuth:+06.1f}_el{elevation:+05.1f}"
            view = camera(azimuth, elevation, size)
            colour, mask = render(item, view)
            _save_png(folder / "images" / f"{name}.png", colour)
            _save_png(folder / "masks" / f"{name}.png", mask)
            transform = torch.cat([view.camera_to_worlds[0], torch.tensor([[0.0, 0.0, 0.0, 1.0]])])
            frames.append(
                {
                    "file_path": f"images/{name}.png",
                    "mask_path": f"masks/{name}.png",
                    "transform_matrix": transform.tolist(),
                    "azimuth_deg": azimuth,
                    "elevation_deg": elevation,
                }
            )
    focal = focal_length_from_fov(FOV_DEG, size)
    meta = {"fl_x": focal, "fl_y": focal, "cx": size / 2, "cy": size / 2, "w": size, "h": size, "frames": frames}
    (folder / "transforms.json").write_text(json.dumps(meta, indent=1))
    colour, mask = render(item, camera(0.0, 0.0, size))
    _save_png(folder / "photo.png", torch.cat([colour, mask], dim=-1))
    (folder / "object.json").write_text(json.dumps(asdict(item), indent=1))


@dataclass(frozen=True)
class ObjectClass:
    """A written class: its folder and its objects' folders, split into training and held-out objects."""

    folder: Path
    train: list[Path]
    heldout: list[Path]


def write_object_class(
    folder: Path,
    num_objects: int,
    num_heldout: int,
    size: int = 64,
    seed: int = 0,
    azimuths_deg: tuple[float, ...] = DEFAULT_AZIMUTHS_DEG,
    elevations_deg: tuple[float, ...] = DEFAULT_ELEVATIONS_DEG,
    shapes: str = "cups",
) -> ObjectClass:
    """Write ``num_objects`` objects (the last ``num_heldout`` held out from the priors' training) under ``folder``,
    with ``class.json`` naming the split; the same seed writes the same class."""
    from lift_common.progress import stage_progress

    if not 0 < num_heldout < num_objects:
        raise ValueError(f"Hold out between 1 and {num_objects - 1} of the {num_objects} objects, not {num_heldout}.")
    items = random_objects(num_objects, seed, shapes)
    names = [f"object{index:04d}" for index in range(num_objects)]
    with stage_progress("Rendering objects", total=num_objects) as advance:
        for name, item in zip(names, items, strict=True):
            write_object(folder / name, item, size, azimuths_deg, elevations_deg)
            advance(1)
    split = {"train": names[: num_objects - num_heldout], "heldout": names[num_objects - num_heldout :]}
    (folder / "class.json").write_text(json.dumps({**split, "size": size, "seed": seed, "shapes": shapes}, indent=1))
    return read_object_class(folder)


def read_object_class(folder: Path) -> ObjectClass:
    """The objects of a class folder in the documented layout (any class, not only this module's)."""
    from lift_common.errors import UserInputError

    index = folder / "class.json"
    if not index.is_file():
        raise UserInputError(f"{index} does not exist: a class folder holds class.json (docs/object-class-layout.md).")
    split = json.loads(index.read_text())
    paths = {key: [folder / name for name in split.get(key, [])] for key in ("train", "heldout")}
    missing = [path for path in paths["train"] + paths["heldout"] if not (path / "transforms.json").is_file()]
    if missing:
        raise UserInputError(f"{missing[0]} has no transforms.json ({len(missing)} objects named in {index} lack one).")
    return ObjectClass(folder, paths["train"], paths["heldout"])


def main() -> None:
    """Write a class folder from the command line: ``python -m lift_testing.object_class DIR``."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path, help="where to write the class")
    parser.add_argument("--objects", type=int, default=240, help="objects in all")
    parser.add_argument("--heldout", type=int, default=8, help="objects kept out of the priors' training")
    parser.add_argument("--size", type=int, default=64, help="side of each view in pixels")
    parser.add_argument("--seed", type=int, default=0, help="the same seed writes the same class")
    parser.add_argument(
        "--shapes", choices=sorted(CLASS_SHAPES), default="cups", help="cups only, or cups, tall and flat bodies"
    )
    args = parser.parse_args()
    written = write_object_class(args.folder, args.objects, args.heldout, args.size, args.seed, shapes=args.shapes)
    print(f"{len(written.train)} training and {len(written.heldout)} held-out objects in {written.folder}")


if __name__ == "__main__":
    main()
