"""Each NeuralLift-360 loss against values worked out by hand."""

from __future__ import annotations

import pytest
import torch

from neurallift_ns import losses


def test_mask_loss() -> None:
    accumulation = torch.tensor([[1.0], [0.5], [0.0]])
    mask = torch.tensor([[1.0], [0.0], [0.0]])
    assert losses.mask_loss(accumulation, mask) == pytest.approx(0.25 / 3)


def _ranking(rendered: list[float], rough: list[float], **kwargs) -> torch.Tensor:
    mask = torch.ones(len(rough), 1)
    return losses.depth_ranking_loss(
        torch.tensor(rendered)[:, None], torch.tensor(rough)[:, None], mask, num_pairs=2000, **kwargs
    )


def test_depth_ranking_is_zero_when_orders_agree_and_positive_when_reversed() -> None:
    assert _ranking([1.0, 2.0, 3.0], [10.0, 20.0, 30.0]) == 0.0
    assert _ranking([3.0, 2.0, 1.0], [10.0, 20.0, 30.0]) > 0.5


def test_depth_ranking_value_for_one_reversed_pair() -> None:
    # Only pixels 0 and 1 differ in rough depth (pairs of equal pixels tie); rendered order reversed by 0.5.
    loss = _ranking([2.0, 1.5], [1.0, 2.0], margin=0.1, generator=torch.Generator().manual_seed(0))
    assert loss == pytest.approx(0.6)


def test_depth_ranking_is_invariant_to_scale_and_shift_of_the_rough_map() -> None:
    rendered = [1.0, 3.0, 2.0, 5.0, 4.0]
    rough = [1.0, 2.0, 3.0, 4.0, 5.0]
    a = _ranking(rendered, rough, generator=torch.Generator().manual_seed(0))
    b = _ranking(rendered, [7.0 * r - 3.0 for r in rough], generator=torch.Generator().manual_seed(0))
    assert a == pytest.approx(float(b)) and a > 0


def test_depth_ranking_skips_near_ties_and_background() -> None:
    # Pixels 0 and 1 are 0.1% of the depth range apart: a tie, so their reversed order costs nothing.
    assert _ranking([2.0, 1.0, 3.0], [1.0, 1.001, 2.0], tie_threshold=0.01) == 0.0
    rendered, rough = torch.tensor([[2.0], [1.0]]), torch.tensor([[1.0], [2.0]])
    off_object = torch.tensor([[1.0], [0.0]])
    assert losses.depth_ranking_loss(rendered, rough, off_object, num_pairs=10) == 0.0


def test_edge_aware_smoothness_is_forgiven_at_photo_edges() -> None:
    depth = torch.tensor([[0.0, 1.0]]).reshape(1, 2, 1)
    mask = torch.ones(1, 2, 1)
    flat_photo = torch.zeros(1, 2, 3)
    edge_photo = torch.tensor([[[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]])
    assert losses.edge_aware_depth_smoothness(depth, flat_photo, mask) == pytest.approx(1.0)
    assert losses.edge_aware_depth_smoothness(depth, edge_photo, mask) == pytest.approx(torch.exp(torch.tensor(-10.0)))


def test_opacity_losses() -> None:
    assert losses.opacity_entropy_loss(torch.tensor([[0.0], [1.0]])) == pytest.approx(0.0, abs=1e-3)
    assert losses.opacity_entropy_loss(torch.tensor([[0.5]])) == pytest.approx(0.6931, abs=1e-3)
    assert losses.opacity_sparsity_loss(torch.tensor([[0.2], [0.4]])) == pytest.approx(0.3)
