"""The photo survives the prior: where a prior of Stable Diffusion's strength disagrees with the photo, or is only
noise, the reference view still matches the photo, and the prior still shapes what the photo does not show.

Trained at the method's default balance of photo against prior (``tests/neurallift/tiny_config.py`` shrinks sizes
and schedules only), with the test priors of ``tests/neurallift/synthetic_object.py`` at three times the estimated
magnitude of Stable Diffusion's gradient. The sweep over magnitudes: ``python -m benchmarks.neurallift_prior_balance``.
"""

from __future__ import annotations

import pytest

from tests.neurallift.synthetic_object import (
    DisagreeingPriorGuidanceConfig,
    LiftScores,
    NoisyPriorGuidanceConfig,
    score_lift,
    write_reference_photo,
)
from tests.neurallift.tiny_config import tiny_neurallift_config

pytestmark = pytest.mark.slow

STEPS = 600
MIN_REFERENCE_PSNR = 28.0
"""Measured at the defaults (seed 0): 33.0 dB against the disagreeing prior, 35.7 dB against the noise; at
stable-dreamfusion's prior weight of 1 instead of 0.001, 10.9 and 19.8 dB."""
MAX_OFF_OBJECT_OPACITY = 0.5
"""Mean opacity of the pixels whose rays miss the object, in views all around: above it, the noise has filled the
space around the object. Fitting the photo alone leaves 0.36 (the space the photo does not see keeps the density the
field starts with, unless a prior clears it); the noise at three times SD's strength measured 0.40."""


def train(folder, guidance) -> LiftScores:
    from nerfstudio.scripts.train import main as ns_train_main
    from nerfstudio.utils.eval_utils import eval_setup

    from tests.lolnerf.tiny_config import one_thread

    data = write_reference_photo(folder / "photo", size=64)
    with one_thread():
        ns_train_main(tiny_neurallift_config(data, folder / "outputs", STEPS, guidance=guidance))
        (config_path,) = (folder / "outputs").glob("*/neurallift/*/config.yml")
        _, pipeline, _, _ = eval_setup(config_path, test_mode="test")
        scores = score_lift(pipeline.model)
    print(scores)
    return scores


def test_the_photo_wins_where_the_prior_disagrees_and_the_prior_shapes_the_back(tmp_path) -> None:
    scores = train(tmp_path, DisagreeingPriorGuidanceConfig())
    assert scores.reference_psnr >= MIN_REFERENCE_PSNR
    # Behind the object, which the photo does not see, the prior's object wins.
    for to_object, to_prior in zip(scores.behind_psnr, scores.behind_psnr_to_other, strict=True):
        assert to_prior > to_object


def test_the_photo_and_the_geometry_survive_a_prior_that_is_noise(tmp_path) -> None:
    scores = train(tmp_path, NoisyPriorGuidanceConfig())
    assert scores.reference_psnr >= MIN_REFERENCE_PSNR
    assert scores.off_object_opacity <= MAX_OFF_OBJECT_OPACITY
