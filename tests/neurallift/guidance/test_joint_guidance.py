"""Magic123's joint prior on tiny random models: both priors run on the same views in one step, each loss is logged
on its own, and the defaults are Magic123's coarse stage."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from neurallift_ns.data.orbit_views import orbit_cameras
from neurallift_ns.guidance.joint_guidance import JointGuidanceConfig
from neurallift_ns.guidance.stable_diffusion import StableDiffusionLoadOptions
from neurallift_ns.guidance.zero123 import Zero123LoadOptions


@pytest.fixture(scope="module")
def photo_metadata(tmp_path_factory) -> dict:
    from skimage import data

    folder = tmp_path_factory.mktemp("photo")
    rgba = np.dstack([np.asarray(Image.fromarray(data.coffee()).resize((32, 32))), np.full((32, 32), 255, np.uint8)])
    Image.fromarray(rgba).save(folder / "image.png")
    camera = orbit_cameras(torch.zeros(1), torch.zeros(1), torch.full((1,), 3.0), torch.full((1,), 40.0), 8)
    return {"image_path": folder / "image.png", "reference_camera_to_world": camera.camera_to_worlds[0]}


@pytest.fixture(scope="module")
def config(tiny_zero123, tiny_stable_diffusion, tiny_open_clip) -> JointGuidanceConfig:
    defaults = JointGuidanceConfig()
    zero123 = replace(defaults.zero123, diffusion=Zero123LoadOptions(model=str(tiny_zero123)), diffusion_resolution=16)
    stable_diffusion = replace(
        defaults.stable_diffusion,
        diffusion=StableDiffusionLoadOptions(model=str(tiny_stable_diffusion)),
        clip_model=str(tiny_open_clip),
        diffusion_resolution=16,
        adapt_to_photo=False,  # textual inversion has its own tests; here a prompt stands in for the learnt token
        prompt="a cup",
    )
    return replace(defaults, zero123=zero123, stable_diffusion=stable_diffusion)


def test_both_priors_run_in_one_step_and_each_loss_is_logged(config, photo_metadata, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    guidance = config.setup(device="cpu", model_metadata=photo_metadata)
    images = torch.rand(2, 12, 12, 3, generator=torch.Generator().manual_seed(0), requires_grad=True)
    cameras = orbit_cameras(
        torch.tensor([40.0, 170.0]), torch.tensor([5.0, 20.0]), torch.full((2,), 3.0), torch.full((2,), 40.0), 12
    )
    output = guidance(images, cameras, torch.tensor([0, 2]), torch.zeros(2, dtype=torch.long), step=0)
    output.loss.backward()
    assert images.grad is not None and torch.isfinite(images.grad).all() and images.grad.abs().sum() > 0
    zero123, stable_diffusion = output.diagnostics["zero123/loss"], output.diagnostics["stable_diffusion/loss"]
    assert zero123 > 0 and stable_diffusion > 0
    assert float(output.loss.detach()) == pytest.approx(zero123 + stable_diffusion, rel=1e-5)
    assert stable_diffusion == pytest.approx(
        0.025 * output.diagnostics["stable_diffusion/score_distillation"], rel=1e-5
    )
    assert {"zero123/timestep", "stable_diffusion/timestep"} <= set(output.diagnostics)


def test_a_prior_weighted_zero_is_not_loaded(config, photo_metadata, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    broken_sd = replace(config.stable_diffusion, diffusion=StableDiffusionLoadOptions(model="/no/such/folder"))
    guidance = replace(config, lambda_stable_diffusion=0.0, stable_diffusion=broken_sd).setup(
        device="cpu", model_metadata=photo_metadata
    )
    assert list(guidance.priors) == ["zero123"]


def test_defaults_are_magic123s_coarse_stage() -> None:
    """threestudio configs/magic123-coarse-sd.yaml: guidance_3d (Zero-1-to-3) scale 5, guidance (SD) scale 100,
    lambda_3d_sd 1 and lambda_sd 0.025, timesteps [0.2, 0.6] for both, elevations [-45, 45]."""
    config = JointGuidanceConfig()
    assert (config.lambda_zero123, config.lambda_stable_diffusion) == (1.0, 0.025)
    assert (config.zero123.guidance_scale, config.stable_diffusion.guidance_scale) == (5.0, 100.0)
    for prior in (config.zero123, config.stable_diffusion):
        assert prior.timesteps.bounds(0, 1000) == prior.timesteps.bounds(9999, 1000) == (200, 600)
        assert prior.weighting == "one_minus_sqrt_alpha"
    assert config.zero123.timestep_schedule("stable-zero123").bounds(0, 1000) == (200, 600)
    assert config.zero123.elevation_range_deg == (-45.0, 45.0)
    assert config.stable_diffusion.adapt_to_photo and max(config.stable_diffusion.clip_guidance_scales) == 0.0
