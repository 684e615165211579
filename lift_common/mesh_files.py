"""A textured mesh written as files others open: GLB (glTF 2.0, PBR base colour) and OBJ + MTL + PNG.

Each file is written aside and renamed into place (:func:`lift_common.atomic_files.write_atomically`), so a reader
never finds a half-written one.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from lift_common.atomic_files import write_atomically
from lift_common.texture_baking import TexturedMesh

MATERIAL_NAME = "albedo"


def glb_bytes(mesh: TexturedMesh) -> bytes:
    """The mesh as a binary glTF: the texture is the material's baseColorTexture, unlit-looking (no metal, rough)."""
    import trimesh
    from PIL import Image

    material = trimesh.visual.material.PBRMaterial(
        name=MATERIAL_NAME,
        baseColorTexture=Image.fromarray(mesh.texture),
        metallicFactor=0.0,
        roughnessFactor=1.0,
    )
    visual = trimesh.visual.TextureVisuals(uv=mesh.uvs, material=material)
    scene_mesh = trimesh.Trimesh(mesh.vertices, mesh.faces, visual=visual, process=False)
    return trimesh.Scene(scene_mesh).export(file_type="glb")


def obj_text(mesh: TexturedMesh, mtl_name: str) -> str:
    """Wavefront OBJ: positions, texture coordinates and faces (each vertex's own UV, 1-based indices)."""
    lines = io.StringIO()
    lines.write(f"mtllib {mtl_name}\no object\n")
    np.savetxt(lines, mesh.vertices, fmt="v %.6f %.6f %.6f")
    np.savetxt(lines, mesh.uvs, fmt="vt %.6f %.6f")
    lines.write(f"usemtl {MATERIAL_NAME}\n")
    indices = mesh.faces + 1
    np.savetxt(lines, np.repeat(indices, 2, axis=1), fmt="f %d/%d %d/%d %d/%d")
    return lines.getvalue()


def mtl_text(texture_name: str) -> str:
    """The OBJ's material: the texture as diffuse colour, no specular."""
    return (
        f"newmtl {MATERIAL_NAME}\nKa 1.0 1.0 1.0\nKd 1.0 1.0 1.0\nKs 0.0 0.0 0.0\nd 1.0\nillum 1\n"
        f"map_Kd {texture_name}\n"
    )


def png_bytes(texture: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(texture).save(buffer, format="PNG")
    return buffer.getvalue()


def write_mesh_files(mesh: TexturedMesh, folder: Path, name: str = "mesh") -> list[Path]:
    """Write ``name.glb``, ``name.obj``, ``name.mtl`` and ``texture.png`` into ``folder``; returns their paths.
    The texture goes first and the OBJ last, so an OBJ that is there finds its material and texture."""
    folder = Path(folder)
    contents = {
        "texture.png": png_bytes(mesh.texture),
        f"{name}.mtl": mtl_text("texture.png").encode(),
        f"{name}.glb": glb_bytes(mesh),
        f"{name}.obj": obj_text(mesh, f"{name}.mtl").encode(),
    }
    paths = []
    for file_name, data in contents.items():
        path = folder / file_name
        write_atomically(path, lambda file, data=data: file.write(data))
        paths.append(path)
    return paths
