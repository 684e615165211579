"""The score-distillation pieces: the gradient's form, the timestep schedule and the prompts."""

from __future__ import annotations

import pytest
import torch

from neurallift_ns.guidance import score_distillation as sds
from neurallift_ns.guidance.prompts import DEFAULT_SUBJECT, direction_prompt, subject_prompt
from neurallift_ns.guidance.timesteps import TimestepSchedule
from neurallift_ns.guidance.zero123_guidance import Zero123GuidanceConfig


def test_gradient_is_zero_when_the_model_predicts_the_added_noise() -> None:
    noise = torch.randn(2, 4, 8, 8)
    gradient = sds.score_distillation_gradient(noise.clone(), noise, torch.tensor([0.3, 0.9]))
    assert torch.count_nonzero(gradient) == 0


def test_gradient_is_weighted_prediction_error_and_reaches_the_latents() -> None:
    generator = torch.Generator().manual_seed(0)
    noise, predicted = torch.randn(2, 4, 8, 8, generator=generator), torch.randn(2, 4, 8, 8, generator=generator)
    weight = torch.tensor([0.25, 2.0])
    gradient = sds.score_distillation_gradient(predicted, noise, weight)
    torch.testing.assert_close(gradient, weight.view(-1, 1, 1, 1) * (predicted - noise))

    latents = torch.randn(2, 4, 8, 8, requires_grad=True)
    sds.loss_with_gradient(latents, gradient).backward()
    torch.testing.assert_close(latents.grad, gradient / 2)  # averaged over the two views


def test_weighting_gives_more_weight_to_noisier_timesteps() -> None:
    alphas = torch.linspace(0.999, 0.01, 1000)
    weights = sds.timestep_weight(alphas, torch.tensor([100, 500, 900]), "one_minus_alpha")
    assert weights[0] < weights[1] < weights[2]
    assert torch.equal(sds.timestep_weight(alphas, torch.tensor([100, 900]), "uniform"), torch.ones(2))


def test_clean_estimate_inverts_the_forward_process() -> None:
    latents, noise = torch.randn(3, 4, 8, 8), torch.randn(3, 4, 8, 8)
    alpha = torch.tensor([0.9, 0.5, 0.05])
    noisy = sds.add_noise(latents, noise, alpha)
    torch.testing.assert_close(sds.estimate_clean_latents(noisy, noise, alpha), latents, atol=1e-4, rtol=1e-4)


def test_classifier_free_guidance_extrapolates_toward_the_condition() -> None:
    unconditional, conditional = torch.zeros(4), torch.ones(4)
    assert torch.equal(sds.classifier_free_guidance(unconditional, conditional, 7.5), torch.full((4,), 7.5))


def test_timestep_lower_bound_anneals_while_the_upper_bound_stays() -> None:
    schedule = TimestepSchedule(max_fraction=0.95, min_fraction_start=0.5, min_fraction_end=0.05, anneal_steps=300)
    assert schedule.bounds(0, 1000) == (500, 950)
    assert schedule.bounds(150, 1000) == (275, 950)
    assert schedule.bounds(300, 1000) == schedule.bounds(5000, 1000) == (50, 950)
    drawn = schedule.sample(0, 1000, 2000, torch.Generator().manual_seed(0))
    assert drawn.min() >= 500 and drawn.max() <= 950 and drawn.float().std() > 100
    late = schedule.sample(1000, 1000, 2000, torch.Generator().manual_seed(0))
    assert late.min() < 100


def test_both_timestep_bounds_anneal_in_zero123s_recipe() -> None:
    """threestudio configs/zero123.yaml: [0.4, 0.85] at the start, [0.2, 0.5] after a third of the run."""
    schedule = TimestepSchedule(max_fraction=0.85, min_fraction_start=0.4, min_fraction_end=0.2, max_fraction_end=0.5)
    assert schedule.bounds(0, 1000) == (400, 850)
    assert schedule.bounds(schedule.anneal_steps // 2, 1000) == (300, 675)
    assert schedule.bounds(schedule.anneal_steps, 1000) == schedule.bounds(10000, 1000) == (200, 500)


def test_stable_zero123s_bounds_wait_then_anneal_as_in_its_recipe() -> None:
    """threestudio configs/stable-zero123.yaml: [0.7, 0.98] until step 50 of 600, [0.3, 0.8] from step 200."""
    schedule = Zero123GuidanceConfig().stable_zero123_timesteps
    assert schedule.bounds(0, 1000) == schedule.bounds(schedule.anneal_start_step, 1000) == (700, 980)
    halfway = (schedule.anneal_start_step + schedule.anneal_steps) // 2
    assert schedule.bounds(halfway, 1000) == (500, 890)
    assert schedule.bounds(schedule.anneal_steps, 1000) == schedule.bounds(10000, 1000) == (300, 800)
    run_fractions = (schedule.anneal_start_step / 10000, schedule.anneal_steps / 10000)  # of neurallift's run
    assert run_fractions == pytest.approx((50 / 600, 200 / 600), abs=1e-4)


def test_unified_guidance_weighting_is_one_minus_the_square_root_of_alpha() -> None:
    """threestudio's unified guidances call sqrt(alphas_cumprod) ``alphas`` and weight by 1 - alphas."""
    alphas = torch.tensor([0.81, 0.25, 0.04])
    weights = sds.timestep_weight(alphas, torch.tensor([0, 1, 2]), "one_minus_sqrt_alpha")
    torch.testing.assert_close(weights, torch.tensor([0.1, 0.5, 0.8]))


def test_score_distillation_loss_sends_the_clamped_weighted_error_into_the_latents() -> None:
    generator = torch.Generator().manual_seed(4)
    latents = torch.randn(2, 4, 8, 8, generator=generator, requires_grad=True)
    alphas = torch.linspace(0.99, 0.01, 1000)
    timesteps = torch.tensor([100, 800])
    noise, noisy = sds.noise_latents(latents, timesteps, alphas, torch.Generator().manual_seed(5))
    assert not noisy.requires_grad
    torch.testing.assert_close(noisy, sds.add_noise(latents.detach(), noise, alphas[timesteps]))
    predicted = noise + torch.randn(noise.shape, generator=generator)
    loss, clipped = sds.score_distillation_loss_from_noise(
        latents, predicted, noise, timesteps, alphas, "one_minus_alpha", 0.5
    )
    loss.backward()
    expected = ((1 - alphas[timesteps]).view(-1, 1, 1, 1) * (predicted - noise)).clamp(-0.5, 0.5) / 2
    torch.testing.assert_close(latents.grad, expected)
    assert clipped.tolist() == [False, True]  # at t = 100 the weight (0.1) keeps every element under the limit


def test_direction_prompts_name_the_view() -> None:
    assert direction_prompt("a ceramic mug", "back") == "a ceramic mug, back view"
    assert subject_prompt("") == DEFAULT_SUBJECT
    assert subject_prompt("  a mug ") == "a mug"


def test_learnt_token_goes_into_the_prompt_unless_already_placed() -> None:
    assert subject_prompt("", "<mug>") == "a photo of <mug>"
    assert subject_prompt("a blue mug", "<mug>") == "a photo of <mug>, a blue mug"
    assert subject_prompt("a <mug> on a table", "<mug>") == "a <mug> on a table"
