"""The lolnerf model: compositing, its outputs and losses, which code each ray renders, and its viewer controls."""

from __future__ import annotations

import pytest
import torch

from lift_common.errors import UserInputError
from lift_testing.lolnerf_models import make_model, rays
from lolnerf_ns.ray_keys import LATENT_CODE_KEY


def test_pixel_is_foreground_over_background() -> None:
    model = make_model()
    model.eval()
    with torch.no_grad():
        outputs = model(rays())
    alpha = outputs["accumulation"]
    foreground = outputs["rgb_foreground"] - (1.0 - alpha)  # rgb_foreground is C_fg over white
    torch.testing.assert_close(outputs["rgb"], foreground + (1.0 - alpha) * outputs["rgb_background"])
    assert set(outputs) >= {"rgb", "depth", "accumulation", "normals", "rgb_foreground", "rgb_background"}
    assert outputs["normals"].min() >= 0.0 and outputs["normals"].max() <= 1.0
    rgba = model.get_rgba_image(outputs)
    torch.testing.assert_close(rgba[:, 3:], alpha)


def test_flat_background_option() -> None:
    model = make_model(background="black")
    model.eval()
    with torch.no_grad():
        outputs = model(rays())
    assert model.background_field is None and (outputs["rgb_background"] == 0).all()
    assert set(model.get_param_groups()) == {"fields", "latents"}


def test_losses_follow_the_batch_and_the_weights() -> None:
    model = make_model()
    model.train()
    outputs = model(rays(indices=[0, 1, 2, 0, 1, 2]))
    image = torch.rand(6, 3)
    with_mask = model.get_loss_dict(outputs, {"image": image, "mask": torch.ones(6, 1, dtype=torch.bool)})
    assert set(with_mask) == {"rgb_loss", "rgb_loss_coarse", "mask_loss", "hard_surface_loss"}
    assert set(model.get_loss_dict(outputs, {"image": image})) == {"rgb_loss", "rgb_loss_coarse", "hard_surface_loss"}
    off = make_model(lambda_mask=0.0, lambda_hard_surface=0.0)
    off.train()
    loss = off.get_loss_dict(off(rays(indices=[0] * 6)), {"image": image, "mask": torch.ones(6, 1)})
    assert set(loss) == {"rgb_loss", "rgb_loss_coarse"}
    sum(with_mask.values()).backward()
    assert model.latent_table.weight.grad is not None
    assert model.get_param_groups()["latents"] == [model.latent_table.weight]


def test_training_rays_render_their_own_code() -> None:
    model = make_model(render_identities=("c.png",))
    model.train()
    torch.testing.assert_close(model.ray_latents(rays(3, [2, 0, 1])), model.latent_table.weight[[2, 0, 1]])


def test_outside_training_data_cameras_keep_their_identity_unless_identities_are_chosen() -> None:
    table = make_model().latent_table.weight
    model = make_model()
    model.eval()
    torch.testing.assert_close(model.ray_latents(rays(3, [2, 0, 1])), table[[2, 0, 1]])
    torch.testing.assert_close(model.ray_latents(rays(2)), table[[0, 0]])  # the viewer's rays: identity 0
    chosen = make_model(render_identities=("c.png",))
    chosen.eval()
    torch.testing.assert_close(chosen.ray_latents(rays(3, [2, 0, 1])), table[[2, 2, 2]])  # ns-export shows c.png
    with chosen.own_identities():  # ns-eval compares every camera with its own photo
        torch.testing.assert_close(chosen.ray_latents(rays(3, [2, 0, 1])), table[[2, 0, 1]])


def test_camera_times_walk_through_the_chosen_identities() -> None:
    model = make_model(render_identities=("a.png", "2", "b.png"))
    model.eval()
    table = model.latent_table.weight
    codes = model.ray_latents(rays(3, times=torch.tensor([[0.0], [0.25], [1.0]])))
    torch.testing.assert_close(codes, torch.stack([table[0], (table[0] + table[2]) / 2, table[1]]))
    torch.testing.assert_close(model.ray_latents(rays(1)), table[:1])  # no times: the first


def test_an_explicit_code_wins() -> None:
    model = make_model()
    bundle = rays(2, [1, 2])
    bundle.metadata[LATENT_CODE_KEY] = torch.full((2, 4), 7.0)
    torch.testing.assert_close(model.ray_latents(bundle), torch.full((2, 4), 7.0))


def test_mean_and_samples_can_be_shown() -> None:
    model = make_model(render_identities=("mean", "sample:3"))
    model.eval()
    codes = model.ray_latents(rays(2, times=torch.tensor([[0.0], [1.0]])))
    torch.testing.assert_close(codes[0], model.latent_table.weight.mean(0))
    assert not torch.allclose(codes[1], codes[0])


def test_unknown_identity_stops_at_once() -> None:
    with pytest.raises(UserInputError, match="No identity 'd.png'"):
        make_model(render_identities=("d.png",))


def test_a_skip_layer_outside_the_mlp_is_refused() -> None:
    with pytest.raises(UserInputError, match=r"skip-layer must be between 1 and 1 \(num-layers - 2\); got 2"):
        make_model(skip_layer=2)


def test_lifted_instances_extend_the_table_and_keypoints_are_saved() -> None:
    model = make_model(lifted_instances=("new",))
    assert model.latent_table.weight.shape == (4, 4) and model.identity_names[-1] == "new"
    assert "canonical_keypoints" in model.state_dict()


def test_identity_names_must_be_unique() -> None:
    with pytest.raises(UserInputError, match="Identity names must be unique; a.png appear"):
        make_model(lifted_instances=("a.png",))


def mlp_output_dtypes(model) -> set[torch.dtype]:
    """Dtypes the first layers of the foreground and background MLPs produce in one training step."""
    seen: set[torch.dtype] = set()
    for layer in (model.field.trunk.layers[0], model.background_field.mlp.layers[0]):
        layer.register_forward_hook(lambda _module, _inputs, output: seen.add(output.dtype))
    model.train()
    model(rays(indices=[0, 1, 2, 0, 1, 2]))
    return seen


def test_bfloat16_mlps_train_on_a_cpu() -> None:
    """The code path CUDA's mixed precision takes, under CPU bfloat16 autocast."""
    model = make_model(mlp_precision="bfloat16")
    assert mlp_output_dtypes(model) == {torch.bfloat16}
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    batch = {"image": torch.tensor([[0.9, 0.2, 0.1]]).repeat(6, 1), "mask": torch.ones(6, 1)}
    history = []
    for _ in range(30):
        outputs = model(rays(indices=[0, 1, 2, 0, 1, 2]))
        assert outputs["rgb"].dtype == outputs["accumulation"].dtype == torch.float32
        loss = sum(model.get_loss_dict(outputs, batch).values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(float(loss))
    assert all(torch.isfinite(torch.tensor(history)))
    assert history[-1] < 0.5 * history[0]


def test_auto_precision_is_float32_on_a_cpu() -> None:
    assert mlp_output_dtypes(make_model()) == {torch.float32}
