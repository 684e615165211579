"""The camera a view-conditioned prior (Zero-1-to-3, Stable Zero123) is told about: the view relative to the photo's.

Zero-1-to-3 was trained on ``[delta polar (rad), sin delta azimuth, cos delta azimuth, delta radius]`` between the
photo's camera and the wanted one, polar being 90 degrees minus the elevation (threestudio
``threestudio/models/guidance/zero123_guidance.py``, ``get_cond``). Stable Zero123 replaces the last number with the
photo's own polar angle in radians (``stable_zero123_guidance.py``, ``get_cond``). Both read the cameras' positions
in a world with +Z up and azimuth growing counter-clockwise seen from above, as ours do
(:mod:`lift_common.cameras`), so the deltas do not depend on where azimuth 0 is.
"""

from __future__ import annotations

from typing import Literal

import torch
from jaxtyping import Float
from torch import Tensor

from lift_common.cameras import orbit_angles

CameraEmbedding = Literal["zero123", "stable-zero123"]
"""Which camera numbers a model was trained on: Zero-1-to-3's (the last is the change of radius) or Stable
Zero123's (the last is the photo's polar angle)."""


def relative_camera(
    positions: Float[Tensor, "views 3"], reference_position: Float[Tensor, "3"], embedding: CameraEmbedding
) -> Float[Tensor, "views 4"]:
    """The four camera numbers of views at ``positions`` seen from the photo's camera at ``reference_position``
    (both around the object's centre at the origin)."""
    azimuth, elevation, radius = orbit_angles(positions.float())
    reference_azimuth, reference_elevation, reference_radius = orbit_angles(reference_position.float()[None])
    delta_polar = torch.deg2rad(reference_elevation - elevation)  # (90 - elevation) - (90 - reference elevation)
    delta_azimuth = torch.deg2rad(azimuth - reference_azimuth)
    if embedding == "stable-zero123":
        last = torch.deg2rad(90.0 - reference_elevation).expand_as(radius)
    else:
        last = radius - reference_radius
    return torch.stack([delta_polar, torch.sin(delta_azimuth), torch.cos(delta_azimuth), last], dim=-1)
