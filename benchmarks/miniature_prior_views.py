"""Benchmark: trained miniature priors checked on their own, before any lift uses them.

* **Zero-1-to-3** (``--zero123``): for each held-out object of a class folder (``docs/object-class-layout.md``), the
  photo is its view from the front (azimuth 0, elevation 0), and the prior samples every view at least 135 degrees
  from it (the back, all elevations), loaded and sampled by the guidance's own code
  (:mod:`lift_testing.zero123_sampling`). Beside it: the truth passed through the prior's VAE and back (what the
  best latent can show: the ceiling), and the photo copied. PSNR is over whole images, white included. And whether
  the camera is learnt: of the back views whose truth shows the procedural class's handle to one side, how many
  samples show it on that side.
* **Stable Diffusion** (``--stable-diffusion``): samples for the guidance's front and back prompts of the default
  subject, through diffusers' own pipeline: the share of their pixels in the procedural class's handle colour (the
  back feature every object shares) and of the images showing it, beside the same in the class's true front and
  back views.

Run on demand from the repository root::

    python -m benchmarks.miniature_prior_views --objects CLASS_FOLDER [--zero123 PRIOR] [--stable-diffusion PRIOR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

HANDLE_TOLERANCE = 0.3
"""Largest distance in RGB (0-1) from the handle's colour of a pixel counted as handle (samples blur its edges into
the band's and the body's colours; no body or label colour of the class comes this near)."""
HANDLE_SHOWN = 0.005
"""Share of an image's pixels in the handle's colour above which the image shows the handle (the true back views:
0.02-0.04)."""
HANDLE_OFF_CENTRE = 0.06
"""Distance of the handle's pixels' mean column from the image's centre, as a share of its width, beyond which the
handle is to one side (the true views at 135 and 225 degrees from the front: 0.17-0.24)."""


@torch.no_grad()
def vae_round_trip(vae, images: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1] encoded and decoded by a prior's VAE."""
    decoded = vae.decode(vae.encode(images * 2.0 - 1.0).latent_dist.mean).sample
    return (decoded / 2.0 + 0.5).clamp(0.0, 1.0)


def check_zero123(prior: Path, views, guidance_scale: float, steps: int) -> None:
    from diffusers import AutoencoderKL

    from lift_common.cameras import orbit_angles
    from lift_common.metrics import psnr
    from lift_testing.class_lifts import back_views
    from lift_testing.zero123_sampling import Zero123Sampler

    vae = AutoencoderKL.from_pretrained(prior, subfolder="vae")
    sampler = Zero123Sampler(prior)

    front = views.view_nearest(0.0, 0.0)
    back = back_views(orbit_angles(views.positions[0])[0])
    scores = {"sampled": [], "copy the front": [], "VAE ceiling": []}
    sides_agreed, sides_asked = 0, 0
    print(f"Zero-1-to-3: {len(views.names)} held-out objects, {len(back)} back views each, {views.size}^2 pixels")
    for index, name in enumerate(views.names):
        objects = torch.full((len(back),), index)
        truth = views.float_images(objects, back)
        photo = views.float_images(objects[:1], torch.tensor([front]))[0]
        position = views.positions[index]
        sampled = sampler.sample_views(
            photo, position[front], position[back], views.size, guidance_scale, steps, seed=index
        )
        guesses = {
            "sampled": sampled,
            "copy the front": photo.expand_as(truth),
            "VAE ceiling": vae_round_trip(vae, truth),
        }
        row = {key: float(psnr(guess, truth)) for key, guess in guesses.items()}
        for key, value in row.items():
            scores[key].append(value)
        print(f"  {name}: " + ", ".join(f"{key} {value:.2f} dB" for key, value in row.items()), flush=True)
        true_side, sampled_side = handle_sides(truth), handle_sides(sampled)
        sides_asked += int((true_side != 0).sum())
        sides_agreed += int(((true_side != 0) & (sampled_side == true_side)).sum())
    for key, values in scores.items():
        values = torch.tensor(values)
        print(f"{key}: {values.mean():.2f} dB (min {values.min():.2f}, max {values.max():.2f})")
    print(
        f"the handle on the side the camera puts it: {sides_agreed} of the {sides_asked} back views whose truth shows "
        "it to one side (whether the camera is learnt)"
    )


def handle_pixels(images: torch.Tensor) -> torch.Tensor:
    """Which pixels of each ``[3, H, W]`` image are within ``HANDLE_TOLERANCE`` of the handle's colour."""
    from lift_testing.object_class import HANDLE_COLOUR

    colour = torch.tensor(HANDLE_COLOUR).view(1, 3, 1, 1)
    return ((images - colour).norm(dim=1) < HANDLE_TOLERANCE).float()


def handle_shares(images: torch.Tensor) -> torch.Tensor:
    """Share of each ``[3, H, W]`` image's pixels in the handle's colour."""
    return handle_pixels(images).flatten(1).mean(dim=1)


def handle_sides(images: torch.Tensor) -> torch.Tensor:
    """For each ``[3, H, W]`` image, on which side its handle is: -1 left, 1 right, 0 centred or not shown."""
    pixels = handle_pixels(images)
    width = pixels.shape[-1]
    columns = (torch.arange(width) - (width - 1) / 2) / width
    centre = (pixels.sum(dim=1) * columns).sum(dim=1) / pixels.sum(dim=(1, 2)).clamp(min=1.0)
    shown = pixels.flatten(1).mean(dim=1) > HANDLE_SHOWN
    return torch.where(shown & (centre.abs() > HANDLE_OFF_CENTRE), centre.sign(), torch.zeros_like(centre))


def describe_handles(images: torch.Tensor) -> str:
    shares = handle_shares(images)
    return f"{float(shares.mean()):.3f} of pixels, {float((shares > HANDLE_SHOWN).float().mean()):.0%} of images"


def check_stable_diffusion(prior: Path, views, guidance_scale: float, steps: int, num: int) -> None:
    from neurallift_ns.guidance.prompts import DEFAULT_SUBJECT, direction_prompt
    from neurallift_ns.guidance.stable_diffusion import StableDiffusion, StableDiffusionLoadOptions

    model = StableDiffusion(StableDiffusionLoadOptions(model=str(prior), half_precision=False), "cpu")
    print(f"Stable Diffusion: {num} samples a prompt, {views.size}^2 pixels; share of pixels in the handle's colour")
    for direction, azimuth in (("front", 0.0), ("back", 180.0)):
        prompt = direction_prompt(DEFAULT_SUBJECT, direction)
        samples = model.pipeline(
            [prompt] * num,
            height=views.size,
            width=views.size,
            num_inference_steps=steps,
            guidance_scale=guidance_scale,
            generator=torch.Generator().manual_seed(0),
            output_type="pt",
        ).images
        view = views.view_nearest(azimuth, 0.0)
        truth = views.float_images(torch.arange(len(views.names)), torch.full((len(views.names),), view))
        print(f"  {prompt!r}: samples {describe_handles(samples)}; true {direction} views {describe_handles(truth)}")


def main() -> None:
    from lift_testing.class_views import read_class_views
    from lift_testing.object_class import read_object_class

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=Path, required=True, help="a class folder; its held-out objects are used")
    parser.add_argument("--zero123", type=Path, help="a Zero-1-to-3 folder (diffusers layout)")
    parser.add_argument("--stable-diffusion", type=Path, help="a Stable Diffusion folder (diffusers layout)")
    parser.add_argument("--guidance-scale", type=float, default=3.0, help="classifier-free guidance of the samples")
    parser.add_argument("--steps", type=int, default=50, help="DDIM steps of each sample")
    parser.add_argument("--samples", type=int, default=32, help="Stable Diffusion's samples a prompt")
    args = parser.parse_args()

    views = read_class_views(read_object_class(args.objects).heldout)
    if args.zero123:
        check_zero123(args.zero123, views, args.guidance_scale, args.steps)
    if args.stable_diffusion:
        check_stable_diffusion(args.stable_diffusion, views, args.guidance_scale, args.steps, args.samples)


if __name__ == "__main__":
    main()
