"""Adapting the diffusion prior to the photo: a new token learnt by textual inversion on the object alone.

A new word (``<object>`` by default) is added to the tokenizer, its embedding initialised from a familiar word, and
only that embedding is trained to denoise augmented copies of the photo's object on a plain white background (random
flips, shifts, scales, small rotations and colour jitter). The diffusion prior then knows the object by that word, and
the guidance writes it into its prompts. Training saves its state every few steps and resumes from it; the guidance's
automatic adaptation (:func:`adapted_token`) keeps the result beside the photo's preprocessing, keyed by its settings.
"""

from __future__ import annotations

import math
import pickle
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Tuple

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Float
from nerfstudio.utils.rich_utils import CONSOLE
from torch import Tensor, nn

from lift_common.atomic_files import write_atomically
from lift_common.cache_keys import CacheKey
from lift_common.checkpoints import save_checkpoint_atomically
from lift_common.errors import UserInputError
from neurallift_ns.guidance.stable_diffusion import StableDiffusion

PROMPT_TEMPLATES = (
    "a photo of a {}",
    "a rendering of a {}",
    "a cropped photo of the {}",
    "a photo of a clean {}",
    "a close-up photo of a {}",
    "a bright photo of the {}",
    "a good photo of a {}",
    "a photo of the {} on a white background",
)
"""Prompts the token is trained in (as in the textual inversion paper), so it does not learn one sentence."""


@dataclass
class TextualInversionConfig:
    """Textual inversion of a new token on the photo's object."""

    token: str = "<object>"
    """The new word the object is learnt as; prompts may use it (it is put in front of them otherwise)."""
    initializer_word: str = "object"
    """An existing single-token word the new embedding starts from (e.g. "mug", "toy", "cat")."""
    steps: int = 1000
    """Optimisation steps."""
    learning_rate: float = 5e-3
    """Learning rate of the new embedding (AdamW)."""
    batch_size: int = 2
    """Augmented copies of the photo per step."""
    resolution: int = 512
    """Side of the training images in pixels (Stable Diffusion 1.5 and 2.1-base: 512)."""
    save_every: int = 100
    """Steps between saved states; an interrupted run resumes from the last one."""
    flip_probability: float = 0.5
    """Chance of a horizontal flip."""
    max_shift: float = 0.1
    """Largest shift, as a fraction of the image side."""
    scale_range: Tuple[float, float] = (0.8, 1.1)
    """Range of random zoom."""
    max_rotation_deg: float = 10.0
    """Largest rotation, in degrees."""
    colour_jitter: float = 0.1
    """Largest relative change of brightness, contrast and saturation."""
    seed: int = 0
    """Seed of the augmentations, noise and timesteps."""


def augment(
    images: Float[Tensor, "batch 3 H W"], config: TextualInversionConfig, generator: torch.Generator
) -> Float[Tensor, "batch 3 H W"]:
    """Random flips, shifts, zooms, rotations and colour jitter; what moves in from outside the photo is white."""
    batch = images.shape[0]

    def uniform(low: float, high: float) -> Tensor:
        return low + (high - low) * torch.rand(batch, generator=generator)

    angle = torch.deg2rad(uniform(-config.max_rotation_deg, config.max_rotation_deg))
    scale = uniform(*config.scale_range)
    flip = torch.where(torch.rand(batch, generator=generator) < config.flip_probability, -1.0, 1.0)
    shift = torch.stack([uniform(-config.max_shift, config.max_shift) for _ in range(2)], dim=-1) * 2.0
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos * flip, -sin, shift[:, 0]], -1), torch.stack([sin * flip, cos, shift[:, 1]], -1)], 1
    )
    grid = F.affine_grid(theta.to(images), list(images.shape), align_corners=False)
    # Sample the object's darkness (1 - image) with zero padding, so the outside comes in white.
    warped = 1.0 - F.grid_sample(1.0 - images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    jitter = config.colour_jitter
    brightness = uniform(1 - jitter, 1 + jitter).view(-1, 1, 1, 1).to(images)
    contrast = uniform(1 - jitter, 1 + jitter).view(-1, 1, 1, 1).to(images)
    saturation = uniform(1 - jitter, 1 + jitter).view(-1, 1, 1, 1).to(images)
    warped = warped * brightness
    mean = warped.mean(dim=(1, 2, 3), keepdim=True)
    warped = (warped - mean) * contrast + mean
    grey = warped.mean(dim=1, keepdim=True)
    return ((warped - grey) * saturation + grey).clamp(0.0, 1.0)


def add_token(diffusion: StableDiffusion, config: TextualInversionConfig) -> int:
    """Add the new token to the tokenizer and text encoder, initialised from the initializer word; its id."""
    tokenizer, text_encoder = diffusion.tokenizer, diffusion.text_encoder
    initializer = tokenizer.encode(config.initializer_word, add_special_tokens=False)
    if len(initializer) != 1:
        raise UserInputError(
            f"The initializer word '{config.initializer_word}' is {len(initializer)} tokens for this tokenizer; "
            "textual inversion needs a word that is one token (e.g. object, toy, mug, cat). Change --initializer-word."
        )
    if tokenizer.add_tokens(config.token) == 0:
        raise UserInputError(
            f"The token '{config.token}' is already a word of this tokenizer; choose a new one with --token (e.g. "
            "<my-object>)."
        )
    text_encoder.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    token_id = tokenizer.convert_tokens_to_ids(config.token)
    embeddings = text_encoder.get_input_embeddings().weight
    with torch.no_grad():
        embeddings[token_id] = embeddings[initializer[0]]
    return token_id


def denoising_loss(
    diffusion: StableDiffusion,
    latents: Float[Tensor, "batch 4 h w"],
    token_ids: Tensor,
    timesteps: Tensor,
    noise: Float[Tensor, "batch 4 h w"],
) -> Float[Tensor, ""]:
    """The diffusion training loss of ``latents`` under the prompts ``token_ids``: the new token's objective.

    The UNet's raw output is compared with what the model was trained to predict (the noise, or for v-prediction
    models such as SD 2.x the velocity), as in diffusers' textual inversion example; comparing noise converted from a
    velocity would weigh each timestep by its alpha instead.
    """
    alpha = diffusion.alphas_cumprod[timesteps].view(-1, 1, 1, 1)
    noisy = alpha.sqrt() * latents + (1.0 - alpha).sqrt() * noise
    if diffusion.prediction_type == "epsilon":
        target = noise
    elif diffusion.prediction_type == "v_prediction":
        target = alpha.sqrt() * noise - (1.0 - alpha).sqrt() * latents  # the scheduler's get_velocity
    else:
        raise UserInputError(
            f"This diffusion model predicts '{diffusion.prediction_type}'; textual inversion supports models that "
            "predict the noise ('epsilon', SD 1.x) or the velocity ('v_prediction', SD 2.x). Choose another model."
        )
    text = diffusion.text_encoder(token_ids)[0]
    prediction = diffusion.unet(
        noisy.to(diffusion.dtype), timesteps, encoder_hidden_states=text.to(diffusion.dtype)
    ).sample.float()
    return F.mse_loss(prediction, target)


def save_learned_embedding(token: str, embedding: Tensor, path: Path) -> None:
    """Write ``{token: embedding}`` as diffusers loads it (``load_textual_inversion``), atomically."""
    from safetensors.torch import save

    tensors = {token: embedding.detach().float().cpu().contiguous()}
    write_atomically(path, lambda file: file.write(save(tensors)))


def state_path(output: Path) -> Path:
    """Where training state is kept beside the embedding file, for resuming."""
    return output.with_name(output.name + ".state.pt")


def read_saved_state(output: Path, explain: bool = True) -> dict | None:
    """The training state saved beside ``output``, or None when there is none or it cannot be read (it is written
    atomically, so only a damaged disk or a hand edit breaks it): such a run starts again from its first step, and
    says why when ``explain``. A state holding objects outside torch's safe-loading allowlist is never loaded
    unsafely."""
    path = state_path(output)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        int(state["step"]), state["settings"], state["embedding"], state["optimizer"], state["generator"]
        return state
    except pickle.UnpicklingError:
        reason = "it holds objects that are not safe to load, so it was not loaded"
    except Exception as error:  # a truncated file, a missing key: the state cannot be used, whatever the cause
        reason = f"{type(error).__name__}: {str(error).splitlines()[0]}" if str(error) else type(error).__name__
    if explain:
        CONSOLE.log(f"[yellow]The saved textual-inversion state {path} cannot be read ({reason}): starting at step 0.")
    return None


def _settings(config: TextualInversionConfig) -> dict:
    """Settings that must match for a saved state to be resumed (the step count may grow)."""
    return {key: value for key, value in asdict(config).items() if key not in ("steps", "save_every")}


def train_textual_inversion(
    diffusion: StableDiffusion,
    image: Float[np.ndarray, "H W 3"],
    config: TextualInversionConfig,
    output: Path,
    show_progress: bool = True,
) -> Path:
    """Learn ``config.token`` from ``image`` (the object on white, in [0, 1]) and save it to ``output``.

    Resumes from ``output``'s saved state when one exists for the same settings; the text encoder is left holding the
    learnt token, so ``diffusion`` can be used with it straight away.
    """
    token_id = add_token(diffusion, config)
    text_encoder = diffusion.text_encoder
    original_dtype = text_encoder.dtype
    text_encoder.to(torch.float32)  # the embedding is optimised in fp32 even where the model runs in fp16
    diffusion.unet.enable_gradient_checkpointing()  # the gradient crosses the UNet: recompute, do not store
    embeddings = text_encoder.get_input_embeddings().weight
    try:
        _optimise_token(diffusion, image, config, output, token_id, embeddings, show_progress)
    finally:  # the model is handed back as it came, also after an interruption or an error
        embeddings.requires_grad_(False)
        text_encoder.to(original_dtype)
        diffusion.unet.disable_gradient_checkpointing()
    return output


def _optimise_token(
    diffusion: StableDiffusion,
    image: Float[np.ndarray, "H W 3"],
    config: TextualInversionConfig,
    output: Path,
    token_id: int,
    embeddings: nn.Parameter,
    show_progress: bool,
) -> None:
    """The optimisation of :func:`train_textual_inversion`, on the text encoder's ``embeddings`` made trainable."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    device = diffusion.device
    frozen = embeddings.detach().clone()
    embeddings.requires_grad_(True)
    optimizer = torch.optim.AdamW([embeddings], lr=config.learning_rate, weight_decay=0.0)
    # The loss's gradient at the UNet's output is ~2 (prediction - target) / (2 * 4 * 64 * 64) and smaller inside it:
    # in fp16 it becomes subnormal or zero before it reaches the (fp32) embedding, so the backward pass runs on a
    # scaled-up loss (as diffusers' example does with fp16 mixed precision). Steps whose gradient overflows are skipped
    # and the scale lowered.
    scaler = torch.amp.GradScaler(device.type, enabled=diffusion.dtype == torch.float16)
    generator = torch.Generator().manual_seed(config.seed)
    start = 0
    saved = state_path(output)
    state = read_saved_state(output)
    if state is not None and state["settings"] == _settings(config):
        start = int(state["step"])
        with torch.no_grad():
            embeddings[token_id] = state["embedding"].to(embeddings)
        optimizer.load_state_dict(state["optimizer"])
        if state.get("scaler"):  # empty where the run that saved it had no scaler (fp32)
            scaler.load_state_dict(state["scaler"])
        generator.set_state(state["generator"])

    photo = torch.from_numpy(np.ascontiguousarray(image)).float().permute(2, 0, 1)[None]
    photo = F.interpolate(photo, size=(config.resolution, config.resolution), mode="bilinear", antialias=True)
    prompts = [template.format(config.token) for template in PROMPT_TEMPLATES]
    prompt_ids = diffusion.tokenize(prompts)

    def save(step: int) -> None:
        save_checkpoint_atomically(
            {
                "step": step,
                "settings": _settings(config),
                "embedding": embeddings[token_id].detach().cpu(),
                "optimizer": optimizer.state_dict(),
                "scaler": scaler.state_dict(),
                "generator": generator.get_state(),
            },
            saved,
        )

    columns = (
        TextColumn("Textual inversion"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
    )
    with Progress(*columns, TimeRemainingColumn(), disable=not show_progress) as progress:
        task = progress.add_task("", total=config.steps, completed=start, loss="-")
        try:
            for step in range(start, config.steps):
                batch = augment(photo.expand(config.batch_size, -1, -1, -1), config, generator).to(device)
                with torch.no_grad():
                    latents = diffusion.encode_images(batch).float()
                timesteps = torch.randint(0, diffusion.num_train_timesteps, (config.batch_size,), generator=generator)
                noise = torch.randn(latents.shape, generator=generator).to(device)
                chosen = torch.randint(0, len(prompts), (config.batch_size,), generator=generator)
                loss = denoising_loss(diffusion, latents, prompt_ids[chosen.to(device)], timesteps.to(device), noise)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                with torch.no_grad():  # only the new token learns: every other row is put back
                    keep = torch.ones(len(frozen), dtype=torch.bool, device=frozen.device)
                    keep[token_id] = False
                    embeddings[keep] = frozen[keep]
                progress.update(task, advance=1, loss=f"{loss.item():.4f}" if math.isfinite(loss.item()) else "nan")
                if (step + 1) % config.save_every == 0:
                    save(step + 1)
        except KeyboardInterrupt:
            save(step)
            raise
    if start < config.steps or not output.exists():
        save(config.steps)
        save_learned_embedding(config.token, embeddings[token_id], output)


def adaptation_path(photo_path: Path, model: str, config: TextualInversionConfig) -> Path:
    """Where the automatic textual inversion of this photo (the preprocessed image) by this diffusion model with these
    settings is kept: beside the photo's preprocessing."""
    settings = {"model": model, **asdict(config)}
    key = CacheKey(settings).hex(12)
    return Path(photo_path).parent / f"textual-inversion-{key}" / "learned_embeds.safetensors"


def state_incomplete(output: Path, config: TextualInversionConfig) -> bool:
    """Whether a saved textual inversion stopped before its last step (or its saved state cannot be read)."""
    if not state_path(output).exists():
        return False
    state = read_saved_state(output, explain=False)  # training says why, if it cannot be read
    return state is None or int(state["step"]) < config.steps


def adapted_token(
    diffusion: StableDiffusion,
    photo: Float[np.ndarray, "H W 3"],
    photo_path: Path,
    model: str,
    config: TextualInversionConfig,
) -> str:
    """The photo's token in ``diffusion``'s text encoder, learnt once and cached beside the photo: loaded when a
    finished run is cached, else learnt (resuming an unfinished one)."""
    output = adaptation_path(photo_path, model, config)
    if output.exists() and not state_incomplete(output, config):
        return diffusion.load_learned_embedding(output)
    CONSOLE.print(f"Adapting the prior to the photo (textual inversion, {config.steps} steps)")
    train_textual_inversion(diffusion, photo, config, output)
    return config.token
