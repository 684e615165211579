"""``ns-lift-orbit-path``: write a camera path that circles a trained object, for ``ns-render camera-path``.

Radius, elevation and field of view default to the run's training cameras (NeuralLift-360: the photo's reference
camera; LOLNeRF: the median of the collection's cameras), read from the run's config without loading its model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tyro
from nerfstudio.utils.rich_utils import CONSOLE

from lift_common.camera_paths import OrbitPath, write_camera_path
from lift_common.errors import UserInputError


@dataclass
class OrbitPathCommand:
    """Write a 360° orbit camera path around a trained object for ns-render camera-path."""

    load_config: Path
    """The run's config.yml (as given to ns-render)."""
    output_path: Path = Path("orbit.json")
    """Where the camera path is written."""
    num_frames: int = 120
    """Frames in one turn."""
    seconds: float = 4.0
    """Length of the video."""
    resolution: int = 512
    """Side of the rendered frames, in pixels."""
    radius: float | None = None
    """Distance from the object's centre (default: the training cameras')."""
    elevation_deg: float | None = None
    """Elevation above the object's equator in degrees (default: the training cameras')."""
    fov_deg: float | None = None
    """Vertical field of view in degrees (default: the training cameras')."""
    start_azimuth_deg: float = 0.0
    """Azimuth of the first frame (0: the reference view)."""
    render_times: tuple[float, float] | None = None
    """Give each frame a render_time from the first to the second value (LOLNeRF: identity interpolation)."""

    def main(self) -> None:
        radius, elevation, fov = training_camera_orbit(self.load_config)
        path = OrbitPath(
            radius=self.radius if self.radius is not None else radius,
            elevation_deg=self.elevation_deg if self.elevation_deg is not None else elevation,
            fov_deg=self.fov_deg if self.fov_deg is not None else fov,
            resolution=self.resolution,
            num_frames=self.num_frames,
            seconds=self.seconds,
            start_azimuth_deg=self.start_azimuth_deg,
            render_times=self.render_times,
        )
        write_camera_path(self.output_path, path.camera_path())
        CONSOLE.print(
            f"Orbit of {path.num_frames} frames at radius {path.radius:.2f}, elevation {path.elevation_deg:.1f}°, "
            f"field of view {path.fov_deg:.1f}°: {self.output_path}"
        )
        CONSOLE.print(
            f"Render with: ns-render camera-path --load-config {self.load_config} "
            f"--camera-path-filename {self.output_path} --output-path {self.output_path.with_suffix('.mp4')}"
        )


def training_camera_orbit(config_path: Path) -> tuple[float, float, float]:
    """Median radius, elevation (degrees) and vertical field of view (degrees) of a run's training cameras."""
    from lift_common.camera_paths import training_view_geometry
    from lift_common.run_configs import read_run_config

    config = read_run_config(config_path)
    datamanager = getattr(getattr(config, "pipeline", None), "datamanager", None)
    if datamanager is None:
        raise UserInputError(f"{config_path} is not the config of a run. Pass the config.yml that ns-train wrote.")
    data = getattr(datamanager, "data", None) or config.data
    if data is not None:  # as nerfstudio's datamanager does: --data overrides the dataparser's own default
        datamanager.dataparser.data = Path(data)
    geometry = training_view_geometry(datamanager.dataparser.setup().get_dataparser_outputs("train").cameras)
    return geometry.radius, geometry.elevation_deg, geometry.fov_deg


def entrypoint() -> None:
    """Entry point of ``ns-lift-orbit-path``."""
    tyro.extras.set_accent_color("bright_yellow")
    tyro.cli(OrbitPathCommand).main()


if __name__ == "__main__":
    entrypoint()
