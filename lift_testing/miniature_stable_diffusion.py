"""A miniature Stable Diffusion, trained here on a class folder, saved in the layout ``stable-diffusion
--diffusion.model`` loads.

The recipe is Stable Diffusion's (Rombach et al. 2022), at a size a CPU trains in minutes: the UNet predicts the noise
added to a view's scaled latents, attending to the text encoder's hidden states of the view's caption. The caption is
the prompt the guidance builds for a sampled view (:func:`neurallift_ns.guidance.prompts.direction_prompt`: the
subject, then "front view", "side view", "back view", "overhead view" or "bottom view", labelled from the view's
azimuth and elevation by the orbit's own :func:`neurallift_ns.data.orbit_views.direction_labels`), so "back view"
means to the miniature what it means to the guidance. A tenth of the captions are empty: the unconditional branch of
classifier-free guidance (Stable Diffusion 1.5 was fine-tuned with 10% of its captions dropped).

As Stable Diffusion's CLIP text encoder, the miniature's is frozen; it is a tiny random one on the byte-level
tokenizer the tests use, which still gives each caption hidden states of its own, and the UNet learns what each
means. (Trained with the UNet, its 77-token pass cost six times the UNet's step on this CPU.)

Run from the repository root::

    python -m lift_testing.miniature_stable_diffusion CLASS_FOLDER OUTPUT_FOLDER [--steps N]
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from lift_testing.class_views import ClassViews, read_class_views
from lift_testing.denoiser_training import (
    fit_class_latents,
    train_noise_prediction,
    training_command,
    training_record,
)
from lift_testing.miniature_unet import miniature_unet
from lift_testing.object_class import read_object_class
from lift_testing.tiny_models import save_stable_diffusion_layout, save_tiny_clip_tokenizer, stable_diffusion_scheduler
from neurallift_ns.guidance.prompts import DEFAULT_SUBJECT


@dataclass
class MiniatureStableDiffusionConfig:
    """Sizes and schedule of the miniature's training."""

    vae_steps: int = 1500
    """Steps of the VAE's training (batches of ``batch_size`` views)."""
    steps: int = 6000
    """Steps of the UNet's training (batches of ``batch_size`` views)."""
    batch_size: int = 32
    learning_rate: float = 3e-4
    """AdamW's step size for the UNet (cosine decay to zero)."""
    unconditional_fraction: float = 0.1
    """Views trained with the empty caption."""
    subject: str = DEFAULT_SUBJECT
    """What every caption names before its view direction (default: neurallift's prompt when a user gives none)."""
    width: int = 64
    """The UNet's widest channels and the text encoder's width (the cross-attention width)."""
    vae_channels: tuple[int, ...] = (32, 64, 64)
    """The VAE's block widths: three blocks shrink views 4 times."""
    seed: int = 0
    trained_vae: Path | None = None
    """A VAE already trained on the class (another miniature's ``vae/``), used instead of training one."""


def view_captions(views: ClassViews, subject: str) -> list[str]:
    """The caption of each view (the same for every object): the guidance's prompt for a view from there."""
    from lift_common.cameras import orbit_angles
    from neurallift_ns.data.orbit_views import DIRECTION_NAMES, OrbitViewsConfig, direction_labels
    from neurallift_ns.guidance.prompts import direction_prompt

    azimuths, elevations, _ = orbit_angles(views.positions[0])
    labels = direction_labels(azimuths, elevations, OrbitViewsConfig())
    return [direction_prompt(subject, DIRECTION_NAMES[label]) for label in labels.tolist()]


def miniature_text_parts(width: int, folder: Path):
    """The tiny byte-level tokenizer (saved to and loaded from ``folder``) and a ``width``-wide CLIP text encoder."""
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    tokenizer = CLIPTokenizer.from_pretrained(save_tiny_clip_tokenizer(folder))
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=width,
            intermediate_size=2 * width,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=tokenizer.model_max_length,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    return tokenizer, text_encoder


def train_miniature_stable_diffusion(class_folder: Path, output: Path, config: MiniatureStableDiffusionConfig) -> dict:
    """Train the miniature on the class's training objects and save it to ``output``; returns the training record
    (:func:`lift_testing.denoiser_training.training_record`)."""
    torch.manual_seed(config.seed)
    views = read_class_views(read_object_class(class_folder).train)
    fitted = fit_class_latents(
        views, config.vae_channels, config.vae_steps, config.batch_size, config.seed, config.trained_vae
    )
    with tempfile.TemporaryDirectory() as folder:
        tokenizer, text_encoder = miniature_text_parts(config.width, Path(folder))
    unet = miniature_unet(4, config.width)
    scheduler = stable_diffusion_scheduler()
    # Token ids of each view's caption, and of the empty caption last (padded as the guidance pads them).
    captions = [*view_captions(views, config.subject), ""]
    tokens = tokenizer(
        captions, padding="max_length", max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt"
    ).input_ids
    text_encoder.requires_grad_(False).eval()
    with torch.no_grad():
        caption_states = text_encoder(tokens)[0]
    num_objects, num_views = views.images.shape[:2]

    def batch_loss(generator: torch.Generator) -> torch.Tensor:
        objects = torch.randint(0, num_objects, (config.batch_size,), generator=generator)
        chosen = torch.randint(0, num_views, (config.batch_size,), generator=generator)
        latents = fitted.latents[objects, chosen] * fitted.scaling_factor
        dropped = torch.rand(config.batch_size, generator=generator) < config.unconditional_fraction
        hidden = caption_states[torch.where(dropped, len(captions) - 1, chosen)]
        timesteps = torch.randint(0, len(scheduler.alphas_cumprod), (config.batch_size,), generator=generator)
        noise = torch.randn(latents.shape, generator=generator)
        noisy = scheduler.add_noise(latents, noise, timesteps)
        return F.mse_loss(unet(noisy, timesteps, encoder_hidden_states=hidden).sample, noise)

    title = "Training the miniature Stable Diffusion"
    losses = train_noise_prediction(
        [(list(unet.parameters()), 1.0)], batch_loss, config.steps, config.learning_rate, config.seed, title
    )
    save_stable_diffusion_layout(output, vae=fitted.vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet)
    return training_record(fitted, losses)


def main() -> None:
    training_command(
        __doc__.split("\n")[0],
        MiniatureStableDiffusionConfig,
        train_miniature_stable_diffusion,
        {"subject": "what every caption names"},
    )


if __name__ == "__main__":
    main()
