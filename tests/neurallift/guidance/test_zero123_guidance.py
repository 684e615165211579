"""The Zero-1-to-3 guidance on tiny random models in the real diffusers layout, loaded offline by the code a Hub id
takes: loading, one distillation step, the camera numbers against threestudio's, what the UNet is conditioned on,
and the messages for folders that are not Zero-1-to-3 models."""

from __future__ import annotations

import math
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lift_common.errors import UserInputError
from neurallift_ns.data.orbit_views import OrbitViewsConfig, ReferenceView, orbit_cameras, sample_orbit_views
from neurallift_ns.guidance.zero123 import Zero123, Zero123LoadOptions
from neurallift_ns.guidance.zero123_guidance import Zero123GuidanceConfig

REFERENCE = ReferenceView(elevation_deg=15.0, radius=3.0, fov_deg=40.0)
"""The photo's camera in these tests: above the equator, so polar deltas and Stable Zero123's polar are not 0."""


def _photo_metadata(folder: Path, image: np.ndarray, reference: ReferenceView = REFERENCE) -> dict:
    """What the dataparser hands the model: the preprocessed photo (RGBA) and its camera."""
    rgba = np.dstack([np.asarray(Image.fromarray(image).resize((32, 32))), np.full((32, 32), 255, np.uint8)])
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgba).save(folder / "image.png")
    camera = orbit_cameras(
        torch.zeros(1),
        torch.tensor([reference.elevation_deg]),
        torch.tensor([reference.radius]),
        torch.tensor([40.0]),
        8,
    )
    return {"image_path": folder / "image.png", "reference_camera_to_world": camera.camera_to_worlds[0]}


@pytest.fixture(scope="module")
def photo_metadata(tmp_path_factory) -> dict:
    from skimage import data

    return _photo_metadata(tmp_path_factory.mktemp("photo"), data.coffee())


@pytest.fixture(scope="module")
def config(tiny_zero123) -> Zero123GuidanceConfig:
    return Zero123GuidanceConfig(diffusion=Zero123LoadOptions(model=str(tiny_zero123)), diffusion_resolution=16)


@pytest.fixture(scope="module")
def guidance(config, photo_metadata):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        return config.setup(device="cpu", model_metadata=photo_metadata)


def _cameras(azimuths, elevations, radii) -> "orbit_cameras":
    num = len(azimuths)
    return orbit_cameras(
        torch.tensor(azimuths, dtype=torch.float32),
        torch.tensor(elevations, dtype=torch.float32),
        torch.tensor(radii, dtype=torch.float32),
        torch.full((num,), 40.0),
        12,
    )


@pytest.mark.parametrize("layout", ["kxic", "threestudio"])
def test_a_zero123_folder_loads_by_path_in_either_projection_layout(layout, tmp_path, offline) -> None:
    from lift_testing.tiny_models import save_tiny_zero123

    folder = save_tiny_zero123(tmp_path / layout, projection_layout=layout)
    model = Zero123(Zero123LoadOptions(model=str(folder)), "cpu")
    assert model.unet.config.in_channels == 8 and model.camera_embedding == "zero123"
    assert (model.projection.in_features, model.projection.out_features) == (16 + 4, 16)
    assert not any(parameter.requires_grad for parameter in model.projection.parameters())
    # The weights read from the file, not a fresh layer's.
    from safetensors.torch import load_file

    if layout == "kxic":
        saved = load_file(str(folder / "cc_projection" / "diffusion_pytorch_model.safetensors"))["projection.weight"]
    else:
        saved = torch.load(folder / "clip_camera_projection" / "diffusion_pytorch_model.bin", weights_only=True)
        saved = saved["proj.weight"].float()
    torch.testing.assert_close(model.projection.weight, saved)


def test_stable_zero123_is_recognised_by_name() -> None:
    assert Zero123LoadOptions(model="ashawkey/stable-zero123-diffusers").resolved_camera_embedding() == "stable-zero123"
    assert Zero123LoadOptions(model="kxic/zero123-xl").resolved_camera_embedding() == "zero123"
    forced = Zero123LoadOptions(model="/models/mine", camera_embedding="stable-zero123")
    assert forced.resolved_camera_embedding() == "stable-zero123"


def test_one_step_gives_a_finite_loss_whose_gradient_reaches_the_render(guidance) -> None:
    images = torch.rand(2, 12, 12, 3, generator=torch.Generator().manual_seed(0), requires_grad=True)
    cameras = _cameras([30.0, 200.0], [10.0, 40.0], [3.0, 3.0])
    output = guidance(images, cameras, torch.zeros(2, dtype=torch.long), torch.zeros(2, dtype=torch.long), step=0)
    assert torch.isfinite(output.loss) and output.loss > 0
    output.loss.backward()
    assert images.grad is not None and torch.isfinite(images.grad).all() and images.grad.abs().sum() > 0
    assert set(output.diagnostics) == {"timestep", "score_distillation", "clipped_views"}
    assert 0.4 * 1000 <= output.diagnostics["timestep"] <= 0.85 * 1000  # the recipe's range at the first step


def _record_calls(model, method: str, monkeypatch) -> list[tuple]:
    """The positional arguments of each call to ``model.method`` from now on; the method still runs."""
    calls = []
    original = getattr(model, method)
    monkeypatch.setattr(model, method, lambda *args: calls.append(args) or original(*args))
    return calls


def _threestudio_angles(positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Elevation and azimuth (degrees) and distance that threestudio's camera formula (threestudio/data/uncond.py:
    x = d cos(e) cos(a), y = d cos(e) sin(a), z = d sin(e)) maps to these positions, checked by applying it."""
    distance = positions.norm(dim=-1)
    elevation = torch.asin(positions[:, 2] / distance)
    azimuth = torch.atan2(positions[:, 1], positions[:, 0])
    formula = torch.stack(
        [
            distance * torch.cos(elevation) * torch.cos(azimuth),
            distance * torch.cos(elevation) * torch.sin(azimuth),
            distance * torch.sin(elevation),
        ],
        dim=-1,
    )
    torch.testing.assert_close(formula, positions, atol=1e-5, rtol=0)
    return torch.rad2deg(elevation), torch.rad2deg(azimuth), distance


def _threestudio_camera_numbers(views: torch.Tensor, reference: torch.Tensor, stable: bool) -> torch.Tensor:
    """What threestudio's get_cond feeds for these camera positions (zero123_guidance.py and
    stable_zero123_guidance.py), with its cond_* angles those of the photo's camera."""
    elevation, azimuth, distance = _threestudio_angles(views)
    cond_elevation, cond_azimuth, cond_distance = _threestudio_angles(reference[None])
    last = torch.deg2rad(90 - cond_elevation).expand_as(distance) if stable else distance - cond_distance
    return torch.stack(
        [
            torch.deg2rad((90 - elevation) - (90 - cond_elevation)),
            torch.sin(torch.deg2rad(azimuth - cond_azimuth)),
            torch.cos(torch.deg2rad(azimuth - cond_azimuth)),
            last,
        ],
        dim=-1,
    )


@pytest.mark.parametrize("embedding", ["zero123", "stable-zero123"])
def test_camera_numbers_fed_to_the_model_are_threestudios_for_the_same_geometry(guidance, embedding, monkeypatch):
    """Sign conventions decide whether the hallucinated back is mirrored; random weights cannot show it, so the
    numbers our guidance feeds are compared with those threestudio computes from the same camera positions. The
    views are sampled around the whole orbit, at varied distances (the default orbit) so the radius term counts."""
    views = sample_orbit_views(
        64, 8, OrbitViewsConfig(widening_steps=0), 0, REFERENCE, torch.Generator().manual_seed(3)
    )
    monkeypatch.setattr(guidance.model, "camera_embedding", embedding)
    calls = _record_calls(guidance.model, "camera_conditioning", monkeypatch)
    images = torch.rand(64, 12, 12, 3)
    guidance(images, views.cameras, views.directions, torch.zeros(64, dtype=torch.long), step=0)

    reference_position = guidance.reference_position
    expected = _threestudio_camera_numbers(
        views.cameras.camera_to_worlds[:, :3, 3], reference_position, embedding != "zero123"
    )
    fed = calls[0][1]  # camera_conditioning(photo_embedding, cameras)
    torch.testing.assert_close(fed, expected, atol=1e-5, rtol=0)
    assert expected[:, 0].abs().max() > 0.5 and expected[:, 1].min() < -0.5 < 0.5 < expected[:, 1].max()


def test_the_photos_latents_enter_the_unets_extra_channels(guidance, photo_metadata, tmp_path) -> None:
    """Another photo's latents in the extra channels (the same CLIP embedding and camera) change the prediction."""
    from skimage import data

    other = _photo_metadata(tmp_path / "other", data.astronaut())
    other_photo = torch.from_numpy(np.asarray(Image.open(other["image_path"]), np.float32)[..., :3] / 255)
    _, other_latents = guidance.model.photo_conditioning(other_photo.permute(2, 0, 1)[None], 16)
    noisy, timesteps = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(1)), torch.tensor([500])
    relative = guidance.cameras_relative_to_photo(_cameras([90.0], [15.0], [3.0]))
    conditioning = guidance.model.camera_conditioning(guidance.photo_embedding, relative)
    with torch.no_grad():
        own = guidance.model.predict_noise(noisy, timesteps, guidance.photo_latents, conditioning)
        swapped = guidance.model.predict_noise(noisy, timesteps, other_latents, conditioning)
    assert not torch.allclose(guidance.photo_latents, other_latents)
    assert (own - swapped).abs().mean() > 1e-3 * own.abs().mean()
    # Unscaled, as the original model concatenates them: the scaled latents divided by the VAE's scaling factor.
    photo = torch.from_numpy(np.asarray(Image.open(photo_metadata["image_path"]), np.float32)[..., :3] / 255)
    photo = torch.nn.functional.interpolate(
        photo.permute(2, 0, 1)[None], size=(16, 16), mode="bilinear", antialias=True
    )
    with torch.no_grad():
        scaled = guidance.model.encode_images(photo)
    torch.testing.assert_close(guidance.photo_latents * guidance.model.latent_scale, scaled)


def test_the_camera_enters_the_prediction_through_the_projection(guidance) -> None:
    noisy, timesteps = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(2)), torch.tensor([500])
    predictions = []
    for azimuth in (30.0, 150.0):
        relative = guidance.cameras_relative_to_photo(_cameras([azimuth], [15.0], [3.0]))
        with torch.no_grad():
            predictions.append(guidance.guided_noise(noisy, timesteps, relative))
    assert (predictions[0] - predictions[1]).abs().mean() > 1e-3 * predictions[0].abs().mean()


def test_the_unconditional_prediction_has_the_photo_and_the_camera_zeroed(guidance, monkeypatch) -> None:
    """Classifier-free guidance at scale 0 is the unconditional prediction: photo latents and projected embedding
    zeroed (threestudio's get_cond), not, say, an empty CLIP embedding pushed through the projection."""
    noisy, timesteps = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(3)), torch.tensor([300, 700])
    relative = guidance.cameras_relative_to_photo(_cameras([60.0, -120.0], [0.0, 30.0], [3.0, 3.0]))
    monkeypatch.setattr(guidance.config, "guidance_scale", 0.0)
    with torch.no_grad():
        unconditional = guidance.guided_noise(noisy, timesteps, relative)
        zeroed = guidance.model.predict_noise(
            noisy, timesteps, torch.zeros(2, 4, 8, 8), torch.zeros(2, 1, guidance.model.projection.out_features)
        )
        monkeypatch.setattr(guidance.config, "guidance_scale", 1.0)
        conditional = guidance.guided_noise(noisy, timesteps, relative)
    torch.testing.assert_close(unconditional, zeroed)
    assert not torch.allclose(conditional, unconditional)


@pytest.mark.parametrize("embedding, low, high", [("zero123", 400, 850), ("stable-zero123", 700, 980)])
def test_each_model_draws_its_own_recipes_timesteps(guidance, embedding, low, high, monkeypatch) -> None:
    """At the first step Zero-1-to-3 draws from [0.4, 0.85] of the range (threestudio zero123.yaml), Stable Zero123
    from [0.7, 0.98] (stable-zero123.yaml): the model's camera numbers say which it is."""
    monkeypatch.setattr(guidance.model, "camera_embedding", embedding)
    calls = _record_calls(guidance.model, "predict_noise", monkeypatch)
    images = torch.rand(32, 12, 12, 3)
    views = _cameras([float(azimuth) for azimuth in range(0, 320, 10)], [15.0] * 32, [3.0] * 32)
    guidance(images, views, torch.zeros(32, dtype=torch.long), torch.zeros(32, dtype=torch.long), step=0)
    drawn = calls[0][1]  # predict_noise(noisy, timesteps, ...)
    assert low <= drawn.min() and drawn.max() <= high
    assert drawn.max() - drawn.min() > (high - low) / 2


def test_sampled_views_are_taken_at_the_photos_field_of_view_and_distance() -> None:
    orbit = Zero123GuidanceConfig().sampled_orbit(OrbitViewsConfig(), REFERENCE)
    assert orbit.radius_range == (3.0, 3.0) and orbit.fov_range_deg == (40.0, 40.0)
    assert orbit.elevation_range_deg == (-10.0, 80.0)  # threestudio configs/zero123.yaml
    assert orbit.azimuth_range_deg == OrbitViewsConfig().azimuth_range_deg


def test_a_stable_diffusion_folder_is_one_message_naming_the_layout(
    config, photo_metadata, tiny_stable_diffusion, offline
):
    broken = replace(config, diffusion=Zero123LoadOptions(model=str(tiny_stable_diffusion)))
    with pytest.raises(UserInputError) as error:
        broken.setup(device="cpu", model_metadata=photo_metadata)
    message = str(error.value)
    assert "not a Zero-1-to-3 model in diffusers layout" in message and "image_encoder/" in message
    assert "cc_projection/ or clip_camera_projection/" in message and "zero123 --diffusion.model" in message


def test_a_four_channel_unet_is_one_message(
    config, photo_metadata, tiny_zero123, tiny_stable_diffusion, tmp_path, offline
):
    folder = tmp_path / "text-to-image-unet"
    shutil.copytree(tiny_zero123, folder)
    shutil.rmtree(folder / "unet")
    shutil.copytree(tiny_stable_diffusion / "unet", folder / "unet")
    with pytest.raises(UserInputError, match="takes 4 input channels"):
        replace(config, diffusion=Zero123LoadOptions(model=str(folder))).setup(
            device="cpu", model_metadata=photo_metadata
        )


def test_missing_or_foreign_projection_weights_are_one_message(config, photo_metadata, tiny_zero123, tmp_path, offline):
    folder = tmp_path / "no-projection-weights"
    shutil.copytree(tiny_zero123, folder)
    (folder / "cc_projection" / "diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(UserInputError, match="no camera projection weights"):
        replace(config, diffusion=Zero123LoadOptions(model=str(folder))).setup(
            device="cpu", model_metadata=photo_metadata
        )
    (folder / "cc_projection" / "diffusion_pytorch_model.bin").write_bytes(b"not a weights file")
    with pytest.raises(UserInputError, match="not a Zero-1-to-3 model"):
        replace(config, diffusion=Zero123LoadOptions(model=str(folder))).setup(
            device="cpu", model_metadata=photo_metadata
        )


def test_a_missing_folder_or_uncached_hub_id_is_one_message(config, photo_metadata, tmp_path, offline) -> None:
    with pytest.raises(UserInputError, match="does not exist.*zero123 --diffusion.model"):
        missing = replace(config, diffusion=Zero123LoadOptions(model=str(tmp_path / "nothing")))
        missing.setup(device="cpu", model_metadata=photo_metadata)
    with pytest.raises(UserInputError, match="HF_HUB_OFFLINE") as error:
        uncached = replace(config, diffusion=Zero123LoadOptions(model="someone/not-cached-zero123"))
        uncached.setup(device="cpu", model_metadata=photo_metadata, option_prefix="joint --zero123.")
    assert "joint --zero123.diffusion.model" in str(error.value)


def test_relative_camera_of_the_photos_own_view_is_no_change() -> None:
    from neurallift_ns.guidance.relative_camera import relative_camera

    position = _cameras([0.0], [15.0], [3.0]).camera_to_worlds[0, :3, 3]
    numbers = relative_camera(position[None], position, "zero123")
    torch.testing.assert_close(numbers, torch.tensor([[0.0, 0.0, 1.0, 0.0]]), atol=1e-6, rtol=0)
    stable = relative_camera(position[None], position, "stable-zero123")
    assert math.isclose(float(stable[0, 3]), math.radians(75.0), abs_tol=1e-5)


def test_a_step_in_half_precision_keeps_the_render_and_the_loss_in_fp32(config, photo_metadata, monkeypatch) -> None:
    """On CUDA the networks run in fp16 (no GPU here: fp16 is forced on the CPU, where torch runs it slowly): the
    photo's conditioning, the UNet's inputs and the VAE take fp16, the loss and the render's gradient stay fp32."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("neurallift_ns.guidance.zero123.model_dtype", lambda half_precision, device: torch.float16)
    guidance = config.setup(device="cpu", model_metadata=photo_metadata)
    assert guidance.model.unet.dtype == guidance.model.image_encoder.dtype == torch.float16
    assert guidance.model.projection.weight.dtype == torch.float16
    images = torch.rand(1, 12, 12, 3, generator=torch.Generator().manual_seed(5), requires_grad=True)
    output = guidance(images, _cameras([100.0], [20.0], [3.0]), torch.zeros(1, dtype=torch.long), torch.zeros(1), 0)
    output.loss.backward()
    assert output.loss.dtype == torch.float32 and torch.isfinite(output.loss)
    assert images.grad.dtype == torch.float32 and torch.isfinite(images.grad).all() and images.grad.abs().sum() > 0
