"""Each prior's own weight beside the photo, unless the model's lambda_guidance sets one for all."""

from __future__ import annotations

import pytest

from neurallift_ns.guidance.joint_guidance import JointGuidanceConfig
from neurallift_ns.guidance.stable_diffusion_guidance import STABLE_DIFFUSION_WEIGHT, StableDiffusionGuidanceConfig
from neurallift_ns.guidance.zero123_guidance import ZERO123_WEIGHT, Zero123GuidanceConfig
from neurallift_ns.model import NeuralLiftModelConfig


@pytest.mark.parametrize(
    ("guidance", "weight"),
    [
        (StableDiffusionGuidanceConfig(), STABLE_DIFFUSION_WEIGHT),
        (Zero123GuidanceConfig(), ZERO123_WEIGHT),
        (JointGuidanceConfig(), ZERO123_WEIGHT),
    ],
)
def test_each_prior_has_its_own_weight_unless_one_is_set(guidance, weight: float) -> None:
    assert NeuralLiftModelConfig(guidance=guidance).guidance_weight() == weight
    assert NeuralLiftModelConfig(guidance=guidance, lambda_guidance=0.0).guidance_weight() == 0.0
    assert NeuralLiftModelConfig(guidance=guidance, lambda_guidance=0.5).guidance_weight() == 0.5


def test_the_command_line_picks_the_priors_weight() -> None:
    """`ns-train neurallift ... zero123` gets Zero-1-to-3's weight, not the default prior's."""
    import tyro
    from nerfstudio.configs.method_configs import AnnotatedBaseConfigUnion

    def parse(*args: str):
        return tyro.cli(AnnotatedBaseConfigUnion, args=["neurallift", "--data", "photo.png", *args]).pipeline.model

    assert parse().guidance_weight() == STABLE_DIFFUSION_WEIGHT
    assert parse("zero123").guidance_weight() == ZERO123_WEIGHT
    assert parse("--pipeline.model.lambda-guidance", "0.02", "zero123").guidance_weight() == 0.02
