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
