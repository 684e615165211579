"""A miniature Stable Diffusion trained on a class folder is saved in the layout ``stable-diffusion --diffusion.model``
loads, captioned with the very prompts the guidance gives sampled views. (That it learns the class is the
benchmark's to show: a few steps prove the path, not the prior.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lift_testing.class_views import read_class_views
from lift_testing.miniature_stable_diffusion import (
    MiniatureStableDiffusionConfig,
    train_miniature_stable_diffusion,
    view_captions,
)
from lift_testing.object_class import write_object_class


@pytest.fixture(scope="module")
def small_class(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cups")
    return write_object_class(folder, 4, 1, size=16, azimuths_deg=(0.0, 90.0, 180.0, -90.0), elevations_deg=(0.0, 75.0))


def test_each_view_is_captioned_with_the_guidance_prompt_for_its_direction(small_class) -> None:
    views = read_class_views(small_class.train)
    captions = view_captions(views, "a cup")
    assert captions[views.view_nearest(0.0, 0.0)] == "a cup, front view"
    assert captions[views.view_nearest(90.0, 0.0)] == "a cup, side view"
    assert captions[views.view_nearest(-90.0, 0.0)] == "a cup, side view"
    assert captions[views.view_nearest(180.0, 0.0)] == "a cup, back view"
    assert captions[views.view_nearest(180.0, 75.0)] == "a cup, overhead view"


@pytest.mark.slow
def test_a_miniature_stable_diffusion_trains_saves_and_loads(small_class, tmp_path: Path) -> None:
    from neurallift_ns.guidance.stable_diffusion import StableDiffusion, StableDiffusionLoadOptions

    config = MiniatureStableDiffusionConfig(vae_steps=3, steps=3, batch_size=4, width=16, vae_channels=(8, 16))
    record = train_miniature_stable_diffusion(small_class.folder, tmp_path / "prior", config)
    assert all(torch.isfinite(torch.tensor(value)) for value in record.values())
    prior = StableDiffusion(StableDiffusionLoadOptions(model=str(tmp_path / "prior"), half_precision=False), "cpu")
    assert prior.vae.config.scaling_factor == pytest.approx(record["scaling_factor"])
    embeddings = prior.encode_prompts(["a photo of the object, back view", ""])
    assert embeddings.shape[-1] == 16
    latents = prior.encode_images(torch.rand(2, 3, 16, 16))
    assert latents.shape == (2, 4, 8, 8)  # the VAE's two blocks halve 16-pixel views once
    noise = prior.predict_noise(latents, torch.tensor([500, 500]), embeddings)
    assert noise.shape == latents.shape and torch.isfinite(noise).all()


@pytest.mark.slow
def test_a_second_prior_reuses_the_first_ones_vae(small_class, tmp_path: Path) -> None:
    from diffusers import AutoencoderKL

    config = MiniatureStableDiffusionConfig(vae_steps=2, steps=1, batch_size=4, width=16, vae_channels=(8, 16))
    train_miniature_stable_diffusion(small_class.folder, tmp_path / "first", config)
    config.trained_vae = tmp_path / "first" / "vae"
    record = train_miniature_stable_diffusion(small_class.folder, tmp_path / "second", config)
    first, second = (AutoencoderKL.from_pretrained(tmp_path / name / "vae") for name in ("first", "second"))
    assert record["vae_error_first"] is None  # loaded, not trained
    assert record["scaling_factor"] == first.config.scaling_factor == second.config.scaling_factor
    assert all(
        torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True)
    )
