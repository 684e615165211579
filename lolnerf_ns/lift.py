"""Lifting a new photo into a trained LOLNeRF: find its camera, then optimise a new latent code with the networks
frozen (optionally fine-tuning them briefly afterwards), as LOLNeRF reconstructs unseen instances.

The camera comes either from the photo's five landmarks (MediaPipe Face Mesh on faces, or given), solved against the
canonical keypoints saved in the run's checkpoint with the same code that fitted the collection's cameras, or from a
``transforms.json`` frame (known cameras, e.g. synthetic data). The photo is resized to the training images' size,
as the collection's photos were.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from jaxtyping import Float
from nerfstudio.cameras.cameras import Cameras
from nerfstudio.utils.rich_utils import CONSOLE
from torch import Tensor

from lift_common.errors import UserInputError
from lift_common.images import load_mask, load_photo
from lift_common.metrics import psnr
from lift_common.user_files import finite_array, positive_number, read_json
from lolnerf_ns.data.camera_fit import fit_camera_to_keypoints
from lolnerf_ns.data.photo_preparation import MAX_RESIDUAL_FRACTION, PhotoPreparer, poorly_fitted, residual_limit_px
from lolnerf_ns.model import LOLNeRFModel
from lolnerf_ns.ray_keys import LATENT_CODE_KEY


@dataclass
class LiftTarget:
    """A photo to lift, as the model will see it."""

    image: Float[Tensor, "H W 3"]
    """Colours in [0, 1]."""
    mask: Float[Tensor, "H W 1"] | None
    """1 on the object, where known."""
    camera: Cameras
    """The photo's camera (one), in the run's world."""
    camera_source: str
    """How the camera was found, for the log."""
    residual_px: float | None = None
    """RMS landmark reprojection error of a solved camera, in pixels."""


@dataclass
class LiftResult:
    """The new identity's code and how well it reproduces the photo."""

    code: Float[Tensor, "latent_dim"]
    psnr: float
    """PSNR of the full render from the photo's camera against the photo."""
    losses: list[float] = field(default_factory=list)
    """Total loss at every step."""


def _read_image(photo: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """The photo's RGB (uint8) and its alpha as a mask where it has a transparent part."""
    pixels = load_photo(photo)
    alpha = pixels[..., 3] if pixels.shape[-1] == 4 and pixels[..., 3].min() < 255 else None
    return pixels[..., :3], (alpha > 127) if alpha is not None else None


def target_with_known_camera(photo: Path, transforms: Path, mask: Path | None = None) -> LiftTarget:
    """The photo with the camera of its frame (same file name) in ``transforms`` (a transforms.json or its folder)."""
    transforms = transforms / "transforms.json" if transforms.is_dir() else transforms
    if not transforms.is_file():
        raise UserInputError(f"{transforms} does not exist. Pass the transforms.json holding the photo's camera.")
    meta = read_json(transforms, "Pass the transforms.json holding the photo's camera (nerfstudio's format).")
    frames = meta.get("frames") if isinstance(meta, dict) else None
    if not isinstance(frames, list):
        raise UserInputError(
            f"{transforms} has no list of 'frames'. Pass the transforms.json holding the photo's camera."
        )
    frames = [f for f in frames if isinstance(f, dict) and Path(str(f.get("file_path", ""))).name == photo.name]
    if not frames:
        raise UserInputError(
            f"{transforms} has no frame whose file_path ends in {photo.name}. Add the photo's frame, or name the "
            "photo as its frame does."
        )
    frame = frames[0]
    rgb, alpha = _read_image(photo)
    height, width = rgb.shape[:2]
    size = {key: frame.get(key, meta.get(key)) for key in ("fl_x", "fl_y", "cx", "cy", "w", "h")}
    if None in (size["fl_x"], size["fl_y"]):
        raise UserInputError(f"{transforms}: the frame of {photo.name} has no focal length (fl_x, fl_y).")
    where = f"{transforms}: the frame of {photo.name}"
    for key, value in size.items():
        if value is not None:
            size[key] = positive_number(value, f"{where}: '{key}'")
    pose = finite_array(frame.get("transform_matrix"), ((4, 4), (3, 4)), f"{where}: 'transform_matrix'")
    scale_x = width / float(size["w"] or width)
    scale_y = height / float(size["h"] or height)
    camera = Cameras(
        camera_to_worlds=torch.tensor(pose, dtype=torch.float32)[None, :3],
        fx=float(size["fl_x"]) * scale_x,
        fy=float(size["fl_y"]) * scale_y,
        cx=float(size["cx"] if size["cx"] is not None else width / 2) * scale_x,
        cy=float(size["cy"] if size["cy"] is not None else height / 2) * scale_y,
        width=width,
        height=height,
    )
    mask_path = mask or (transforms.parent / str(frame["mask_path"]) if "mask_path" in frame else None)
    if mask is None and mask_path is not None and not mask_path.is_file():
        raise UserInputError(
            f"{where} names the mask {frame['mask_path']}, which does not exist in {transforms.parent}. Add the "
            "mask, fix the frame's mask_path, or pass --mask."
        )
    mask_array = load_mask(mask_path, (height, width), photo.name) if mask_path is not None else alpha
    return LiftTarget(_to_tensor(rgb), _mask_tensor(mask_array), camera, f"frame {photo.name} of {transforms}")


def target_from_landmarks(
    photo: Path,
    model: LOLNeRFModel,
    training_cameras: Cameras,
    landmarks: list[float] | None = None,
    mask: Path | None = None,
    max_residual_fraction: float = MAX_RESIDUAL_FRACTION,
) -> LiftTarget:
    """The photo prepared as the collection's photos were (:mod:`lolnerf_ns.data.photo_preparation`: resized to the
    training size, landmarks and mask found there), with its camera solved from five landmarks against the run's
    canonical keypoints. Landmarks are the face's (MediaPipe) unless given, in pixels of the original photo."""
    keypoints = model.canonical_keypoints.detach().cpu().numpy()
    if np.isnan(keypoints).any():
        raise UserInputError(
            "This run was trained with known cameras (transforms.json), so it has no canonical keypoints to place a "
            "new photo against. Pass the photo's camera with --camera transforms.json."
        )
    given = None
    if landmarks is not None:
        if len(landmarks) != 10:
            raise UserInputError(f"--landmarks takes 10 numbers (x1 y1 ... x5 y5); got {len(landmarks)}.")
        given = finite_array(np.reshape(landmarks, (5, 2)), ((5, 2),), "--landmarks")
    width, height = int(training_cameras.width[0]), int(training_cameras.height[0])
    # A face's mask, where the photo has no other, is MediaPipe's, as for a collection of faces.
    with PhotoPreparer((width, height), segment_faces=given is None) as prepare:
        prepared = prepare(photo, given, mask_file=mask, alpha_is_mask=True)
    stored_width, stored_height = prepared.stored_size
    if abs(width / stored_width / (height / stored_height) - 1.0) > 0.01:
        CONSOLE.log(
            f"{photo.name} is {stored_width}x{stored_height}; resized to {width}x{height} like the training photos."
        )
    if prepared.landmarks is None:
        raise UserInputError(
            f"No face found in {photo}. Pass a photo with a face, its five landmarks with --landmarks "
            "x1 y1 ... x5 y5, or its camera with --camera transforms.json."
        )
    focal = float(training_cameras.fx[0])
    fit = fit_camera_to_keypoints(prepared.landmarks, keypoints, (width, height), focal)
    limit = residual_limit_px(width, max_residual_fraction)
    if poorly_fitted(fit.residual_px, limit):
        raise UserInputError(
            f"The landmarks of {photo} do not fit the run's canonical keypoints (off by {fit.residual_px:.1f} px RMS, "
            f"limit {limit:.1f} px at {width}x{height}). Check the landmarks' order, or use a more frontal photo."
        )
    camera = Cameras(
        camera_to_worlds=torch.tensor(fit.camera_to_world, dtype=torch.float32)[None],
        fx=focal,
        fy=float(training_cameras.fy[0]),
        cx=float(training_cameras.cx[0]),
        cy=float(training_cameras.cy[0]),
        width=width,
        height=height,
    )
    source = "the given landmarks" if given is not None else "MediaPipe Face Mesh landmarks"
    return LiftTarget(_to_tensor(prepared.image), _mask_tensor(prepared.mask), camera, source, fit.residual_px)


def _to_tensor(rgb: np.ndarray) -> Float[Tensor, "H W 3"]:
    return torch.from_numpy(np.ascontiguousarray(rgb)).float() / 255.0


def _mask_tensor(mask: np.ndarray | None) -> Float[Tensor, "H W 1"] | None:
    return None if mask is None else torch.from_numpy(np.asarray(mask, dtype=np.float32))[..., None]


def _with_code(rays, code: Tensor):
    rays.metadata = dict(rays.metadata or {}, **{LATENT_CODE_KEY: code.expand(*rays.shape, -1)})
    return rays


def render_with_code(model: LOLNeRFModel, camera: Cameras, code: Tensor) -> dict[str, Tensor]:
    """Full-image outputs of ``model`` from ``camera`` with every ray given ``code``."""
    rays = camera.to(model.device).generate_rays(camera_indices=0, keep_shape=True)
    with torch.no_grad():
        return model.get_outputs_for_camera_ray_bundle(_with_code(rays, code.detach().to(model.device)))


def lift_latent(
    model: LOLNeRFModel,
    target: LiftTarget,
    steps: int = 300,
    latent_lr: float = 1e-2,
    fine_tune_steps: int = 0,
    fine_tune_lr: float = 1e-4,
    rays_per_step: int = 1024,
    seed: int = 0,
) -> LiftResult:
    """Optimise a new code (from the training codes' mean) to reproduce the photo with the model's own losses,
    networks frozen; then, for ``fine_tune_steps``, the networks too. Leaves the model in eval mode."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    device = model.device
    generator = torch.Generator().manual_seed(seed)
    rays = target.camera.to(device).generate_rays(camera_indices=0, keep_shape=False)
    image = target.image.reshape(-1, 3).to(device)
    mask = target.mask.reshape(-1, 1).to(device) if target.mask is not None else None
    code = model.identity_code("mean").detach().clone().requires_grad_(True)
    networks = [p for p in model.parameters() if p is not model.latent_table.weight]
    requires_grad = [p.requires_grad for p in model.parameters()]
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    optimizer = torch.optim.Adam([code], lr=latent_lr)
    history: list[float] = []
    model.train()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, TextColumn("loss {task.fields[loss]:.4f}"), console=CONSOLE) as progress:
            task = progress.add_task("Optimising the latent code", total=steps, loss=float("nan"))
            for step in range(steps + fine_tune_steps):
                if step == steps and fine_tune_steps > 0:
                    for parameter in networks:
                        parameter.requires_grad_(True)
                    optimizer.add_param_group({"params": networks, "lr": fine_tune_lr})
                    task = progress.add_task("Fine-tuning the networks", total=fine_tune_steps, loss=float("nan"))
                picks = torch.randint(0, len(image), (rays_per_step,), generator=generator).to(device)
                batch = {"image": image[picks]}
                if mask is not None:
                    batch["mask"] = mask[picks]
                outputs = model(_with_code(rays[picks], code))
                loss = sum(model.get_loss_dict(outputs, batch).values())
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                history.append(float(loss))
                progress.update(task, advance=1, loss=history[-1])
    finally:
        for parameter, flag in zip(model.parameters(), requires_grad, strict=True):
            parameter.requires_grad_(flag)
        model.eval()
    rendered = render_with_code(model, target.camera, code)["rgb"].cpu()
    return LiftResult(code=code.detach(), psnr=float(psnr(rendered, target.image)), losses=history)
