"""A collection's cameras: one joint fit of its landmarks, poorly fitted photos dropped and the rest fitted again."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from jaxtyping import Float, Int

from lift_common.cameras import focal_length_from_fov
from lolnerf_ns.data.camera_fit import CameraFit, fit_canonical_keypoints
from lolnerf_ns.data.collection_summary import check_enough
from lolnerf_ns.data.photo_preparation import poorly_fitted, residual_limit_px

if TYPE_CHECKING:
    from lolnerf_ns.data.collection import CollectionConfig

MAX_DROP_ROUNDS = 5
"""Times photos whose camera fit is poor are dropped and the rest refitted; photos still beyond the limit after the
last refit are kept (each one's residual is in cameras.json)."""


def fit_and_drop(
    landmarks: Float[np.ndarray, "num 5 2"],
    names: list[str],
    size: tuple[int, int],
    config: CollectionConfig,
    skipped: list,
    data: Path,
) -> tuple[CameraFit, Int[np.ndarray, "kept"]]:
    """Fit the cameras, drop the photos whose fit is poor (adding them to ``skipped``) and fit the rest again, until
    no fit is poor (at most :data:`MAX_DROP_ROUNDS` times); return the fit, which is always of exactly the photos
    kept, and their positions in ``names``."""
    focal = None if config.fov_deg is None else focal_length_from_fov(config.fov_deg, size[0])
    limit = residual_limit_px(size[0], config.max_residual_fraction)
    kept = np.arange(len(names))
    fit = fit_canonical_keypoints(landmarks, size, focal_length=focal)
    for _ in range(MAX_DROP_ROUNDS):
        poor = poorly_fitted(fit.residual_px, limit)
        if not poor.any():
            break
        for position, residual in zip(kept[poor], fit.residual_px[poor], strict=True):
            skipped.append(
                (names[position], f"poor camera fit: landmarks off by {residual:.1f} px RMS (limit {limit:.1f})")
            )
        kept = kept[~poor]
        check_enough(len(kept), skipped, config.min_images, data, "after the camera fit")
        # The shared keypoints move without the dropped photos, which can leave another photo beyond the limit.
        fit = fit_canonical_keypoints(landmarks[kept], size, focal_length=focal)
    return fit, kept
