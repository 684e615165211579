"""The proof: trained on one view of each instance of a synthetic class, lolnerf renders other views of those
instances, lifts an unseen instance from one view, and nerfstudio's tools render and export its identities.

Trained through nerfstudio's own training entry point (what ``ns-train`` runs after parsing its command line), then
every tool runs as a user runs it: ``ns-eval``, ``ns-lolnerf-lift``, ``ns-lolnerf-identities``, ``ns-render``,
``ns-export``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lift_common.metrics import psnr
from lift_testing.lolnerf_configs import ONE_THREAD, SYNTHETIC_CLASS_STEPS, one_thread, tiny_lolnerf_config
from lift_testing.synthetic_class import Instance, camera, render, write_synthetic_class
from tests.commands import check, run_command

pytestmark = pytest.mark.slow

NOVEL_VIEW_PSNR_FLOOR = 23.0
"""Mean PSNR of the held-out views of training instances (32x32, seed 0, 600 steps). Measured on the 2-core CPU
machine: 25.3 dB (SSIM 0.82); showing each instance's training photo instead (right background and colours, wrong
view) scores 21.9 dB. The order in which identities and pixels are drawn moves it by about a dB: seeds 0-4 gave
25.3, 25.0, 25.5, 24.9, 24.4 dB with nerfstudio's image cache and 23.8, 23.6, 24.8, 24.4, 25.3 dB with the image
store's sampler (whose batches are bit-identical to the cache's when it draws the same random numbers)."""
MARGIN_OVER_COPYING_DB = 1.0
"""How much better than showing the training photo the held-out views must be: below the spread over seeds above."""
LIFT_PSNR_FLOOR = 21.0
"""Mean PSNR of an unseen instance's other views after lifting it from one view (200 steps, networks frozen)."""
MESH_TOLERANCE = 0.1
"""World units within which an exported mesh should match the true surface: 1.7 pixels of the 32-pixel training
photos at the object (camera 3 units away, 35-degree field of view). Measured on i000's Poisson mesh: every seen
side's extent within 0.04 of the truth; meshes of the class's mean code or of only the front half miss one by 0.2."""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from nerfstudio.scripts.train import main as ns_train_main

    folder = tmp_path_factory.mktemp("synthetic_class")
    data = write_synthetic_class(folder / "data", num_instances=24, num_unseen=1, size=32)
    config = tiny_lolnerf_config(data.folder, folder / "outputs", SYNTHETIC_CLASS_STEPS)
    with one_thread():
        ns_train_main(config)
    (config_path,) = (folder / "outputs").glob("*/lolnerf/*/config.yml")
    return data, config_path


@pytest.fixture(scope="module")
def lifted(trained):
    data, config_path = trained
    photo = data.unseen_folder / "images" / "i024_train.png"
    lift = ["ns-lolnerf-lift", "--load-config", str(config_path), "--image", str(photo)]
    lift += ["--camera", str(data.unseen_folder / "transforms.json"), "--steps", "200", "--latent-lr", "0.05"]
    lift += ["--rays-per-step", "512", "--frames", "4"]
    result = check(run_command(lift, **ONE_THREAD))
    (lifted_config,) = config_path.parent.parent.glob("*_lifted_i024_train/config.yml")
    return lifted_config, result


def test_novel_views_of_training_instances(trained, tmp_path: Path) -> None:
    data, config_path = trained
    output = tmp_path / "eval.json"
    check(run_command(["ns-eval", "--load-config", str(config_path), "--output-path", str(output)], **ONE_THREAD))
    results = json.loads(output.read_text())["results"]
    meta = json.loads((data.folder / "transforms.json").read_text())

    def image(name: str) -> torch.Tensor:
        return torch.from_numpy(np.asarray(Image.open(data.folder / name), dtype=np.float32) / 255.0)

    copied = [float(psnr(image(name.split("_view")[0] + "_train.png"), image(name))) for name in meta["test_filenames"]]
    print(f"held-out views: PSNR {results['psnr']:.2f} dB, SSIM {results['ssim']:.3f}; copied {np.mean(copied):.2f}")
    assert results["psnr"] >= NOVEL_VIEW_PSNR_FLOOR
    assert results["psnr"] >= np.mean(copied) + MARGIN_OVER_COPYING_DB


def test_lifting_an_unseen_instance_reaches_its_other_views(lifted, trained) -> None:
    from nerfstudio.utils.eval_utils import eval_setup

    from lolnerf_ns.lift import render_with_code

    data, _ = trained
    lifted_config, result = lifted
    assert "Lifted i024_train.png as identity 'i024_train'" in " ".join(result.stdout.split())
    record = json.loads((lifted_config.parent / "lift.json").read_text())
    _, pipeline, _, _ = eval_setup(lifted_config, test_mode="inference")
    model = pipeline.model
    assert model.identity_names[-1] == "i024_train"
    frames = json.loads((data.unseen_folder / "transforms.json").read_text())["frames"]
    scores, baseline = [], []
    for frame in frames[1:]:  # the views the lift never saw
        view = camera(frame["azimuth_deg"], frame["elevation_deg"], 32)
        truth, _ = render(data.unseen_instances[0], view)
        with torch.no_grad():
            # The lifted identity is the one rendered by default.
            scores.append(float(psnr(model.get_outputs_for_camera(view)["rgb"], truth)))
        baseline.append(float(psnr(render_with_code(model, view, model.identity_code("mean"))["rgb"], truth)))
    print(f"lift: photo {record['psnr']:.2f} dB, other views {scores}, mean code {baseline}")
    assert np.mean(scores) >= LIFT_PSNR_FLOOR
    assert np.mean(scores) >= np.mean(baseline) + 3.0


def test_ns_export_exports_the_lifted_instance(lifted, tmp_path: Path) -> None:
    lifted_config, _ = lifted
    export = ["ns-export", "pointcloud", "--load-config", str(lifted_config), "--output-dir", str(tmp_path)]
    export += ["--num-points", "2000", "--num-rays-per-batch", "4096", "--remove-outliers", "False"]
    check(run_command(export, **ONE_THREAD))
    header = (tmp_path / "point_cloud.ply").read_bytes()[:400].decode("ascii", errors="ignore")
    count = int(header.split("element vertex ")[1].split()[0])
    assert count > 500  # the rays that hit the lifted instance, from the training cameras


def test_ns_render_camera_path_interpolates_identities(trained, tmp_path: Path) -> None:
    from nerfstudio.utils.eval_utils import eval_setup

    from lolnerf_ns.lift import render_with_code

    _, config_path = trained
    out = tmp_path / "path"
    choose = ["ns-lolnerf-identities", "--load-config", str(config_path), "--identities", "i000", "i005"]
    check(run_command([*choose, "--frames", "6", "--output-dir", str(out)], **ONE_THREAD))
    video = tmp_path / "interpolation.mp4"
    render_command = ["ns-render", "camera-path", "--load-config", str(out / "config.yml")]
    render_command += ["--camera-path-filename", str(out / "camera_path.json"), "--output-path", str(video)]
    check(run_command(render_command, **ONE_THREAD))
    (tmp_path / "frames").mkdir()
    subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(video), str(tmp_path / "frames/%03d.png")], check=True)
    frames = [
        torch.from_numpy(np.asarray(Image.open(path), dtype=np.float32) / 255.0)
        for path in sorted((tmp_path / "frames").glob("*.png"))
    ]
    assert len(frames) == 6
    _, pipeline, _, _ = eval_setup(out / "config.yml", test_mode="inference")
    model = pipeline.model
    path = json.loads((out / "camera_path.json").read_text())
    first = camera(0.0, 0.0, 32)
    first.camera_to_worlds = torch.tensor(path["camera_path"][0]["camera_to_world"]).reshape(4, 4)[None, :3]
    start, end = (render_with_code(model, first, model.identity_code(i))["rgb"].cpu() for i in ("i000", "i005"))
    print(f"frame 0 vs i000 {psnr(frames[0], start):.1f} dB, vs i005 {psnr(frames[0], end):.1f} dB")
    assert psnr(frames[0], start) > psnr(frames[0], end) + 5.0  # the video starts at i000 ...
    assert psnr(frames[-1], end) > psnr(frames[-1], start) + 5.0  # ... and ends at i005
    steps = [float((frames[i + 1] - frames[i]).abs().mean()) for i in range(5)]
    assert min(steps) > 0.005  # every frame moves on


@pytest.fixture(scope="module")
def one_identity(trained, tmp_path_factory) -> Path:
    """A config of the trained run that shows training identity i000 to every tool."""
    _, config_path = trained
    out = tmp_path_factory.mktemp("one_identity")
    choose = ["ns-lolnerf-identities", "--load-config", str(config_path), "--identities", "i000"]
    check(run_command([*choose, "--frames", "2", "--output-dir", str(out)], **ONE_THREAD))
    return out / "config.yml"


def _octants(points: np.ndarray) -> int:
    return len({tuple(point) for point in (points > 0)})


def test_exporters_draw_the_same_rays_every_run(one_identity) -> None:
    """nerfstudio's exporters draw their rays from ``next_train``, and outside training nothing seeds the random
    generators: the datamanager seeds its own, so an export of a run comes out the same every time."""
    from nerfstudio.utils.eval_utils import eval_setup

    rays = []
    for _ in range(2):  # the second setup starts from other states of Python's and torch's global generators
        _, pipeline, _, _ = eval_setup(one_identity)
        rays.append(pipeline.datamanager.next_train(0)[0])
    torch.testing.assert_close(rays[0].camera_indices, rays[1].camera_indices, rtol=0, atol=0)
    torch.testing.assert_close(rays[0].directions, rays[1].directions, rtol=0, atol=0)


def test_ns_export_rays_end_on_the_objects(trained) -> None:
    """``ns-export pointcloud`` and ``poisson`` keep a ray's point only where the render is opaque, and draw batches
    until they hold a million: nearly every ray the datamanager gives them ends on an object (measured 0.999; random
    pixels of the training images, as before: 0.38)."""
    from lift_testing.export_rays import opaque_fraction_of_export_rays

    _, config_path = trained
    assert opaque_fraction_of_export_rays(config_path) > 0.9


def _surface_points(instance: Instance, num: int = 20000) -> tuple[np.ndarray, np.ndarray]:
    """Points on the instance's surface and their unit normals: its head ellipsoid and its nose sphere, as
    :func:`lift_testing.synthetic_class.trace` draws them, each without the part inside the other."""
    step = np.arange(num) + 0.5  # a Fibonacci lattice: near-uniform directions
    polar, azimuth = np.arccos(1.0 - 2.0 * step / num), np.pi * (1.0 + 5.0**0.5) * step
    unit = np.stack([np.cos(azimuth) * np.sin(polar), np.sin(azimuth) * np.sin(polar), np.cos(polar)], axis=-1)
    radii = np.array(instance.radii)
    nose_centre, nose_radius = np.array([0.0, -0.85 * radii[1], -0.05]), 0.2
    head, nose = unit * radii, nose_centre + nose_radius * unit
    head_normals = unit / radii
    head_normals /= np.linalg.norm(head_normals, axis=-1, keepdims=True)
    outside_nose = np.linalg.norm(head - nose_centre, axis=-1) > nose_radius
    outside_head = np.linalg.norm(nose / radii, axis=-1) > 1.0
    return (
        np.concatenate([head[outside_nose], nose[outside_head]]),
        np.concatenate([head_normals[outside_nose], unit[outside_head]]),
    )


def test_poisson_mesh_of_one_identity(trained, one_identity, tmp_path: Path) -> None:
    import open3d as o3d
    from scipy.spatial import cKDTree

    data, _ = trained
    export = ["ns-export", "poisson", "--load-config", str(one_identity), "--output-dir", str(tmp_path)]
    export += ["--num-points", "3000", "--num-rays-per-batch", "2048", "--texture-method", "point_cloud"]
    check(run_command(export, **ONE_THREAD))
    mesh = o3d.io.read_triangle_mesh(str(tmp_path / "poisson_mesh.ply"))
    vertices = np.asarray(mesh.vertices)
    assert len(vertices) > 200 and mesh.has_vertex_colors()
    assert np.abs(vertices).max() < 1.5 and np.linalg.norm(vertices.mean(axis=0)) < 0.5
    # Exporters see the object through the training cameras, which for this class (as for faces) look at its front
    # half (azimuth -50..50 degrees, elevation -5..25): the mesh is the surface they saw, not the back.
    surface, normals = _surface_points(data.instances[0])
    frames = json.loads((data.folder / "transforms.json").read_text())["frames"]
    cameras = np.array([frame["transform_matrix"] for frame in frames if "_train" in frame["file_path"]])[:, :3, 3]
    towards_cameras = cameras[:, None] - surface[None]
    towards_cameras /= np.linalg.norm(towards_cameras, axis=-1, keepdims=True)
    seen = surface[(np.einsum("csk,sk->cs", towards_cameras, normals) > 0.5).any(axis=0)]  # within 60 degrees
    # Each seen side reaches as far as the true surface: left, right, bottom, top, front (the nose).
    sides = np.array([[-1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
    extent_errors = (vertices @ sides.T).max(axis=0) - (surface @ sides.T).max(axis=0)
    covered = np.mean(cKDTree(vertices).query(seen)[0] < MESH_TOLERANCE)
    on_surface = np.mean(cKDTree(surface).query(vertices)[0] < MESH_TOLERANCE)
    print(f"poisson: side extents off by {extent_errors.round(3)}, seen surface covered {covered:.3f}, ", end="")
    print(f"vertices on the surface {on_surface:.3f}")
    assert np.abs(extent_errors).max() < MESH_TOLERANCE
    assert covered > 0.8  # measured 0.87 (and 0.868 before exporters' rays were jittered); a mesh of the front
    # half, or of the left half only, covers 0.64-0.70
    assert on_surface > 0.8  # measured 0.98; the mesh of another instance (i013), 0.59


def test_marching_cubes_isosurface_of_the_displayed_identity(one_identity) -> None:
    """What ``ns-export marching-cubes`` meshes (its own runner needs CUDA): identity i000's density isosurface."""
    from nerfstudio.utils.eval_utils import eval_setup
    from skimage import measure

    _, pipeline, _, _ = eval_setup(one_identity, test_mode="inference")
    side = 40
    axis = torch.linspace(-1.0, 1.0, side)
    grid = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1).reshape(-1, 3)
    with torch.no_grad():
        values = pipeline.model.field.forward_geonetwork(grid)[:, 0].reshape(side, side, side).numpy()
        other = pipeline.model.field(grid, pipeline.model.identity_code("i005").expand(len(grid), -1))[0]
    assert values.min() < 0.0 < values.max()
    vertices, _, _, _ = measure.marching_cubes(values, level=0.0, spacing=(2.0 / (side - 1),) * 3)
    assert len(vertices) > 100 and _octants(vertices - 1.0) == 8
    # The surface is the displayed identity's, not another's.
    assert not np.allclose(values, pipeline.model.config.surface_density - other.reshape(side, side, side).numpy())


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU ns-export marching-cubes runs")
def test_marching_cubes_without_a_gpu_is_one_message(one_identity, tmp_path: Path) -> None:
    export = ["ns-export", "marching-cubes", "--load-config", str(one_identity), "--output-dir", str(tmp_path)]
    result = run_command(export, **ONE_THREAD)
    assert result.returncode == 1 and "needs a CUDA GPU" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_tsdf_fuses_one_identity_seen_by_every_training_camera(one_identity, tmp_path: Path) -> None:
    export = ["ns-export", "tsdf", "--load-config", str(one_identity), "--output-dir", str(tmp_path)]
    export += ["--resolution", "48", "--downscale-factor", "1", "--texture-method", "tsdf"]
    check(run_command(export, **ONE_THREAD))
    header = (tmp_path / "tsdf_mesh.ply").read_bytes()[:400].decode("ascii", errors="ignore")
    assert int(header.split("element vertex ")[1].split()[0]) > 100


def _seen_surface(instance: Instance, camera_positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points (and normals) of the instance's surface that some training camera sees within 60 degrees."""
    surface, normals = _surface_points(instance)
    towards_cameras = camera_positions[:, None] - surface[None]
    towards_cameras /= np.linalg.norm(towards_cameras, axis=-1, keepdims=True)
    seen = (np.einsum("csk,sk->cs", towards_cameras, normals) > 0.5).any(axis=0)
    return surface[seen], normals[seen]


def test_the_occupancy_grid_holds_every_training_instance_and_skipping_keeps_the_renders(trained) -> None:
    """The grid the trained run loads with leaves most of the box out, yet holds the seen surface of every training
    instance with room to spare, and renders of the held-out views skip half the network evaluations and come out
    nearly the same."""
    from nerfstudio.utils.eval_utils import eval_setup

    data, config_path = trained
    _, pipeline, _, _ = eval_setup(config_path, test_mode="test")
    model = pipeline.model
    grid = model.occupancy_grid
    (checkpoint,) = config_path.parent.glob("nerfstudio_models/*.ckpt")
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)["pipeline"]
    assert torch.equal(grid.occupied.cpu(), saved["_model.occupancy_grid.occupied"])  # loading keeps it
    assert grid.occupied_fraction < 0.6  # measured 0.46
    frames = json.loads((data.folder / "transforms.json").read_text())["frames"]
    cameras = np.array([frame["transform_matrix"] for frame in frames if "_train" in frame["file_path"]])[:, :3, 3]
    half_cell = 1.0 / grid.resolution
    for instance in data.instances:
        surface, normals = _seen_surface(instance, cameras)
        assert grid.is_occupied(torch.from_numpy(surface).float()).all()
        outside = torch.from_numpy(surface + half_cell * normals).float()
        assert grid.is_occupied(outside).float().mean() > 0.98  # measured 1.00 (0.997 a whole cell out)

    evaluations = []
    model.field.trunk.layers[0].register_forward_hook(lambda _m, _i, output: evaluations.append(output[..., 0].numel()))
    cameras = pipeline.datamanager.eval_dataset.cameras

    def render_heldout_views(skip: bool) -> tuple[list[torch.Tensor], int]:
        model.config.skip_empty_space = skip
        evaluations.clear()
        with torch.no_grad(), model.own_identities():
            images = [
                model.get_outputs_for_camera_ray_bundle(cameras.generate_rays(index, keep_shape=True))["rgb"]
                for index in range(len(cameras))
            ]
        return images, sum(evaluations)

    (skipped, skipped_evaluations), (full, full_evaluations) = render_heldout_views(True), render_heldout_views(False)
    difference = max(float((a - b).abs().max()) for a, b in zip(skipped, full, strict=True))
    agreement = psnr(torch.cat(skipped), torch.cat(full))
    print(
        f"grid: {grid.occupied_fraction:.2f} occupied; skipping evaluates {skipped_evaluations} of {full_evaluations}",
        end="",
    )
    print(f" samples; renders agree to {agreement:.1f} dB, differ by at most {difference:.4f}")
    assert full_evaluations > 1.6 * skipped_evaluations  # measured 2.0
    # Importance samples follow the coarse weights, which skipping changes slightly: measured on two runs 80 and
    # 126 dB, at most 0.015 and 0.002 (without the grid's margin: 69 dB, 0.22).
    assert agreement > 50.0 and difference < 0.05


MESH_CHAMFER_CEILING = 0.055
"""Chamfer distance of ns-lift-export-mesh's default mesh of identity 0 to its true surface, all around (the back,
which no training camera sees, included). Measured 0.038 (a mesh of identity 13 instead: 0.16)."""
MESH_PSNR_FLOOR = 21.0
"""PSNR of the textured mesh's renders from 8 views all around against the field's own foreground renders (on
white) of the same identity. Measured 23.6 dB (26.0 over the views the training cameras cover; a mesh of identity
13 instead: 10.4)."""


def test_exported_mesh_of_one_identity(trained, tmp_path: Path) -> None:
    """ns-lift-export-mesh --identity 0, run as a user runs it: the mesh lies on the identity's true surface and,
    textured, looks like the field's renders of that identity."""
    from nerfstudio.cameras.cameras import Cameras
    from nerfstudio.utils.eval_utils import eval_setup
    from scipy.spatial import cKDTree

    from lift_common.mesh_render import read_textured_mesh
    from lift_testing.mesh_quality import chamfer_distance, mean_psnr

    data, config_path = trained
    export = ["ns-lift-export-mesh", "--load-config", str(config_path), "--identity", "0"]
    check(run_command([*export, "--output-dir", str(tmp_path)], **ONE_THREAD))
    mesh = read_textured_mesh(tmp_path / "mesh.glb")
    surface, _ = _surface_points(data.instances[0])
    chamfer = chamfer_distance(mesh, surface, lambda points: cKDTree(surface).query(points)[0])

    _, pipeline, _, _ = eval_setup(config_path, test_mode="inference")
    model = pipeline.model
    views = [camera(azimuth, 10.0, 64) for azimuth in range(0, 360, 45)]
    cameras = Cameras(
        camera_to_worlds=torch.cat([view.camera_to_worlds for view in views]),
        fx=views[0].fx.expand(len(views), 1),
        fy=views[0].fy.expand(len(views), 1),
        cx=32.0,
        cy=32.0,
        width=64,
        height=64,
    )
    with torch.no_grad():
        field = [model.get_outputs_for_camera(view)["rgb_foreground"].cpu() for view in views]  # identity 0 shown
    vs_field = mean_psnr(mesh, cameras, field)
    print(f"mesh of identity 0: {len(mesh.faces)} faces, Chamfer {chamfer:.4f}, PSNR vs field {vs_field:.2f}")
    assert chamfer < MESH_CHAMFER_CEILING
    assert vs_field >= MESH_PSNR_FLOOR
