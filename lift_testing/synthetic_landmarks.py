"""Landmarks of a face-like class of keypoints seen from known cameras: what the camera fit must recover."""

from __future__ import annotations

import numpy as np
import torch

from lift_common.cameras import orbit_camera_to_world
from lolnerf_ns.data.camera_fit import MEAN_FACE_TEMPLATE

SIZE = 256
FOCAL = 0.5 * SIZE / np.tan(np.radians(10.0))  # a 20-degree field of view


def landmarks_seen_from(camera_to_world: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """Exact projections [N, 5, 2] of ``keypoints`` into the nerfstudio cameras ``camera_to_world`` [N, 3, 4]."""
    world_to_camera = np.transpose(camera_to_world[:, :, :3] @ np.diag([1.0, -1.0, -1.0]), (0, 2, 1))  # OpenCV axes
    translation = -np.einsum("nij,nj->ni", world_to_camera, camera_to_world[:, :, 3])
    points = np.einsum("nij,kj->nki", world_to_camera, keypoints) + translation[:, None]
    return FOCAL * points[..., :2] / points[..., 2:] + SIZE / 2


def synthetic_landmarks(num: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """Noisy projections (0.5 px) of a class's keypoints seen within +-45 deg yaw and +-25 deg pitch."""
    rng = np.random.default_rng(seed)
    keypoints = MEAN_FACE_TEMPLATE + rng.normal(0.0, 0.03, (5, 3))  # this class differs from the template
    yaw, pitch = rng.uniform(-45, 45, num), rng.uniform(-25, 25, num)
    camera_to_world = orbit_camera_to_world(torch.tensor(yaw), torch.tensor(pitch), torch.full((num,), 4.0)).numpy()
    landmarks = landmarks_seen_from(camera_to_world, keypoints) + rng.normal(0.0, 0.5, (num, 5, 2))
    return landmarks, camera_to_world, FOCAL


def relative_rotation_errors_deg(truth: np.ndarray, fitted: np.ndarray) -> np.ndarray:
    """Angle between true and fitted rotations of each camera relative to camera 0 (free of the gauge)."""

    def relative(c2w: np.ndarray) -> np.ndarray:
        return np.einsum("nji,jk->nik", c2w[:, :, :3], c2w[0, :, :3])

    cosine = (np.einsum("nij,nij->n", relative(truth), relative(fitted)) - 1.0) / 2.0
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))
