"""Make the README's pictures of what both methods produce, from the tests' synthetic proof runs.

Run from the repository root (about 20 minutes on a 2-core CPU)::

    python -m docs.make_pictures

Trains the neurallift proof's synthetic object (one reference photo; ground-truth guidance stands in for Stable
Diffusion, whose weights cannot be downloaded where these pictures were made), then writes

* ``docs/images/neurallift-turntable.png``: ground truth above, renders below, all around the object;
* ``docs/images/neurallift-mesh.png``: the Poisson mesh ``ns-export poisson`` makes of the run, from four sides;
* ``docs/images/neurallift-mesh-export.png``: the textured GLB ``ns-lift-export-mesh`` makes of the run (at its
  defaults), ray-cast from six sides beside the field's own renders;
* ``docs/images/viewer-neurallift.png``: ``ns-viewer`` on the run in headless Chromium, looking at the object's back;

then trains the LOLNeRF proof's synthetic class and writes

* ``docs/images/lolnerf-synthetic-class.png``: training photos, held-out views and their renders, and an identity
  interpolation.

``python -m docs.make_pictures neurallift`` (or ``lolnerf``) makes one method's pictures.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image

if TYPE_CHECKING:
    from lift_testing.synthetic_class import SyntheticClass

REPO_ROOT = Path(__file__).resolve().parents[1]
IMAGES = REPO_ROOT / "docs" / "images"
AZIMUTHS = (0.0, 60.0, 120.0, 180.0, 240.0, 300.0)


def turntable(config_path: Path, size: int = 96) -> Image.Image:
    from nerfstudio.utils.eval_utils import eval_setup

    from lift_testing.synthetic_object import render
    from neurallift_ns.data.orbit_views import orbit_cameras

    _, pipeline, _, _ = eval_setup(config_path, test_mode="test")
    count = len(AZIMUTHS)
    cameras = orbit_cameras(
        torch.tensor(AZIMUTHS), torch.full((count,), 15.0), torch.full((count,), 3.0), torch.full((count,), 40.0), size
    )
    truth, _, _ = render(cameras)
    with torch.no_grad():
        renders = [pipeline.model.get_outputs_for_camera(cameras[i : i + 1])["rgb"].cpu() for i in range(count)]
    rows = [torch.cat(list(truth), dim=1), torch.cat(renders, dim=1)]
    grid = (torch.cat(rows, dim=0).clamp(0, 1).numpy() * 255).astype(np.uint8)
    return Image.fromarray(grid)


def mesh_views(mesh_path: Path) -> Image.Image:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import open3d as o3d

    mesh = o3d.io.read_triangle_mesh(str(mesh_path))
    vertices, triangles = np.asarray(mesh.vertices), np.asarray(mesh.triangles)
    colours = np.asarray(mesh.vertex_colors)[triangles].mean(axis=1) if mesh.has_vertex_colors() else None
    figure = plt.figure(figsize=(12, 3.2), dpi=100)
    for index, azimuth in enumerate((0, 90, 180, 270)):
        axes = figure.add_subplot(1, 4, index + 1, projection="3d")
        surface = axes.plot_trisurf(*vertices.T, triangles=triangles, linewidth=0, antialiased=False, shade=False)
        if colours is not None:
            surface.set_facecolor(colours)
        axes.view_init(elev=15, azim=azimuth - 90)  # nerfstudio's azimuth 0 looks along +Y
        axes.set_box_aspect((1, 1, 1))
        axes.set_axis_off()
        axes.set_title(f"azimuth {azimuth}°", fontsize=9)
    figure.tight_layout()
    path = Path(tempfile.mkdtemp()) / "mesh.png"
    figure.savefig(path)
    return Image.open(path)


def textured_mesh_views(glb_path: Path, config_path: Path, size: int = 128) -> Image.Image:
    """The exported GLB as a consumer reads it, ray-cast from six sides (below), under the field's own renders."""
    from nerfstudio.utils.eval_utils import eval_setup

    from lift_common.mesh_render import read_textured_mesh, render_mesh
    from neurallift_ns.data.orbit_views import orbit_cameras

    count = len(AZIMUTHS)
    cameras = orbit_cameras(
        torch.tensor(AZIMUTHS), torch.full((count,), 15.0), torch.full((count,), 3.0), torch.full((count,), 35.0), size
    )
    _, pipeline, _, _ = eval_setup(config_path, test_mode="test")
    with torch.no_grad():
        field = [pipeline.model.get_outputs_for_camera(cameras[i : i + 1])["rgb"].cpu() for i in range(count)]
    mesh, _ = render_mesh(read_textured_mesh(glb_path), cameras)
    grid = torch.cat([torch.cat(field, dim=1), torch.cat(list(mesh), dim=1)], dim=0)
    return Image.fromarray((grid.clamp(0, 1).numpy() * 255).astype(np.uint8))


def viewer_screenshot(config_path: Path, path: Path, max_resolution: int = 256) -> None:
    """Open ``ns-viewer`` on the run in headless Chromium, turn the view to the back of the object, and save the page
    once the viewer has sent its full-resolution frame."""
    from tests.commands import background_command, free_port
    from tests.viewer_page import viewer_page

    work = Path(tempfile.mkdtemp(prefix="viewer-"))
    port = free_port()
    command = ["ns-viewer", "--load-config", str(config_path), "--viewer.websocket-port", str(port)]
    with background_command(command, work / "ns-viewer.log") as viewer_process:
        viewer_process.wait_until_serving(f"http://localhost:{port}")
        with viewer_page(f"http://localhost:{port}", work / "profile", {"width": 1100, "height": 620}) as viewer:
            viewer.set_max_resolution(max_resolution)
            viewer.hide_training_cameras()
            viewer.wait_for_first_frame(timeout=300)
            viewer.look_from(azimuth_deg=140.0, elevation_deg=20.0, distance=2.6)
            deadline = time.monotonic() + 300
            # The viewer sends small frames while the camera moves, then one at "Max res" (its longer side).
            while max(map(int, re.findall(r"\d+", viewer.resolution()) or [0])) < max_resolution - 2:
                assert time.monotonic() < deadline, f"no full-resolution frame: {viewer.resolution()}"
                time.sleep(1)
            time.sleep(2)  # the frame is on the page a moment after the panel says its size
            viewer.page.screenshot(path=path)


def lolnerf_synthetic_class(config_path: Path, data: SyntheticClass, size: int = 64, columns: int = 6) -> Image.Image:
    """Rows: each instance's training photo, a held-out view of it, lolnerf's render of that view; then the
    interpolation from the first instance's code to the last one's, seen from the front."""
    from nerfstudio.utils.eval_utils import eval_setup

    from lift_testing.synthetic_class import camera, render
    from lolnerf_ns.lift import render_with_code

    _, pipeline, _, _ = eval_setup(config_path, test_mode="inference")
    model = pipeline.model
    frames = json.loads((data.folder / "transforms.json").read_text())["frames"]
    rows: list[list[torch.Tensor]] = [[], [], [], []]
    for index in range(columns):
        train, heldout = (
            next(f for f in frames if f["file_path"] == f"images/i{index:03d}_{name}.png")
            for name in ("train", "view1")
        )
        rows[0].append(render(data.instances[index], camera(train["azimuth_deg"], train["elevation_deg"], size))[0])
        view = camera(heldout["azimuth_deg"], heldout["elevation_deg"], size)
        rows[1].append(render(data.instances[index], view)[0])
        rows[2].append(render_with_code(model, view, model.identity_code(f"i{index:03d}"))["rgb"].cpu())
    start, end = model.identity_code("i000"), model.identity_code(f"i{columns - 1:03d}")
    for weight in torch.linspace(0.0, 1.0, columns):
        code = torch.lerp(start, end, weight)
        rows[3].append(render_with_code(model, camera(0.0, 10.0, size), code)["rgb"].cpu())
    grid = torch.cat([torch.cat(row, dim=1) for row in rows], dim=0)
    return Image.fromarray((grid.clamp(0, 1).numpy() * 255).astype(np.uint8))


def lolnerf_pictures() -> None:
    from nerfstudio.scripts.train import main as ns_train_main

    from lift_testing.lolnerf_configs import SYNTHETIC_CLASS_STEPS, tiny_lolnerf_config
    from lift_testing.synthetic_class import write_synthetic_class

    work = Path(tempfile.mkdtemp(prefix="lolnerf-pictures-"))
    data = write_synthetic_class(work / "data", num_instances=24, num_unseen=1, size=32)
    ns_train_main(tiny_lolnerf_config(data.folder, work / "outputs", SYNTHETIC_CLASS_STEPS))
    (config_path,) = (work / "outputs").glob("*/lolnerf/*/config.yml")
    IMAGES.mkdir(parents=True, exist_ok=True)
    lolnerf_synthetic_class(config_path, data).save(IMAGES / "lolnerf-synthetic-class.png")


def neurallift_pictures() -> None:
    from nerfstudio.scripts.train import main as ns_train_main

    from lift_testing.neurallift_configs import GROUND_TRUTH_PROOF_STEPS, ground_truth_config
    from lift_testing.synthetic_object import write_reference_photo

    work = Path(tempfile.mkdtemp(prefix="neurallift-pictures-"))
    data = write_reference_photo(work / "photo", size=64)
    ns_train_main(ground_truth_config(data, work / "outputs", GROUND_TRUTH_PROOF_STEPS))
    (config_path,) = (work / "outputs").glob("*/neurallift/*/config.yml")
    IMAGES.mkdir(parents=True, exist_ok=True)
    turntable(config_path).save(IMAGES / "neurallift-turntable.png")

    exporter = Path(sys.executable).parent / "ns-export"
    command = [str(exporter), "poisson", "--load-config", str(config_path), "--output-dir", str(work / "mesh")]
    command += ["--num-points", "20000", "--texture-method", "point_cloud"]
    subprocess.run(command, check=True)
    mesh_views(work / "mesh" / "poisson_mesh.ply").save(IMAGES / "neurallift-mesh.png")
    export = [str(Path(sys.executable).parent / "ns-lift-export-mesh"), "--load-config", str(config_path)]
    subprocess.run([*export, "--output-dir", str(work / "textured")], check=True)
    textured_mesh_views(work / "textured" / "mesh.glb", config_path).save(IMAGES / "neurallift-mesh-export.png")
    viewer_screenshot(config_path, IMAGES / "viewer-neurallift.png")


def main() -> None:
    makers = {"neurallift": neurallift_pictures, "lolnerf": lolnerf_pictures}
    methods = sys.argv[1:] or list(makers)
    unknown = [method for method in methods if method not in makers]
    if unknown:
        sys.exit(f"No pictures for {', '.join(unknown)}: choose from {', '.join(makers)} (or give none for both).")
    for method in methods:
        makers[method]()
    print(f"Wrote the pictures of {' and '.join(methods)} in {IMAGES}")


if __name__ == "__main__":
    main()
