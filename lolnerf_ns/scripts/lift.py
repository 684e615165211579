"""``ns-lolnerf-lift``: lift a new photo into a trained lolnerf run, as a new identity that nerfstudio's tools show.

Writes a new run beside the trained one, ``<timestamp>_lifted_<name>/``: its config.yml (the new identity appended to
the latent table and shown by default), a checkpoint, ``lift.json`` (camera, fit and PSNR) and ``camera_path.json``
(a sweep around the photo's view), so ``ns-render``, ``ns-export`` and ``ns-viewer`` work on it unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Tuple

import tyro
from nerfstudio.utils.rich_utils import CONSOLE

from lift_common.errors import UserInputError


@dataclass
class LiftPhoto:
    """Lift a new photo into a trained lolnerf run: solve its camera, optimise its latent code with the networks
    frozen (optionally fine-tune them), and write a run that ns-render, ns-export and ns-viewer load."""

    load_config: Path
    """config.yml of the trained lolnerf run."""
    image: Path
    """The photo to lift (PNG, JPEG or WebP; an RGBA photo's alpha is its mask)."""
    name: str | None = None
    """Name of the new identity (default: the photo's file name without its suffix)."""
    camera: Path | None = None
    """A transforms.json holding the photo's camera (the frame whose file name is the photo's), for runs trained with
    known cameras. Without it the camera is solved from five landmarks against the run's canonical keypoints."""
    landmarks: Tuple[float, ...] | None = None
    """The photo's five landmarks as ten numbers x1 y1 ... x5 y5 (pixels of the photo, in the order of the run's
    landmarks file), for classes other than faces. Default: MediaPipe Face Mesh."""
    mask: Path | None = None
    """Mask of the photo (white on the object). Default: the photo's alpha, the transforms frame's mask_path, or
    MediaPipe Selfie Segmentation for faces; otherwise no mask loss."""
    steps: int = 300
    """Steps optimising the new latent code with the networks frozen."""
    latent_lr: float = 1e-2
    """Adam learning rate of the latent code."""
    fine_tune_steps: int = 0
    """Further steps that also fine-tune the networks on the photo (0: off). Only the lifted run gets the
    fine-tuned weights; the trained run is not changed."""
    fine_tune_lr: float = 1e-4
    """Adam learning rate of the networks while fine-tuning."""
    rays_per_step: int = 1024
    """Pixels of the photo per optimisation step."""
    seed: int = 0
    """Seed of the pixel sampling."""
    sweep_deg: float = 60.0
    """Azimuth range of the written camera path, centred on the photo's view."""
    frames: int = 48
    """Frames of the written camera path."""
    seconds: float = 4.0
    """Duration of the written camera path."""

    def main(self) -> None:
        import numpy as np
        import torch
        from nerfstudio.utils.eval_utils import eval_setup

        from lift_common.atomic_files import write_atomically
        from lift_common.camera_paths import (
            camera_path,
            sweep_camera_to_worlds,
            training_view_geometry,
            write_camera_path,
        )
        from lift_common.cameras import orbit_angles
        from lift_common.checkpoints import refused_checkpoints_as_user_errors
        from lolnerf_ns.data.photo_preparation import MAX_RESIDUAL_FRACTION
        from lolnerf_ns.lift import lift_latent, target_from_landmarks, target_with_known_camera
        from lolnerf_ns.runs import read_run_config, safe_name, write_lifted_run

        config = read_run_config(self.load_config)
        if not self.image.is_file():
            raise UserInputError(f"{self.image} does not exist. Pass the photo to lift with --image.")
        name = safe_name(self.name or self.image.stem)
        lifted_folder = config.get_base_dir().parent / f"{config.timestamp}_lifted_{name}"
        if lifted_folder.exists():
            raise UserInputError(f"{lifted_folder} exists already. Pass another --name, or delete that folder.")

        with refused_checkpoints_as_user_errors():
            _, pipeline, _, step = eval_setup(
                self.load_config, test_mode="inference", update_config_callback=lambda _: config
            )
        model = pipeline.model
        if name in model.identity_names:
            raise UserInputError(f"The run already has an identity named '{name}'. Pass another --name.")
        training_cameras = pipeline.datamanager.train_dataset.cameras
        if self.camera is not None:
            target = target_with_known_camera(self.image, self.camera, self.mask)
        else:
            # The run's own limit on a camera fit; a run trained on a transforms.json has no collection settings.
            collection_config = getattr(config.pipeline.datamanager.dataparser, "collection", None)
            target = target_from_landmarks(
                self.image,
                model,
                training_cameras,
                list(self.landmarks) if self.landmarks is not None else None,
                self.mask,
                collection_config.max_residual_fraction if collection_config is not None else MAX_RESIDUAL_FRACTION,
            )
        fit = f" ({target.residual_px:.2f} px RMS)" if target.residual_px is not None else ""
        CONSOLE.log(f"Camera of {self.image.name}: from {target.camera_source}{fit}.")
        result = lift_latent(
            model,
            target,
            steps=self.steps,
            latent_lr=self.latent_lr,
            fine_tune_steps=self.fine_tune_steps,
            fine_tune_lr=self.fine_tune_lr,
            rays_per_step=self.rays_per_step,
            seed=self.seed,
        )
        lifted_config = write_lifted_run(config, pipeline.state_dict(), step, name, result.code)
        folder = lifted_config.parent

        azimuth, elevation, radius = (float(v) for v in orbit_angles(target.camera.camera_to_worlds[0, :, 3].double()))
        geometry = training_view_geometry(training_cameras)
        sweep = sweep_camera_to_worlds(self.frames, azimuth, elevation, radius, self.sweep_deg)
        path = write_camera_path(
            folder / "camera_path.json",
            camera_path(sweep, geometry.fov_deg, geometry.width, geometry.height, self.seconds, (0.0, 1.0)),
        )
        record = {
            "image": str(self.image.resolve()),
            "name": name,
            "camera_source": target.camera_source,
            "camera_to_world": target.camera.camera_to_worlds[0].tolist(),
            "landmark_residual_px": target.residual_px,
            "steps": self.steps,
            "fine_tune_steps": self.fine_tune_steps,
            "psnr": result.psnr,
            "final_loss": result.losses[-1] if result.losses else None,
            "from_run": str(self.load_config.resolve()),
            "torch": torch.__version__,
        }
        (folder / "lift.json").write_text(json.dumps(record, indent=1))
        # The code alone, for ns-lift-export-mesh --latent (and any other use of the identity outside this run).
        code = result.code.detach().cpu().float().numpy()
        write_atomically(folder / "latent.npy", lambda file: np.save(file, code, allow_pickle=False))
        CONSOLE.print(f"Lifted {self.image.name} as identity '{name}': PSNR {result.psnr:.2f} dB on the photo.")
        CONSOLE.print(f"Run: {lifted_config}")
        CONSOLE.print(
            f"Render: ns-render camera-path --load-config {lifted_config} --camera-path-filename {path} "
            f"--output-path renders/{name}.mp4"
        )
        CONSOLE.print(f"Export: ns-export pointcloud --load-config {lifted_config} --output-dir exports/{name}")


def entrypoint() -> None:
    """Entry point of ``ns-lolnerf-lift``."""
    tyro.extras.set_accent_color("bright_yellow")
    tyro.cli(LiftPhoto).main()


if __name__ == "__main__":
    entrypoint()
