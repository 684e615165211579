"""Resuming from a folder or checkpoint that cannot be resumed is one message before set-up, for both methods."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lift_common.errors import UserInputError
from lift_common.trainer import LiftTrainer
from tests.commands import run_command


def _trainer(**resume) -> LiftTrainer:
    from neurallift_ns.neurallift_config import neurallift_method

    config = copy.deepcopy(neurallift_method.config)
    for name, value in resume.items():
        setattr(config, name, value)
    return LiftTrainer(config)


def _models_folder(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True)
    for name in names:
        (folder / name).write_bytes(b"")
    return folder


def test_an_empty_load_dir_is_one_message(tmp_path: Path) -> None:
    empty = _models_folder(tmp_path / "empty")
    with pytest.raises(UserInputError, match=rf"--load-dir {empty} holds no checkpoint \(step-<step>\.ckpt"):
        _trainer(load_dir=empty)._check_checkpoint_to_resume()


def test_a_load_dir_that_is_not_a_folder_is_one_message(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match=r"--load-dir .*missing is not a folder\. Pass the nerfstudio_models/"):
        _trainer(load_dir=tmp_path / "missing")._check_checkpoint_to_resume()


def test_a_run_folder_given_as_load_dir_points_to_its_checkpoints(tmp_path: Path) -> None:
    run = tmp_path / "run"
    _models_folder(run / "nerfstudio_models", "step-000000002.ckpt")
    with pytest.raises(UserInputError, match=rf"It is a run's folder: pass --load-dir {run / 'nerfstudio_models'}\."):
        _trainer(load_dir=run)._check_checkpoint_to_resume()


def test_the_latest_checkpoint_is_chosen_past_other_files(tmp_path: Path) -> None:
    # nerfstudio parses a step out of every name in the folder: a stray file was a ValueError.
    models = _models_folder(tmp_path / "models", "step-000000002.ckpt", "step-000000010.ckpt", "notes.txt")
    trainer = _trainer(load_dir=models)
    trainer._check_checkpoint_to_resume()
    assert trainer.config.load_step == 10


def test_a_missing_step_or_checkpoint_is_one_message(tmp_path: Path) -> None:
    models = _models_folder(tmp_path / "models", "step-000000002.ckpt")
    with pytest.raises(UserInputError, match=r"has no checkpoint of step 5 \(it has steps 2\)"):
        _trainer(load_dir=models, load_step=5)._check_checkpoint_to_resume()
    with pytest.raises(UserInputError, match=r"--load-checkpoint .*gone\.ckpt does not exist"):
        _trainer(load_checkpoint=tmp_path / "gone.ckpt")._check_checkpoint_to_resume()


@pytest.mark.slow
@pytest.mark.parametrize("method", ["neurallift", "lolnerf"])
def test_ns_train_with_an_empty_load_dir_is_one_message(tmp_path: Path, method: str) -> None:
    photo = tmp_path / "photo.png"
    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(photo)
    empty = _models_folder(tmp_path / "empty")
    data = photo if method == "neurallift" else tmp_path
    args = ["ns-train", method, "--data", str(data), "--output-dir", str(tmp_path / "outputs"), "--vis", "tensorboard"]
    result = run_command([*args, "--load-dir", str(empty)], timeout=300)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert errors == [
        f"Error: --load-dir {empty} holds no checkpoint (step-<step>.ckpt files written by ns-train). Pass the "
        "nerfstudio_models/ folder of a run (outputs/<experiment>/<method>/<timestamp>/), or leave --load-dir out to "
        "train from the start."
    ], result.stdout + result.stderr
