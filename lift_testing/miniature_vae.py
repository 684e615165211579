"""A miniature Stable Diffusion VAE trained on a class's views: the latent space both miniature priors work in.

Stable Diffusion's own VAE was trained with a perceptual and an adversarial loss beside its pixel loss; views of a
procedural class are flat colours on white, which a pixel loss alone reconstructs well. The KL weight is Stable
Diffusion's (1e-6: ``configs/autoencoder/autoencoder_kl_32x32x4.yaml``), and the scaling factor is set, as Stable
Diffusion's 0.18215 was, to one over the standard deviation of the latents, so the diffusion models see latents of
unit variance.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lift_testing.class_views import ClassViews

KL_WEIGHT = 1e-6


def miniature_vae(block_out_channels: tuple[int, ...] = (32, 64, 64)):
    """An AutoencoderKL with 4 latent channels that shrinks images ``2^(len(block_out_channels) - 1)`` times."""
    from diffusers import AutoencoderKL

    blocks = len(block_out_channels)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=block_out_channels,
        down_block_types=("DownEncoderBlock2D",) * blocks,
        up_block_types=("UpDecoderBlock2D",) * blocks,
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=8,
    )


def train_vae(
    vae, views: ClassViews, steps: int, batch_size: int = 32, learning_rate: float = 1e-3, seed: int = 0
) -> list[float]:
    """Fit ``vae`` to reconstruct random views (pixel loss and Stable Diffusion's KL weight); returns each step's
    reconstruction error (mean squared, images in [-1, 1])."""
    from lift_common.progress import stage_progress

    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(vae.parameters(), lr=learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    num_objects, num_views = views.images.shape[:2]
    errors = []
    vae.train()
    with stage_progress("Training the VAE", total=steps) as advance:
        for _ in range(steps):
            objects = torch.randint(0, num_objects, (batch_size,), generator=generator)
            chosen = torch.randint(0, num_views, (batch_size,), generator=generator)
            images = views.float_images(objects, chosen) * 2.0 - 1.0
            posterior = vae.encode(images).latent_dist
            reconstruction = vae.decode(posterior.sample()).sample
            error = F.mse_loss(reconstruction, images)
            loss = error + KL_WEIGHT * posterior.kl().mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            errors.append(error.item())
            advance(1)
    vae.eval()
    return errors


@torch.no_grad()
def set_scaling_factor(vae, views: ClassViews, num: int = 512, seed: int = 0) -> float:
    """Set the VAE's ``scaling_factor`` to one over the standard deviation of its latents on ``num`` random views."""
    generator = torch.Generator().manual_seed(seed)
    objects = torch.randint(0, views.images.shape[0], (num,), generator=generator)
    chosen = torch.randint(0, views.images.shape[1], (num,), generator=generator)
    latents = vae.encode(views.float_images(objects, chosen) * 2.0 - 1.0).latent_dist.mean
    scale = float(1.0 / latents.std())
    vae.register_to_config(scaling_factor=scale)
    return scale


@torch.no_grad()
def unscaled_latents(vae, views: ClassViews, batch_size: int = 256) -> torch.Tensor:
    """The posterior means (without the scaling factor) of every view: ``[objects, views, 4, h, w]``."""
    num_objects, num_views = views.images.shape[:2]
    flat_objects = torch.arange(num_objects).repeat_interleave(num_views)
    flat_views = torch.arange(num_views).repeat(num_objects)
    chunks = []
    for start in range(0, len(flat_objects), batch_size):
        images = views.float_images(flat_objects[start : start + batch_size], flat_views[start : start + batch_size])
        chunks.append(vae.encode(images * 2.0 - 1.0).latent_dist.mean)
    latents = torch.cat(chunks)
    return latents.reshape(num_objects, num_views, *latents.shape[1:])
