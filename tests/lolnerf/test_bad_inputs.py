"""Bad collections get one readable message each, naming the files and what to do."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lift_common.errors import UserInputError
from lolnerf_ns.data.collection import CollectionConfig, prepare_collection
from lolnerf_ns.data.landmarks import read_landmarks_file
from tests.commands import check, help_text, run_command

POINTS = [[10.0, 10.0], [30.0, 10.0], [20.0, 20.0], [12.0, 30.0], [28.0, 30.0]]


def _photos(folder: Path, sizes: list[tuple[int, int]]) -> Path:
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for index, (width, height) in enumerate(sizes):
        Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(folder / f"p{index}.png")
    return folder


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="holds no photos"):
        prepare_collection(tmp_path, CollectionConfig())


def test_no_readable_photo(tmp_path: Path) -> None:
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(UserInputError, match=r"None of the 1 photos in .* could be read"):
        prepare_collection(tmp_path, CollectionConfig())


def test_landmarks_file_naming_missing_images(tmp_path: Path) -> None:
    folder = _photos(tmp_path / "cats", [(40, 40)])
    (tmp_path / "points.json").write_text(json.dumps({"p0.png": POINTS, "ghost.png": POINTS}))
    with pytest.raises(UserInputError, match=r"names images that are not in .*: ghost\.png"):
        prepare_collection(folder, CollectionConfig(landmarks_file=tmp_path / "points.json"))


def test_landmarks_file_with_the_wrong_number_of_points(tmp_path: Path) -> None:
    (tmp_path / "points.json").write_text(json.dumps({"p0.png": POINTS[:4]}))
    with pytest.raises(UserInputError, match=r"'p0\.png' has 8 numbers; every image needs exactly 5 \(x, y\) points"):
        read_landmarks_file(tmp_path / "points.json")


def test_mixed_sizes_are_resized_and_images_without_landmarks_listed(tmp_path: Path, capsys) -> None:
    folder = _photos(tmp_path / "cats", [(40, 40), (40, 40), (80, 80), (40, 40)])
    landmarks = {f"p{i}.png": POINTS if i != 2 else [[2 * x, 2 * y] for x, y in POINTS] for i in range(3)}
    (tmp_path / "points.json").write_text(json.dumps(landmarks))
    prepared = prepare_collection(folder, CollectionConfig(landmarks_file=tmp_path / "points.json"))
    assert [f["file"] for f in prepared.frames] == ["p0.png", "p1.png", "p2.png"]
    np.testing.assert_allclose(prepared.frames[2]["landmarks"], POINTS)  # scaled with its photo
    out = " ".join(capsys.readouterr().out.split())
    assert "1 of 4 photos resized to 40x40" in out and "p3.png" in out and "no landmarks in the landmarks file" in out


def test_masks_that_do_not_match_their_photos(tmp_path: Path) -> None:
    folder = _photos(tmp_path / "cats", [(40, 40), (40, 40)])
    (folder / "masks").mkdir()
    for name in ("p0.png", "p1.png"):
        Image.fromarray(np.full((20, 40), 255, np.uint8)).save(folder / "masks" / name)
    (tmp_path / "points.json").write_text(json.dumps({"p0.png": POINTS, "p1.png": POINTS}))
    with pytest.raises(UserInputError, match=r"masks/p0\.png is 40x20 but p0\.png is 40x40"):
        prepare_collection(folder, CollectionConfig(landmarks_file=tmp_path / "points.json"))


def test_ns_train_on_photos_without_faces_is_one_message(tmp_path: Path) -> None:
    folder = _photos(tmp_path / "noise", [(32, 32), (32, 32)])
    result = run_command(
        ["ns-train", "lolnerf", "--data", str(folder), "--output-dir", str(tmp_path), "--vis", "tensorboard"]
    )
    assert result.returncode == 1
    assert "no face found" in result.stderr and "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    "command",
    [
        ["ns-lolnerf-lift", "--image", "photo.png"],
        ["ns-lolnerf-identities", "--identities", "0"],
    ],
)
def test_lolnerf_commands_name_a_missing_config(tmp_path: Path, command: list[str]) -> None:
    result = run_command([*command, "--load-config", str(tmp_path / "outputs" / "config.yml")])
    assert result.returncode == 1
    assert "config.yml does not exist. Pass the config.yml that ns-train wrote" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stdout + result.stderr


def test_lolnerf_commands_explain_their_options() -> None:
    lift = help_text(check(run_command(["ns-lolnerf-lift", "--help"])))
    assert "--fine-tune-steps INT" in lift and "Further steps that also fine-tune the networks" in lift
    identities = help_text(check(run_command(["ns-lolnerf-identities", "--help"])))
    assert "--identities" in identities and "'sample:SEED'" in identities


def _known_cameras(folder: Path, frames: int = 2) -> Path:
    """A transforms.json of ``frames`` flat 16x16 images with known cameras, each a frame of its own instance."""
    (folder / "images").mkdir(parents=True)
    meta = {"fl_x": 20.0, "fl_y": 20.0, "cx": 8.0, "cy": 8.0, "w": 16, "h": 16, "frames": []}
    for index in range(frames):
        Image.fromarray(np.full((16, 16, 3), 40 * index, np.uint8)).save(folder / "images" / f"f{index}.png")
        pose = np.eye(4)
        pose[2, 3] = 3.0
        meta["frames"].append({"file_path": f"images/f{index}.png", "transform_matrix": pose.tolist()})
    (folder / "transforms.json").write_text(json.dumps(meta))
    return folder


def _read_known_cameras(folder: Path):
    from lolnerf_ns.data.collection_dataparser import LOLNeRFCollectionDataParserConfig

    return LOLNeRFCollectionDataParserConfig(data=folder).setup().get_dataparser_outputs("train")


def _edit_transforms(folder: Path, edit) -> str:
    meta = json.loads((folder / "transforms.json").read_text())
    edit(meta)
    (folder / "transforms.json").write_text(json.dumps(meta))
    return (folder / "transforms.json").read_text()


def test_known_cameras_are_read(tmp_path: Path) -> None:
    outputs = _read_known_cameras(_known_cameras(tmp_path / "data"))
    assert [p.name for p in outputs.image_filenames] == ["f0.png", "f1.png"]


def test_ns_train_on_a_transforms_json_that_is_not_json_is_one_message(tmp_path: Path) -> None:
    folder = _known_cameras(tmp_path / "data")
    broken = (folder / "transforms.json").read_text()[:-20]
    (folder / "transforms.json").write_text(broken)
    result = run_command(
        ["ns-train", "lolnerf", "--data", str(folder), "--output-dir", str(tmp_path / "out"), "--vis", "tensorboard"],
        OMP_NUM_THREADS="1",
    )
    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert f"{folder / 'transforms.json'} is not valid JSON (line 1, column" in message
    assert "Traceback" not in result.stderr + result.stdout
    assert (folder / "transforms.json").read_text() == broken  # the user's file is left as it was


def test_transforms_json_naming_missing_images(tmp_path: Path) -> None:
    folder = _known_cameras(tmp_path / "data", frames=3)
    (folder / "images" / "f1.png").unlink()
    (folder / "images" / "f2.png").unlink()
    with pytest.raises(UserInputError, match=r"transforms\.json names 2 image files that do not exist: images/f1\.png"):
        _read_known_cameras(folder)


def test_transforms_json_naming_an_unreadable_image(tmp_path: Path) -> None:
    folder = _known_cameras(tmp_path / "data")
    (folder / "images" / "f1.png").write_bytes(b"not a png")
    with pytest.raises(UserInputError, match=r"f1\.png \(frame 1 of .*transforms\.json\) is not an image"):
        _read_known_cameras(folder)


def test_transforms_json_naming_a_missing_mask(tmp_path: Path) -> None:
    folder = _known_cameras(tmp_path / "data", frames=1)
    _edit_transforms(folder, lambda meta: meta["frames"][0].update(mask_path="masks/f0.png"))
    with pytest.raises(UserInputError, match=r"names 1 mask file that does not exist: masks/f0\.png"):
        _read_known_cameras(folder)


@pytest.mark.parametrize("mask_size", [(20, 16), (12, 16)])
def test_transforms_json_naming_a_mask_of_another_size(tmp_path: Path, mask_size: tuple[int, int]) -> None:
    folder = _known_cameras(tmp_path / "data")
    (folder / "masks").mkdir()
    for index, size in enumerate([(16, 16), mask_size]):
        Image.fromarray(np.full(size, 255, np.uint8)).save(folder / "masks" / f"f{index}.png")
    _edit_transforms(folder, lambda meta: [f.update(mask_path=f"masks/f{i}.png") for i, f in enumerate(meta["frames"])])
    height, width = mask_size
    with pytest.raises(UserInputError) as error:
        _read_known_cameras(folder)
    message = " ".join(str(error.value).split())
    assert f"masks/f1.png is {width}x{height} but " in message and "images/f1.png is 16x16" in message
    assert "same size" in message


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda meta: meta.update(frames={}), r"has no list of 'frames'"),
        (lambda meta: meta["frames"][1].pop("file_path"), r"frame 1 has no 'file_path'"),
        (lambda meta: meta["frames"][0].update(transform_matrix=[[1, 0], [0, 1]]), r"frame 0's 'transform_matrix' is"),
        (lambda meta: meta["frames"][1]["transform_matrix"][0].__setitem__(3, float("nan")), r"frame 1's 'transform_m"),
        (lambda meta: meta.pop("fl_x"), r"frame 0 has no 'fl_x'"),
        (lambda meta: meta.update(w="wide"), r"'w' is 'wide'; it must be a positive number"),
        (lambda meta: meta.update(fl_y=float("inf")), r"'fl_y' is inf; it must be a positive number"),
    ],
)
def test_transforms_json_with_bad_frames(tmp_path: Path, edit, message: str) -> None:
    folder = _known_cameras(tmp_path / "data")
    before = _edit_transforms(folder, edit)
    with pytest.raises(UserInputError, match=message):
        _read_known_cameras(folder)
    assert (folder / "transforms.json").read_text() == before


@pytest.mark.parametrize(
    "command",
    [["ns-eval", "--output-path", "eval.json"], ["ns-lolnerf-identities", "--identities", "0"]],
)
def test_a_checkpoint_holding_unsafe_objects_is_one_line(tmp_path: Path, command: list[str]) -> None:
    import copy

    from lift_testing.poisoned_checkpoints import poisoned_checkpoint
    from lolnerf_ns.lolnerf_config import lolnerf_method

    config = copy.deepcopy(lolnerf_method.config)
    config.data = _known_cameras(tmp_path / "data")
    config.pipeline.datamanager.data = config.data
    config.output_dir, config.experiment_name, config.timestamp = tmp_path / "outputs", "run", "now"
    config.get_checkpoint_dir().mkdir(parents=True)
    config.save_config()
    checkpoint, marker = poisoned_checkpoint(config.get_checkpoint_dir())
    before = checkpoint.read_bytes()
    result = run_command([*command, "--load-config", str(config.get_base_dir() / "config.yml")], cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    assert f"Error: {checkpoint} holds objects that are not safe to load" in result.stderr.splitlines()[-1]
    assert not marker.exists() and checkpoint.read_bytes() == before


@pytest.mark.parametrize(
    "content, message",
    [
        ("[[10, 10]]", r"points\.json holds a list; it must map each image name to its 5 \(x, y\) points"),
        ('{"p0.png": "nose"}', r"points\.json: 'p0\.png' is not a 5x2 array of numbers"),
        ('{"p0.png": [10, 10, 30, 10, 20, 20, 12, 30, 28, NaN]}', r"points\.json: 'p0\.png' holds NaN"),
        ('{"p0.png": ', r"points\.json is not valid JSON \(line 1"),
    ],
)
def test_landmarks_file_that_is_not_points(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "points.json").write_text(content)
    with pytest.raises(UserInputError, match=message):
        read_landmarks_file(tmp_path / "points.json")


def test_landmarks_csv_with_text_or_nan(tmp_path: Path) -> None:
    (tmp_path / "points.csv").write_text("p0.png,10,10,30,10,20,20,12,30,28,nan\n")
    with pytest.raises(UserInputError, match=r"points\.csv: 'p0\.png' holds NaN"):
        read_landmarks_file(tmp_path / "points.csv")
