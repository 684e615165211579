"""Textual inversion on tiny random Stable Diffusion: only the new token learns, its loss falls, runs resume; in fp16
the gradient reaches the token, and v-prediction models are trained on the velocity."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file
from torch.optim.optimizer import register_optimizer_step_pre_hook

from lift_common.errors import UserInputError
from neurallift_ns.guidance.stable_diffusion import StableDiffusion, StableDiffusionLoadOptions
from neurallift_ns.guidance.textual_inversion import (
    PROMPT_TEMPLATES,
    TextualInversionConfig,
    augment,
    denoising_loss,
    state_path,
    train_textual_inversion,
)
from tests.commands import check, run_command

SETTINGS = dict(resolution=16, initializer_word="a", learning_rate=0.05, batch_size=2)


@pytest.fixture
def diffusion(tiny_stable_diffusion, monkeypatch) -> StableDiffusion:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return StableDiffusion(StableDiffusionLoadOptions(model=str(tiny_stable_diffusion)), "cpu")


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    from skimage import data

    return np.asarray(Image.fromarray(data.chelsea()).resize((24, 24)), dtype=np.float32) / 255.0


def _fixed_loss(diffusion: StableDiffusion, photo: np.ndarray, token: str) -> float:
    """The token's denoising loss on a fixed set of noises and timesteps (independent of training's draws); the same
    set before and after training, so the comparison is paired and its noise cancels."""
    generator = torch.Generator().manual_seed(123)
    image = torch.nn.functional.interpolate(torch.from_numpy(photo).permute(2, 0, 1)[None], size=(16, 16))
    with torch.no_grad():
        latents = diffusion.encode_images(image.expand(64, -1, -1, -1))
        timesteps = torch.randint(0, 1000, (64,), generator=generator)
        noise = torch.randn(latents.shape, generator=generator)
        prompts = diffusion.tokenize([PROMPT_TEMPLATES[i % len(PROMPT_TEMPLATES)].format(token) for i in range(64)])
        return float(denoising_loss(diffusion, latents, prompts, timesteps, noise))


def test_only_the_new_token_changes_and_its_loss_falls(diffusion, photo, tmp_path: Path) -> None:
    config = TextualInversionConfig(steps=60, save_every=1000, **SETTINGS)
    table = diffusion.text_encoder.get_input_embeddings().weight
    before = table.detach().clone()
    initializer = diffusion.tokenizer.encode("a", add_special_tokens=False)[0]

    output = train_textual_inversion(diffusion, photo, config, tmp_path / "learned.safetensors", show_progress=False)

    after = diffusion.text_encoder.get_input_embeddings().weight.detach()
    token_id = diffusion.tokenizer.convert_tokens_to_ids(config.token)
    assert after.shape[0] == before.shape[0] + 1 and token_id == before.shape[0]
    assert torch.equal(after[: before.shape[0]], before)  # every existing word is untouched
    assert not torch.allclose(after[token_id], before[initializer])  # the new one moved from its initializer
    saved = load_file(str(output))
    assert list(saved) == [config.token] and torch.allclose(saved[config.token], after[token_id])

    learnt = _fixed_loss(diffusion, photo, config.token)
    with torch.no_grad():  # the same prompts with the token's starting point
        after[token_id] = before[initializer]
    assert learnt < _fixed_loss(diffusion, photo, config.token)


def _learn_from_a_fresh_load(model: Path, photo: np.ndarray, steps: int, save_every: int, output: Path) -> torch.Tensor:
    """The token ``train_textual_inversion`` saves to ``output``, starting from a freshly loaded model as a new
    command would (so nothing but the saved state carries over from an earlier run)."""
    diffusion = StableDiffusion(StableDiffusionLoadOptions(model=str(model)), "cpu")
    config = TextualInversionConfig(steps=steps, save_every=save_every, **SETTINGS)
    train_textual_inversion(diffusion, photo, config, output, show_progress=False)
    return load_file(str(output))[config.token]


def test_an_interrupted_run_resumes_to_the_same_result(tiny_stable_diffusion, photo, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def run(steps: int, output: Path) -> torch.Tensor:
        return _learn_from_a_fresh_load(tiny_stable_diffusion, photo, steps, 3, output)

    straight = run(6, tmp_path / "straight" / "learned.safetensors")
    resumed_output = tmp_path / "resumed" / "learned.safetensors"
    run(3, resumed_output)  # "interrupted" after 3 of 6 steps
    assert torch.load(state_path(resumed_output), weights_only=True)["step"] == 3
    resumed = run(6, resumed_output)
    torch.testing.assert_close(resumed, straight)


@pytest.mark.parametrize("damage", ["truncated", "unsafe"])
def test_a_damaged_saved_state_starts_over_with_a_message(
    tiny_stable_diffusion, photo, tmp_path: Path, monkeypatch, capsys, damage: str
):
    """A saved state that is cut short, or holds a pickled object outside torch's allowlist, is neither a traceback
    nor loaded unsafely: the run says so and starts from step 0, ending where an uninterrupted run ends."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def run(steps: int, output: Path) -> torch.Tensor:
        return _learn_from_a_fresh_load(tiny_stable_diffusion, photo, steps, 2, output)

    straight = run(4, tmp_path / "straight" / "learned.safetensors")
    output = tmp_path / "damaged" / "learned.safetensors"
    run(2, output)
    saved = state_path(output)
    if damage == "truncated":
        saved.write_bytes(saved.read_bytes()[:200])
    else:
        torch.save({"step": 2, "hook": SimpleNamespace(a=1)}, saved)
    capsys.readouterr()

    torch.testing.assert_close(run(4, output), straight)
    message = " ".join(capsys.readouterr().out.split())
    assert "cannot be read" in message and "starting at step 0" in message
    assert damage == "truncated" or "not safe to load" in message


def _in_half_precision(diffusion: StableDiffusion, output_scale: float) -> StableDiffusion:
    """``diffusion`` in fp16 as it runs on CUDA (CPU fp16 convolutions work in recent PyTorch), with the UNet's last
    layer's output multiplied by ``output_scale``: every gradient inside the UNet is scaled by it too."""
    diffusion.pipeline.to(torch.float16)
    diffusion.dtype = torch.float16
    diffusion.unet.conv_out.register_forward_hook(lambda module, inputs, output: output * output_scale)
    return diffusion


def _token_gradients(diffusion: StableDiffusion, photo: np.ndarray, path: Path) -> torch.Tensor:
    """The (unscaled) gradient of the new token's embedding in one step of training."""
    config = TextualInversionConfig(steps=1, **SETTINGS)
    gradients = []

    def record(optimizer, args, kwargs) -> None:
        (table,) = optimizer.param_groups[0]["params"]
        gradients.append(table.grad[diffusion.tokenizer.convert_tokens_to_ids(config.token)].clone())

    handle = register_optimizer_step_pre_hook(record)
    try:
        train_textual_inversion(diffusion, photo, config, path, show_progress=False)
    finally:
        handle.remove()
    assert len(gradients) == 1
    return gradients[0]


def test_the_gradient_reaches_the_token_through_an_fp16_unet(tiny_stable_diffusion, photo, tmp_path, monkeypatch):
    """In Stable Diffusion the loss's gradient at the UNet's output is ~2(eps_pred - eps)/32768 (an MSE over 2x4x64x64
    latents), in fp16's subnormal range, and it shrinks further inside the UNet: in fp16 it loses its precision or
    flushes to zero before it reaches the token. The tiny UNet's gradients (2x4x8x8 latents) are ~1e-2 and do not
    underflow; multiplying its last layer's output by 1e-6 multiplies every gradient inside it by 1e-6, to below 3e-8,
    which a plain fp16 backward rounds to zero (rounding up to fp16's smallest subnormal, 6e-8, would take a noise value
    beyond 7 standard deviations). The loss scaler's 2^16 keeps them in range: they must match the fp32 model's."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def load() -> StableDiffusion:
        return StableDiffusion(StableDiffusionLoadOptions(model=str(tiny_stable_diffusion)), "cpu")

    reference = load()  # fp32 throughout: nothing underflows
    reference.unet.conv_out.register_forward_hook(lambda module, inputs, output: output * 1e-6)
    expected = _token_gradients(reference, photo, tmp_path / "fp32" / "learned.safetensors")
    gradient = _token_gradients(_in_half_precision(load(), 1e-6), photo, tmp_path / "fp16" / "learned.safetensors")
    assert torch.isfinite(gradient).all() and gradient.abs().max() > 0
    assert F.cosine_similarity(gradient, expected, dim=0) > 0.99
    torch.testing.assert_close(gradient.norm(), expected.norm(), rtol=0.05, atol=0.0)


def test_a_step_whose_gradient_overflows_is_skipped(diffusion, photo, tmp_path: Path) -> None:
    """An fp16 UNet whose output is 1e4 times too large: its gradients (or its output) overflow, so the step is skipped
    and the token keeps its starting point instead of becoming NaN (and the progress bar does not fail on it)."""
    diffusion = _in_half_precision(diffusion, 1e4)
    initializer = diffusion.tokenizer.encode("a", add_special_tokens=False)[0]
    start = diffusion.text_encoder.get_input_embeddings().weight[initializer].detach().float().clone()
    config = TextualInversionConfig(steps=2, **SETTINGS)
    output = tmp_path / "learned.safetensors"
    train_textual_inversion(diffusion, photo, config, output, show_progress=True)
    torch.testing.assert_close(load_file(str(output))[config.token], start)


def test_an_interrupted_fp16_run_resumes_with_its_loss_scale(tiny_stable_diffusion, photo, tmp_path, monkeypatch):
    """Every step of an overflowing fp16 run is skipped and halves the loss scale: a resumed run goes on halving it
    from where the interrupted one stopped, not from the start."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def run(steps: int, output: Path) -> dict:
        diffusion = StableDiffusion(StableDiffusionLoadOptions(model=str(tiny_stable_diffusion)), "cpu")
        config = TextualInversionConfig(steps=steps, save_every=2, **SETTINGS)
        train_textual_inversion(_in_half_precision(diffusion, 1e4), photo, config, output, show_progress=False)
        return torch.load(state_path(output), weights_only=True)["scaler"]

    straight = run(4, tmp_path / "straight" / "learned.safetensors")
    resumed_output = tmp_path / "resumed" / "learned.safetensors"
    run(2, resumed_output)  # "interrupted" after 2 of 4 steps
    assert run(4, resumed_output) == straight
    assert straight["scale"] < 2.0**16 / 4  # the scale did fall at every step, so the comparison means something


def test_a_v_prediction_model_is_trained_on_the_velocity(tiny_stable_diffusion, tmp_path, monkeypatch) -> None:
    """For v-prediction (SD 2.x) the UNet's raw output is compared with v = sqrt(a) eps - sqrt(1 - a) x0, as in
    diffusers' textual inversion example; an output converted to noise first weighs each timestep by a instead."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = shutil.copytree(tiny_stable_diffusion, tmp_path / "v-prediction")
    scheduler_config = model / "scheduler" / "scheduler_config.json"
    scheduler_config.write_text(
        json.dumps({**json.loads(scheduler_config.read_text()), "prediction_type": "v_prediction"})
    )
    diffusion = StableDiffusion(StableDiffusionLoadOptions(model=str(model)), "cpu")
    assert diffusion.prediction_type == "v_prediction"
    generator = torch.Generator().manual_seed(0)
    latents = torch.randn(4, 4, 8, 8, generator=generator)
    noise = torch.randn(latents.shape, generator=generator)
    timesteps = torch.tensor([100, 400, 700, 999])
    velocity = diffusion.pipeline.scheduler.get_velocity(latents, noise, timesteps)
    token_ids = diffusion.tokenize(["a photo of a cat"] * 4)

    def loss_when_the_unet_outputs(prediction: torch.Tensor) -> float:
        diffusion.unet = lambda *args, **kwargs: SimpleNamespace(sample=prediction)
        return float(denoising_loss(diffusion, latents, token_ids, timesteps, noise))

    assert loss_when_the_unet_outputs(velocity) < 1e-10
    assert loss_when_the_unet_outputs(noise) == pytest.approx(float(F.mse_loss(noise, velocity)), rel=1e-5)


def test_a_multi_token_initializer_word_is_one_message(diffusion, photo, tmp_path: Path) -> None:
    config = TextualInversionConfig(steps=1, **{**SETTINGS, "initializer_word": "spaceship"})
    with pytest.raises(UserInputError, match="'spaceship' is .* tokens"):
        train_textual_inversion(diffusion, photo, config, tmp_path / "x.safetensors", show_progress=False)


def test_augmentations_keep_the_background_white_and_vary_the_object(photo) -> None:
    image = np.ones((32, 32, 3), np.float32)
    image[8:24, 8:24] = photo[:16, :16]
    batch = torch.from_numpy(image).permute(2, 0, 1)[None].expand(8, -1, -1, -1)
    augmented = augment(batch, TextualInversionConfig(colour_jitter=0.0), torch.Generator().manual_seed(0))
    assert augmented.shape == batch.shape
    assert torch.allclose(augmented[:, :, 0, 0], torch.ones(8, 3), atol=1e-4)  # corners stay white
    assert (augmented[0] - augmented[1]).abs().mean() > 0.01


@pytest.mark.slow
def test_ns_neurallift_finetune_writes_an_embedding_ns_train_can_use(
    tiny_stable_diffusion, coffee_photo: Path, tmp_path: Path
) -> None:
    command = ["ns-neurallift-finetune", str(coffee_photo), "--diffusion.model", str(tiny_stable_diffusion)]
    command += [
        "--steps",
        "4",
        "--save-every",
        "2",
        "--resolution",
        "16",
        "--initializer-word",
        "a",
        "--token",
        "<cup>",
    ]
    command += ["--preprocess.mask-method", "grabcut", "--preprocess.image-size", "32"]
    command += ["--preprocess.depth-model", str(tmp_path / "no-depth-model")]
    result = check(run_command(command, HF_HUB_OFFLINE="1"))
    output = tmp_path / "coffee.learned_embeds.safetensors"
    assert list(load_file(str(output))) == ["<cup>"]
    assert "stable-diffusion --learned-embedding" in result.stdout.replace("\n", " ")
