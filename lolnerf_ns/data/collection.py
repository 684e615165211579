"""A folder of single-view photos of one class, made ready for LOLNeRF: common size, landmarks, masks, cameras.

Stages: every photo's size is read from its file's header -> the photos are resized to the collection's most common
size, their five landmarks found (MediaPipe Face Mesh, or the user's landmarks file) and their foreground masks made
(MediaPipe Selfie Segmentation for faces, a masks folder, or none), in chunks on every core
(:mod:`lolnerf_ns.data.chunked_work`; an interrupted preparation resumes where it stopped) -> joint camera fit
(:mod:`lolnerf_ns.data.camera_fit`) -> photos whose fit is poor are dropped and the rest refitted. What was skipped or
dropped, and why, is printed and kept in ``cameras.json``.

Everything goes into ``<folder>/.lolnerf_cache/<key>/``: the resized photos and masks in an image store
(:mod:`lolnerf_ns.data.image_store`: uint8, read by training one image at a time), ``cameras.npz`` (what training
reads: each photo's camera, the shared focal length and image size, the canonical keypoints) and ``cameras.json`` (per
photo its orientation, position, focal length, principal point, image size, landmarks and residual, like LOLNeRF's
released camera files, plus the canonical keypoints and the photos not used, with the reason). The key hashes the
photos' names, sizes and modification times, the landmarks file, the masks folder and the settings, so the next run
reuses the preparation unless one of them changes.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import time
import zipfile
from collections import Counter
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
from jaxtyping import Bool, Float, UInt8
from nerfstudio.utils.rich_utils import CONSOLE

from lift_common.atomic_files import write_atomically
from lift_common.cache_keys import CacheKey
from lift_common.cameras import focal_length_from_fov
from lift_common.errors import UserInputError
from lift_common.images import SUPPORTED_SUFFIXES, load_mask, load_photo, read_photo_size
from lolnerf_ns.data.camera_fit import LANDMARK_NAMES, fit_canonical_keypoints
from lolnerf_ns.data.chunked_work import chunks_of, run_in_chunks
from lolnerf_ns.data.image_store import (
    DamagedStoreError,
    ImageStore,
    is_complete,
    reopen,
    shard_problem,
    write_index,
    write_shard,
)
from lolnerf_ns.data.one_preparer import prepare_on_one_process

CACHE_FOLDER_NAME = ".lolnerf_cache"
CACHE_VERSION = 2
PHOTOS_PER_CHUNK = 256
"""Most photos a worker prepares before its results are committed (what an interrupted preparation may have to redo);
fewer when they are large (:data:`lolnerf_ns.data.chunked_work.CHUNK_BYTES`)."""
MAX_LISTED_SKIPPED = 30
"""Photos not used are listed one per line up to this many; beyond, counted by reason (all are in cameras.json)."""
MAX_DROP_ROUNDS = 5
"""Times photos whose camera fit is poor are dropped and the rest refitted; photos still beyond the limit after the
last refit are kept (each one's residual is in cameras.json)."""


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
    num_workers: int | None = None
    """Processes preparing photos (landmarks and masks) at once; default: one per CPU core. It does not change the
    result."""


CAMERAS_RECORD = "cameras.json"
"""The preparation's record for people (see :attr:`PreparedCollection.cameras`); training reads cameras.npz."""
CAMERA_ARRAYS = ("camera_to_world", "focal_length", "image_size", "canonical_keypoints")
"""What cameras.npz holds (see :attr:`PreparedCollection.camera_arrays`)."""
NOT_IN_CACHE_KEY = ("num_workers",)
"""Settings that change how fast a collection is prepared, not what is prepared."""


@dataclass(frozen=True)
class PreparedCollection:
    """The cache folder of a prepared collection: its image store, its cameras, and its record (cameras.json)."""

    folder: Path

    @cached_property
    def cameras(self) -> dict:
        """cameras.json: every photo's camera, landmarks and residual, and the photos not used."""
        path = self.folder / CAMERAS_RECORD
        try:
            cameras = json.loads(path.read_text())
            problem = None if isinstance(cameras, dict) and isinstance(cameras.get("frames"), list) else "no frames"
        except (OSError, ValueError) as error:
            problem = str(error)
        if problem is not None:
            # Training reads cameras.npz, not this record, so it is not checked at every start (50,000 photos make
            # it tens of MB); deleted, it is written again from the committed chunks at the next preparation.
            raise UserInputError(
                f"{path} cannot be read ({problem}). It is a record for people; training does not read it: delete it "
                "and run the same command again to write it again (no photo is prepared again)."
            )
        return cameras

    @property
    def frames(self) -> list[dict]:
        return self.cameras["frames"]

    @cached_property
    def store(self) -> ImageStore:
        """The photos and masks, row ``i`` being ``frames[i]``."""
        return ImageStore(self.folder)

    @cached_property
    def camera_arrays(self) -> dict[str, np.ndarray]:
        """cameras.npz: ``camera_to_world`` [N, 3, 4], ``focal_length``, ``image_size`` (width, height) and
        ``canonical_keypoints`` [5, 3]; camera ``i`` is of the store's image ``i``."""
        path = self.folder / "cameras.npz"
        try:
            with np.load(path) as file:
                arrays = {name: file[name] for name in CAMERA_ARRAYS}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            raise DamagedStoreError(self.folder, f"{path} cannot be read ({error})") from None
        if len(arrays["camera_to_world"]) != len(self.store):
            raise DamagedStoreError(
                self.folder,
                f"{path} holds {len(arrays['camera_to_world'])} cameras for the {len(self.store)} images of the store",
            )
        return arrays


def list_photos(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise UserInputError(f"{folder} is not a folder. Pass a folder of photos (or one holding transforms.json).")
    # File types from the directory entries and names sorted as strings: no stat or Path comparison per photo.
    with os.scandir(folder) as entries:
        names = sorted(
            e.name for e in entries if e.is_file() and os.path.splitext(e.name)[1].lower() in SUPPORTED_SUFFIXES
        )
    photos = [folder / name for name in names]
    if not photos:
        raise UserInputError(
            f"{folder} holds no photos ({', '.join(SUPPORTED_SUFFIXES)}). Put the photos of one class in it."
        )
    return photos


def _masks_folder(data: Path, config: CollectionConfig) -> Path | None:
    folder = config.masks_folder or data / "masks"
    return folder if folder.is_dir() else None


def cache_folder(data: Path, photos: list[Path], config: CollectionConfig) -> Path:
    """Where the preparation of ``photos`` with ``config`` lives. Files are told apart by name, size and modification
    time (reading 50,000 photos' bytes at every start would take longer than training takes to start)."""
    settings = {k: v for k, v in asdict(config).items() if k not in NOT_IN_CACHE_KEY}
    key = CacheKey({"version": CACHE_VERSION, **settings})
    if config.landmarks_file is not None and Path(config.landmarks_file).is_file():
        key.add_contents(Path(config.landmarks_file))
    masks = _masks_folder(data, config)
    inputs = [str(photo) for photo in photos]
    if masks is not None:
        with os.scandir(masks) as entries:
            inputs += sorted(entry.path for entry in entries if entry.is_file())
    for path in inputs:
        key.add_stamp(path, name=os.path.basename(path))
    return data / CACHE_FOLDER_NAME / key.hex()


def prepare_collection(data: Path, config: CollectionConfig, force: bool = False) -> PreparedCollection:
    """Prepare the photos in ``data`` (see the module docstring), reuse an identical earlier preparation, or finish
    an interrupted one; under DDP, once a machine (:mod:`lolnerf_ns.data.one_preparer`)."""
    return prepare_on_one_process(
        lambda: _prepare_or_reuse(Path(data), config, force),
        lambda: _prepare_or_reuse(Path(data), config, force=False),
        f"the photos in {data}",
    )


def _prepare_or_reuse(data: Path, config: CollectionConfig, force: bool) -> PreparedCollection:
    photos = list_photos(data)
    folder = cache_folder(data, photos, config)
    if is_complete(folder) and not force:
        prepared = PreparedCollection(folder)
        try:
            prepared.camera_arrays  # noqa: B018  (reading the cameras opens the store, which checks its files)
            if not (folder / CAMERAS_RECORD).is_file():
                raise DamagedStoreError(folder, f"{folder / CAMERAS_RECORD} is missing")
            CONSOLE.log(f"Using prepared collection {folder}")
            return prepared
        except DamagedStoreError as error:
            CONSOLE.log(
                f"[yellow]The prepared collection in {folder} is damaged ({error.problem}): preparing again what is "
                "damaged."
            )
            reopen(folder)
    if force and folder.exists():
        shutil.rmtree(folder)
    _prepare(data, photos, config, folder)
    return PreparedCollection(folder)


def _target_size(sizes: list[tuple[int, int]], max_side: int) -> tuple[int, int]:
    (width, height), _ = Counter(sizes).most_common(1)[0]
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


@dataclass(frozen=True)
class PhotoTask:
    """One photo for a worker to prepare."""

    path: Path
    size: tuple[int, int]
    """Width and height of the photo as stored (the pixels its landmarks are given in)."""
    landmarks: list | None
    """From the landmarks file, if any."""
    mask: Path | None
    """From the masks folder, if any."""


@dataclass(frozen=True)
class ChunkSettings:
    """What every chunk of one preparation shares."""

    size: tuple[int, int]
    """Width and height every photo is resized to."""
    detect_landmarks: bool
    """Detect landmarks with MediaPipe (no landmarks file)."""
    mask_source: Literal["mediapipe", "folder", "none"]
    masks_folder: Path | None


def _prepare(data: Path, photos: list[Path], config: CollectionConfig, out: Path) -> None:
    skipped: list[tuple[str, str]] = []
    started = time.perf_counter()
    given_landmarks = _read_landmarks(config, photos, data)
    masks_folder = _masks_folder(data, config)
    if config.masks == "folder" and masks_folder is None:
        raise UserInputError(f"No masks folder at {config.masks_folder or data / 'masks'}. Create it or pick --masks.")
    mask_source = config.masks
    if mask_source == "auto":
        mask_source = "folder" if masks_folder else ("mediapipe" if given_landmarks is None else "none")
    mask_files = {}
    if mask_source == "folder":
        mask_files = {p.stem: p for p in sorted(masks_folder.iterdir()) if p.suffix.lower() in SUPPORTED_SUFFIXES}

    sizes: dict[Path, tuple[int, int]] = {}
    with CONSOLE.status(f"Reading the sizes of {len(photos)} photos"):
        for path in photos:
            try:
                sizes[path] = read_photo_size(path)
            except UserInputError as error:
                skipped.append((path.name, f"unreadable: {error}"))
    if not sizes:
        raise UserInputError(f"None of the {len(photos)} photos in {data} could be read. See the messages above.")
    width, height = _target_size(list(sizes.values()), config.max_image_side)
    resized_count = sum(size != (width, height) for size in sizes.values())
    if resized_count:
        CONSOLE.log(f"{resized_count} of {len(sizes)} photos resized to {width}x{height}.")

    tasks = [
        PhotoTask(
            path,
            size,
            given_landmarks[path.name].tolist() if given_landmarks and path.name in given_landmarks else None,
            mask_files.get(path.stem),
        )
        for path, size in sizes.items()
    ]
    bytes_per_photo = width * height * (3 + (mask_source != "none"))  # as stored; the photo being read comes on top
    chunks = chunks_of(tasks, [bytes_per_photo] * len(tasks), PHOTOS_PER_CHUNK)
    settings = ChunkSettings((width, height), given_landmarks is None, mask_source, masks_folder)
    results = run_in_chunks(
        out,
        chunks,
        functools.partial(prepare_chunk, settings),
        "Landmarks and masks",
        config.num_workers,
        num_workers_option="--pipeline.datamanager.dataparser.collection.num-workers",
        damage=lambda folder, shard, result: shard_problem(folder, shard, result["layout"], 3, mask_source != "none"),
    )

    names, landmarks, locations = [], [], []
    for chunk, result in zip(chunks, results, strict=True):
        skipped += [(name, reason) for name, reason in result["skipped"]]
        names += result["names"]
        landmarks += result["landmarks"]
        locations += [(chunk.name, *location) for location in result["layout"]]
    _check_enough(len(names), skipped, config, data, "after landmark detection")
    fit, kept = _fit_and_drop(np.array(landmarks).reshape(-1, 5, 2), names, (width, height), config, skipped, data)
    _print_skipped(skipped, len(photos), out / CAMERAS_RECORD)
    _write_cameras(out, fit, [names[i] for i in kept], np.array(landmarks)[kept], (width, height), skipped, mask_source)
    shards = {chunk.name: position for position, chunk in enumerate(chunks)}
    write_index(
        out,
        names=[names[i] for i in kept],
        shards=list(shards),
        shard_of_image=np.array([shards[locations[i][0]] for i in kept], dtype=np.int32),
        layout=np.array([locations[i][1:] for i in kept], dtype=np.int64),
        channels=3,
        has_masks=mask_source != "none",
    )
    residuals = fit.residual_px
    CONSOLE.log(
        f"Cameras of {len(kept)} photos fitted: landmark residual median {np.median(residuals):.2f} px, "
        f"95th percentile {np.percentile(residuals, 95):.2f} px, worst {residuals.max():.2f} px "
        f"(each photo's is in cameras.json); focal length {fit.focal_length:.1f} px; "
        f"{time.perf_counter() - started:.1f} s in all."
    )


def _read_landmarks(config: CollectionConfig, photos: list[Path], data: Path) -> dict | None:
    from lolnerf_ns.data.landmarks import read_landmarks_file

    if config.landmarks_file is None:
        return None
    given_landmarks = read_landmarks_file(config.landmarks_file)
    unknown = sorted(set(given_landmarks) - {p.name for p in photos})
    if unknown:
        raise UserInputError(
            f"{config.landmarks_file} names images that are not in {data}: {', '.join(unknown[:5])}"
            + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
            + ". Fix the names (they are file names, e.g. cat_001.jpg) or add the images."
        )
    return given_landmarks


def prepare_chunk(settings: ChunkSettings, folder: Path, chunk: str, tasks: list[PhotoTask]) -> dict:
    """Resize, find landmarks and mask each photo of one chunk (in a worker process), write the kept ones into the
    store's shard ``chunk`` and return their names, landmarks and places in the shard, and the photos skipped."""
    import cv2

    from lolnerf_ns.data.landmarks import FaceLandmarkDetector, SelfieSegmenter

    width, height = settings.size
    detector = FaceLandmarkDetector() if settings.detect_landmarks else None
    segmenter = SelfieSegmenter() if settings.mask_source == "mediapipe" else None
    images: list[UInt8[np.ndarray, "H W 3"]] = []
    masks: list[Bool[np.ndarray, "H W"]] = []
    names: list[str] = []
    landmarks: list[Float[np.ndarray, "5 2"]] = []
    skipped: list[tuple[str, str]] = []
    try:
        for task in tasks:
            name = task.path.name
            if detector is None and task.landmarks is None:
                skipped.append((name, "no landmarks in the landmarks file"))
                continue
            try:
                image = load_photo(task.path)[..., :3]
            except UserInputError as error:
                skipped.append((name, f"unreadable: {error}"))
                continue
            resized = (
                image
                if tuple(image.shape[1::-1]) == (width, height)
                else cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
            )
            if detector is None:
                points = np.array(task.landmarks) * np.array([width / task.size[0], height / task.size[1]])
            else:
                points = detector(resized)
                if points is None:
                    skipped.append((name, "no face found"))
                    continue
            if settings.mask_source != "none":
                mask = (
                    segmenter(resized)
                    if segmenter is not None
                    else _read_mask(task.mask, task.path, (width, height), image.shape[1::-1])
                )
                if mask is None:
                    skipped.append((name, f"no mask in {settings.masks_folder}"))
                    continue
                masks.append(mask)
            images.append(resized)
            names.append(name)
            landmarks.append(points)
    finally:
        for model in (detector, segmenter):
            if model is not None:
                model.close()
    layout = write_shard(folder, chunk, images, masks if settings.mask_source != "none" else None)
    return {
        "names": names,
        "landmarks": [points.tolist() for points in landmarks],
        "layout": [list(entry) for entry in zip(layout.offsets, layout.heights, layout.widths, strict=True)],
        "skipped": skipped,
    }


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


def _check_enough(num_kept: int, skipped: list, config: CollectionConfig, data: Path, when: str) -> None:
    if num_kept >= config.min_images:
        return
    _print_skipped(skipped, num_kept + len(skipped))
    reasons = Counter(reason.split(":")[0] for _, reason in skipped)
    summary = ", ".join(f"{count} {reason}" for reason, count in reasons.most_common())
    raise UserInputError(
        f"Only {num_kept} of the photos in {data} remain {when} ({summary}); at least {config.min_images} are needed. "
        "Add photos, or for classes other than faces pass a landmarks file with --pipeline.datamanager.dataparser"
        ".collection.landmarks-file."
    )


def _fit_and_drop(
    landmarks: Float[np.ndarray, "num 5 2"],
    names: list[str],
    size: tuple[int, int],
    config: CollectionConfig,
    skipped: list,
    data: Path,
):
    """Fit the cameras, drop the photos whose fit is poor and fit the rest again, until no fit is poor (at most
    :data:`MAX_DROP_ROUNDS` times); return the fit, which is always of exactly the photos kept, and their positions
    in ``names``."""
    focal = None if config.fov_deg is None else focal_length_from_fov(config.fov_deg, size[0])
    limit = config.max_residual_fraction * size[0]
    kept = np.arange(len(names))
    fit = fit_canonical_keypoints(landmarks, size, focal_length=focal)
    for _ in range(MAX_DROP_ROUNDS):
        poor = fit.residual_px > limit
        if not poor.any():
            break
        for position, residual in zip(kept[poor], fit.residual_px[poor], strict=True):
            skipped.append(
                (names[position], f"poor camera fit: landmarks off by {residual:.1f} px RMS (limit {limit:.1f})")
            )
        kept = kept[~poor]
        _check_enough(len(kept), skipped, config, data, "after the camera fit")
        # The shared keypoints move without the dropped photos, which can leave another photo beyond the limit.
        fit = fit_canonical_keypoints(landmarks[kept], size, focal_length=focal)
    return fit, kept


def _write_cameras(
    out: Path,
    fit,
    names: list[str],
    landmarks: Float[np.ndarray, "num 5 2"],
    size: tuple[int, int],
    skipped: list[tuple[str, str]],
    mask_source: str,
) -> None:
    width, height = size
    frames = [
        {
            "file": name,
            "landmarks": points.tolist(),
            "orientation": camera_to_world[:, :3].tolist(),
            "position": camera_to_world[:, 3].tolist(),
            "focal_length": fit.focal_length,
            "principal_point": [width / 2.0, height / 2.0],
            "image_size": [width, height],
            "residual_px": float(residual),
        }
        for name, points, camera_to_world, residual in zip(
            names, landmarks, fit.camera_to_world, fit.residual_px, strict=True
        )
    ]
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
    }
    write_atomically(out / CAMERAS_RECORD, lambda file: file.write(json.dumps(cameras, indent=1).encode()))
    arrays = {
        "camera_to_world": fit.camera_to_world.astype(np.float32),
        "focal_length": np.array(fit.focal_length),
        "image_size": np.array([width, height]),
        "canonical_keypoints": fit.canonical_keypoints,
    }
    write_atomically(out / "cameras.npz", lambda file: np.savez(file, **arrays))


def _print_skipped(skipped: list[tuple[str, str]], total: int, record: Path | None = None) -> None:
    if not skipped:
        return
    from rich.table import Table

    table = Table(title=f"{len(skipped)} of {total} photos not used")
    if len(skipped) <= MAX_LISTED_SKIPPED:
        table.add_column("photo")
        table.add_column("reason")
        for name, reason in skipped:
            table.add_row(name, reason)
    else:
        table.add_column("photos")
        table.add_column("reason")
        for reason, count in Counter(reason.split(":")[0] for _, reason in skipped).most_common():
            table.add_row(str(count), reason)
    CONSOLE.print(table)
    if record is not None:
        CONSOLE.print(f"Every photo not used, and why, is listed in {record}.")
