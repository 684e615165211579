"""Preprocessing of a photo for NeuralLift-360: mask, depth and framing, cached beside the photo.

Stages: read the photo (and the user's mask and depth, if any) -> object mask -> rough depth -> framing (crop to the
mask's box, centre on a square canvas with a border, resize). The results go into
``<photo folder>/.neurallift_cache/<photo name>-<key>/``, where the key hashes the input files' bytes and the settings,
so a changed photo, sidecar or setting is preprocessed again and an unchanged one never is.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from nerfstudio.utils.rich_utils import CONSOLE

from lift_common.atomic_files import atomic_folder
from lift_common.cache_keys import CacheKey
from lift_common.device import default_device_type
from lift_common.errors import UserInputError
from lift_common.images import load_mask, load_photo
from neurallift_ns.data.depth import estimate_depth, normalise_depth, silhouette_depth
from neurallift_ns.data.framing import frame_object
from neurallift_ns.data.inputs import PhotoInputs, find_inputs, load_user_depth
from neurallift_ns.data.masks import offline_mask_candidates, segmentation_model_mask

CACHE_FOLDER_NAME = ".neurallift_cache"
"""Folder created beside the input photo for everything derived from it."""
CACHE_VERSION = 3
"""Bumped when the cached files' meaning changes, so old caches are not reused."""
MIN_MASK_FRACTION = 0.001
MAX_MASK_FRACTION = 0.98


@dataclass
class PreprocessConfig:
    """How a photo becomes the reference view: its mask, depth and framing."""

    image_size: int = 256
    """Side of the square canvas the framed photo, mask and depth are stored at, in pixels."""
    border_ratio: float = 0.2
    """Fraction of the canvas left empty at each side of the object's bounding box."""
    recenter: bool = True
    """Crop to the mask's box and centre it on the canvas. Turn off for a photo already framed for the reference
    camera (e.g. a render): it is then only padded to a square and resized."""
    mask_method: Literal["auto", "model", "grabcut"] = "auto"
    """Object mask when the user gives none and the photo has no alpha: the segmentation model, the offline methods
    (no weights: GrabCut, then a threshold on contrast with the border, each tried until one finds an object), or
    auto (the model when its weights can be had, else the offline methods)."""
    mask_model: str = "CIDAS/clipseg-rd64-refined"
    """CLIPSeg segmentation model: a Hugging Face Hub id or a local folder."""
    mask_prompt: str = "the main object"
    """What the segmentation model looks for (e.g. "a coffee cup")."""
    depth_method: Literal["auto", "model", "silhouette"] = "auto"
    """Rough depth when the user gives none: the depth model, an inflated silhouette (no weights, a weak prior), or
    auto (the model when its weights can be had, else the silhouette)."""
    depth_model: str = "depth-anything/Depth-Anything-V2-Small-hf"
    """Depth-estimation model (transformers): a Hugging Face Hub id or a local folder."""
    user_depth_convention: Literal["depth", "disparity"] = "depth"
    """Whether a user-supplied depth map holds depth (larger is farther) or disparity (larger is nearer)."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where the mask and depth models run: auto is CUDA when available."""

    def cache_settings(self) -> dict:
        """The settings that change the output (not where models run)."""
        settings = asdict(self)
        settings.pop("device")
        return settings


@dataclass(frozen=True)
class PreprocessedPhoto:
    """The files preprocessing wrote for one photo."""

    folder: Path
    inputs: PhotoInputs

    @property
    def image_path(self) -> Path:
        """The framed photo, RGBA with the mask as alpha."""
        return self.folder / "image.png"

    @property
    def mask_path(self) -> Path:
        return self.folder / "mask.png"

    @property
    def depth_path(self) -> Path:
        """Depth as float32 ``.npy``: larger is farther, [0, 1] on the object."""
        return self.folder / "depth.npy"

    @property
    def preview_path(self) -> Path:
        """Photo | mask | depth side by side, for a person to check before training."""
        return self.folder / "preview.png"

    @property
    def info_path(self) -> Path:
        return self.folder / "preprocess.json"

    def info(self) -> dict:
        return json.loads(self.info_path.read_text())

    def damage(self) -> str | None:
        """What makes these files unusable, or None when training can read them all. They are written as a whole
        (atomically), so only a damaged disk or a hand edit breaks them."""
        from PIL import Image

        try:
            size = int(self.info()["settings"]["image_size"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            return f"{self.info_path.name} cannot be read ({type(error).__name__}: {error})"
        for path, mode in ((self.image_path, "RGBA"), (self.mask_path, "L")):
            try:
                with Image.open(path) as image:
                    image.load()
                    found = (image.mode, image.size)
            except (OSError, ValueError, SyntaxError) as error:  # missing, truncated, not an image, malformed
                return f"{path.name} cannot be read ({error})"
            if found != (mode, (size, size)):
                return f"{path.name} is a {found[0]} {found[1][0]}x{found[1][1]} image, not {mode} {size}x{size}"
        try:
            depth = np.load(self.depth_path, allow_pickle=False)
        except (OSError, ValueError) as error:
            return f"{self.depth_path.name} cannot be read ({error})"
        if depth.shape != (size, size) or not np.isfinite(depth).all():
            return f"{self.depth_path.name} is not a finite {size}x{size} depth map"
        return None


def cache_folder(inputs: PhotoInputs, config: PreprocessConfig) -> Path:
    key = CacheKey({"version": CACHE_VERSION, **config.cache_settings()})
    for path in (inputs.photo, inputs.mask, inputs.depth):
        key.add_contents(path)
    return inputs.photo.parent / CACHE_FOLDER_NAME / f"{inputs.photo.stem}-{key.hex()}"


def preprocess_photo(data: Path, config: PreprocessConfig, force: bool = False) -> PreprocessedPhoto:
    """Preprocess the photo ``data`` names, or return the cached result of an identical earlier run."""
    inputs = find_inputs(data)
    result = PreprocessedPhoto(folder=cache_folder(inputs, config), inputs=inputs)
    if result.info_path.exists() and not force:
        damage = result.damage()
        if damage is None:
            CONSOLE.log(f"Using preprocessed {inputs.photo.name} from {result.folder}")
            return result
        CONSOLE.log(f"[yellow]The preprocessed files in {result.folder} are damaged ({damage}): preprocessing again.")
    _run_stages(inputs, config, result.folder)
    return result


def _mask_stage(
    photo: np.ndarray, inputs: PhotoInputs, config: PreprocessConfig, device: str
) -> tuple[np.ndarray, str]:
    if inputs.mask is not None:
        return load_mask(inputs.mask, photo.shape[:2]), f"user mask {inputs.mask.name}"
    if photo.shape[-1] == 4:
        alpha = photo[..., 3] > 127
        if not alpha.all():
            return alpha, "the photo's alpha channel"
        CONSOLE.log(f"{inputs.photo.name}: its alpha channel is opaque everywhere, so it is not used as the mask.")
    rgb = photo[..., :3]
    option = "--pipeline.datamanager.dataparser.preprocess.mask-model (ns-neurallift-preprocess: --mask-model)"
    if config.mask_method == "grabcut":
        return _offline_mask(rgb, inputs)
    try:
        return segmentation_model_mask(rgb, config.mask_model, config.mask_prompt, device, option), config.mask_model
    except UserInputError as error:
        if config.mask_method == "model":
            raise
        CONSOLE.log(f"[yellow]Segmentation model unavailable, using GrabCut instead: {error}")
        return _offline_mask(rgb, inputs)


def _offline_mask(rgb: np.ndarray, inputs: PhotoInputs) -> tuple[np.ndarray, str]:
    """The first offline method's mask that separates an object; every one failing is one message naming them."""
    failures = []
    for mask, source in offline_mask_candidates(rgb):
        problem = _mask_problem(mask)
        if problem is None:
            if failures:
                CONSOLE.log(f"{inputs.photo.name}: object mask from {source} ({'; '.join(failures)}).")
            return mask, source
        failures.append(f"{source}: the mask {problem}")
    raise UserInputError(
        f"No offline method found the object in {inputs.photo} ({'; '.join(failures)}). {_mask_fix(inputs)}"
    )


def _depth_stage(
    photo: np.ndarray, mask: np.ndarray, inputs: PhotoInputs, config: PreprocessConfig, device: str
) -> tuple[np.ndarray, str, str]:
    if inputs.depth is not None:
        depth = load_user_depth(inputs.depth, photo.shape[:2])
        return depth, config.user_depth_convention, f"user depth {inputs.depth.name}"
    option = "--pipeline.datamanager.dataparser.preprocess.depth-model (ns-neurallift-preprocess: --depth-model)"
    if config.depth_method == "silhouette":
        return silhouette_depth(mask), "depth", "inflated silhouette"
    try:
        depth, convention = estimate_depth(photo[..., :3], config.depth_model, device, option)
        return depth, convention, config.depth_model
    except UserInputError as error:
        if config.depth_method == "model":
            raise
        CONSOLE.log(f"[yellow]Depth model unavailable, using an inflated silhouette (a weak prior) instead: {error}")
        return silhouette_depth(mask), "depth", "inflated silhouette"


def _mask_problem(mask: np.ndarray) -> str | None:
    """Why ``mask`` does not separate an object from its background, or None when it does."""
    fraction = float(mask.mean())
    if fraction < MIN_MASK_FRACTION:
        return "is empty"
    if fraction > MAX_MASK_FRACTION:
        return "covers the whole image"
    return None


def _mask_fix(inputs: PhotoInputs) -> str:
    return (
        f"Give a mask beside the photo ({inputs.photo.stem}_mask.png, white on the object), "
        "an RGBA photo whose alpha is the object, or a segmentation prompt that names the object."
    )


def _check_mask(mask: np.ndarray, source: str, inputs: PhotoInputs) -> None:
    problem = _mask_problem(mask)
    if problem is not None:
        why = "" if problem == "is empty" else ", so it does not separate the object from its background"
        raise UserInputError(f"The object mask of {inputs.photo} (from {source}) {problem}{why}. {_mask_fix(inputs)}")


def _run_stages(inputs: PhotoInputs, config: PreprocessConfig, folder: Path) -> None:
    from PIL import Image
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table

    device = config.device if config.device != "auto" else default_device_type()
    timings: dict[str, float] = {}
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=CONSOLE, transient=True) as progress:
        task = progress.add_task(f"Preprocessing {inputs.photo.name}", total=4)

        def stage(name: str):
            progress.update(task, description=f"Preprocessing {inputs.photo.name}: {name}")
            return time.perf_counter()

        start = stage("reading")
        photo = load_photo(inputs.photo)
        timings["read"] = time.perf_counter() - start
        progress.advance(task)

        start = stage("object mask")
        mask, mask_source = _mask_stage(photo, inputs, config, device)
        _check_mask(mask, mask_source, inputs)
        timings["mask"] = time.perf_counter() - start
        progress.advance(task)

        start = stage("depth")
        depth, convention, depth_source = _depth_stage(photo, mask, inputs, config, device)
        depth = normalise_depth(depth, convention, mask)
        timings["depth"] = time.perf_counter() - start
        progress.advance(task)

        start = stage("framing")
        rgb, framed_mask, framed_depth = frame_object(
            photo[..., :3], mask, depth, config.image_size, config.border_ratio if config.recenter else None
        )
        framed_depth = normalise_depth(framed_depth, "depth", framed_mask)
        timings["frame"] = time.perf_counter() - start
        progress.advance(task)

    info = {
        "version": CACHE_VERSION,
        "photo": str(inputs.photo),
        "mask_source": mask_source,
        "depth_source": depth_source,
        "depth_source_convention": convention,
        "depth_convention": "depth",
        "settings": config.cache_settings(),
        "seconds": {name: round(value, 3) for name, value in timings.items()},
    }
    with atomic_folder(folder) as partial:
        alpha = (framed_mask * 255).astype(np.uint8)
        Image.fromarray(np.dstack([rgb, alpha])).save(partial / "image.png")
        Image.fromarray(alpha).save(partial / "mask.png")
        np.save(partial / "depth.npy", framed_depth.astype(np.float32))
        Image.fromarray(preview_strip(rgb, framed_mask, framed_depth)).save(partial / "preview.png")
        (partial / "preprocess.json").write_text(json.dumps(info, indent=2))

    table = Table(title=f"Preprocessed {inputs.photo.name}", show_header=True)
    for column in ("stage", "source", "seconds"):
        table.add_column(column)
    table.add_row("read", inputs.photo.name, f"{timings['read']:.2f}")
    table.add_row("mask", mask_source, f"{timings['mask']:.2f}")
    table.add_row("depth", f"{depth_source} ({convention})", f"{timings['depth']:.2f}")
    framing = f"border {config.border_ratio}" if config.recenter else "not recentred"
    table.add_row("frame", f"{config.image_size}x{config.image_size}, {framing}", f"{timings['frame']:.2f}")
    CONSOLE.print(table)
    CONSOLE.log(f"Wrote {folder} (preview: {folder / 'preview.png'})")


def preview_strip(rgb: np.ndarray, mask: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Photo | mask | depth (near is bright, off-object grey) side by side."""
    import cv2

    mask_image = np.repeat((mask * 255).astype(np.uint8)[..., None], 3, axis=-1)
    nearness = ((1.0 - depth) * 255).astype(np.uint8)
    depth_image = cv2.applyColorMap(nearness, cv2.COLORMAP_TURBO)[..., ::-1]
    depth_image = np.where(mask[..., None], depth_image, 128).astype(np.uint8)
    return np.concatenate([rgb, mask_image, depth_image], axis=1)
