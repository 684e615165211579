"""The field's blob, its normals, and the shading of sampled views."""

from __future__ import annotations

import pytest
import torch

from neurallift_ns.field import NeuralLiftField
from neurallift_ns.shading import random_light_directions, shade

AABB = torch.tensor([[-1.0] * 3, [1.0] * 3])


@pytest.fixture
def blob_only_field() -> NeuralLiftField:
    """A field whose learnt part outputs nothing, so only the blob shapes it: a ball around the origin."""
    torch.manual_seed(0)
    field = NeuralLiftField(AABB, num_levels=2, max_res=32, log2_hashmap_size=10, blob_density=5.0, blob_radius=0.5)
    for parameter in field.density_mlp.parameters():
        torch.nn.init.zeros_(parameter)
    return field


def test_blob_makes_a_solid_centre_and_empty_corners(blob_only_field: NeuralLiftField) -> None:
    density = blob_only_field.density_at(torch.tensor([[0.0, 0.0, 0.0], [0.9, 0.9, 0.9], [1.5, 0.0, 0.0]]))
    assert density[0] > 100 and density[1] < 0.1 and density[2] < 1e-6  # the last is outside the scene box
    blob_only_field.blob_scale = 0.0  # faded out: the learnt density alone
    assert float(blob_only_field.density_at(torch.zeros(1, 3))) == pytest.approx(1.0)


def test_normals_point_outwards(blob_only_field: NeuralLiftField) -> None:
    points = torch.nn.functional.normalize(torch.randn(50, 3), dim=-1) * 0.4
    normals = blob_only_field.normals_at(points)
    cosine = (normals * torch.nn.functional.normalize(points, dim=-1)).sum(-1)
    assert (cosine > 0.99).all()


def test_shading_modes() -> None:
    albedo = torch.tensor([[0.5, 0.2, 1.0]])
    normal = torch.tensor([[0.0, 0.0, 1.0]])
    facing, behind = torch.tensor([[0.0, 0.0, 1.0]]), torch.tensor([[0.0, 0.0, -1.0]])
    torch.testing.assert_close(shade(albedo, None, None, "albedo"), albedo)
    torch.testing.assert_close(shade(albedo, normal, facing, "lambertian", ambient=0.1), albedo)
    torch.testing.assert_close(shade(albedo, normal, behind, "lambertian", ambient=0.1), albedo * 0.1)
    torch.testing.assert_close(shade(albedo, normal, facing, "textureless"), torch.ones(1, 3))


def test_random_lights_come_from_the_cameras_side() -> None:
    cameras = torch.tensor([[0.0, -3.0, 0.0]]).expand(200, 3)
    lights = random_light_directions(cameras, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(lights.norm(dim=-1), torch.ones(200))
    assert (lights[:, 1] < 0).float().mean() > 0.9
