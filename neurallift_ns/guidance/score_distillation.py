"""Score distillation (DreamFusion) and its CLIP-guided variant (NeuralLift-360), as small pure functions.

A rendered view's latents ``z`` are noised to ``z_t = sqrt(a_t) z + sqrt(1 - a_t) eps`` (``a_t`` the cumulative
alpha); the diffusion model predicts the noise; the gradient pushed into the render is ``w(t) (eps_pred - eps)``.
The model's noise prediction is not differentiated through, as in DreamFusion.
"""

from __future__ import annotations

from typing import Literal

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

TimestepWeighting = Literal["one_minus_alpha", "one_minus_sqrt_alpha", "uniform"]
"""``w(t)``: DreamFusion's ``1 - a_t``; ``1 - sqrt(a_t)``, what threestudio's unified guidances compute under the
same name (their ``alphas`` are ``sqrt(a_t)``), so Magic123's recipe was tuned with it; or 1."""


def classifier_free_guidance(
    unconditional: Float[Tensor, "*batch"], conditional: Float[Tensor, "*batch"], scale: float
) -> Float[Tensor, "*batch"]:
    """The guided noise prediction: the unconditional one moved ``scale`` times towards the conditional one."""
    return unconditional + scale * (conditional - unconditional)


def timestep_weight(
    alphas_cumprod: Float[Tensor, "T"], timesteps: Tensor, weighting: TimestepWeighting
) -> Float[Tensor, "views"]:
    """``w(t)`` (see :data:`TimestepWeighting`): more weight where there is more noise, or 1."""
    if weighting == "uniform":
        return torch.ones(timesteps.shape, device=alphas_cumprod.device)
    if weighting == "one_minus_sqrt_alpha":
        return 1.0 - alphas_cumprod[timesteps].sqrt()
    return 1.0 - alphas_cumprod[timesteps]


def add_noise(
    latents: Float[Tensor, "views C h w"], noise: Float[Tensor, "views C h w"], alpha_cumprod: Float[Tensor, "views"]
) -> Float[Tensor, "views C h w"]:
    """``z_t`` from clean latents and noise (the forward diffusion process)."""
    alpha = alpha_cumprod.view(-1, 1, 1, 1)
    return alpha.sqrt() * latents + (1.0 - alpha).sqrt() * noise


def noise_latents(
    latents: Float[Tensor, "views C h w"],
    timesteps: Int[Tensor, "views"],
    alphas_cumprod: Float[Tensor, "T"],
    generator: torch.Generator | None = None,
) -> tuple[Float[Tensor, "views C h w"], Float[Tensor, "views C h w"]]:
    """Noise drawn from ``generator`` (on the CPU, so runs repeat on any device), and the latents, detached, noised
    with it at ``timesteps``: where score distillation starts."""
    noise = torch.randn(latents.shape, generator=generator).to(latents.device)
    return noise, add_noise(latents.detach(), noise, alphas_cumprod[timesteps])


def estimate_clean_latents(
    noisy: Float[Tensor, "views C h w"], noise_pred: Float[Tensor, "views C h w"], alpha_cumprod: Float[Tensor, "views"]
) -> Float[Tensor, "views C h w"]:
    """The clean latents the noise prediction implies: ``(z_t - sqrt(1 - a_t) eps_pred) / sqrt(a_t)``."""
    alpha = alpha_cumprod.view(-1, 1, 1, 1)
    return (noisy - (1.0 - alpha).sqrt() * noise_pred) / alpha.sqrt()


def clip_guided_noise(
    noise_pred: Float[Tensor, "views C h w"],
    distance_gradient: Float[Tensor, "views C h w"],
    alpha_cumprod: Float[Tensor, "views"],
) -> Float[Tensor, "views C h w"]:
    """Fold the gradient of a distance to the photo (taken at the clean estimate) into the noise prediction.

    The score is ``-eps / sqrt(1 - a_t)``; adding ``-grad_{z_t} D`` to it, with ``grad_{z_t} = grad_{z_0} / sqrt(a_t)``
    for the estimate, gives ``eps + sqrt(1 - a_t) / sqrt(a_t) grad_{z_0} D``. The clean estimate made from this noise
    is ``z_0 - (1 - a_t) / a_t grad_{z_0} D``: a descent step on the distance, so the estimate moves *towards* the
    photo. (Subtracting the term instead, as NeuralLift-360's released code appears to, moves it away.)
    """
    alpha = alpha_cumprod.view(-1, 1, 1, 1)
    return noise_pred + ((1.0 - alpha) / alpha).sqrt() * distance_gradient


def score_distillation_gradient(
    noise_pred: Float[Tensor, "views C h w"], noise: Float[Tensor, "views C h w"], weight: Float[Tensor, "views"]
) -> Float[Tensor, "views C h w"]:
    """``w(t) (eps_pred - eps)``: zero where the model already predicts the noise that was added."""
    return torch.nan_to_num(weight.view(-1, 1, 1, 1) * (noise_pred - noise))


def clip_gradient(
    gradient: Float[Tensor, "views C h w"], limit: float
) -> tuple[Float[Tensor, "views C h w"], Bool[Tensor, "views"]]:
    """Each element clamped to ``[-limit, limit]`` (threestudio's ``grad_clip``; no clamp when ``limit`` <= 0), and
    which views had an element clamped."""
    if limit <= 0:
        return gradient, torch.zeros(gradient.shape[0], dtype=torch.bool, device=gradient.device)
    clipped = (gradient.abs() > limit).flatten(1).any(dim=1)
    return gradient.clamp(-limit, limit), clipped


def loss_with_gradient(
    latents: Float[Tensor, "views C h w"], gradient: Float[Tensor, "views C h w"]
) -> Float[Tensor, ""]:
    """A loss whose gradient with respect to ``latents`` is ``gradient`` (averaged over views): how any gradient on the
    latents, score distillation's or a test prior's, is handed to autograd.

    Its value, half the squared norm of the gradient per view, is what gets logged.
    """
    target = (latents - gradient).detach()
    return 0.5 * ((latents - target) ** 2).sum() / latents.shape[0]


def score_distillation_loss_from_noise(
    latents: Float[Tensor, "views C h w"],
    noise_pred: Float[Tensor, "views C h w"],
    noise: Float[Tensor, "views C h w"],
    timesteps: Int[Tensor, "views"],
    alphas_cumprod: Float[Tensor, "T"],
    weighting: TimestepWeighting,
    gradient_limit: float,
) -> tuple[Float[Tensor, ""], Bool[Tensor, "views"]]:
    """Score distillation's loss on ``latents`` from the guided noise prediction and the noise that was added: a loss
    with ``w(t) (eps_pred - eps)``, clamped to ``gradient_limit`` (0: not clamped), as its gradient; and which views
    were clamped."""
    weight = timestep_weight(alphas_cumprod, timesteps, weighting)
    gradient, clipped = clip_gradient(score_distillation_gradient(noise_pred, noise, weight), gradient_limit)
    return loss_with_gradient(latents, gradient), clipped
