"""A folder of single-view photos of one class, made ready for LOLNeRF: common size, landmarks, masks, cameras.

Stages (``rich`` progress over images): read and resize every photo to one size -> five landmarks per photo (MediaPipe
Face Mesh, or the user's landmarks file) -> foreground masks (MediaPipe Selfie Segmentation for faces, a masks folder,
or none) -> joint camera fit (:mod:`lolnerf_ns.data.camera_fit`) -> photos whose fit is poor are dropped and the rest
refitted. What was skipped or dropped, and why, is printed as a table.

Everything goes into ``<folder>/.lolnerf_cache/<key>/``: ``images/``, ``masks/`` and ``cameras.json`` (per image its
orientation, position, focal length, principal point, image size, landmarks and residual, like LOLNeRF's released
camera files, plus the canonical keypoints). The key hashes the photos, the landmarks file, the masks and the
settings, so the next run reuses it unless one of them changes.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from nerfstudio.utils.rich_utils import CONSOLE

from lift_common.cache_folders import atomic_folder
from lift_common.cameras import focal_length_from_fov
from lift_common.errors import UserInputError
from lift_common.images import SUPPORTED_SUFFIXES, load_mask, load_photo
from lolnerf_ns.data.camera_fit import LANDMARK_NAMES, fit_canonical_keypoints

CACHE_FOLDER_NAME = ".lolnerf_cache"
CACHE_VERSION = 1


@dataclass
class CollectionConfig:
    """How a folder of photos becomes training data."""

    landmarks_file: Path | None = None
    """JSON or CSV file of five (x, y) landmarks per image (see lolnerf_ns/data/landmarks.py); without one, faces are
    detected with MediaPipe Face Mesh."""
    masks: Literal["auto", "mediapipe", "folder", "none"] = "auto"
    """Foreground masks: MediaPipe Selfie Segmentation (faces), the masks folder, or none (the whole image is
    foreground, mask loss off). auto: the folder if it exists, else MediaPipe for detected faces, else none."""
    masks_folder: Path | None = None
    """Folder of masks named like the photos (white on the object); default: 'masks' inside the photo folder."""
    max_image_side: int = 256
    """Photos are resized to the collection's most common size, scaled down to at most this many pixels a side."""
    fov_deg: float | None = 20.0
    """Shared field of view of the cameras, in degrees, across the image width; unset (None) to estimate it."""
    max_residual_fraction: float = 0.03
    """Photos whose landmarks reproject worse than this fraction of the image width (RMS) are dropped."""
    min_images: int = 2
    """Fewest photos that must remain to train."""


@dataclass(frozen=True)
class PreparedCollection:
    """The cache folder of a prepared collection and what its cameras.json says."""

    folder: Path
    cameras: dict

    @property
    def frames(self) -> list[dict]:
        return self.cameras["frames"]


def list_photos(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise UserInputError(f"{folder} is not a folder. Pass a folder of photos (or one holding transforms.json).")
    photos = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)
    if not photos:
        raise UserInputError(
            f"{folder} holds no photos ({', '.join(SUPPORTED_SUFFIXES)}). Put the photos of one class in it."
        )
    return photos


def _masks_folder(data: Path, config: CollectionConfig) -> Path | None:
    folder = config.masks_folder or data / "masks"
    return folder if folder.is_dir() else None


def cache_folder(data: Path, photos: list[Path], config: CollectionConfig) -> Path:
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()}
    digest = hashlib.sha256(json.dumps({"version": CACHE_VERSION, **settings}, sort_keys=True).encode())
    inputs = list(photos)
    if config.landmarks_file is not None and Path(config.landmarks_file).is_file():
        inputs.append(Path(config.landmarks_file))
    masks = _masks_folder(data, config)
    if masks is not None:
        inputs += sorted(p for p in masks.iterdir() if p.is_file())
    for path in inputs:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return data / CACHE_FOLDER_NAME / digest.hexdigest()[:16]


def prepare_collection(data: Path, config: CollectionConfig, force: bool = False) -> PreparedCollection:
    """Prepare the photos in ``data`` (see the module docstring), or reuse an identical earlier preparation."""
    data = Path(data)
    photos = list_photos(data)
    folder = cache_folder(data, photos, config)
    cameras_path = folder / "cameras.json"
    if cameras_path.exists() and not force:
        CONSOLE.log(f"Using prepared collection {folder}")
        return PreparedCollection(folder, json.loads(cameras_path.read_text()))
    with atomic_folder(folder) as partial:
        cameras = _prepare(data, photos, config, partial)
    return PreparedCollection(folder, cameras)


def _target_size(sizes: list[tuple[int, int]], max_side: int) -> tuple[int, int]:
    (width, height), _ = Counter(sizes).most_common(1)[0]
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _prepare(data: Path, photos: list[Path], config: CollectionConfig, out: Path) -> dict:
    import cv2
    from PIL import Image
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from lolnerf_ns.data.landmarks import FaceLandmarkDetector, SelfieSegmenter, read_landmarks_file

    skipped: list[tuple[str, str]] = []
    started = time.perf_counter()
    given_landmarks = read_landmarks_file(config.landmarks_file) if config.landmarks_file is not None else None
    if given_landmarks is not None:
        unknown = sorted(set(given_landmarks) - {p.name for p in photos})
        if unknown:
            raise UserInputError(
                f"{config.landmarks_file} names images that are not in {data}: {', '.join(unknown[:5])}"
                + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
                + ". Fix the names (they are file names, e.g. cat_001.jpg) or add the images."
            )
    masks_folder = _masks_folder(data, config)
    if config.masks == "folder" and masks_folder is None:
        raise UserInputError(f"No masks folder at {config.masks_folder or data / 'masks'}. Create it or pick --masks.")
    mask_source = config.masks
    if mask_source == "auto":
        mask_source = "folder" if masks_folder else ("mediapipe" if given_landmarks is None else "none")
    mask_files = {}
    if mask_source == "folder":
        mask_files = {p.stem: p for p in sorted(masks_folder.iterdir()) if p.suffix.lower() in SUPPORTED_SUFFIXES}

    readable: list[tuple[Path, np.ndarray]] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=CONSOLE, transient=True) as progress:
        task = progress.add_task("Reading photos", total=len(photos))
        for path in photos:
            try:
                readable.append((path, load_photo(path)[..., :3]))
            except UserInputError as error:
                skipped.append((path.name, f"unreadable: {error}"))
            progress.advance(task)
        if not readable:
            raise UserInputError(f"None of the {len(photos)} photos in {data} could be read. See the messages above.")
        width, height = _target_size([image.shape[1::-1] for _, image in readable], config.max_image_side)
        resized_count = sum(image.shape[1::-1] != (width, height) for _, image in readable)
        if resized_count:
            CONSOLE.log(f"{resized_count} of {len(readable)} photos resized to {width}x{height}.")

        detector = FaceLandmarkDetector() if given_landmarks is None else None
        segmenter = SelfieSegmenter() if mask_source == "mediapipe" else None
        (out / "images").mkdir()
        if mask_source != "none":
            (out / "masks").mkdir()
        kept: list[dict] = []
        task = progress.add_task("Landmarks and masks", total=len(readable))
        for path, image in readable:
            progress.advance(task)
            scale = np.array([width / image.shape[1], height / image.shape[0]])
            resized = (
                image
                if tuple(image.shape[1::-1]) == (width, height)
                else cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
            )
            if given_landmarks is not None:
                if path.name not in given_landmarks:
                    skipped.append((path.name, "no landmarks in the landmarks file"))
                    continue
                points = given_landmarks[path.name] * scale
            else:
                points = detector(resized)
                if points is None:
                    skipped.append((path.name, "no face found"))
                    continue
            frame = {"file": path.name, "image": f"images/{path.stem}.png", "landmarks": points.tolist()}
            Image.fromarray(resized).save(out / frame["image"])
            if mask_source != "none":
                mask = (
                    segmenter(resized)
                    if segmenter is not None
                    else _read_mask(mask_files.get(path.stem), path, (width, height), image.shape[1::-1])
                )
                if mask is None:
                    skipped.append((path.name, f"no mask in {masks_folder}"))
                    (out / frame["image"]).unlink()
                    continue
                frame["mask"] = f"masks/{path.stem}.png"
                Image.fromarray((mask * 255).astype(np.uint8)).save(out / frame["mask"])
            kept.append(frame)
        for model in (detector, segmenter):
            if model is not None:
                model.close()

    _check_enough(kept, skipped, config, data, "after landmark detection")
    fit, kept = _fit_and_drop(kept, (width, height), config, skipped, data)
    _print_skipped(skipped, len(photos))
    frames = []
    for frame, camera_to_world, residual in zip(kept, fit.camera_to_world, fit.residual_px, strict=False):
        frames.append(
            {
                **frame,
                "orientation": camera_to_world[:, :3].tolist(),
                "position": camera_to_world[:, 3].tolist(),
                "focal_length": fit.focal_length,
                "principal_point": [width / 2.0, height / 2.0],
                "image_size": [width, height],
                "residual_px": float(residual),
            }
        )
    cameras = {
        "version": CACHE_VERSION,
        "convention": "camera-to-world, OpenGL axes (nerfstudio), world +Z up, the class's front towards -Y",
        "landmark_names": list(LANDMARK_NAMES),
        "canonical_keypoints": fit.canonical_keypoints.tolist(),
        "focal_length": fit.focal_length,
        "image_size": [width, height],
        "mask_source": mask_source,
        "frames": frames,
        "skipped": [{"file": name, "reason": reason} for name, reason in skipped],
        "seconds": round(time.perf_counter() - started, 2),
    }
    (out / "cameras.json").write_text(json.dumps(cameras, indent=1))
    residuals = np.array([f["residual_px"] for f in frames])
    CONSOLE.log(
        f"Cameras of {len(frames)} photos fitted: landmark residual median {np.median(residuals):.2f} px, "
        f"95th percentile {np.percentile(residuals, 95):.2f} px, worst {residuals.max():.2f} px "
        f"(each photo's is in cameras.json); focal length {fit.focal_length:.1f} px; {cameras['seconds']} s in all."
    )
    return cameras


def _read_mask(
    mask_path: Path | None, photo: Path, size: tuple[int, int], original_size: tuple[int, int]
) -> np.ndarray | None:
    """The photo's mask at ``size``, or ``None`` if it has none; a mask of another shape is refused."""
    import cv2

    if mask_path is None:
        return None
    height, width = original_size[1], original_size[0]
    mask = load_mask(mask_path, (height, width), photo_name=photo.name).astype(np.float32)
    return cv2.resize(mask, size, interpolation=cv2.INTER_AREA) >= 0.5


def _check_enough(kept: list, skipped: list, config: CollectionConfig, data: Path, when: str) -> None:
    if len(kept) >= config.min_images:
        return
    _print_skipped(skipped, len(kept) + len(skipped))
    reasons = Counter(reason.split(":")[0] for _, reason in skipped)
    summary = ", ".join(f"{count} {reason}" for reason, count in reasons.most_common())
    raise UserInputError(
        f"Only {len(kept)} of the photos in {data} remain {when} ({summary}); at least {config.min_images} are needed. "
        "Add photos, or for classes other than faces pass a landmarks file with --pipeline.datamanager.dataparser"
        ".collection.landmarks-file."
    )


def _fit_and_drop(kept: list[dict], size: tuple[int, int], config: CollectionConfig, skipped: list, data: Path):
    focal = None if config.fov_deg is None else focal_length_from_fov(config.fov_deg, size[0])
    limit = config.max_residual_fraction * size[0]
    for _ in range(2):  # fit, drop the poor fits, fit again without them
        fit = fit_canonical_keypoints(np.array([f["landmarks"] for f in kept]), size, focal_length=focal)
        poor = fit.residual_px > limit
        if not poor.any():
            break
        for frame, residual in zip(kept, fit.residual_px, strict=False):
            if residual > limit:
                skipped.append(
                    (frame["file"], f"poor camera fit: landmarks off by {residual:.1f} px RMS (limit {limit:.1f})")
                )
        kept = [frame for frame, bad in zip(kept, poor, strict=False) if not bad]
        _check_enough(
            kept, skipped, config, Path(kept[0]["file"]).parent if kept else Path("."), "after the camera fit"
        )
    return fit, kept


def _print_skipped(skipped: list[tuple[str, str]], total: int) -> None:
    if not skipped:
        return
    from rich.table import Table

    table = Table(title=f"{len(skipped)} of {total} photos not used")
    table.add_column("photo")
    table.add_column("reason")
    for name, reason in skipped:
        table.add_row(name, reason)
    CONSOLE.print(table)
