"""Frames of one instance share a latent code; every ray renders its own instance's code."""

from __future__ import annotations

import pytest
import torch
from nerfstudio.cameras.rays import RayBundle
from nerfstudio.data.scene_box import SceneBox

from lift_common.errors import UserInputError
from lolnerf_ns.data.transforms_dataparser import latent_indices_by_image_name
from lolnerf_ns.model import LOLNeRFModelConfig
from lolnerf_ns.ray_keys import LATENT_INDEX_KEY


def test_frames_sharing_an_instance_id_share_a_latent() -> None:
    frames = [{"file_path": "images/a.png", "instance_id": 7}, {"file_path": "images/b.png"}]
    frames += [{"file_path": "images/c.png", "instance_id": 7}]
    latent_of_name, names = latent_indices_by_image_name({"frames": frames})
    assert latent_of_name == {"a.png": 0, "b.png": 1, "c.png": 0} and names == ["7", "b.png"]


def test_duplicate_image_names_are_refused() -> None:
    frames = [{"file_path": "left/a.png"}, {"file_path": "right/a.png"}]
    with pytest.raises(UserInputError, match="share the image name 'a.png'"):
        latent_indices_by_image_name({"frames": frames})


def test_each_ray_gets_its_instance_latent() -> None:
    model = LOLNeRFModelConfig(latent_dim=4).setup(
        scene_box=SceneBox(torch.tensor([[-1.0] * 3, [1.0] * 3])), num_train_data=3, metadata={"num_latents": 3}
    )
    indices = torch.tensor([[2], [0], [2]])
    rays = RayBundle(
        origins=torch.zeros(3, 3),
        directions=torch.tensor([[0.0, 1.0, 0.0]] * 3),
        pixel_area=torch.ones(3, 1),
        metadata={LATENT_INDEX_KEY: indices},
    )
    torch.testing.assert_close(model.ray_latents(rays), model.latent_table.weight[indices.squeeze(-1)])
    assert model.latent_table.weight.abs().max() < 0.1  # initialised near zero
