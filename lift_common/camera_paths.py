"""Camera paths for ``ns-render camera-path``: full orbits around the object and sweeps across its front.

The file is the one nerfstudio's viewer writes (``camera_path`` keyframes with ``camera_to_world``, vertical ``fov`` in
degrees, ``aspect`` and optionally ``render_time``). nerfstudio's ``ns-render spiral`` stays near one camera and its
interpolated path follows the training cameras (NeuralLift-360 has one), so a 360° video needs an orbit instead.
A ``render_time`` on each keyframe is read by models that look at the camera's time: LOLNeRF walks along its
``render_identities`` with it, so a camera path is also an identity interpolation. Cameras sit on the orbit of
:mod:`lift_common.cameras` (world +Z up, the object's front towards -Y at azimuth 0).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from jaxtyping import Float
from nerfstudio.cameras.cameras import Cameras
from torch import Tensor

from lift_common.cameras import fov_from_focal_length, orbit_camera_to_world


def camera_path(
    camera_to_worlds: Float[Tensor, "num_frames 3 4"],
    vertical_fov_deg: float,
    width: int,
    height: int,
    seconds: float,
    render_times: tuple[float, float] | None = None,
) -> dict:
    """The camera-path dictionary ``ns-render camera-path`` reads; with ``render_times``, each frame's
    ``render_time`` goes linearly from the first value to the second."""
    num_frames = len(camera_to_worlds)
    bottom = torch.tensor([[0.0, 0.0, 0.0, 1.0]])
    keyframes = []
    for index, camera_to_world in enumerate(camera_to_worlds):
        keyframe = {
            "camera_to_world": torch.cat([camera_to_world, bottom]).flatten().tolist(),
            "fov": vertical_fov_deg,
            "aspect": width / height,
        }
        if render_times is not None:
            start, end = render_times
            keyframe["render_time"] = start + (end - start) * index / max(num_frames - 1, 1)
        keyframes.append(keyframe)
    return {
        "camera_type": "perspective",
        "render_height": height,
        "render_width": width,
        "seconds": seconds,
        "fps": num_frames / seconds,
        "camera_path": keyframes,
        "crop": None,
    }


def sweep_camera_to_worlds(
    num_frames: int, azimuth_deg: float, elevation_deg: float, radius: float, sweep_deg: float
) -> Float[Tensor, "num_frames 3 4"]:
    """Cameras looking at the origin, from ``azimuth_deg - sweep/2`` to ``azimuth_deg + sweep/2`` (0: all at
    ``azimuth_deg``)."""
    offsets = torch.linspace(-0.5, 0.5, num_frames) * sweep_deg if num_frames > 1 else torch.zeros(1)
    azimuths = azimuth_deg + offsets
    return orbit_camera_to_world(azimuths, torch.full_like(azimuths, elevation_deg), torch.full_like(azimuths, radius))


@dataclass
class OrbitPath:
    """A full turn around the origin (where both methods put the object)."""

    radius: float
    """Distance of the camera from the object's centre, in scene units."""
    elevation_deg: float
    """Height of the orbit above the object's equator, in degrees."""
    fov_deg: float
    """Vertical field of view, in degrees."""
    resolution: int = 512
    """Side of the rendered frames, in pixels."""
    num_frames: int = 120
    """Frames in one turn."""
    seconds: float = 4.0
    """Length of the video."""
    start_azimuth_deg: float = 0.0
    """Where the turn starts (0: the reference view, for NeuralLift-360)."""
    render_times: tuple[float, float] | None = None
    """If set, each frame carries a ``render_time`` going linearly from the first to the second value (for models
    that read the camera's time, such as LOLNeRF's identity interpolation)."""

    def camera_path(self) -> dict:
        """The camera path as ``ns-render camera-path`` reads it."""
        azimuths = self.start_azimuth_deg + torch.arange(self.num_frames) * 360.0 / self.num_frames
        poses = orbit_camera_to_world(
            azimuths, torch.full_like(azimuths, self.elevation_deg), torch.full_like(azimuths, self.radius)
        )
        return camera_path(poses, self.fov_deg, self.resolution, self.resolution, self.seconds, self.render_times)


@dataclass(frozen=True)
class TrainingViewGeometry:
    """Where a run's training cameras are: medians over the cameras, and the first camera's image size."""

    radius: float
    """Distance from the origin."""
    elevation_deg: float
    """Elevation above the origin's horizontal plane."""
    fov_deg: float
    """Vertical field of view."""
    width: int
    height: int


def training_view_geometry(cameras: Cameras) -> TrainingViewGeometry:
    """The geometry of a run's training cameras, for paths that look at the object as training did."""
    positions = cameras.camera_to_worlds[:, :, 3]
    radius = positions.norm(dim=-1)
    elevation = torch.rad2deg(torch.asin((positions[:, 2] / radius).clamp(-1.0, 1.0)))
    fov = fov_from_focal_length(cameras.fy.flatten().float(), cameras.height.flatten().float())
    return TrainingViewGeometry(
        radius=float(radius.median()),
        elevation_deg=float(elevation.median()),
        fov_deg=float(fov.median()),
        width=int(cameras.width.flatten()[0]),
        height=int(cameras.height.flatten()[0]),
    )


def write_camera_path(path: Path, path_dict: dict) -> Path:
    """Write ``path_dict`` as JSON at ``path`` (creating its folder) and return ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(path_dict, indent=1))
    return path
