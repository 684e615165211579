"""Lifts of a class folder's held-out objects scored against their truth all around (``docs/object-class-layout.md``).

A lift's input is the object's front photo (``photo.png``) with its true depth beside it (the depth ranking loss at
its best, the same for every prior compared); its scores come from rendering the trained model at every camera of
the object's ``transforms.json`` and comparing with the views and masks there.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

BACK_FROM_FRONT_DEG = 135.0
"""Views whose azimuth is at least this far from the photo's (azimuth 0) are the back."""


def write_lift_input(object_folder: Path, folder: Path) -> Path:
    """``folder`` with the object's photo (``object.png``, RGBA) and its true depth (``depth.npy``): a ``--data``."""
    from PIL import Image

    from lift_testing.object_class import camera, trace
    from lift_testing.object_class_oracle import read_procedural_object

    photo = Image.open(object_folder / "photo.png")
    view = camera(0.0, 0.0, photo.width)
    rays = view.generate_rays(camera_indices=0, keep_shape=True)
    _, distance, _ = trace(read_procedural_object(object_folder), rays.origins, rays.directions)
    # nerfstudio's ray directions are unit length, so the distance along them is the depth the loss ranks.
    folder.mkdir(parents=True, exist_ok=True)
    photo.save(folder / "object.png")
    np.save(folder / "depth.npy", distance[..., 0].numpy().astype(np.float32))
    return folder


def train_class_lift(object_folder: Path, folder: Path, make_config: Callable[[Path, Path], object]):
    """Lift the object: write its lift input to ``folder/data``, train ``make_config(data, folder / "outputs")`` (a
    neurallift trainer config) through ns-train's entry point, and load the trained model from its checkpoint.
    Returns the model and the minutes training took."""
    from nerfstudio.scripts.train import main as ns_train_main
    from nerfstudio.utils.eval_utils import eval_setup

    data = write_lift_input(object_folder, folder / "data")
    config = make_config(data, folder / "outputs")
    start = time.perf_counter()
    ns_train_main(config)
    minutes = (time.perf_counter() - start) / 60
    (config_path,) = (folder / "outputs").glob("*/neurallift/*/config.yml")
    _, pipeline, _, _ = eval_setup(config_path, test_mode="inference")
    return pipeline.model, minutes


@dataclass
class ObjectViews:
    """An object's views as its ``transforms.json`` lists them, with their cameras and angles."""

    cameras: object
    """nerfstudio ``Cameras``, one a view."""
    images: Float[Tensor, "views H W 3"]
    masks: Float[Tensor, "views H W"]
    azimuths_deg: Float[Tensor, "views"]
    elevations_deg: Float[Tensor, "views"]

    @property
    def front(self) -> int:
        """The index of the photo's view (azimuth 0, elevation 0)."""
        return int(torch.argmin(self.azimuths_deg.abs() + self.elevations_deg.abs()))

    @property
    def back(self) -> list[int]:
        """The indices of the back views (:func:`back_views`)."""
        return back_views(self.azimuths_deg).tolist()


def read_object_views(object_folder: Path) -> ObjectViews:
    from nerfstudio.cameras.cameras import Cameras
    from PIL import Image

    from lift_common.cameras import orbit_angles

    meta = json.loads((object_folder / "transforms.json").read_text())
    frames = meta["frames"]
    poses = torch.tensor([frame["transform_matrix"] for frame in frames], dtype=torch.float32)[:, :3, :4]
    cameras = Cameras(
        camera_to_worlds=poses,
        fx=float(meta["fl_x"]),
        fy=float(meta["fl_y"]),
        cx=float(meta["cx"]),
        cy=float(meta["cy"]),
        width=int(meta["w"]),
        height=int(meta["h"]),
    )

    def read(path: str, mode: str) -> Tensor:
        return torch.from_numpy(np.asarray(Image.open(object_folder / path).convert(mode))).float() / 255.0

    azimuths, elevations, _ = orbit_angles(poses[:, :, 3])
    return ObjectViews(
        cameras=cameras,
        images=torch.stack([read(frame["file_path"], "RGB") for frame in frames]),
        masks=torch.stack([read(frame["mask_path"], "L") for frame in frames]),
        azimuths_deg=azimuths,
        elevations_deg=elevations,
    )


def back_views(azimuths_deg: Float[Tensor, "views"]) -> Tensor:
    """Indices of the views at least ``BACK_FROM_FRONT_DEG`` in azimuth from the front."""
    behind = torch.cos(torch.deg2rad(azimuths_deg)) <= math.cos(math.radians(BACK_FROM_FRONT_DEG))
    return torch.nonzero(behind).flatten()


@dataclass
class ClassLiftScores:
    """A lift against its object's truth."""

    reference_psnr: float
    """The view from the photo's camera against the photo (dB)."""
    back_psnr: float
    """Mean over the back views (azimuth 135-225 degrees, every elevation) of each view's PSNR (dB)."""
    back_ssim: float
    """Mean SSIM over the same views."""
    silhouette_iou: float
    """Intersection over union of the rendered opacity above 0.5 with the true masks, over every view."""
    off_object_opacity: float
    """Mean rendered opacity where the true mask is empty, over every view (haze and floaters)."""


@torch.no_grad()
def score_class_lift(model, views: ObjectViews) -> ClassLiftScores:
    """Render ``model`` (albedo on white, as its eval renders are) at every view and score it."""
    model.eval()
    renders, opacities = [], []
    for index in range(len(views.images)):
        outputs = model.get_outputs_for_camera(views.cameras[index : index + 1])
        renders.append(outputs["rgb"].cpu())
        opacities.append(outputs["accumulation"].cpu()[..., 0])
    return scores_against_truth(views, torch.stack(renders), torch.stack(opacities))


def copy_the_front_scores(views: ObjectViews) -> ClassLiftScores:
    """The scores of a "lift" that shows the photo from every side: the baseline a prior must beat (its reference
    view is the photo itself, so its reference PSNR is NaN)."""
    photo, silhouette = views.images[views.front], (views.masks[views.front] > 0.5).float()
    scores = scores_against_truth(views, photo.expand_as(views.images), silhouette.expand_as(views.masks))
    return dataclasses.replace(scores, reference_psnr=float("nan"))


def scores_against_truth(
    views: ObjectViews, renders: Float[Tensor, "views H W 3"], opacities: Float[Tensor, "views H W"]
) -> ClassLiftScores:
    """Scores of ``renders`` and ``opacities``, one a view, against the views' images and masks."""
    from lift_common.metrics import ImageQualityMetrics

    metrics = ImageQualityMetrics()
    inside, drawn = views.masks > 0.5, opacities > 0.5
    return ClassLiftScores(
        reference_psnr=metrics.psnr(views.images[views.front], renders[views.front]),
        back_psnr=float(np.mean([metrics.psnr(views.images[i], renders[i]) for i in views.back])),
        back_ssim=float(np.mean([metrics.ssim(views.images[i], renders[i]) for i in views.back])),
        silhouette_iou=float((inside & drawn).sum() / (inside | drawn).sum().clamp(min=1)),
        off_object_opacity=float(opacities[~inside].float().mean()),
    )
