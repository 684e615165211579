"""The latent space of a trained LOLNeRF: naming identities, a Gaussian fitted to the codes, samples and interpolation.

An *identity* is named by a string, so that the same words work in the viewer, in ``config.yml`` and on the command
line:

* an identity's name: a training image's file name (folders of photos), a transforms.json ``instance_id`` or image
  file name, or the name given to a lifted photo;
* its row in the latent table (``0``, ``1``, ...), training identities first, then lifted ones (a name wins when a
  name is also a number);
* ``mean``: the mean of the training codes, the class's "average" instance;
* ``sample:SEED``: a new identity drawn from the Gaussian fitted to the training codes (same seed, same identity).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor

from lift_common.errors import UserInputError

MEAN_IDENTITY = "mean"
SAMPLE_PREFIX = "sample:"


@dataclass(frozen=True)
class LatentGaussian:
    """A normal distribution over latent codes."""

    mean: Float[Tensor, "dim"]
    scale_tril: Float[Tensor, "dim dim"]
    """Lower Cholesky factor of the covariance."""


def fit_gaussian(codes: Float[Tensor, "num dim"], ridge: float = 1e-3) -> LatentGaussian:
    """Mean and covariance of the codes (float64), with a small ridge so that fewer codes than dimensions still give
    a proper distribution: ``ridge`` times the mean variance (or 1e-8 when all codes are equal) on the diagonal."""
    codes64 = codes.detach().double()
    mean = codes64.mean(dim=0)
    centred = codes64 - mean
    covariance = centred.T @ centred / max(len(codes64) - 1, 1)
    dim = codes64.shape[1]
    jitter = max(ridge * float(covariance.diagonal().mean()), 1e-8)
    covariance = covariance + jitter * torch.eye(dim, dtype=torch.float64, device=codes.device)
    return LatentGaussian(mean=mean, scale_tril=torch.linalg.cholesky(covariance))


def sample_latents(
    gaussian: LatentGaussian, seed: int, num: int = 1, temperature: float = 1.0
) -> Float[Tensor, "num dim"]:
    """``num`` codes drawn with a seeded generator; ``temperature`` < 1 keeps them nearer the mean (truncation)."""
    generator = torch.Generator().manual_seed(int(seed))
    noise = torch.randn(num, gaussian.mean.shape[0], generator=generator, dtype=torch.float64)
    noise = noise.to(gaussian.mean.device)
    return gaussian.mean + temperature * noise @ gaussian.scale_tril.T


def interpolate_along(
    stops: Float[Tensor, "num_stops dim"], positions: Float[Tensor, "*batch 1"]
) -> Float[Tensor, "*batch dim"]:
    """Codes at ``positions`` in [0, 1] along the piecewise-linear path through ``stops`` (0: first, 1: last)."""
    if len(stops) == 1:
        return stops[0].expand(*positions.shape[:-1], -1)
    segment = positions.clamp(0.0, 1.0) * (len(stops) - 1)
    start = segment.floor().long().clamp(max=len(stops) - 2)
    fraction = (segment - start).to(stops.dtype)
    return stops[start[..., 0]] * (1.0 - fraction) + stops[start[..., 0] + 1] * fraction


def identity_row(identity: str, names: Sequence[str]) -> int | None:
    """The latent-table row ``identity`` names, or ``None`` for ``mean`` and ``sample:SEED`` (not rows).

    Raises :class:`UserInputError` naming the valid choices when ``identity`` names nothing.
    """
    identity = str(identity).strip()
    if identity in names:
        return list(names).index(identity)
    if identity == MEAN_IDENTITY:
        return None
    if identity.startswith(SAMPLE_PREFIX):
        try:
            int(identity[len(SAMPLE_PREFIX) :])
        except ValueError:
            raise UserInputError(f"'{identity}' is not sample:SEED with a whole-number SEED, e.g. sample:7.") from None
        return None
    try:
        row = int(identity)
    except ValueError:
        row = -1
    if 0 <= row < len(names):
        return row
    examples = ", ".join(f"'{name}'" for name in list(names)[:3]) + (", ..." if len(names) > 3 else "")
    raise UserInputError(
        f"No identity '{identity}'. Name one by its row 0..{len(names) - 1}, its name ({examples}), "
        f"'{MEAN_IDENTITY}', or '{SAMPLE_PREFIX}SEED' for a new sampled identity."
    )


def identity_code(
    identity: str,
    table: Float[Tensor, "rows dim"],
    names: Sequence[str],
    num_training: int,
    temperature: float = 1.0,
) -> Float[Tensor, "dim"]:
    """The code of ``identity``; ``mean`` and samples come from the Gaussian fitted to the ``num_training`` training
    codes (lifted codes are not part of the class's distribution)."""
    row = identity_row(identity, names)
    if row is not None:
        return table[row]
    gaussian = fit_gaussian(table[:num_training])
    if identity.strip() == MEAN_IDENTITY:
        return gaussian.mean.to(table.dtype)
    seed = int(identity.strip()[len(SAMPLE_PREFIX) :])
    return sample_latents(gaussian, seed, temperature=temperature)[0].to(table.dtype)
