"""How well an exported mesh matches the object: Chamfer distance to the true surface, PSNR of its renders."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from nerfstudio.cameras.cameras import Cameras

from lift_common.mesh_render import render_mesh
from lift_common.metrics import psnr
from lift_common.texture_baking import TexturedMesh


def chamfer_distance(
    mesh: TexturedMesh,
    surface_points: np.ndarray,
    distance_to_surface: Callable[[np.ndarray], np.ndarray],
    num_samples: int = 20000,
) -> float:
    """Mean of the mesh's distance to the surface (at points spread over its area) and the surface's distance to
    the mesh (from ``surface_points``, to the nearest triangle)."""
    import trimesh

    shape = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    on_mesh, _ = trimesh.sample.sample_surface(shape, num_samples, seed=0)
    _, to_mesh, _ = trimesh.proximity.closest_point(shape, surface_points)
    return float((distance_to_surface(on_mesh).mean() + to_mesh.mean()) / 2)


def mean_psnr(mesh: TexturedMesh, cameras: Cameras, references: list[torch.Tensor]) -> float:
    """Mean PSNR of the mesh's renders (on white) against reference images ``[H, W, 3]`` of the same cameras."""
    renders, _ = render_mesh(mesh, cameras)
    return float(
        np.mean([float(psnr(render, reference.cpu())) for render, reference in zip(renders, references, strict=True)])
    )
