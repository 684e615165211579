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


def test_random_backgrounds_are_mid_tones_and_never_behind_textureless_views() -> None:
    """A flat black behind a dark textureless render would leave the prior nothing to see."""
    from nerfstudio.data.scene_box import SceneBox

    from neurallift_ns.data.orbit_views import orbit_cameras, view_major_rays
    from neurallift_ns.model import NeuralLiftModelConfig
    from neurallift_ns.shading import SHADING_MODES
    from neurallift_ns.view_rendering import BACKGROUND_KEY, SHADING_KEY

    config = NeuralLiftModelConfig(
        num_levels=2,
        log2_hashmap_size=10,
        max_res=16,
        lambda_guidance=0.0,
        shading_start_step=0,
        p_random_background=1.0,
    )
    model = config.setup(scene_box=SceneBox(aabb=torch.tensor([[-1.0] * 3, [1.0] * 3])), num_train_data=1)
    num = 400
    cameras = orbit_cameras(torch.zeros(num), torch.zeros(num), torch.full((num,), 3.0), torch.full((num,), 40.0), 1)
    batch = {"is_reference": False, "num_views": num, "cameras": cameras}
    rays = model.prepare_rays(view_major_rays(cameras).flatten(), batch)
    backgrounds = rays.metadata[BACKGROUND_KEY]
    textureless = rays.metadata[SHADING_KEY][:, 0] == SHADING_MODES.index("textureless")  # one ray a view
    assert textureless.any() and (~textureless).any()
    assert torch.equal(backgrounds[textureless], torch.ones_like(backgrounds[textureless]))
    coloured = backgrounds[~textureless]
    assert coloured.min() >= 0.2 and coloured.max() <= 0.8


@pytest.mark.parametrize("albedo_on_white", [True, False])
def test_zero123_is_shown_albedo_on_white_whatever_the_model_settings(albedo_on_white: bool) -> None:
    """Zero-1-to-3 was trained on albedo renders on white: shaded views on coloured backgrounds are not what it
    knows."""
    from nerfstudio.data.scene_box import SceneBox

    from neurallift_ns.data.orbit_views import orbit_cameras, view_major_rays
    from neurallift_ns.guidance.joint_guidance import JointGuidanceConfig
    from neurallift_ns.guidance.zero123_guidance import Zero123GuidanceConfig
    from neurallift_ns.model import NeuralLiftModelConfig
    from neurallift_ns.view_rendering import BACKGROUND_KEY, SHADING_KEY, USE_BACKGROUND_NETWORK_KEY

    num = 200
    cameras = orbit_cameras(torch.zeros(num), torch.zeros(num), torch.full((num,), 3.0), torch.full((num,), 40.0), 1)
    batch = {"is_reference": False, "num_views": num, "cameras": cameras}
    zero123 = Zero123GuidanceConfig(albedo_on_white=albedo_on_white)
    for guidance in (zero123, JointGuidanceConfig(zero123=zero123)):
        config = NeuralLiftModelConfig(
            num_levels=2, log2_hashmap_size=10, max_res=16, guidance=guidance, shading_start_step=0
        )
        model = config.setup(scene_box=SceneBox(aabb=AABB), num_train_data=1)
        rays = model.prepare_rays(view_major_rays(cameras).flatten(), batch)
        albedo = rays.metadata[SHADING_KEY][:, 0] == 0
        white = (rays.metadata[BACKGROUND_KEY] == 1.0).all(dim=-1)
        network = rays.metadata[USE_BACKGROUND_NETWORK_KEY][:, 0].bool()
        if albedo_on_white:
            assert albedo.all() and white.all() and not network.any()
        else:  # the model's settings: mostly shaded, mostly coloured or the network behind
            assert albedo.float().mean() < 0.5 and (~white | network).float().mean() > 0.5


def test_renders_outside_training_take_one_normal_per_ray_not_per_sample() -> None:
    """ns-export pointcloud and poisson ask a model in eval mode for normals on batches of 32k rays: each ray's normal
    is taken once, at its rendered depth (6 density evaluations a ray), not at every sample (6 more a sample)."""
    from nerfstudio.data.scene_box import SceneBox

    from neurallift_ns.data.orbit_views import orbit_cameras, view_major_rays
    from neurallift_ns.model import NeuralLiftModelConfig

    torch.manual_seed(0)
    config = NeuralLiftModelConfig(num_levels=2, log2_hashmap_size=10, max_res=16, lambda_guidance=0.0)
    model = config.setup(scene_box=SceneBox(aabb=AABB), num_train_data=1).eval()
    cameras = orbit_cameras(torch.zeros(1), torch.zeros(1), torch.full((1,), 3.0), torch.full((1,), 40.0), 8)
    rays = view_major_rays(cameras).flatten()
    evaluated = []
    log_density = model.field.log_density

    def counting(positions: torch.Tensor):
        evaluated.append(positions[..., 0].numel())
        return log_density(positions)

    model.field.log_density = counting
    with torch.no_grad():
        outputs = model(rays)
    num_rays = len(rays)
    samples = num_rays * config.num_nerf_samples_per_ray
    print(f"{sum(evaluated)} density evaluations for {samples} samples of {num_rays} rays")
    assert sum(evaluated) == samples + 6 * num_rays  # per sample it was 7 * samples
    surface = rays.origins + rays.directions * outputs["depth"]
    torch.testing.assert_close(outputs["normals"], (model.field.normals_at(surface) + 1.0) / 2.0)
