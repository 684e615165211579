"""The Stable Diffusion + CLIP guidance on tiny random models loaded from disk, offline, by the code a Hub id takes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lift_common.errors import UserInputError
from neurallift_ns.data.orbit_views import DIRECTION_NAMES, orbit_cameras
from neurallift_ns.guidance import score_distillation as sds
from neurallift_ns.guidance.stable_diffusion import StableDiffusionLoadOptions
from neurallift_ns.guidance.stable_diffusion_guidance import StableDiffusionGuidanceConfig
from neurallift_ns.shading import SHADING_MODES

FRONT, SIDE, BACK = (DIRECTION_NAMES.index(name) for name in ("front", "side", "back"))
ALBEDO, TEXTURELESS = SHADING_MODES.index("albedo"), SHADING_MODES.index("textureless")


@pytest.fixture(scope="module")
def photo_metadata(tmp_path_factory) -> dict:
    """What the dataparser hands the model: the preprocessed photo, RGBA with the object's mask as alpha."""
    from skimage import data

    rgba = np.dstack([np.asarray(Image.fromarray(data.coffee()).resize((32, 32))), np.full((32, 32), 255, np.uint8)])
    rgba[:4, :, 3] = 0  # a transparent band: it must come out white
    path = tmp_path_factory.mktemp("photo") / "image.png"
    Image.fromarray(rgba).save(path)
    return {"image_path": path}


@pytest.fixture(scope="module")
def config(tiny_stable_diffusion, tiny_open_clip) -> StableDiffusionGuidanceConfig:
    return StableDiffusionGuidanceConfig(
        diffusion=StableDiffusionLoadOptions(model=str(tiny_stable_diffusion)),
        clip_model=str(tiny_open_clip),
        diffusion_resolution=16,
    )


@pytest.fixture(scope="module")
def guidance(config, photo_metadata):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        return replace(config, prompt="a cup").setup(device="cpu", model_metadata=photo_metadata)


def _cameras(*azimuths: float):
    """Orbit cameras at these azimuths (the guidance reads each view's azimuth from its camera)."""
    num = len(azimuths)
    return orbit_cameras(
        torch.tensor(azimuths), torch.zeros(num), torch.full((num,), 3.0), torch.full((num,), 40.0), 12
    )


def _noisy_estimate(guidance, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    latents, noise = torch.randn(3, 4, 8, 8, generator=generator), torch.randn(3, 4, 8, 8, generator=generator)
    timesteps = torch.tensor([200, 500, 800])
    alpha = guidance.diffusion.alphas_cumprod[timesteps]
    noisy = sds.add_noise(latents, noise, alpha)
    with torch.no_grad():
        predicted = guidance.diffusion.predict_noise(noisy, timesteps, guidance.direction_embeddings[[FRONT] * 3])
    return noisy, predicted, alpha


def test_clip_guided_update_pulls_the_estimate_toward_the_photo(guidance) -> None:
    """The sign test: the clean image implied by the CLIP-guided noise is closer (in CLIP) to the photo."""
    noisy, predicted, alpha = _noisy_estimate(guidance)
    estimate = sds.estimate_clean_latents(noisy, predicted, alpha)
    gradient, before = guidance.distance_gradient(estimate, torch.full((3,), 10.0))

    guided = sds.clip_guided_noise(predicted, gradient, alpha)
    with torch.no_grad():
        after = guidance.photo_distance(
            guidance.diffusion.decode_latents(sds.estimate_clean_latents(noisy, guided, alpha))
        )
        # The opposite sign (what NeuralLift-360's released code appears to do) pushes the estimate away.
        reversed_sign = 2 * predicted - guided
        away = guidance.photo_distance(
            guidance.diffusion.decode_latents(sds.estimate_clean_latents(noisy, reversed_sign, alpha))
        )
    assert (after < before).all(), (before, after)
    assert (away > before).all(), (before, away)


def test_guidance_sends_a_gradient_into_the_renders_and_reports_its_parts(guidance) -> None:
    images = torch.rand(2, 12, 12, 3, requires_grad=True)
    output = guidance(images, _cameras(0.0, 180.0), torch.tensor([FRONT, BACK]), torch.tensor([ALBEDO, ALBEDO]), step=0)
    output.loss.backward()
    assert images.grad is not None and images.grad.abs().sum() > 0
    assert set(output.diagnostics) == {
        "timestep",
        "score_distillation",
        "clip_estimate_distance",
        "clip_skipped_views",
        "clip_image_distance",
        "clipped_views",
    }
    assert 0.2 * 1000 <= output.diagnostics["timestep"] <= 0.6 * 1000  # the default range


def test_clip_guidance_changes_the_gradient_and_is_off_for_textureless_views(guidance) -> None:
    def render_gradient(shading: int, scales: tuple) -> tuple[torch.Tensor, dict]:
        guidance.config.clip_guidance_scales = scales
        guidance.generator.manual_seed(0)  # the same timesteps and noise for each call
        images = torch.full((1, 12, 12, 3), 0.5, requires_grad=True)
        output = guidance(images, _cameras(180.0), torch.tensor([BACK]), torch.tensor([shading]), step=0)
        output.loss.backward()
        return images.grad, output.diagnostics

    original = guidance.config.clip_guidance_scales
    try:
        unguided, _ = render_gradient(ALBEDO, (0.0,) * 5)
        guided, diagnostics = render_gradient(ALBEDO, (0.0, 0.0, 500.0, 0.0, 0.0))
        textureless, textureless_diagnostics = render_gradient(TEXTURELESS, (0.0, 0.0, 500.0, 0.0, 0.0))
    finally:
        guidance.config.clip_guidance_scales = original
    assert "clip_estimate_distance" in diagnostics and not torch.allclose(guided, unguided)
    assert "clip_estimate_distance" not in textureless_diagnostics
    torch.testing.assert_close(textureless, unguided)


def test_clip_image_loss_pulls_a_front_render_toward_the_photo(guidance) -> None:
    render = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(1), requires_grad=True)
    distance = guidance.photo_distance(render)
    distance.sum().backward()
    with torch.no_grad():
        after = guidance.photo_distance(render - 0.5 * render.grad / render.grad.norm())
    assert after < distance


def test_each_direction_has_its_own_prompt(guidance) -> None:
    embeddings = guidance.direction_embeddings
    assert embeddings.shape[0] == len(DIRECTION_NAMES)
    assert not torch.allclose(embeddings[FRONT], embeddings[BACK])
    assert guidance.subject == "a cup"


def test_the_photo_clip_sees_is_the_object_on_white(photo_metadata) -> None:
    from neurallift_ns.guidance.stable_diffusion_guidance import reference_photo

    photo = reference_photo(photo_metadata)
    assert photo.shape == (32, 32, 3) and np.allclose(photo[:4], 1.0) and photo[4:].mean() < 0.9


def test_a_hub_id_that_cannot_be_had_offline_is_one_message(config, photo_metadata, offline) -> None:
    missing = replace(config, diffusion=StableDiffusionLoadOptions(model="someone/not-cached-diffusion"))
    with pytest.raises(UserInputError, match="stable-diffusion --diffusion.model") as error:
        missing.setup(device="cpu", model_metadata=photo_metadata)
    assert "HF_HUB_OFFLINE" in str(error.value)


def test_a_clip_folder_without_weights_is_one_message(config, photo_metadata, tmp_path: Path, offline) -> None:
    (tmp_path / "open_clip_config.json").write_text("{}")
    broken = replace(config, clip_model=str(tmp_path))
    with pytest.raises(UserInputError, match="open_clip_config.json and one of"):
        broken.setup(device="cpu", model_metadata=photo_metadata)


def test_a_clip_hub_id_that_cannot_be_had_offline_is_one_message(config, photo_metadata, offline) -> None:
    missing = replace(config, clip_model="hf-hub:someone/not-cached-clip")
    with pytest.raises(UserInputError, match="stable-diffusion --clip-model"):
        missing.setup(device="cpu", model_metadata=photo_metadata)


def test_the_default_clip_offline_is_one_message(config, photo_metadata, offline) -> None:
    default = replace(config, clip_model="ViT-B-16", clip_pretrained="openai")
    with pytest.raises(UserInputError, match="CLIP \\(ViT-B-16, openai\\)"):
        default.setup(device="cpu", model_metadata=photo_metadata)


def test_adapting_to_the_photo_learns_its_token_once_and_prompts_with_it(config, photo_metadata, tmp_path: Path):
    from neurallift_ns.guidance.textual_inversion import TextualInversionConfig, adaptation_path, state_path

    photo = tmp_path / "image.png"
    photo.write_bytes(Path(photo_metadata["image_path"]).read_bytes())
    metadata = {"image_path": photo}
    adaptation = TextualInversionConfig(token="<cup>", initializer_word="a", steps=3, resolution=16, batch_size=1)
    adapting = replace(config, adapt_to_photo=True, adaptation=adaptation)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        first = replace(adapting, prompt="a mug").setup(device="cpu", model_metadata=metadata)
        learnt = adaptation_path(photo, adapting.diffusion.model, adaptation)
        assert learnt.parent.parent == tmp_path and learnt.exists()
        assert first.subject == "a photo of <cup>, a mug"
        saved_at = learnt.stat().st_mtime_ns
        second = adapting.setup(device="cpu", model_metadata=metadata)  # cached: loaded, not learnt again
    assert learnt.stat().st_mtime_ns == saved_at and torch.load(state_path(learnt), weights_only=True)["step"] == 3
    assert second.subject == "a photo of <cup>"
    token_id = second.diffusion.tokenizer.convert_tokens_to_ids("<cup>")
    table = second.diffusion.text_encoder.get_input_embeddings().weight
    torch.testing.assert_close(table[token_id], first.diffusion.text_encoder.get_input_embeddings().weight[token_id])


def test_a_missing_learnt_token_file_is_one_message(config, photo_metadata, tmp_path: Path, offline) -> None:
    missing = replace(config, learned_embedding=tmp_path / "nothing.safetensors")
    with pytest.raises(UserInputError, match="ns-neurallift-finetune"):
        missing.setup(device="cpu", model_metadata=photo_metadata)


def test_clip_guidance_defaults_do_not_pull_the_back_toward_the_front_photo() -> None:
    """With the sign that pulls toward the photo, guiding back views by the front photo would paint a second face."""
    front, side, back, overhead, bottom = StableDiffusionGuidanceConfig().clip_guidance_scales
    assert back == overhead == bottom == 0.0
    assert 0.0 <= side <= front / 10.0


def test_a_view_whose_clip_gradient_overflows_keeps_its_score_distillation_gradient(guidance, monkeypatch) -> None:
    def render_gradient(scales: tuple) -> tuple[torch.Tensor, dict]:
        monkeypatch.setattr(guidance.config, "clip_guidance_scales", scales)
        guidance.generator.manual_seed(0)
        images = torch.full((2, 12, 12, 3), 0.5, requires_grad=True)
        output = guidance(images, _cameras(0.0, 10.0), torch.tensor([FRONT, FRONT]), torch.tensor([ALBEDO] * 2), 0)
        output.loss.backward()
        return images.grad, output.diagnostics

    monkeypatch.setattr(guidance.config, "lambda_clip_image", 0.0)
    unguided, _ = render_gradient((0.0,) * 5)
    real_gradient = guidance.distance_gradient

    def overflowing(estimate, scales):  # what an fp16 decoder overflow does to the first view
        gradient, distance = real_gradient(estimate, scales)
        gradient[0] = float("inf")
        return gradient, distance

    monkeypatch.setattr(guidance, "distance_gradient", overflowing)
    guided, diagnostics = render_gradient((500.0, 0.0, 0.0, 0.0, 0.0))
    assert torch.isfinite(guided).all() and diagnostics["clip_skipped_views"] == 1.0
    # The overflowing view has exactly its unguided gradient, the other one its CLIP-guided gradient.
    torch.testing.assert_close(guided[0], unguided[0])
    assert not torch.allclose(guided[1], unguided[1])


def test_score_distillation_gradient_is_clipped_and_counted(guidance, monkeypatch) -> None:
    def latent_gradient(limit: float) -> tuple[torch.Tensor, dict]:
        monkeypatch.setattr(guidance.config, "gradient_clip", limit)
        guidance.generator.manual_seed(0)
        images = torch.rand(2, 12, 12, 3, generator=torch.Generator().manual_seed(0))
        seen = {}
        encode = guidance.diffusion.encode_images

        def watched(batch):
            latents = encode(batch)
            latents.register_hook(lambda gradient: seen.setdefault("gradient", gradient))
            return latents

        monkeypatch.setattr(guidance.diffusion, "encode_images", watched)
        output = guidance(
            images.requires_grad_(True),
            _cameras(90.0, 180.0),
            torch.tensor([SIDE, BACK]),
            torch.zeros(2, dtype=torch.long),
            0,
        )
        output.loss.backward()
        monkeypatch.setattr(guidance.diffusion, "encode_images", encode)
        return seen["gradient"] * 2, output.diagnostics  # the loss averages over the two views

    free, free_diagnostics = latent_gradient(0.0)
    limit = float(free.abs().max()) / 4
    clipped, diagnostics = latent_gradient(limit)
    assert free_diagnostics["clipped_views"] == 0.0 and diagnostics["clipped_views"] == 2.0
    assert clipped.abs().max() <= limit * (1 + 1e-5)
    torch.testing.assert_close(clipped, free.clamp(-limit, limit))


def test_prompt_embeddings_blend_front_side_and_back_by_azimuth(guidance) -> None:
    front, side, back = (guidance.direction_embeddings[index] for index in (FRONT, SIDE, BACK))
    blended = guidance.view_embeddings(_cameras(0.0, 45.0, -90.0, 135.0), torch.tensor([FRONT, FRONT, SIDE, BACK]))
    torch.testing.assert_close(blended[0], front)
    torch.testing.assert_close(blended[1], 0.5 * front + 0.5 * side)
    torch.testing.assert_close(blended[2], side)
    torch.testing.assert_close(blended[3], 0.5 * side + 0.5 * back)
    overhead = guidance.view_embeddings(_cameras(45.0), torch.tensor([DIRECTION_NAMES.index("overhead")]))
    torch.testing.assert_close(overhead[0], guidance.direction_embeddings[DIRECTION_NAMES.index("overhead")])


def test_clip_sees_fine_texture_without_aliasing(guidance) -> None:
    """A one-pixel checkerboard shrunk to CLIP's input is flat grey, not a moire pattern (plain bilinear sampling
    of this one at 500 px down to the tiny CLIP's 32 px gives a standard deviation of 0.16)."""
    rows, cols = torch.meshgrid(torch.arange(500), torch.arange(500), indexing="ij")
    checkerboard = ((rows + cols) % 2).float().expand(1, 3, 500, 500)
    clip = guidance.clip
    shrunk = clip.preprocess(checkerboard) * clip.std + clip.mean
    assert shrunk.shape[-2:] == clip.image_size
    assert float(shrunk.std()) < 0.05 and abs(float(shrunk.mean()) - 0.5) < 0.01


def test_vae_gradient_checkpointing_stores_less_in_eval_mode(tiny_stable_diffusion, monkeypatch) -> None:
    """The frozen VAE is in eval mode; diffusers before 0.32 checkpointed only in train mode (so never, here)."""
    from neurallift_ns.guidance.stable_diffusion import StableDiffusion

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def saved_bytes(checkpointing: bool) -> int:
        options = StableDiffusionLoadOptions(model=str(tiny_stable_diffusion), vae_gradient_checkpointing=checkpointing)
        diffusion = StableDiffusion(options, "cpu")
        assert not diffusion.vae.training
        total = [0]

        def pack(tensor: torch.Tensor) -> torch.Tensor:
            total[0] += tensor.numel() * tensor.element_size()
            return tensor

        images = torch.rand(1, 3, 32, 32, requires_grad=True)
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            diffusion.encode_images(images).sum().backward()
        return total[0]

    with_checkpoints, without = saved_bytes(True), saved_bytes(False)
    print(f"VAE encoder saved tensors: {with_checkpoints} bytes with checkpointing, {without} without")
    assert with_checkpoints < 0.7 * without


@pytest.mark.parametrize("damage", ["config is not JSON", "config is not open_clip's", "weights are truncated"])
def test_a_damaged_clip_folder_is_one_message_naming_the_file(
    config, photo_metadata, tiny_open_clip: Path, tmp_path: Path, offline, damage: str
) -> None:
    import shutil

    folder = Path(shutil.copytree(tiny_open_clip, tmp_path / "clip"))
    config_file = folder / "open_clip_config.json"
    (weights,) = [path for path in folder.iterdir() if path.name.startswith("open_clip_") and path != config_file]
    if damage == "config is not JSON":
        config_file.write_text('{"model_cfg": {')
        named = config_file
    elif damage == "config is not open_clip's":
        config_file.write_text('{"model_cfg": {"embed_dim": 8, "no_such_option": 1}}')
        named = config_file
    else:
        weights.write_bytes(weights.read_bytes()[:100])
        named = weights
    broken = replace(config, clip_model=str(folder))
    with pytest.raises(UserInputError, match="stable-diffusion --clip-model") as error:
        broken.setup(device="cpu", model_metadata=photo_metadata)
    assert str(named) in str(error.value)


@pytest.mark.parametrize("damage", ["empty folder", "no unet", "truncated unet weights"])
def test_a_damaged_stable_diffusion_folder_is_one_message(
    config, photo_metadata, tiny_stable_diffusion: Path, tmp_path: Path, offline, damage: str
) -> None:
    import shutil

    folder = tmp_path / "sd"
    if damage == "empty folder":
        folder.mkdir()
    else:
        shutil.copytree(tiny_stable_diffusion, folder)
        if damage == "no unet":
            shutil.rmtree(folder / "unet")
        else:
            (weights,) = [path for path in (folder / "unet").iterdir() if "diffusion_pytorch_model" in path.name]
            weights.write_bytes(weights.read_bytes()[:100])
    broken = replace(config, diffusion=StableDiffusionLoadOptions(model=str(folder)))
    with pytest.raises(UserInputError, match="stable-diffusion --diffusion.model") as error:
        broken.setup(device="cpu", model_metadata=photo_metadata)
    assert str(folder) in str(error.value) and "Stable Diffusion pipeline" in str(error.value)
