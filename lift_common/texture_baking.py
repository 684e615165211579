"""The field's albedo baked into a texture over a UV atlas of the mesh.

xatlas cuts the mesh into charts and packs them into the unit square. Each triangle is then rasterised in UV space:
every texel whose centre it covers gets the albedo at the 3D surface point of that centre (barycentric coordinates
carry it from UV to 3D). The field is asked at surface points only, never through volume rendering of views. Texels
outside every chart (the gutters) take the colour of the nearest covered texel, so bilinear filtering and mipmaps
at a chart's edge blend in the chart's own colour, not black: the seams do not show.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float, Int, UInt8

from lift_common.object_field import AlbedoFunction
from lift_common.surface_mesh import SurfaceMesh

ATLAS_PADDING = 4
"""Texels between charts in the atlas: room for the gutter colour, so mipmaps a few levels down keep each chart's own
colour at its edges."""
POINTS_PER_CHUNK = 1 << 16
"""Surface points per call of the albedo function."""


@dataclass
class TexturedMesh:
    """A mesh whose vertices carry UV coordinates into one texture (vertices are split along the atlas's seams)."""

    vertices: Float[np.ndarray, "num_vertices 3"]
    faces: Int[np.ndarray, "num_faces 3"]
    uvs: Float[np.ndarray, "num_vertices 2"]
    """Texture coordinates, (0, 0) at the texture's lower left corner (glTF's and OBJ's convention for v: up)."""
    texture: UInt8[np.ndarray, "size size 3"]
    """The albedo texture, first row at the top."""


def uv_atlas(mesh: SurfaceMesh, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(vertex_map, faces, uvs)``: xatlas's parametrisation, packed for a ``size``^2 texture. New vertex ``i``
    is old vertex ``vertex_map[i]``."""
    import xatlas

    atlas = xatlas.Atlas()
    atlas.add_mesh(mesh.vertices.astype(np.float32), mesh.faces.astype(np.uint32))
    pack = xatlas.PackOptions()
    pack.resolution = size
    pack.padding = ATLAS_PADDING
    pack.bilinear = True
    pack.bruteForce = False
    atlas.generate(pack_options=pack)
    vertex_map, faces, uvs = atlas[0]
    return vertex_map.astype(np.int64), faces.astype(np.int64), uvs.astype(np.float32)


def rasterise_uv(
    faces: Int[np.ndarray, "num_faces 3"], uvs: Float[np.ndarray, "num_vertices 2"], size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The texels whose centres the triangles cover in UV space: ``(rows, columns)`` of each, the face covering
    it, and its barycentric coordinates in that face. A texel covered by two faces (on a shared edge) is kept once."""
    # Texel (row, column) has its centre at u = (column + 0.5) / size, v = 1 - (row + 0.5) / size.
    pixels = np.stack([uvs[:, 0] * size - 0.5, (1.0 - uvs[:, 1]) * size - 0.5], axis=-1).astype(np.float64)
    corners = pixels[faces]  # [faces, 3, 2] as (x = column, y = row)
    lows = np.clip(np.ceil(corners.min(axis=1) - 1e-9), 0, size - 1).astype(np.int64)
    highs = np.clip(np.floor(corners.max(axis=1) + 1e-9), 0, size - 1).astype(np.int64)
    texel_rows, texel_columns, texel_faces, texel_weights = [], [], [], []
    for face in range(len(faces)):
        (x0, y0), (x1, y1) = lows[face], highs[face]
        if x1 < x0 or y1 < y0:
            continue
        xs, ys = np.meshgrid(np.arange(x0, x1 + 1), np.arange(y0, y1 + 1))
        xs, ys = xs.ravel(), ys.ravel()
        a, b, c = corners[face]
        denominator = (b[1] - c[1]) * (a[0] - c[0]) + (c[0] - b[0]) * (a[1] - c[1])
        if abs(denominator) < 1e-12:
            continue
        wa = ((b[1] - c[1]) * (xs - c[0]) + (c[0] - b[0]) * (ys - c[1])) / denominator
        wb = ((c[1] - a[1]) * (xs - c[0]) + (a[0] - c[0]) * (ys - c[1])) / denominator
        wc = 1.0 - wa - wb
        inside = (wa >= -1e-6) & (wb >= -1e-6) & (wc >= -1e-6)
        if inside.any():
            texel_rows.append(ys[inside])
            texel_columns.append(xs[inside])
            texel_faces.append(np.full(int(inside.sum()), face))
            texel_weights.append(np.stack([wa[inside], wb[inside], wc[inside]], axis=-1))
    if not texel_rows:
        empty = np.zeros(0, dtype=np.int64)
        return np.zeros((0, 2), dtype=np.int64), empty, np.zeros((0, 3))
    texels = np.stack([np.concatenate(texel_rows), np.concatenate(texel_columns)], axis=-1)
    _, first = np.unique(texels[:, 0] * size + texels[:, 1], return_index=True)
    return texels[first], np.concatenate(texel_faces)[first], np.concatenate(texel_weights)[first]


def fill_gutters(image: Float[np.ndarray, "H W C"], covered: np.ndarray) -> Float[np.ndarray, "H W C"]:
    """Every texel outside ``covered`` takes the value of the nearest covered texel."""
    from scipy import ndimage

    if covered.all() or not covered.any():
        return image
    _, (rows, columns) = ndimage.distance_transform_edt(~covered, return_indices=True)
    return image[rows, columns]


@torch.no_grad()
def bake_albedo(
    mesh: SurfaceMesh,
    albedo: AlbedoFunction,
    size: int,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> TexturedMesh:
    """A UV atlas of ``mesh`` and a ``size``^2 texture of ``albedo`` at its surface, gutters filled."""
    from lift_common.progress import stage_progress

    with stage_progress("UV atlas", total=1, enabled=progress) as advance:
        vertex_map, faces, uvs = uv_atlas(mesh, size)
        advance(1)
    vertices = mesh.vertices[vertex_map]
    with stage_progress("Rasterising the atlas", total=1, enabled=progress) as advance:
        texels, texel_faces, weights = rasterise_uv(faces, uvs, size)
        advance(1)
    points = np.einsum("nk,nkd->nd", weights, vertices[faces[texel_faces]]).astype(np.float32)
    colours = np.empty((len(points), 3), dtype=np.float32)
    with stage_progress("Baking albedo", total=len(points), enabled=progress) as advance:
        for start in range(0, len(points), POINTS_PER_CHUNK):
            chunk = torch.from_numpy(points[start : start + POINTS_PER_CHUNK]).to(device)
            colours[start : start + len(chunk)] = albedo(chunk).float().clamp(0.0, 1.0).cpu().numpy()
            advance(len(chunk))
    image = np.zeros((size, size, 3), dtype=np.float32)
    covered = np.zeros((size, size), dtype=bool)
    image[texels[:, 0], texels[:, 1]] = colours
    covered[texels[:, 0], texels[:, 1]] = True
    texture = (fill_gutters(image, covered) * 255.0).round().astype(np.uint8)
    return TexturedMesh(vertices=vertices, faces=faces, uvs=uvs, texture=texture)
