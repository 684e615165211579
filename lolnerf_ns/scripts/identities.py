"""``ns-lolnerf-identities``: choose which identities nerfstudio's tools show, and write a camera path through them.

``ns-render`` and ``ns-export`` take no model options, so the choice travels in a config.yml: this command writes a
copy of the run's config with ``render_identities`` set (same checkpoints) and a ``camera_path.json`` whose
``render_time`` walks from the first identity to the last. Then, unchanged:

    ns-render camera-path --load-config OUT/config.yml --camera-path-filename OUT/camera_path.json
    ns-export pointcloud --load-config OUT/config.yml --output-dir exports/   (the first identity)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Tuple

import tyro
from nerfstudio.utils.rich_utils import CONSOLE

from lift_common.errors import UserInputError


@dataclass
class ChooseIdentities:
    """Write a config.yml showing chosen identities of a trained lolnerf run, and a camera path that interpolates
    between them, for ns-render, ns-export and ns-viewer."""

    load_config: Path
    """config.yml of the trained lolnerf run (or of a lifted run)."""
    identities: Tuple[str, ...]
    """Identities to show, in order: rows of the latent table (0, 1, ...), names (image file names, instance ids,
    lifted names), 'mean', or 'sample:SEED'. With several, the camera path interpolates from the first to the last."""
    output_dir: Path | None = None
    """Where config.yml and camera_path.json go (default: identities/<names> inside the run's folder)."""
    frames: int = 60
    """Frames of the camera path."""
    seconds: float = 4.0
    """Duration of the camera path."""
    azimuth_deg: float = 0.0
    """Azimuth of the camera path's centre (0: the class's front)."""
    elevation_deg: float = 0.0
    """Elevation of the camera above the class's centre."""
    sweep_deg: float = 0.0
    """Azimuth range the camera sweeps over the path (0: a fixed camera, so only the identity changes)."""
    radius: float | None = None
    """Distance of the camera from the class's centre (default: the training cameras' median)."""

    def main(self) -> None:
        from nerfstudio.utils.eval_utils import eval_setup

        from lift_common.camera_paths import (
            camera_path,
            sweep_camera_to_worlds,
            training_view_geometry,
            write_camera_path,
        )
        from lift_common.checkpoints import refused_checkpoints_as_user_errors
        from lolnerf_ns.runs import read_run_config, safe_name, write_config

        if not self.identities:
            raise UserInputError("Name at least one identity with --identities.")
        config = read_run_config(self.load_config)
        config.pipeline.model.render_identities = tuple(self.identities)
        # Building the model checks every identity against the run's names; a wrong one is one message.
        with refused_checkpoints_as_user_errors():
            _, pipeline, _, _ = eval_setup(
                self.load_config, test_mode="inference", update_config_callback=lambda _: config
            )
        folder = self.output_dir or config.get_base_dir() / "identities" / safe_name("-".join(self.identities))
        config_path = write_config(config, folder / "config.yml")
        geometry = training_view_geometry(pipeline.datamanager.train_dataset.cameras)
        radius = self.radius if self.radius is not None else geometry.radius
        cameras = sweep_camera_to_worlds(self.frames, self.azimuth_deg, self.elevation_deg, radius, self.sweep_deg)
        path = write_camera_path(
            folder / "camera_path.json",
            # render_time 0 -> 1 walks the model's render_identities from the first to the last.
            camera_path(cameras, geometry.fov_deg, geometry.width, geometry.height, self.seconds, (0.0, 1.0)),
        )
        CONSOLE.print(f"Config showing {', '.join(self.identities)}: {config_path}")
        CONSOLE.print(
            f"Render: ns-render camera-path --load-config {config_path} --camera-path-filename {path} "
            f"--output-path renders/{folder.name}.mp4"
        )
        CONSOLE.print(
            f"Export ({self.identities[0]}): ns-export pointcloud --load-config {config_path} --output-dir exports/"
        )


def entrypoint() -> None:
    """Entry point of ``ns-lolnerf-identities``."""
    tyro.extras.set_accent_color("bright_yellow")
    tyro.cli(ChooseIdentities).main()


if __name__ == "__main__":
    entrypoint()
