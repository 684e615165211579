"""Textual inversion on tiny random Stable Diffusion: only the new token learns, its loss falls, runs resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

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


def test_an_interrupted_run_resumes_to_the_same_result(tiny_stable_diffusion, photo, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def run(steps: int, output: Path) -> torch.Tensor:
        diffusion = StableDiffusion(StableDiffusionLoadOptions(model=str(tiny_stable_diffusion)), "cpu")
        config = TextualInversionConfig(steps=steps, save_every=3, **SETTINGS)
        train_textual_inversion(diffusion, photo, config, output, show_progress=False)
        return load_file(str(output))[config.token]

    straight = run(6, tmp_path / "straight" / "learned.safetensors")
    resumed_output = tmp_path / "resumed" / "learned.safetensors"
    run(3, resumed_output)  # "interrupted" after 3 of 6 steps
    assert torch.load(state_path(resumed_output), weights_only=True)["step"] == 3
    resumed = run(6, resumed_output)
    torch.testing.assert_close(resumed, straight)


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
    assert "--pipeline.model.guidance.learned-embedding" in result.stdout.replace("\n", " ")
