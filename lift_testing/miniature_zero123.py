"""A miniature Zero-1-to-3, trained here on a class folder, saved in the layout ``zero123 --diffusion.model`` loads.

The recipe is Zero-1-to-3's (Liu et al. 2023, section 3.2), at a size a CPU trains in minutes:

* a pair of views of one object: the *photo* (any view) and the *target* (any other), with the four camera numbers
  of the target relative to the photo that the guidance gives (:mod:`neurallift_ns.guidance.relative_camera`);
* the UNet predicts the noise added to the target's latents, seeing the photo's unscaled latents in its four extra
  input channels and, through cross-attention, the camera projection of the photo's CLIP embedding and the camera;
* the photo's latents and the projected conditioning are both zeroed for a fraction of the pairs, the unconditional
  branch that classifier-free guidance subtracts (the guidance zeroes the same two);
* the camera projection starts as the identity on the CLIP embedding and zero on the camera numbers, as Zero-1-to-3's
  ``cc_projection`` was initialised, and learns at ten times the UNet's step size, as Zero-1-to-3's did.

Unlike Zero-1-to-3, whose CLIP image encoder is a frozen pretrained one, the miniature's tiny CLIP tower is trained
with the UNet: a random frozen one would tell the UNet nothing about the photo.

Run from the repository root::

    python -m lift_testing.miniature_zero123 CLASS_FOLDER OUTPUT_FOLDER [--steps N]
"""

from __future__ import annotations

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
from lift_testing.tiny_models import save_zero123_folder, zero123_scheduler

CLIP_SIZE = 32
"""Side of the tiny CLIP tower's input."""


@dataclass
class MiniatureZero123Config:
    """Sizes and schedule of the miniature's training."""

    vae_steps: int = 1500
    """Steps of the VAE's training (batches of ``batch_size`` views)."""
    steps: int = 6000
    """Steps of the UNet's training (batches of ``batch_size`` pairs)."""
    batch_size: int = 32
    learning_rate: float = 3e-4
    """Adam's step size for the UNet and the CLIP tower (cosine decay to zero)."""
    projection_learning_rate_factor: float = 10.0
    """The camera projection's step size as a multiple of ``learning_rate``: Zero-1-to-3 trains ``cc_projection`` at
    ten times its UNet's (cvlab-columbia/zero123 ``ldm/models/diffusion/ddpm.py``, ``configure_optimizers``). Trained
    at 1x, the camera's weights (which start at zero) grew to a third of their size at 10x, and fewer samples put the
    handle on the side the camera asks for (docs/miniature-priors.md, "The camera projection's step size")."""
    unconditional_fraction: float = 0.1
    """Pairs trained without the photo (its latents and the projected conditioning zeroed)."""
    width: int = 64
    """The UNet's widest channels and the cross-attention width (the CLIP tower's projection)."""
    vae_channels: tuple[int, ...] = (32, 64, 64)
    """The VAE's block widths: three blocks shrink 64-pixel views to 16^2 latents."""
    seed: int = 0
    trained_vae: Path | None = None
    """A VAE already trained on the class (another miniature's ``vae/``), used instead of training one."""


def miniature_parts(width: int):
    """The UNet (8 input channels), the tiny CLIP tower with its processor, and the camera projection."""
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    unet = miniature_unet(8, width)
    vision = CLIPVisionConfig(
        image_size=CLIP_SIZE,
        patch_size=8,
        hidden_size=width,
        intermediate_size=2 * width,
        num_hidden_layers=2,
        num_attention_heads=4,
        projection_dim=width,
    )
    image_encoder = CLIPVisionModelWithProjection(vision)
    processor = CLIPImageProcessor(
        size={"shortest_edge": CLIP_SIZE}, crop_size={"height": CLIP_SIZE, "width": CLIP_SIZE}
    )
    projection = torch.nn.Linear(width + 4, width)
    with torch.no_grad():
        projection.weight.zero_()
        projection.weight[:, :width] = torch.eye(width)
        projection.bias.zero_()
    return unet, image_encoder, processor, projection


def clip_inputs(images: torch.Tensor, processor) -> torch.Tensor:
    """Images in [0, 1] as the guidance gives them to CLIP (the same function, with the processor's settings)."""
    from neurallift_ns.guidance.zero123 import clip_pixel_values

    mean = torch.tensor(processor.image_mean).view(1, 3, 1, 1)
    std = torch.tensor(processor.image_std).view(1, 3, 1, 1)
    return clip_pixel_values(images, (CLIP_SIZE, CLIP_SIZE), mean, std)


def relative_cameras(
    views: ClassViews, objects: torch.Tensor, photos: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """Each target's four camera numbers relative to its photo, as the guidance computes them."""
    from neurallift_ns.guidance.relative_camera import relative_camera

    rows = [
        relative_camera(views.positions[o, t][None], views.positions[o, p], "zero123")[0]
        for o, p, t in zip(objects.tolist(), photos.tolist(), targets.tolist(), strict=True)
    ]
    return torch.stack(rows)


def train_miniature_zero123(class_folder: Path, output: Path, config: MiniatureZero123Config) -> dict:
    """Train the miniature on the class's training objects and save it to ``output``; returns the training record
    (:func:`lift_testing.denoiser_training.training_record`)."""
    torch.manual_seed(config.seed)
    views = read_class_views(read_object_class(class_folder).train)
    fitted = fit_class_latents(
        views, config.vae_channels, config.vae_steps, config.batch_size, config.seed, config.trained_vae
    )
    unet, image_encoder, processor, projection = miniature_parts(config.width)
    scheduler = zero123_scheduler()
    num_objects, num_views = views.images.shape[:2]

    def batch_loss(generator: torch.Generator) -> torch.Tensor:
        objects = torch.randint(0, num_objects, (config.batch_size,), generator=generator)
        photos = torch.randint(0, num_views, (config.batch_size,), generator=generator)
        targets = torch.randint(0, num_views, (config.batch_size,), generator=generator)
        target_latents = fitted.latents[objects, targets] * fitted.scaling_factor
        photo_latents = fitted.latents[objects, photos]
        embeddings = image_encoder(pixel_values=clip_inputs(views.float_images(objects, photos), processor))
        cameras = relative_cameras(views, objects, photos, targets)
        conditioning = projection(torch.cat([embeddings.image_embeds, cameras], dim=-1))[:, None]
        keep = (torch.rand(config.batch_size, generator=generator) >= config.unconditional_fraction).float()
        photo_latents = photo_latents * keep.view(-1, 1, 1, 1)
        conditioning = conditioning * keep.view(-1, 1, 1)
        timesteps = torch.randint(0, len(scheduler.alphas_cumprod), (config.batch_size,), generator=generator)
        noise = torch.randn(target_latents.shape, generator=generator)
        noisy = scheduler.add_noise(target_latents, noise, timesteps)
        prediction = unet(torch.cat([noisy, photo_latents], dim=1), timesteps, encoder_hidden_states=conditioning)
        return F.mse_loss(prediction.sample, noise)

    parameter_groups = [
        ([*unet.parameters(), *image_encoder.parameters()], 1.0),
        (list(projection.parameters()), config.projection_learning_rate_factor),
    ]
    losses = train_noise_prediction(
        parameter_groups,
        batch_loss,
        config.steps,
        config.learning_rate,
        config.seed,
        "Training the miniature Zero-1-to-3",
    )
    save_zero123_folder(output, fitted.vae, unet, image_encoder, processor, scheduler, projection)
    return training_record(fitted, losses)


def main() -> None:
    training_command(
        __doc__.split("\n")[0],
        MiniatureZero123Config,
        train_miniature_zero123,
        {"projection_learning_rate_factor": "the camera projection's step size over the UNet's"},
    )


if __name__ == "__main__":
    main()
