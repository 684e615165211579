"""What lifting a photo reads: its camera from a transforms.json frame or from landmarks, and the run's files; bad
inputs get one message each."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from lift_common.cameras import focal_length_from_fov, orbit_camera_to_world
from lift_common.errors import UserInputError
from lift_testing.lolnerf_models import make_model
from lolnerf_ns.data.camera_fit import MEAN_FACE_TEMPLATE
from lolnerf_ns.lift import LiftTarget, lift_latent, target_from_landmarks, target_with_known_camera
from lolnerf_ns.runs import read_run_config, safe_name

SIZE = 32


def _transforms(folder: Path, with_mask: bool = True) -> Path:
    (folder / "images").mkdir(parents=True)
    Image.fromarray(np.full((SIZE, SIZE, 3), 200, np.uint8)).save(folder / "images" / "photo.png")
    frame = {"file_path": "images/photo.png", "transform_matrix": np.eye(4).tolist()}
    if with_mask:
        (folder / "masks").mkdir()
        mask = np.zeros((SIZE, SIZE), np.uint8)
        mask[:, : SIZE // 2] = 255
        Image.fromarray(mask).save(folder / "masks" / "photo.png")
        frame["mask_path"] = "masks/photo.png"
    meta = {"fl_x": 40.0, "fl_y": 40.0, "cx": 16.0, "cy": 16.0, "w": SIZE, "h": SIZE, "frames": [frame]}
    (folder / "transforms.json").write_text(json.dumps(meta))
    return folder


def test_known_camera_from_the_photo_frame(tmp_path: Path) -> None:
    folder = _transforms(tmp_path / "data")
    target = target_with_known_camera(folder / "images" / "photo.png", folder)
    torch.testing.assert_close(target.camera.camera_to_worlds[0], torch.eye(4)[:3])
    assert float(target.camera.fx[0]) == 40.0 and target.image.shape == (SIZE, SIZE, 3)
    assert target.mask is not None and float(target.mask.mean()) == 0.5  # the frame's mask_path


def test_a_photo_at_another_size_scales_the_intrinsics(tmp_path: Path) -> None:
    folder = _transforms(tmp_path / "data", with_mask=False)
    Image.fromarray(np.full((2 * SIZE, 2 * SIZE, 3), 200, np.uint8)).save(folder / "images" / "photo.png")
    target = target_with_known_camera(folder / "images" / "photo.png", folder / "transforms.json")
    assert float(target.camera.fx[0]) == 80.0 and float(target.camera.cx[0]) == 32.0 and target.mask is None


def test_a_photo_without_a_frame_is_one_message(tmp_path: Path) -> None:
    folder = _transforms(tmp_path / "data")
    Image.fromarray(np.zeros((SIZE, SIZE, 3), np.uint8)).save(tmp_path / "other.png")
    with pytest.raises(UserInputError, match="has no frame whose file_path ends in other.png"):
        target_with_known_camera(tmp_path / "other.png", folder)
    with pytest.raises(UserInputError, match="missing.json does not exist"):
        target_with_known_camera(tmp_path / "other.png", tmp_path / "missing.json")


def _training_cameras(focal: float):
    from nerfstudio.cameras.cameras import Cameras

    poses = orbit_camera_to_world(torch.zeros(1), torch.zeros(1), torch.full((1,), 4.0))
    return Cameras(camera_to_worlds=poses, fx=focal, fy=focal, cx=SIZE / 2, cy=SIZE / 2, width=SIZE, height=SIZE)


def _keypoint_model():
    model = make_model()
    model.canonical_keypoints.copy_(torch.tensor(MEAN_FACE_TEMPLATE, dtype=torch.float32))
    return model


def test_camera_from_given_landmarks(tmp_path: Path) -> None:
    focal = focal_length_from_fov(20.0, SIZE)
    truth = orbit_camera_to_world(torch.tensor([25.0]), torch.tensor([10.0]), torch.tensor([4.0]))[0].numpy()
    world_to_camera = (truth[:, :3] @ np.diag([1.0, -1.0, -1.0])).T  # OpenCV axes
    points = (MEAN_FACE_TEMPLATE - truth[:, 3]) @ world_to_camera.T
    landmarks = focal * points[:, :2] / points[:, 2:] + SIZE / 2
    photo = tmp_path / "big.png"  # twice the training size: landmarks are given in the photo's own pixels
    Image.fromarray(np.full((2 * SIZE, 2 * SIZE, 3), 90, np.uint8)).save(photo)
    target = target_from_landmarks(photo, _keypoint_model(), _training_cameras(focal), (2 * landmarks).ravel().tolist())
    assert target.residual_px < 1e-3 and target.image.shape == (SIZE, SIZE, 3)
    np.testing.assert_allclose(target.camera.camera_to_worlds[0].numpy(), truth, atol=1e-3)


def test_landmark_errors_are_one_message_each(tmp_path: Path) -> None:
    photo = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)).save(photo)
    cameras = _training_cameras(90.0)
    known_cameras_run = make_model()
    known_cameras_run.canonical_keypoints.fill_(float("nan"))  # what a transforms.json run saves
    with pytest.raises(UserInputError, match="trained with known cameras"):
        target_from_landmarks(photo, known_cameras_run, cameras)
    with pytest.raises(UserInputError, match=r"No face found in .*noise\.png\. Pass a photo with a face"):
        target_from_landmarks(photo, _keypoint_model(), cameras)
    with pytest.raises(UserInputError, match="takes 10 numbers"):
        target_from_landmarks(photo, _keypoint_model(), cameras, [1.0, 2.0])
    scrambled = np.random.default_rng(1).uniform(0, SIZE, 10).tolist()
    with pytest.raises(UserInputError, match="do not fit the run's canonical keypoints"):
        target_from_landmarks(photo, _keypoint_model(), cameras, scrambled)


def test_lifting_changes_only_the_new_code(tmp_path: Path) -> None:
    model = make_model()
    before = {name: value.clone() for name, value in model.state_dict().items()}
    target = LiftTarget(torch.rand(8, 8, 3), None, _training_cameras(10.0)[0:1], "test")
    target.camera.width[:] = 8
    target.camera.height[:] = 8
    target.camera.cx[:] = 4.0
    target.camera.cy[:] = 4.0
    result = lift_latent(model, target, steps=3, rays_per_step=16)
    assert len(result.losses) == 3 and np.isfinite(result.psnr) and not model.training
    assert not torch.allclose(result.code, model.identity_code("mean"))
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, before[name], equal_nan=True, msg=name)  # the networks stay frozen
    assert all(parameter.requires_grad for parameter in model.parameters())


def test_run_config_errors(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="missing.yml does not exist. Pass the config.yml that ns-train wrote"):
        read_run_config(tmp_path / "missing.yml")
    from nerfstudio.configs.method_configs import method_configs

    other = tmp_path / "config.yml"
    other.write_text(yaml.dump(method_configs["vanilla-nerf"]))
    with pytest.raises(UserInputError, match=r"not the config of a lolnerf run \(method: vanilla-nerf\)"):
        read_run_config(other)
    from lolnerf_ns.lolnerf_config import lolnerf_method

    untrained = tmp_path / "untrained.yml"
    untrained.write_text(yaml.dump(lolnerf_method.config))
    with pytest.raises(UserInputError, match="No checkpoint in"):
        read_run_config(untrained)


def test_safe_names() -> None:
    assert safe_name("my photo (1)") == "my-photo-1" and safe_name("a/b.v2") == "a-b.v2"
    assert safe_name("...") == "identity"


def test_a_camera_file_that_is_not_json_is_one_message(tmp_path: Path) -> None:
    folder = _transforms(tmp_path / "data")
    (folder / "transforms.json").write_text('{"frames": [')
    with pytest.raises(UserInputError, match=r"transforms\.json is not valid JSON \(line 1, column 13"):
        target_with_known_camera(folder / "images" / "photo.png", folder)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda frame: frame["transform_matrix"][1].__setitem__(2, float("nan")), r"'transform_matrix' holds NaN"),
        (lambda frame: frame.update(transform_matrix=[1, 2, 3]), r"'transform_matrix' is an array of shape \(3,\)"),
        (lambda frame: frame.update(fl_x=-1.0), r"'fl_x' is -1\.0; it must be a positive number"),
        (lambda frame: frame.update(mask_path="masks/gone.png"), r"names the mask masks/gone\.png, which does not"),
    ],
)
def test_a_bad_camera_frame_is_one_message(tmp_path: Path, edit, message: str) -> None:
    folder = _transforms(tmp_path / "data")
    meta = json.loads((folder / "transforms.json").read_text())
    edit(meta["frames"][0])
    (folder / "transforms.json").write_text(json.dumps(meta))
    with pytest.raises(UserInputError, match=message):
        target_with_known_camera(folder / "images" / "photo.png", folder)


def test_landmarks_that_are_not_finite_are_one_message(tmp_path: Path) -> None:
    photo = tmp_path / "grey.png"
    Image.fromarray(np.full((SIZE, SIZE, 3), 90, np.uint8)).save(photo)
    landmarks = [10.0, 10.0, 20.0, 10.0, 15.0, float("nan"), 11.0, 20.0, 19.0, 20.0]
    with pytest.raises(UserInputError, match="--landmarks holds NaN or infinite values"):
        target_from_landmarks(photo, _keypoint_model(), _training_cameras(90.0), landmarks)
