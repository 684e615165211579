"""The photo and the geometry survive a prior of Stable Diffusion's strength that is only noise. See
``keep_the_photo.py`` for the setting."""

from __future__ import annotations

import pytest

from lift_testing.synthetic_object import NoisyPriorGuidanceConfig
from tests.neurallift.keep_the_photo import MIN_REFERENCE_PSNR, train

pytestmark = pytest.mark.slow

STEPS = 400
MAX_OFF_OBJECT_OPACITY = 0.5
"""Mean opacity of the pixels whose rays miss the object, in views all around: above it, the noise has filled the
space around the object. Fitting the photo alone leaves 0.36 (600 steps; the space the photo does not see keeps the
density the field starts with, unless a prior clears it); the noise at three times SD's strength measured 0.41 after
400 steps and 0.40 after 600."""


def test_the_photo_and_the_geometry_survive_a_prior_that_is_noise(tmp_path) -> None:
    scores = train(tmp_path, NoisyPriorGuidanceConfig(), STEPS)
    assert scores.reference_psnr >= MIN_REFERENCE_PSNR
    assert scores.off_object_opacity <= MAX_OFF_OBJECT_OPACITY
