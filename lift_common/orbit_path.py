"""Camera paths that circle the object, in the JSON format ``ns-render camera-path`` reads.

nerfstudio's ``ns-render spiral`` stays near one camera and its interpolate path follows the training cameras (for
NeuralLift-360 there is one); a 360° video of a lifted object needs an orbit around it instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lift_common.cameras import orbit_camera_to_world


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
        elevations = torch.full_like(azimuths, self.elevation_deg)
        radii = torch.full_like(azimuths, self.radius)
        poses = orbit_camera_to_world(azimuths, elevations, radii)
        bottom = torch.tensor([0.0, 0.0, 0.0, 1.0]).expand(self.num_frames, 1, 4)
        matrices = torch.cat([poses, bottom], dim=1)
        frames = []
        for index, matrix in enumerate(matrices):
            frame = {"camera_to_world": matrix.flatten().tolist(), "fov": self.fov_deg, "aspect": 1.0}
            if self.render_times is not None:
                start, end = self.render_times
                frame["render_time"] = start + (end - start) * index / max(1, self.num_frames - 1)
            frames.append(frame)
        return {
            "camera_type": "perspective",
            "render_height": self.resolution,
            "render_width": self.resolution,
            "seconds": self.seconds,
            "fps": self.num_frames / self.seconds,
            "camera_path": frames,
        }
