"""Benchmark: where the time of ``ns-export poisson``'s default texture (``--texture-method nerf``) goes on a CPU.

After its Poisson mesh, nerfstudio 1.1.5 decimates it to ``--target-num-faces`` (50,000), unwraps it with xatlas and
finds each texel's triangle of a ``--num-pixels-per-side`` (2048) atlas with a Python loop over the faces, ten at a
time, each pass over all 4.2 million texels (``unwrap_mesh_with_xatlas``); then it renders one short ray per texel
into the surface through the model. Only the second stage is ours. Both stages are linear in what the defaults set
(faces, texels), so this times nerfstudio's own functions on a smaller piece of the run's own Poisson mesh and a
sample of its texels, and projects both to the defaults.

Run on demand from the repository root, on a mesh that ``ns-export poisson`` wrote::

    python -m benchmarks.poisson_texture --config RUN/config.yml --mesh EXPORT/poisson_mesh.ply

Measured on the 2-core CPU machine (torch 2.14.1), on the proof runs (the tests' model sizes), 1,000 faces:

* synthetic object (neurallift): unwrap 112 s -> 94 min at 50,000 faces; 65,536 rays in 14.1 s -> 15.1 min for all
  4.2M texels. Seen directly in a full default export of the same run (``py-spy dump``): the face loop went 54
  passes a minute, so its 4,999 passes take about 93 minutes.
* synthetic class (lolnerf): unwrap 70 s -> 59 min; rays 3.5 s -> 3.8 min.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

DEFAULT_FACES = 50_000
"""``ns-export poisson --target-num-faces``'s default."""
DEFAULT_PIXELS_PER_SIDE = 2048
"""``ns-export poisson --num-pixels-per-side``'s default."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, required=True, help="config.yml of the trained run")
    parser.add_argument("--mesh", type=Path, required=True, help="poisson_mesh.ply that ns-export poisson wrote")
    parser.add_argument("--faces", type=int, default=1000, help="faces of the piece whose unwrap is timed")
    parser.add_argument("--rays", type=int, default=65_536, help="texels whose rays are rendered and timed")
    args = parser.parse_args()
    os.environ.setdefault("LIFT_CONFIG_PACKAGES", "tests")

    from nerfstudio.cameras.rays import RayBundle
    from nerfstudio.exporter.exporter_utils import get_mesh_from_filename
    from nerfstudio.exporter.texture_utils import unwrap_mesh_with_xatlas
    from nerfstudio.utils.eval_utils import eval_setup

    _, pipeline, _, _ = eval_setup(args.config, test_mode="inference")
    mesh = get_mesh_from_filename(str(args.mesh), target_num_faces=args.faces)
    num_faces = len(mesh.faces)
    start = time.perf_counter()
    _, origins, directions = unwrap_mesh_with_xatlas(
        mesh.vertices, mesh.faces, mesh.normals, num_pixels_per_side=DEFAULT_PIXELS_PER_SIDE
    )
    unwrap_seconds = time.perf_counter() - start

    # The rays export_textured_mesh renders: from one mean edge outside the surface, two mean edges long.
    edges = mesh.vertices[mesh.faces]
    offset = torch.linalg.norm(edges[:, 1] - edges[:, 0], dim=-1).mean().float()
    chosen = torch.randperm(origins.shape[0] * origins.shape[1], generator=torch.Generator().manual_seed(0))
    chosen = chosen[: args.rays]
    directions = directions.reshape(-1, 3)[chosen]
    origins = origins.reshape(-1, 3)[chosen] - offset * directions
    ones = torch.ones_like(origins[:, :1])
    rays = RayBundle(
        origins=origins,
        directions=directions,
        pixel_area=ones,
        camera_indices=torch.zeros_like(ones, dtype=torch.long),
        nears=torch.zeros_like(ones),
        fars=2.0 * offset * ones,
    )
    start = time.perf_counter()
    with torch.no_grad():
        pipeline.model.get_outputs_for_camera_ray_bundle(rays.reshape((1, args.rays)))
    render_seconds = time.perf_counter() - start

    texels = DEFAULT_PIXELS_PER_SIDE**2
    unwrap_minutes = unwrap_seconds * DEFAULT_FACES / num_faces / 60
    render_minutes = render_seconds * texels / args.rays / 60
    print(f"{args.config}")
    print(
        f"  nerfstudio's unwrap and texel search, {num_faces} faces at {DEFAULT_PIXELS_PER_SIDE}^2: "
        f"{unwrap_seconds:.1f} s -> {unwrap_minutes:.0f} min at {DEFAULT_FACES} faces"
    )
    print(
        f"  the model's render of {args.rays} texel rays: {render_seconds:.1f} s -> {render_minutes:.1f} min for "
        f"{texels} texels"
    )


if __name__ == "__main__":
    main()
