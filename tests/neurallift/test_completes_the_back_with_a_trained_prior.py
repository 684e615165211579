"""The method as it ships completes the side the photo does not show, with a prior that has learnt a class.

The prior is the miniature Zero-1-to-3 kept in the repository (:mod:`lift_testing.trained_priors`), loaded by the
zero123 guidance's own code; the photo is a held-out cup it never saw. Every loss weight, regulariser, schedule,
shading and background is the default (only sizes and the run's length shrink), so the prior's default weight and
what it is shown are under test: at the old calibration (weight 0.001, shaded views on coloured backgrounds) or at
weight 0 the back stays the bare, hazy shell that no prior leaves (docs/miniature-priors.md).

One setting is not the default: the density blob fades over the first fifth of the run, as it did before it was kept
by default. The kept blob is itself a ball much like a cup, and with no prior it fills most of the back's silhouette
(object0108: IoU 0.71 against 0.83 with the prior, back 17.2 dB against 18.1), so it would hide what the prior adds.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

STEPS = 300
"""Half the benchmark's lifts (docs/miniature-priors.md): the prior has done most of its work by then."""
PRIOR_BACK_PSNR = 16.0
"""Back views (azimuths 135-225 degrees), dB. Measured at these settings (torch 2.14.1, CPU): 17.8 with the prior
at its defaults; 14.3 at weight 0 and 14.1 at the old calibration. At 600 steps two seeds differed by 0.5."""
PRIOR_SILHOUETTE_IOU = 0.58
"""Silhouette IoU over every view. Measured: 0.72 with the prior; 0.46 at weight 0 and 0.45 at the old
calibration. At 600 steps two seeds differed by 0.07."""
PHOTO_FLOOR_DB = 28.0
BLOB_FADE_STEPS = STEPS // 5
"""The blob's old default fade, the same fifth of the run, so that the lift without a prior is the bare shell."""


def lift_the_heldout_object(folder: Path, lambda_guidance: float | None = None, albedo_on_white: bool = True):
    """Lift the held-out cup at every default but the two given, and score it against its truth all around."""
    from lift_testing.class_lifts import read_object_views, score_class_lift, train_class_lift
    from lift_testing.neurallift_configs import shipped_neurallift_config
    from lift_testing.trained_priors import CLASS_SIZE, TRAINED_ZERO123, write_heldout_object
    from neurallift_ns.guidance.zero123_guidance import Zero123GuidanceConfig

    def config(data: Path, output: Path):
        guidance = Zero123GuidanceConfig(diffusion_resolution=CLASS_SIZE, albedo_on_white=albedo_on_white)
        guidance.diffusion.model = str(TRAINED_ZERO123)
        lift = shipped_neurallift_config(data, output, STEPS, guidance, image_size=CLASS_SIZE, resolution=CLASS_SIZE)
        lift.pipeline.model.lambda_guidance = lambda_guidance
        lift.pipeline.model.blob_fade_steps = BLOB_FADE_STEPS
        return lift

    object_folder = write_heldout_object(folder / "object")
    model, _ = train_class_lift(object_folder, folder, config)
    scores = score_class_lift(model, read_object_views(object_folder))
    print(dataclasses.asdict(scores))
    return scores


@pytest.mark.slow
def test_a_trained_view_conditioned_prior_completes_the_back(tmp_path: Path) -> None:
    scores = lift_the_heldout_object(tmp_path)
    assert scores.reference_psnr >= PHOTO_FLOOR_DB
    assert scores.back_psnr >= PRIOR_BACK_PSNR
    assert scores.silhouette_iou >= PRIOR_SILHOUETTE_IOU
