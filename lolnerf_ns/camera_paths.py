"""Camera paths for ``ns-render camera-path`` that sweep around the class and walk through identities.

The file is the one nerfstudio's viewer writes (``camera_path`` keyframes with ``camera_to_world``, vertical ``fov``
in degrees and ``render_time``). ``render_time`` runs from 0 on the first frame to 1 on the last; the lolnerf model
reads it as the position along its ``render_identities`` (see :mod:`lolnerf_ns.model`), so a camera path is also an
identity interpolation. Cameras sit on the orbit of :mod:`lift_common.cameras` (world +Z up, the class's front
towards -Y at azimuth 0).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from jaxtyping import Float
from nerfstudio.cameras.cameras import Cameras
from torch import Tensor

from lift_common.cameras import orbit_camera_to_world


def sweep_camera_to_worlds(
    num_frames: int, azimuth_deg: float, elevation_deg: float, radius: float, sweep_deg: float
) -> Float[Tensor, "num_frames 3 4"]:
    """Cameras looking at the origin, from ``azimuth_deg - sweep/2`` to ``azimuth_deg + sweep/2`` (0: all at
    ``azimuth_deg``)."""
    offsets = torch.linspace(-0.5, 0.5, num_frames) * sweep_deg if num_frames > 1 else torch.zeros(1)
    azimuths = azimuth_deg + offsets
    return orbit_camera_to_world(azimuths, torch.full_like(azimuths, elevation_deg), torch.full_like(azimuths, radius))


def camera_path(
    camera_to_worlds: Float[Tensor, "num_frames 3 4"],
    vertical_fov_deg: float,
    width: int,
    height: int,
    seconds: float,
) -> dict:
    """The camera-path dictionary ``ns-render camera-path`` reads, with ``render_time`` from 0 to 1."""
    num_frames = len(camera_to_worlds)
    keyframes = []
    for index, camera_to_world in enumerate(camera_to_worlds):
        matrix = torch.cat([camera_to_world, torch.tensor([[0.0, 0.0, 0.0, 1.0]])])
        keyframes.append(
            {
                "camera_to_world": matrix.flatten().tolist(),
                "fov": vertical_fov_deg,
                "aspect": width / height,
                "render_time": index / max(num_frames - 1, 1),
            }
        )
    return {
        "camera_type": "perspective",
        "render_height": height,
        "render_width": width,
        "seconds": seconds,
        "fps": num_frames / seconds,
        "camera_path": keyframes,
        "crop": None,
    }


def training_view_geometry(cameras: Cameras) -> dict[str, float | int]:
    """Radius (median distance to the origin), vertical field of view and image size of a run's training cameras."""
    distances = cameras.camera_to_worlds[:, :, 3].norm(dim=-1)
    height = int(cameras.height[0])
    fov = math.degrees(2.0 * math.atan(height / 2.0 / float(cameras.fy[0])))
    return {"radius": float(distances.median()), "fov_deg": fov, "width": int(cameras.width[0]), "height": height}


def write_camera_path(path: Path, path_dict: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(path_dict, indent=1))
    return path
