"""Make the README's pictures of what neurallift produces, from the synthetic-object proof run.

Run from the repository root (about 10 minutes on a 2-core CPU)::

    python -m docs.make_pictures

Trains the test suite's synthetic object (one reference photo; ground-truth guidance stands in for Stable Diffusion,
whose weights cannot be downloaded where these pictures were made), then writes

* ``docs/images/neurallift-turntable.png``: ground truth above, renders below, all around the object;
* ``docs/images/neurallift-mesh.png``: the Poisson mesh ``ns-export poisson`` makes of the run, from four sides.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

IMAGES = Path(__file__).parent / "images"
AZIMUTHS = (0.0, 60.0, 120.0, 180.0, 240.0, 300.0)


def turntable(config_path: Path, size: int = 96) -> Image.Image:
    from nerfstudio.utils.eval_utils import eval_setup

    from neurallift_ns.data.orbit_views import orbit_cameras
    from tests.neurallift.synthetic_object import render

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


def main() -> None:
    from nerfstudio.scripts.train import main as ns_train_main

    from tests.neurallift.synthetic_object import write_reference_photo
    from tests.neurallift.test_recovers_synthetic_object import STEPS, tiny_neurallift_config

    work = Path(tempfile.mkdtemp(prefix="neurallift-pictures-"))
    data = write_reference_photo(work / "photo", size=64)
    ns_train_main(tiny_neurallift_config(data, work / "outputs", STEPS))
    (config_path,) = (work / "outputs").glob("*/neurallift/*/config.yml")
    IMAGES.mkdir(parents=True, exist_ok=True)
    turntable(config_path).save(IMAGES / "neurallift-turntable.png")

    exporter = Path(sys.executable).parent / "ns-export"
    command = [str(exporter), "poisson", "--load-config", str(config_path), "--output-dir", str(work / "mesh")]
    command += ["--num-points", "20000", "--texture-method", "point_cloud"]
    subprocess.run(command, check=True)
    mesh_views(work / "mesh" / "poisson_mesh.ply").save(IMAGES / "neurallift-mesh.png")
    print(f"Wrote {IMAGES / 'neurallift-turntable.png'} and {IMAGES / 'neurallift-mesh.png'}")


if __name__ == "__main__":
    main()
