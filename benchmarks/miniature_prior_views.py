"""Benchmark: a trained Zero-1-to-3 folder checked on its own, before any lift uses it: its sampled back views of
held-out objects against the truth, beside "copy the front" (the photo itself as the guess for every back view).

For each held-out object of a class folder (``docs/object-class-layout.md``), the photo is its view from the front
(azimuth 0, elevation 0). The prior samples every view whose azimuth is at least 135 degrees from the front (the
back, all elevations), loaded and sampled by the guidance's own code (:mod:`lift_testing.zero123_sampling`). Beside
it: the truth passed through the prior's VAE and back (what the best latent can show: the ceiling), and the photo
copied. PSNR is over whole images, white included.

Run on demand from the repository root::

    python -m benchmarks.miniature_prior_views --prior PRIOR_FOLDER --objects CLASS_FOLDER
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch

BACK_FROM_FRONT_DEG = 135.0
"""Views whose azimuth is at least this far from the photo's are the back."""


def back_views(positions: torch.Tensor, front: int) -> torch.Tensor:
    """Indices of the views at least ``BACK_FROM_FRONT_DEG`` around the vertical axis from view ``front``."""
    horizontal = torch.nn.functional.normalize(positions[:, :2], dim=-1)
    cosines = horizontal @ horizontal[front]
    return torch.nonzero(cosines <= math.cos(math.radians(BACK_FROM_FRONT_DEG))).flatten()


@torch.no_grad()
def vae_round_trip(prior: Path, images: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1] encoded and decoded by the prior's VAE."""
    from diffusers import AutoencoderKL

    vae = AutoencoderKL.from_pretrained(prior, subfolder="vae")
    decoded = vae.decode(vae.encode(images * 2.0 - 1.0).latent_dist.mean).sample
    return (decoded / 2.0 + 0.5).clamp(0.0, 1.0)


def main() -> None:
    from lift_common.metrics import psnr
    from lift_testing.class_views import read_class_views
    from lift_testing.object_class import read_object_class
    from lift_testing.zero123_sampling import sample_views

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prior", type=Path, required=True, help="a Zero-1-to-3 folder (diffusers layout)")
    parser.add_argument("--objects", type=Path, required=True, help="a class folder; its held-out objects are used")
    parser.add_argument("--guidance-scale", type=float, default=3.0, help="classifier-free guidance of the samples")
    parser.add_argument("--steps", type=int, default=50, help="DDIM steps of each sample")
    args = parser.parse_args()

    views = read_class_views(read_object_class(args.objects).heldout)
    front = views.view_nearest(0.0, 0.0)
    back = back_views(views.positions[0], front)
    scores = {"sampled": [], "copy the front": [], "VAE ceiling": []}
    print(f"{len(views.names)} held-out objects, {len(back)} back views each, {views.size}^2 pixels")
    for index, name in enumerate(views.names):
        objects = torch.full((len(back),), index)
        truth = views.float_images(objects, back)
        photo = views.float_images(objects[:1], torch.tensor([front]))[0]
        sampled = sample_views(
            args.prior,
            photo,
            views.positions[index, front],
            views.positions[index, back],
            views.size,
            guidance_scale=args.guidance_scale,
            steps=args.steps,
            seed=index,
        )
        guesses = {
            "sampled": sampled,
            "copy the front": photo.expand_as(truth),
            "VAE ceiling": vae_round_trip(args.prior, truth),
        }
        row = {key: float(psnr(guess, truth)) for key, guess in guesses.items()}
        for key, value in row.items():
            scores[key].append(value)
        print(f"  {name}: " + ", ".join(f"{key} {value:.2f} dB" for key, value in row.items()), flush=True)
    for key, values in scores.items():
        values = torch.tensor(values)
        print(f"{key}: {values.mean():.2f} dB (min {values.min():.2f}, max {values.max():.2f})")


if __name__ == "__main__":
    main()
