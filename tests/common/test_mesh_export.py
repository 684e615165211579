"""The mesh export's stages on analytic fields: a sphere's surface, its texture's sides, cleaning, files and errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lift_common.density_grid import sample_density_grid
from lift_common.errors import UserInputError
from lift_common.mesh_files import write_mesh_files
from lift_common.surface_mesh import extract_surface, marching_cubes
from lift_common.texture_baking import bake_albedo

BOX = torch.tensor([[-1.0] * 3, [1.0] * 3])
RADIUS = 0.6
SURFACE_DENSITY = 10.0


def sphere_density(positions: torch.Tensor) -> torch.Tensor:
    """A radiance field's sphere: density rising from 0 to 100 over a few hundredths of a unit at ``RADIUS``,
    where it crosses ``SURFACE_DENSITY`` exactly."""
    offset = -np.log(100.0 / SURFACE_DENSITY - 1.0) / 40.0
    return 100.0 * torch.sigmoid((RADIUS + offset - positions.norm(dim=-1)) * 40.0)


def sided_albedo(positions: torch.Tensor) -> torch.Tensor:
    """Red on +x, blue on -x, and green rising with y, so both texture axes are checked."""
    side = (positions[:, 0] > 0).float()
    return torch.stack([side, 0.5 + 0.4 * positions[:, 1].clamp(-1, 1), 1.0 - side], dim=-1)


def fibonacci_sphere(num: int, radius: float) -> np.ndarray:
    step = np.arange(num) + 0.5
    polar, azimuth = np.arccos(1.0 - 2.0 * step / num), np.pi * (1.0 + 5.0**0.5) * step
    return radius * np.stack([np.cos(azimuth) * np.sin(polar), np.sin(azimuth) * np.sin(polar), np.cos(polar)], -1)


def chamfer_to_sphere(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Mean of the mesh's distance to the sphere (at points spread over its faces) and the sphere's to the mesh
    (exact distances to the nearest triangle)."""
    import trimesh

    mesh = trimesh.Trimesh(vertices, faces, process=False)
    on_mesh, _ = trimesh.sample.sample_surface(mesh, 20000, seed=0)
    mesh_to_sphere = np.abs(np.linalg.norm(on_mesh, axis=-1) - RADIUS).mean()
    _, sphere_to_mesh, _ = trimesh.proximity.closest_point(mesh, fibonacci_sphere(4000, RADIUS))
    return float((mesh_to_sphere + sphere_to_mesh.mean()) / 2)


@pytest.fixture(scope="module")
def sphere_mesh():
    grid = sample_density_grid(sphere_density, BOX, 48, progress=False)
    return extract_surface(grid, BOX.numpy(), SURFACE_DENSITY, target_faces=3000)


def test_the_mesh_of_a_sphere_lies_on_the_sphere(sphere_mesh) -> None:
    distance = chamfer_to_sphere(sphere_mesh.vertices, sphere_mesh.faces)
    print(f"Chamfer distance to the sphere: {distance:.4f} ({len(sphere_mesh.faces)} faces, 48^3 grid)")
    assert 2500 <= len(sphere_mesh.faces) <= 3000
    assert distance < 0.005  # measured 0.0020; a 48^3 grid's cell is 0.043


def test_faces_point_outwards(sphere_mesh) -> None:
    corners = sphere_mesh.vertices[sphere_mesh.faces]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    assert (np.einsum("fd,fd->f", normals, corners.mean(axis=1)) > 0).mean() > 0.99


def texture_at(image: np.ndarray, uvs: np.ndarray) -> np.ndarray:
    """Texels at UV coordinates, (0, 0) at the image's lower left (OBJ's and trimesh's convention)."""
    height, width = image.shape[:2]
    columns = np.clip((uvs[:, 0] * width).astype(int), 0, width - 1)
    rows = np.clip(((1.0 - uvs[:, 1]) * height).astype(int), 0, height - 1)
    return image[rows, columns, :3].astype(np.float32) / 255.0


def test_the_textured_files_show_each_side_in_its_own_colour(sphere_mesh, tmp_path: Path) -> None:
    """Read back from the GLB and the OBJ as a consumer reads them: at the UV of each face's centre, the texture has
    the colour the field has at that face in 3D (red on +x, blue on -x)."""
    import trimesh

    textured = bake_albedo(sphere_mesh, sided_albedo, 256, progress=False)
    write_mesh_files(textured, tmp_path)
    glb = trimesh.load(tmp_path / "mesh.glb", force="mesh")
    obj = trimesh.load(tmp_path / "mesh.obj", force="mesh")
    for mesh in (glb, obj):
        material = mesh.visual.material
        image = material.baseColorTexture if hasattr(material, "baseColorTexture") else material.image
        image = np.asarray(image.convert("RGB"))
        face_uvs = mesh.visual.uv[mesh.faces].mean(axis=1)
        centres = mesh.vertices[mesh.faces].mean(axis=1)
        found = texture_at(image, face_uvs)
        expected = sided_albedo(torch.from_numpy(centres).float()).numpy()
        away_from_x0 = np.abs(centres[:, 0]) > 0.05
        red_on_plus_x = (found[:, 0] > 0.5) == (centres[:, 0] > 0)
        print(f"{type(material).__name__}: right side {red_on_plus_x[away_from_x0].mean():.3f}")
        assert red_on_plus_x[away_from_x0].mean() > 0.98
        assert np.abs(found[:, 1] - expected[:, 1]).mean() < 0.03  # green follows y: v is not flipped


def test_gutters_are_filled_with_the_charts_colours(sphere_mesh) -> None:
    textured = bake_albedo(sphere_mesh, lambda p: torch.full((len(p), 3), 0.5), 128, progress=False)
    assert np.abs(textured.texture.astype(int) - 128).max() <= 1  # no black texel left between charts


def shell_with_cavity_and_floater(positions: torch.Tensor) -> torch.Tensor:
    """A hollow ball (outer radius 0.7, a closed cavity of radius 0.35 inside) and a small floater in a corner."""
    radius = positions.norm(dim=-1)
    shell = torch.sigmoid((0.7 - radius) * 40.0) * torch.sigmoid((radius - 0.35) * 40.0)
    floater = torch.sigmoid((0.08 - (positions - torch.tensor([0.85, 0.85, 0.85])).norm(dim=-1)) * 40.0)
    return 100.0 * torch.maximum(shell, floater)


def test_floaters_and_hidden_inner_shells_are_dropped() -> None:
    grid = sample_density_grid(shell_with_cavity_and_floater, BOX, 48, progress=False)
    from skimage import measure

    raw_vertices = measure.marching_cubes(grid, SURFACE_DENSITY, spacing=(2.0 / 47,) * 3)[0] - 1.0
    raw_radii = np.linalg.norm(raw_vertices, axis=-1)
    assert (raw_radii < 0.5).any() and (raw_radii > 1.2).any()  # marching cubes finds all three surfaces
    cleaned = extract_surface(grid, BOX.numpy(), SURFACE_DENSITY, target_faces=100000)
    radii = np.linalg.norm(cleaned.vertices, axis=-1)
    outer = 0.7 + np.log(9.0) / 40.0  # where the shell's density falls to 10
    assert np.abs(radii - outer).max() < 0.02  # only the outer surface is left


def test_an_empty_grid_names_the_density_range_it_found() -> None:
    grid = sample_density_grid(lambda p: 0.5 + 0.1 * p[:, 0], BOX, 8, progress=False)
    with pytest.raises(UserInputError, match=r"no surface at density 10: its density ranges from 0\.4 to 0\.6"):
        marching_cubes(grid, BOX.numpy(), SURFACE_DENSITY)


def test_the_grid_is_sampled_in_bounded_chunks_over_the_whole_box() -> None:
    sizes = []

    def density(positions: torch.Tensor) -> torch.Tensor:
        sizes.append(len(positions))
        return positions[:, 0] + 10 * positions[:, 1] + 100 * positions[:, 2]

    grid = sample_density_grid(density, BOX, 20, points_per_chunk=1000, progress=False)
    assert max(sizes) == 1000 and sum(sizes) == 20**3
    axis = np.linspace(-1.0, 1.0, 20)
    expected = axis[:, None, None] + 10 * axis[None, :, None] + 100 * axis[None, None, :]
    np.testing.assert_allclose(grid, expected, atol=1e-4)  # [x, y, z] indexing, corners included


def test_files_are_written_whole_and_an_export_that_fails_leaves_the_old_files(sphere_mesh, tmp_path) -> None:
    import trimesh

    textured = bake_albedo(sphere_mesh, sided_albedo, 64, progress=False)
    paths = write_mesh_files(textured, tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["mesh.glb", "mesh.mtl", "mesh.obj", "texture.png"]
    assert {path.name for path in paths} == {"mesh.glb", "mesh.mtl", "mesh.obj", "texture.png"}
    scene = trimesh.load(tmp_path / "mesh.glb")
    (mesh,) = scene.geometry.values()
    assert mesh.visual.material.baseColorTexture.size == (64, 64)
    assert len(mesh.faces) == len(sphere_mesh.faces)
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}

    class Interrupted(Exception):
        pass

    def interrupted(file) -> None:
        file.write(b"half a file")
        raise Interrupted

    import lift_common.mesh_files as mesh_files

    original = mesh_files.write_atomically
    mesh_files.write_atomically = lambda path, write: original(path, interrupted)
    try:
        with pytest.raises(Interrupted):
            write_mesh_files(textured, tmp_path)
    finally:
        mesh_files.write_atomically = original
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before  # no partial file, none changed


def test_an_unwritable_output_folder_is_one_message_before_any_work(tmp_path: Path) -> None:
    from lift_common.scripts.export_mesh import check_writable

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(UserInputError, match=r"Cannot write the mesh into .*a-file/mesh: .*Pass another --output-dir"):
        check_writable(blocker / "mesh")


def test_a_missing_run_is_one_message(tmp_path: Path) -> None:
    from lift_common.scripts.export_mesh import ExportMesh

    with pytest.raises(UserInputError, match=r"missing\.yml does not exist"):
        ExportMesh(load_config=tmp_path / "missing.yml").main()


@pytest.mark.slow
def test_the_command_reports_a_missing_run_in_one_line(tmp_path: Path) -> None:
    from tests.commands import run_command

    result = run_command(["ns-lift-export-mesh", "--load-config", str(tmp_path / "missing.yml")])
    assert result.returncode == 1
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr
