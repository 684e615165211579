"""Naming identities, the Gaussian of the latent table, sampling and interpolation."""

from __future__ import annotations

import pytest
import torch

from lift_common.errors import UserInputError
from lolnerf_ns.latents import fit_gaussian, identity_code, identity_row, interpolate_along, sample_latents

NAMES = ["a.png", "b.png", "7", "lifted"]


def test_identities_are_named_by_name_row_mean_or_sample() -> None:
    assert identity_row("b.png", NAMES) == 1
    assert identity_row("3", NAMES) == 3
    assert identity_row("7", NAMES) == 2  # a name wins over a row number
    assert identity_row("mean", NAMES) is None and identity_row("sample:12", NAMES) is None


@pytest.mark.parametrize(
    ("identity", "message"),
    [
        ("9", r"No identity '9'\. Name one by its row 0\.\.3, its name \('a\.png', 'b\.png', '7', \.\.\.\)"),
        ("c.png", "No identity 'c.png'"),
        ("sample:x", "whole-number SEED"),
    ],
)
def test_unknown_identities_name_the_choices(identity: str, message: str) -> None:
    with pytest.raises(UserInputError, match=message):
        identity_row(identity, NAMES)


def test_gaussian_fits_the_codes_and_samples_follow_it() -> None:
    generator = torch.Generator().manual_seed(0)
    truth = torch.tensor([[2.0, 0.0], [1.0, 0.5]])
    codes = torch.randn(4000, 2, generator=generator) @ truth.T + torch.tensor([1.0, -2.0])
    gaussian = fit_gaussian(codes)
    torch.testing.assert_close(gaussian.mean.float(), torch.tensor([1.0, -2.0]), atol=0.1, rtol=0)
    samples = sample_latents(gaussian, seed=3, num=4000)
    torch.testing.assert_close(torch.cov(samples.T).float(), (truth @ truth.T), atol=0.25, rtol=0.05)
    first = sample_latents(gaussian, seed=3)
    torch.testing.assert_close(sample_latents(gaussian, seed=3), first)  # same seed, same identity
    assert not torch.allclose(sample_latents(gaussian, seed=4), first)
    torch.testing.assert_close(sample_latents(gaussian, seed=3, temperature=0.0)[0], gaussian.mean)


def test_fewer_codes_than_dimensions_still_give_a_distribution() -> None:
    codes = torch.randn(3, 16)
    samples = sample_latents(fit_gaussian(codes), seed=0, num=5)
    assert torch.isfinite(samples).all() and samples.shape == (5, 16)


def test_interpolation_walks_the_stops_in_order() -> None:
    stops = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 2.0]])
    positions = torch.tensor([[0.0], [0.25], [0.5], [0.75], [1.0], [1.5]])
    expected = torch.tensor([[0.0, 0.0], [0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [1.0, 2.0], [1.0, 2.0]])
    torch.testing.assert_close(interpolate_along(stops, positions), expected)
    torch.testing.assert_close(interpolate_along(stops[:1], positions), stops[:1].expand(6, 2))


def test_identity_codes_come_from_the_table_or_the_training_gaussian() -> None:
    table = torch.tensor([[1.0, 0.0], [3.0, 2.0], [2.0, 4.0], [100.0, 100.0]])  # the last row is lifted
    torch.testing.assert_close(identity_code("b.png", table, NAMES, num_training=3), table[1])
    torch.testing.assert_close(identity_code("mean", table, NAMES, num_training=3), torch.tensor([2.0, 2.0]))
    sampled = identity_code("sample:5", table, NAMES, num_training=3)
    assert sampled.abs().max() < 20  # drawn from the training codes' spread, not pulled by the lifted code
