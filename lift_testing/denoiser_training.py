"""What both miniature priors' training shares: a VAE fitted to the class's views, and the noise-prediction loop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from lift_testing.class_views import ClassViews


@dataclass
class ClassLatents:
    """A class's views, the VAE trained on them, and every view's latents (unscaled) in that VAE."""

    views: ClassViews
    vae: torch.nn.Module
    latents: Tensor
    """``[objects, views, 4, h, w]``: posterior means, without the VAE's scaling factor."""
    scaling_factor: float
    vae_errors: list[float]


def fit_class_latents(
    views: ClassViews,
    vae_channels: tuple[int, ...],
    steps: int,
    batch_size: int,
    seed: int,
    trained_vae: Path | None = None,
) -> ClassLatents:
    """Train a miniature VAE on ``views`` and set its scaling factor, or load one trained on the same class (the
    ``vae/`` of a prior folder) from ``trained_vae``; freeze it and encode every view."""
    from lift_testing.miniature_vae import miniature_vae, set_scaling_factor, train_vae, unscaled_latents

    if trained_vae is not None:
        from diffusers import AutoencoderKL

        vae = AutoencoderKL.from_pretrained(trained_vae).eval()
        errors, scale = [], float(vae.config.scaling_factor)
    else:
        vae = miniature_vae(vae_channels)
        errors = train_vae(vae, views, steps, batch_size, seed=seed)
        scale = set_scaling_factor(vae, views, seed=seed)
    vae.requires_grad_(False)
    return ClassLatents(views, vae, unscaled_latents(vae, views), scale, errors)


def train_noise_prediction(
    parameter_groups: list[tuple[list[torch.nn.Parameter], float]],
    batch_loss: Callable[[torch.Generator], Tensor],
    steps: int,
    learning_rate: float,
    seed: int,
    description: str,
) -> list[float]:
    """``steps`` of AdamW on ``batch_loss`` (a fresh batch's loss, drawn with the generator it is given), each group
    of parameters at its multiple of ``learning_rate``, cosine decay of the step sizes to zero, gradients clipped to
    norm 1; returns each step's loss."""
    from lift_common.progress import stage_progress

    groups = [{"params": group, "lr": learning_rate * factor} for group, factor in parameter_groups]
    parameters = [parameter for group, _ in parameter_groups for parameter in group]
    optimizer = torch.optim.AdamW(groups, lr=learning_rate, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    with stage_progress(description, total=steps) as advance:
        for _ in range(steps):
            loss = batch_loss(generator)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, 1.0)
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
            advance(1)
    return losses


def training_record(class_latents: ClassLatents, losses: list[float]) -> dict:
    """The VAE's reconstruction error and the denoiser's loss, each averaged over its first and last hundred steps
    (None for a VAE that was loaded, not trained)."""

    def mean(values: list[float]) -> float | None:
        return sum(values) / len(values) if values else None

    errors = class_latents.vae_errors
    return {
        "vae_error_first": mean(errors[:100]),
        "vae_error_last": mean(errors[-100:]),
        "loss_first": mean(losses[:100]),
        "loss_last": mean(losses[-100:]),
        "scaling_factor": class_latents.scaling_factor,
    }


COMMAND_OPTIONS = {
    "vae_steps": None,
    "steps": None,
    "batch_size": None,
    "width": None,
    "seed": None,
    "trained_vae": "a VAE trained on the class (another miniature's vae/)",
}
"""The training config's fields every miniature's command line offers, with their help where the name is not enough."""


def training_command(
    description: str, config_type: type, train: Callable, extra_options: dict[str, str | None] | None = None
) -> None:
    """A miniature's command line: ``CLASS_FOLDER OUTPUT`` and the config's :data:`COMMAND_OPTIONS` (then
    ``extra_options``), each defaulting to the config's default; trains with ``train(class_folder, output, config)``
    and writes the training record to ``OUTPUT/training.json``."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("class_folder", type=Path, help="a class folder (docs/object-class-layout.md)")
    parser.add_argument("output", type=Path, help="where to save the model")
    defaults = config_type()
    options = {**COMMAND_OPTIONS, **(extra_options or {})}
    for name, help_text in options.items():
        default = getattr(defaults, name)
        kind = Path if name == "trained_vae" else type(default)
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=default, help=help_text)
    args = parser.parse_args()
    config = config_type(**{name: getattr(args, name) for name in options})
    record = train(args.class_folder, args.output, config)
    (args.output / "training.json").write_text(json.dumps(record, indent=1))
    print(json.dumps(record, indent=1))
