"""Exporters' rays aim at points inside the trained object, found on a coarse grid of its density."""

from __future__ import annotations

import torch

from lift_common.object_field import ObjectField
from lift_common.object_targets import ObjectTargets

BOX = torch.tensor([[-1.0] * 3, [1.0] * 3])
CENTRE = torch.tensor([0.3, -0.2, 0.1])


def _ball(density_inside: float) -> ObjectField:
    """A ball of radius 0.25 around ``CENTRE`` with ``density_inside``, empty outside; surface density 10."""

    def density(positions: torch.Tensor) -> torch.Tensor:
        return density_inside * ((positions - CENTRE).norm(dim=-1) < 0.25).float()

    return ObjectField(density=density, albedo=lambda positions: positions.clamp(0, 1), box=BOX, surface_density=10.0)


def test_targets_lie_inside_the_object_and_fill_it() -> None:
    targets = ObjectTargets(_ball(100.0), resolution=41)
    points = targets.sample(4000, torch.Generator().manual_seed(0))
    distances = (points - CENTRE).norm(dim=-1)
    assert distances.max() < 0.25 + float(targets.cell_size.norm())  # inside, give or take a point's cell
    assert distances.quantile(0.9) > 0.18  # spread through the ball, not bunched at its centre
    for axis in range(3):  # on every side of its centre
        assert 0.4 < (points[:, axis] > CENTRE[axis]).float().mean() < 0.6


def test_an_object_below_its_surface_density_gives_the_whole_box_and_says_so(capsys) -> None:
    targets = ObjectTargets(_ball(5.0), resolution=21)
    points = targets.sample(4000, torch.Generator().manual_seed(0))
    assert (points.abs().max(dim=0).values > 0.9).all()  # all over the box
    printed = " ".join(capsys.readouterr().out.split())
    assert "stays under its surface density (10; highest 5)" in printed
