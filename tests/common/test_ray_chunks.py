"""Outside training both models render large batches (ns-export's 32k rays) in chunks, with the same result."""

from __future__ import annotations

import pytest
import torch
from nerfstudio.data.scene_box import SceneBox

from lift_common.ray_chunks import forward_in_chunks

AABB = torch.tensor([[-1.0] * 3, [1.0] * 3])


def _neurallift_model_and_rays():
    from neurallift_ns.data.orbit_views import orbit_cameras, view_major_rays
    from neurallift_ns.model import NeuralLiftModelConfig

    torch.manual_seed(0)
    config = NeuralLiftModelConfig(num_levels=2, log2_hashmap_size=10, max_res=16, lambda_guidance=0.0)
    model = config.setup(scene_box=SceneBox(aabb=AABB), num_train_data=1)
    angles = torch.tensor([0.0, 120.0])
    cameras = orbit_cameras(angles, angles / 8, torch.full((2,), 3.0), torch.full((2,), 40.0), 6)
    return model, view_major_rays(cameras).flatten()  # exporters hand the model flat batches


def _lolnerf_model_and_rays():
    from lift_testing.lolnerf_models import make_model, rays

    return make_model(), rays(30, [0, 1, 2] * 10)


@pytest.mark.parametrize("make", [_neurallift_model_and_rays, _lolnerf_model_and_rays], ids=["neurallift", "lolnerf"])
def test_large_batches_are_rendered_in_chunks_with_the_same_result(make) -> None:
    model, rays = make()
    model.eval()
    get_outputs = model.get_outputs
    sizes = []

    def counting(ray_bundle):
        sizes.append(len(ray_bundle))
        return get_outputs(ray_bundle)

    model.get_outputs = counting
    with torch.no_grad():
        model.config.eval_num_rays_per_chunk = 1 << 20
        whole = model(rays)
        model.config.eval_num_rays_per_chunk = 7
        chunked = model(rays)
    num_rays = rays.shape.numel()
    assert sizes[0] == num_rays and max(sizes[1:]) == 7 and sum(sizes[1:]) == num_rays
    assert whole.keys() == chunked.keys() and "normals" in whole
    for name, value in whole.items():
        assert chunked[name].shape == value.shape == (*rays.shape, value.shape[-1])
        torch.testing.assert_close(chunked[name], value, atol=1e-5, rtol=1e-5)


def test_training_batches_are_not_split() -> None:
    """Training outputs hold whole-batch terms (weights lists, losses' inputs): the batch stays one piece."""
    model, rays = _neurallift_model_and_rays()
    model.config.eval_num_rays_per_chunk = 7
    model.train()
    outputs = model(rays)
    assert outputs["rgb"].shape == (rays.shape.numel(), 3) and "weights_list" in outputs


def test_chunks_are_put_back_in_the_batch_shape() -> None:
    _, rays = _neurallift_model_and_rays()
    grid = rays.reshape((8, 9))

    def forward(bundle):
        return {"sum": bundle.origins.sum(dim=-1, keepdim=True) + bundle.directions, "first": bundle.origins[..., :1]}

    chunked = forward_in_chunks(forward, grid, 10)
    whole = forward(grid)
    for name in whole:
        torch.testing.assert_close(chunked[name], whole[name], rtol=0, atol=0)


def test_outputs_that_are_not_per_ray_cannot_be_chunked() -> None:
    _, rays = _neurallift_model_and_rays()
    with pytest.raises(TypeError, match="'names' is not a per-ray tensor"):
        forward_in_chunks(lambda bundle: {"names": ["a"]}, rays, 10)
