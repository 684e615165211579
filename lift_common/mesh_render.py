"""Renders of a textured mesh along nerfstudio's rays, by ray casting on the CPU: the mesh seen exactly as a model's
``get_outputs_for_camera`` sees its field, so the two can be compared pixel for pixel (tests, docs, benchmarks).

Colours are the texture's (bilinear), unlit, as the albedo was baked; rays that miss the mesh are white, the
background our models' renders outside training are composited on.
"""

from __future__ import annotations

import numpy as np
import torch
from jaxtyping import Float
from nerfstudio.cameras.cameras import Cameras
from torch import Tensor

from lift_common.texture_baking import TexturedMesh


def sample_texture(texture: np.ndarray, uvs: Float[np.ndarray, "num 2"]) -> Float[np.ndarray, "num 3"]:
    """Bilinear texels at UV coordinates ((0, 0) at the texture's lower left), in [0, 1]."""
    height, width = texture.shape[:2]
    x = np.clip(uvs[:, 0] * width - 0.5, 0, width - 1)
    y = np.clip((1.0 - uvs[:, 1]) * height - 0.5, 0, height - 1)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    image = texture[..., :3].astype(np.float32) / 255.0
    top = image[y0, x0] * (1 - fx) + image[y0, x1] * fx
    bottom = image[y1, x0] * (1 - fx) + image[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def render_mesh(
    mesh: TexturedMesh, cameras: Cameras
) -> tuple[Float[Tensor, "views H W 3"], Float[Tensor, "views H W 1"]]:
    """Colour (on white) and coverage of each camera's pixels, through the pixel centres as nerfstudio casts them."""
    import trimesh

    scene_mesh = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    intersector = scene_mesh.ray  # Embree (embreex, installed with nerfstudio) where available
    colours, masks = [], []
    for index in range(len(cameras)):
        rays = cameras.to("cpu").generate_rays(camera_indices=index, keep_shape=True)
        shape = rays.origins.shape[:-1]
        origins = rays.origins.reshape(-1, 3).numpy().astype(np.float64)
        directions = rays.directions.reshape(-1, 3).numpy().astype(np.float64)
        locations, ray_index, face_index = intersector.intersects_location(origins, directions, multiple_hits=False)
        colour = np.ones((len(origins), 3), dtype=np.float32)
        hit = np.zeros(len(origins), dtype=np.float32)
        if len(ray_index):
            corners = mesh.vertices[mesh.faces[face_index]].astype(np.float64)
            weights = trimesh.triangles.points_to_barycentric(corners, locations)
            uvs = np.einsum("nk,nkd->nd", weights, mesh.uvs[mesh.faces[face_index]])
            colour[ray_index] = sample_texture(mesh.texture, uvs)
            hit[ray_index] = 1.0
        colours.append(torch.from_numpy(colour).reshape(*shape, 3))
        masks.append(torch.from_numpy(hit).reshape(*shape, 1))
    return torch.stack(colours), torch.stack(masks)


def read_textured_mesh(path) -> TexturedMesh:
    """A GLB or OBJ written by :func:`lift_common.mesh_files.write_mesh_files`, read back with trimesh."""
    import trimesh

    loaded = trimesh.load(path, force="mesh")
    material = loaded.visual.material
    image = material.baseColorTexture if hasattr(material, "baseColorTexture") else material.image
    return TexturedMesh(
        vertices=np.asarray(loaded.vertices, dtype=np.float32),
        faces=np.asarray(loaded.faces, dtype=np.int64),
        uvs=np.asarray(loaded.visual.uv, dtype=np.float32),
        texture=np.asarray(image.convert("RGB")),
    )
