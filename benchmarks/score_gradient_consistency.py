"""Benchmark: how consistent a real score-distillation gradient is, draw to draw, on a lift's own sampled views.

Under Adam a parameter moves at about ``lr * |E g| / sqrt(E g^2)``: what drives a lift is the part of the prior's
gradient that survives averaging over the (timestep, noise) draws, not its size. A stand-in prior that pulls with a
fixed gradient sets that ratio to 1. This measures it for a trained prior on renders of a trained lift: for a few
sampled views of the lift's checkpoint (drawn by its own datamanager, shaded and backed as training does), the
prior's loss is drawn ``--draws`` times on the same render, and for each draw are kept

* the gradient on each latent element, ``w(t) (eps_pred - eps)`` before ``lambda_guidance``: its root mean square over
  draws and elements is the magnitude ``M`` of ``docs/neurallift_prior_defaults.md``;
* the gradient on each hash-grid entry of the field (through the VAE encoder and the renderer).

For each element (entry) it prints ``|E g| / sqrt(E g^2)`` over the draws: the median, and the pooled ratio
``sqrt(mean (E g)^2) / sqrt(mean E g^2)``, both with the part that finitely many draws of a zero-mean gradient would
show anyway (``mean`` of ``n`` zero-mean draws has ``(E g)^2`` about ``E g^2 / n``) removed from the pooled one.

Run on demand from the repository root, on any lift (``benchmarks.neurallift_class_lifts --work-dir`` keeps them)::

    python -m benchmarks.score_gradient_consistency RUN/config.yml [--views 4] [--draws 64]
        [--zero123 PRIOR | --stable-diffusion PRIOR]

``--zero123`` or ``--stable-diffusion`` measures that prior instead of the run's own (a run with no prior included),
at its guidance's defaults on the same field (its own orbit, shading and backgrounds); Stable Diffusion's CLIP
guidance is off: a miniature has no CLIP that knows the class, and a random one would only add noise. Gradients are
per unit of ``lambda_guidance``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from torch import Tensor


def consistency(draws: Tensor) -> dict[str, float]:
    """``draws`` is ``[n, elements]``, one row per (timestep, noise) draw; elements that no draw reached are left
    out. Returns the RMS over draws and elements, and ``|E g| / sqrt(E g^2)``: median over elements, and pooled, raw
    and with the finite-draw floor removed."""
    draws = draws[:, draws.abs().amax(dim=0) > 0].double()
    count = draws.shape[0]
    mean = draws.mean(dim=0)
    mean_square = draws.square().mean(dim=0)
    rms = mean_square.sqrt()
    pooled = (mean.square().mean() / mean_square.mean()).sqrt()
    # Unbiased estimate of (E g)^2 per element: the mean's square less the variance of the mean.
    variance_of_mean = (mean_square - mean.square()) / max(1, count - 1)
    corrected = ((mean.square() - variance_of_mean).mean().clamp(min=0.0) / mean_square.mean()).sqrt()
    return {
        "elements": int(draws.shape[1]),
        "rms": float(mean_square.mean().sqrt()),
        "median_ratio": float((mean.abs() / rms).median()),
        "pooled_ratio": float(pooled),
        "pooled_ratio_less_floor": float(corrected),
        "floor": count**-0.5,
    }


def prior_config(kind: str, folder: Path, resolution: int):
    """The ``zero123`` or ``stable-diffusion`` guidance at its defaults on ``folder`` (Stable Diffusion's CLIP
    guidance off, see the module docstring)."""
    from neurallift_ns.guidance.stable_diffusion_guidance import StableDiffusionGuidanceConfig
    from neurallift_ns.guidance.zero123_guidance import Zero123GuidanceConfig

    if kind == "zero123":
        config = Zero123GuidanceConfig(diffusion_resolution=resolution)
    else:
        config = StableDiffusionGuidanceConfig(diffusion_resolution=resolution, lambda_clip_image=0.0)
        config.clip_guidance_scales = (0.0,) * len(config.clip_guidance_scales)
    config.diffusion.model = str(folder)
    return config


def measure(config_path: Path, num_views: int, num_draws: int, prior: tuple[str, Path] | None = None) -> dict:
    """The statistics of :func:`consistency` on ``num_views`` sampled views of the run, for its own prior or for
    ``prior`` (its kind and folder)."""
    from nerfstudio.utils.eval_utils import eval_setup

    from neurallift_ns.guidance import score_distillation as sds

    _, pipeline, _, step = eval_setup(config_path, test_mode="val")
    model, datamanager = pipeline.model, pipeline.datamanager
    model.config.lambda_guidance = 1.0  # per unit weight (and on for a run that had no prior)
    if prior is not None:  # before the guidance is first built; its views come from its own orbit
        model.config.guidance = prior_config(*prior, datamanager.config.sampled_resolution)
        datamanager.orbit = model.config.guidance.sampled_orbit(datamanager.config.orbit, datamanager.reference_view)
    model.train()
    model.update_to_step(step)
    grid = list(model.field.encoding.parameters())
    latent_gradients: list[Tensor] = []
    original = sds.loss_with_gradient

    def recording(latents: Tensor, gradient: Tensor) -> Tensor:
        latent_gradients.append(gradient.detach().flatten().cpu())
        return original(latents, gradient)

    latents_per_view, entries_per_view = [], []
    sds.loss_with_gradient = recording
    try:
        for _ in range(num_views):
            ray_bundle, batch = datamanager._sampled_step(step)
            outputs = model(model.prepare_rays(ray_bundle, batch))
            entry_gradients = []
            latent_gradients.clear()
            for _ in range(num_draws):
                loss = model._sampled_view_losses(outputs, batch, None)["guidance"]
                gradient = torch.autograd.grad(loss, grid, retain_graph=True)
                entry_gradients.append(torch.cat([part.flatten() for part in gradient]).cpu())
            latents_per_view.append(consistency(torch.stack(latent_gradients)))
            entries_per_view.append(consistency(torch.stack(entry_gradients)))
    finally:
        sds.loss_with_gradient = original

    def averaged(rows: list[dict]) -> dict:
        return {key: sum(row[key] for row in rows) / len(rows) for key in rows[0]}

    return {
        "step": step,
        "views": num_views,
        "draws": num_draws,
        "latent_elements": averaged(latents_per_view),
        "hash_entries": averaged(entries_per_view),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("config", type=Path, help="a neurallift run's config.yml (its latest checkpoint is used)")
    parser.add_argument("--views", type=int, default=4, help="sampled views, each measured on its own render")
    parser.add_argument("--draws", type=int, default=64, help="(timestep, noise) draws per view")
    priors = parser.add_mutually_exclusive_group()
    priors.add_argument("--zero123", type=Path, help="measure this Zero-1-to-3 folder instead of the run's prior")
    priors.add_argument("--stable-diffusion", type=Path, help="measure this Stable Diffusion folder instead")
    args = parser.parse_args()
    torch.manual_seed(0)
    prior = None
    if args.zero123 or args.stable_diffusion:
        prior = ("zero123", args.zero123) if args.zero123 else ("stable-diffusion", args.stable_diffusion)
    print(json.dumps(measure(args.config, args.views, args.draws, prior), indent=1))


if __name__ == "__main__":
    main()
