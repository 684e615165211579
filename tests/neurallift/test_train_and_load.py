"""``ns-train neurallift`` on a real photo with a tiny Stable Diffusion + CLIP prior, then its checkpoint loaded back
by ``ns-export`` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.commands import check, run_command

pytestmark = pytest.mark.slow

# Two small steps: a reference step, then a sampled-views step.
TRAIN_TWO_STEPS = [
    *("--max-num-iterations", "2", "--steps-per-save", "1", "--vis", "tensorboard", "--machine.seed", "0"),
    *("--pipeline.datamanager.train-num-rays-per-batch", "256", "--pipeline.datamanager.sampled-views-per-step", "2"),
    *("--pipeline.datamanager.reference-resolution", "16", "--pipeline.datamanager.sampled-resolution", "16"),
    *("--pipeline.datamanager.reference-only-steps", "0", "--pipeline.datamanager.reference-step-interval", "2"),
    *("--pipeline.datamanager.dataparser.preprocess.image-size", "32"),
    *("--pipeline.datamanager.dataparser.preprocess.mask-method", "grabcut"),
]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, tiny_depth_model, tiny_stable_diffusion, tiny_open_clip) -> tuple[Path, Path]:
    """A two-step run on scikit-image's coffee photo: (its config.yml, the photo's folder)."""
    from PIL import Image
    from skimage import data

    folder = tmp_path_factory.mktemp("neurallift")
    photo = folder / "photo" / "coffee.png"
    photo.parent.mkdir()
    Image.fromarray(data.coffee()).save(photo)
    outputs = folder / "outputs"
    depth = ("--pipeline.datamanager.dataparser.preprocess.depth-model", str(tiny_depth_model))
    prior = ("stable-diffusion", "--prompt", "a coffee cup", "--diffusion.model", str(tiny_stable_diffusion))
    prior += ("--clip-model", str(tiny_open_clip), "--diffusion-resolution", "16")
    train = ["ns-train", "neurallift", "--data", str(photo), "--output-dir", str(outputs), *TRAIN_TWO_STEPS]
    result = check(run_command([*train, *depth, *prior], HF_HUB_OFFLINE="1"))
    assert "a coffee cup, front view" in result.stdout  # the prior was loaded and prompted
    (config,) = outputs.glob("*/neurallift/*/config.yml")
    return config, photo.parent


def test_checkpoint_loads_with_torchs_safe_loading_alone(trained_run) -> None:
    """Constant learning rates leave no scheduler state, so not even our numpy allowlist is needed (lolnerf's
    schedulers still need it: nerfstudio #3683): a checkpoint that held any other pickled object would fail here."""
    config, _ = trained_run
    (checkpoint,) = (config.parent / "nerfstudio_models").glob("step-*.ckpt")
    code = f"import torch; print(torch.load({str(checkpoint)!r}, map_location='cpu', weights_only=True)['step'])"
    plain = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert plain.returncode == 0 and plain.stdout.strip() == "1", plain.stderr


def test_checkpoint_holds_no_frozen_networks(trained_run) -> None:
    config, _ = trained_run
    (checkpoint,) = (config.parent / "nerfstudio_models").glob("step-*.ckpt")
    import lift_common  # noqa: F401

    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    assert state["step"] == 1
    assert not [
        key
        for key in state["pipeline"]
        if any(word in key for word in ("lpips", "clip", "unet", "vae", "text_encoder", "visual"))
    ]


def test_ns_export_pointcloud_loads_the_checkpoint(trained_run, tmp_path: Path) -> None:
    config, _ = trained_run
    export = ["ns-export", "pointcloud", "--load-config", str(config), "--output-dir", str(tmp_path)]
    result = check(
        run_command([*export, "--num-points", "500", "--normal-method", "open3d", "--num-rays-per-batch", "256"])
    )
    assert "Guidance prompt" not in result.stdout  # exporting never loads the prior
    ply = tmp_path / "point_cloud.ply"
    assert ply.exists() and ply.stat().st_size > 0


def test_preprocessing_used_the_given_depth_model_and_wrote_only_its_cache(trained_run, tiny_depth_model) -> None:
    _, photo_folder = trained_run
    assert sorted(p.name for p in photo_folder.iterdir()) == [".neurallift_cache", "coffee.png"]
    (info,) = photo_folder.glob(".neurallift_cache/*/preprocess.json")
    assert json.loads(info.read_text())["depth_source"] == str(tiny_depth_model)


def test_missing_photo_is_one_message_not_a_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here.png"
    result = run_command(
        ["ns-train", "neurallift", "--data", str(missing), "--output-dir", str(tmp_path), "--vis", "tensorboard"]
    )
    assert result.returncode != 0
    assert f"{missing} does not exist" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
