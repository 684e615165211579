"""``ns-train lolnerf`` on a synthetic transforms.json of several instances, then loaded back as ns-* tools do."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lift_common.cameras import focal_length_from_fov, orbit_camera_to_world
from lolnerf_ns.data.image_store import ImageStore
from tests.commands import check, run_command

pytestmark = pytest.mark.slow

SMALL_MODEL = ["--pipeline.model.num-layers", "3", "--pipeline.model.skip-layer", "1"]
SMALL_MODEL += ["--pipeline.model.layer-width", "32", "--pipeline.model.num-coarse-samples", "16"]
SMALL_MODEL += ["--pipeline.model.num-importance-samples", "16"]
"""Model options that keep these mechanics tests quick on a CPU (the default MLP takes ~28 s a step there)."""


def write_instances(folder: Path, size: int = 24) -> Path:
    """Four frames of three instances (flat-coloured images; frames 0 and 1 share instance ``a``) with known cameras."""
    from PIL import Image

    (folder / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    frames = []
    for index, (instance, azimuth) in enumerate([("a", 0.0), ("a", 90.0), ("b", 30.0), ("c", -40.0)]):
        name = f"images/frame_{index}.png"
        colour = rng.integers(0, 256, 3, dtype=np.uint8)
        Image.fromarray(np.broadcast_to(colour, (size, size, 3)).copy()).save(folder / name)
        c2w = orbit_camera_to_world(torch.tensor(azimuth), torch.tensor(10.0), torch.tensor(3.0))
        transform = torch.cat([c2w, torch.tensor([[0.0, 0.0, 0.0, 1.0]])]).tolist()
        frames.append({"file_path": name, "transform_matrix": transform, "instance_id": instance})
    focal = focal_length_from_fov(40.0, size)
    meta = {"fl_x": focal, "fl_y": focal, "cx": size / 2, "cy": size / 2, "w": size, "h": size, "frames": frames}
    (folder / "transforms.json").write_text(json.dumps(meta))
    return folder


def test_train_then_load_the_way_ns_export_does(tmp_path: Path) -> None:
    data = write_instances(tmp_path / "data")
    outputs = tmp_path / "outputs"
    train = ["ns-train", "lolnerf", "--data", str(data), "--output-dir", str(outputs), "--vis", "tensorboard"]
    check(
        run_command([*train, *SMALL_MODEL, "--max-num-iterations", "2", "--steps-per-save", "1", "--machine.seed", "0"])
    )
    (config,) = outputs.glob("*/lolnerf/*/config.yml")

    code = (
        "import sys\n"
        "from nerfstudio.utils.eval_utils import eval_setup\n"
        f"_, pipeline, _, step = eval_setup(__import__('pathlib').Path({str(config)!r}), test_mode='inference')\n"
        "print(step, tuple(pipeline.model.latent_table.weight.shape))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert loaded.stdout.strip().splitlines()[-1] == "1 (3, 64)"  # three instances, default latent size

    check(run_command(["ns-eval", "--load-config", str(config), "--output-path", str(tmp_path / "eval.json")]))
    results = json.loads((tmp_path / "eval.json").read_text())["results"]
    assert results["psnr"] > 0


def test_train_on_a_folder_of_face_photos(tmp_path: Path) -> None:
    from PIL import Image
    from skimage import data

    folder = tmp_path / "faces"
    folder.mkdir()
    Image.fromarray(data.astronaut()).save(folder / "astronaut.png")
    Image.fromarray(data.astronaut()[:, ::-1].copy()).save(folder / "astronaut_mirrored.png")
    outputs = tmp_path / "outputs"
    train = ["ns-train", "lolnerf", "--data", str(folder), "--output-dir", str(outputs), "--vis", "tensorboard"]
    small = ["--pipeline.datamanager.images-per-batch", "2", "--pipeline.datamanager.pixels-per-image", "32"]
    small += ["--pipeline.datamanager.dataparser.collection.max-image-side", "64"]
    check(run_command([*train, *small, *SMALL_MODEL, "--max-num-iterations", "2", "--steps-per-save", "1"]))
    assert len(list(outputs.glob("*/lolnerf/*/nerfstudio_models/step-*.ckpt"))) == 1
    (cameras,) = folder.glob(".lolnerf_cache/*/cameras.json")
    record = json.loads(cameras.read_text())
    assert [frame["file"] for frame in record["frames"]] == ["astronaut.png", "astronaut_mirrored.png"]
    assert record["mask_source"] == "mediapipe" and ImageStore(cameras.parent).has_masks

    # Lifting new photos: a face is placed by its landmarks against the run's canonical keypoints; a cat is refused.
    (config,) = outputs.glob("*/lolnerf/*/config.yml")
    Image.fromarray(data.astronaut()[20:480, 10:470]).save(tmp_path / "new_face.png")
    lift = ["ns-lolnerf-lift", "--load-config", str(config), "--steps", "2", "--rays-per-step", "64"]
    lifted = check(run_command([*lift, "--image", str(tmp_path / "new_face.png")]))
    assert "Camera of new_face.png: from MediaPipe Face Mesh landmarks" in " ".join(lifted.stdout.split())
    record = json.loads(next(outputs.glob("*/lolnerf/*_lifted_new_face/lift.json")).read_text())
    assert record["landmark_residual_px"] < 0.03 * 64
    Image.fromarray(data.chelsea()).save(tmp_path / "cat.png")
    refused = run_command([*lift, "--image", str(tmp_path / "cat.png")])
    assert refused.returncode == 1 and "No face found in" in refused.stderr
    assert "Traceback" not in refused.stdout + refused.stderr
