"""nerfstudio's own tools on a short neurallift run, run as a user runs them: exports all around the object, a 360°
orbit video, ns-eval with CLIP similarity, and resuming a stopped run."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.commands import check, run_command

pytestmark = pytest.mark.slow

STEPS = 6
TRAIN = [
    *("--max-num-iterations", str(STEPS), "--steps-per-save", "3", "--vis", "tensorboard", "--machine.seed", "0"),
    *("--pipeline.datamanager.train-num-rays-per-batch", "256", "--pipeline.datamanager.sampled-views-per-step", "1"),
    *("--pipeline.datamanager.reference-resolution", "16", "--pipeline.datamanager.sampled-resolution", "16"),
    *("--pipeline.datamanager.reference-only-steps", "2", "--pipeline.datamanager.reference-step-interval", "1000000"),
    *("--pipeline.datamanager.eval-orbit-resolution", "32", "--pipeline.datamanager.num-eval-orbit-views", "4"),
    *("--pipeline.datamanager.dataparser.preprocess.image-size", "32"),
    *("--pipeline.datamanager.dataparser.preprocess.mask-method", "grabcut"),
    *("--pipeline.model.num-levels", "8", "--pipeline.model.max-res", "64", "--pipeline.model.log2-hashmap-size", "15"),
]


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_depth_model, tiny_stable_diffusion, tiny_open_clip) -> dict:
    """A short run with the tiny prior: its config, photo and command, stopped at step 3 and then finished."""
    from PIL import Image
    from skimage import data

    folder = tmp_path_factory.mktemp("neurallift-tools")
    photo = folder / "coffee.png"
    Image.fromarray(data.coffee()).save(photo)
    depth = ("--pipeline.datamanager.dataparser.preprocess.depth-model", str(tiny_depth_model))
    # The prior is a subcommand after every other option; its own options follow it.
    prior = ["stable-diffusion", "--prompt", "a coffee cup", "--diffusion.model", str(tiny_stable_diffusion)]
    prior += ["--diffusion-resolution", "16"]
    prior += ["--clip-model", str(tiny_open_clip)]
    command = ["ns-train", "neurallift", "--data", str(photo), "--output-dir", str(folder / "outputs"), *TRAIN, *depth]
    check(run_command([*command, "--timestamp", "run", *prior], HF_HUB_OFFLINE="1"))
    (config,) = (folder / "outputs").glob("*/neurallift/run/config.yml")
    return {"config": config, "folder": folder, "command": command, "prior": prior}


def _octants(points: np.ndarray) -> set[tuple[bool, bool, bool]]:
    return {tuple(point) for point in (points > 0)}


def test_point_cloud_surrounds_the_object(run, tmp_path: Path) -> None:
    import open3d as o3d

    command = ["ns-export", "pointcloud", "--load-config", str(run["config"]), "--output-dir", str(tmp_path)]
    command += ["--num-points", "2000", "--num-rays-per-batch", "512", "--normal-method", "model_output"]
    result = check(run_command(command))
    assert "Guidance prompt" not in result.stdout  # exporting never loads the prior
    points = np.asarray(o3d.io.read_point_cloud(str(tmp_path / "point_cloud.ply")).points)
    assert len(points) > 500
    assert np.abs(points).max() <= 1.0 + 1e-3  # inside the scene box
    assert np.linalg.norm(points.mean(axis=0)) < 0.3  # around the origin, not on the reference side only
    assert len(_octants(points)) == 8


def test_poisson_mesh_surrounds_the_object(run, tmp_path: Path) -> None:
    import open3d as o3d

    command = ["ns-export", "poisson", "--load-config", str(run["config"]), "--output-dir", str(tmp_path)]
    command += ["--num-points", "3000", "--num-rays-per-batch", "512", "--texture-method", "point_cloud"]
    check(run_command(command))
    mesh = o3d.io.read_triangle_mesh(str(tmp_path / "poisson_mesh.ply"))
    vertices = np.asarray(mesh.vertices)
    assert len(vertices) > 200 and len(mesh.triangles) > 200
    assert np.linalg.norm(vertices.mean(axis=0)) < 0.3
    assert len(_octants(vertices)) == 8
    assert mesh.has_vertex_colors()


def test_marching_cubes_isosurface_of_the_density(run) -> None:
    """What ``ns-export marching-cubes`` extracts (its own runner needs CUDA): the density isosurface, all around."""
    from nerfstudio.utils.eval_utils import eval_setup
    from skimage import measure

    _, pipeline, _, _ = eval_setup(run["config"])
    side = 48
    axis = torch.linspace(-1.0, 1.0, side)
    grid = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1).reshape(-1, 3)
    with torch.no_grad():
        values = pipeline.model.field.forward_geonetwork(grid)[:, 0].reshape(side, side, side).numpy()
    assert values.min() < 0.0 < values.max()  # the surface lies inside the box
    vertices, faces, _, _ = measure.marching_cubes(values, level=0.0, spacing=(2.0 / (side - 1),) * 3)
    vertices -= 1.0
    assert len(vertices) > 100 and len(faces) > 100
    assert len(_octants(vertices)) == 8


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU ns-export marching-cubes runs")
def test_marching_cubes_without_a_gpu_is_one_message(run, tmp_path: Path) -> None:
    command = ["ns-export", "marching-cubes", "--load-config", str(run["config"]), "--output-dir", str(tmp_path)]
    result = run_command(command)
    assert result.returncode == 1
    assert "needs a CUDA GPU" in result.stderr + result.stdout and "Traceback" not in result.stderr


def test_tsdf_fuses_what_the_reference_camera_sees(run, tmp_path: Path) -> None:
    command = ["ns-export", "tsdf", "--load-config", str(run["config"]), "--output-dir", str(tmp_path)]
    command += ["--resolution", "64", "--downscale-factor", "1", "--texture-method", "tsdf"]
    check(run_command(command))
    assert (tmp_path / "tsdf_mesh.ply").stat().st_size > 0


def test_orbit_video_with_ns_render(run, tmp_path: Path) -> None:
    orbit = tmp_path / "orbit.json"
    command = ["ns-lift-orbit-path", "--load-config", str(run["config"]), "--output-path", str(orbit)]
    result = check(run_command([*command, "--num-frames", "8", "--seconds", "1", "--resolution", "24"]))
    assert "ns-render camera-path" in result.stdout
    path = json.loads(orbit.read_text())
    positions = np.array([np.array(frame["camera_to_world"]).reshape(4, 4)[:3, 3] for frame in path["camera_path"]])
    assert np.allclose(np.linalg.norm(positions, axis=1), 3.0, atol=1e-4)  # the reference camera's radius
    assert len(_octants(positions)) == 4  # a full turn on the equator: all four sides

    video = tmp_path / "orbit.mp4"
    render = ["ns-render", "camera-path", "--load-config", str(run["config"]), "--camera-path-filename", str(orbit)]
    check(run_command([*render, "--output-path", str(video)]))
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
         "stream=nb_read_frames,width,height", "-of", "json", str(video)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    stream = json.loads(probe.stdout)["streams"][0]
    assert int(stream["nb_read_frames"]) == 8 and stream["width"] == 24


def test_ns_eval_scores_the_reference_view_and_novel_views(run, tmp_path: Path) -> None:
    output = tmp_path / "eval.json"
    check(run_command(["ns-eval", "--load-config", str(run["config"]), "--output-path", str(output)]))
    results = json.loads(output.read_text())
    assert results["method_name"] == "neurallift"
    metrics = results["results"]
    assert {"psnr", "ssim", "lpips", "clip_similarity"} <= set(metrics)
    assert np.isfinite(metrics["psnr"]) and -1.0 <= metrics["clip_similarity"] <= 1.0


def test_resuming_continues_at_the_next_step_with_the_same_schedules(run, tmp_path: Path) -> None:
    """A run stopped after step 2, resumed with --load-dir, ends at the step and learning rates an unbroken run ends."""
    import lift_common  # noqa: F401  (checkpoint allowlist)

    outputs = ("--output-dir", str(tmp_path / "outputs"))
    stopped = [*run["command"], *outputs, "--timestamp", "stopped", "--max-num-iterations", "3", *run["prior"]]
    check(run_command(stopped, HF_HUB_OFFLINE="1"))
    (stopped_models,) = (tmp_path / "outputs").glob("*/neurallift/stopped/nerfstudio_models")
    assert [path.name for path in stopped_models.iterdir()] == ["step-000000002.ckpt"]

    resume = [*run["command"], *outputs, "--timestamp", "resumed", "--load-dir", str(stopped_models), *run["prior"]]
    result = check(run_command(resume, HF_HUB_OFFLINE="1"))
    assert "Done loading Nerfstudio checkpoint" in " ".join(result.stdout.split())
    (resumed_models,) = (tmp_path / "outputs").glob("*/neurallift/resumed/nerfstudio_models")
    last = f"step-{STEPS - 1:09d}.ckpt"
    resumed = torch.load(resumed_models / last, map_location="cpu", weights_only=True)
    straight = torch.load(run["config"].parent / "nerfstudio_models" / last, map_location="cpu", weights_only=True)
    assert resumed["step"] == straight["step"] == STEPS - 1
    for group, scheduler in straight["schedulers"].items():
        assert resumed["schedulers"][group]["last_epoch"] == scheduler["last_epoch"]
        assert resumed["schedulers"][group]["_last_lr"] == pytest.approx(scheduler["_last_lr"])
