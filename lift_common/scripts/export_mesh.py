"""``ns-lift-export-mesh``: a textured mesh of a lifted object, as GLB and as OBJ + MTL + PNG.

The field's density is sampled on a grid over the object's box, meshed by marching cubes at the model's surface
density, cleaned of floaters and hidden shells, decimated, unwrapped into a UV atlas, and the field's albedo at the
surface is baked into a texture. On a CPU the defaults take about a minute and under 2 GB.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import tyro
from nerfstudio.utils.rich_utils import CONSOLE

from lift_common.errors import UserInputError

METHODS = ("neurallift", "lolnerf")


@dataclass
class ExportMesh:
    """Export a textured mesh of a neurallift or lolnerf run: mesh.glb, and mesh.obj with mesh.mtl and texture.png."""

    load_config: Path
    """config.yml of the trained run (neurallift or lolnerf; a run written by ns-lolnerf-lift or
    ns-lolnerf-identities too)."""
    output_dir: Path | None = None
    """Where the files go (default: mesh/ inside the run's folder). Files of the same names there are replaced."""
    identity: str | None = None
    """lolnerf: the identity to export, named as ns-lolnerf-identities names them: a row of the latent table (0, 1,
    ...), a name (image file name, instance id, lifted name), 'mean' or 'sample:SEED'. Default: the first identity
    the run shows (its render_identities, else identity 0; a lifted run shows its lifted photo)."""
    latent: Path | None = None
    """lolnerf: a file holding the latent code to export instead of an identity (latent.npy, which ns-lolnerf-lift
    writes into the lifted run's folder, or any .npy / .pt of the run's latent size)."""
    resolution: int = 256
    """Grid points per side of the box at which the density is sampled: 256 resolves 1/128 of the box, finer than
    the detail our fields hold at their default sizes, in about a minute on a CPU."""
    faces: int = 20000
    """Faces of the decimated mesh: 20k keep the silhouette of a 256 grid's surface within a fraction of a cell and
    load at once in a browser or a game engine."""
    texture_size: int = 1024
    """Side of the square albedo texture in pixels: 1024 gives each of 20k faces about 35 texels."""
    min_part_fraction: float = 0.05
    """Parts of the surface smaller than this fraction of the largest part's area are dropped as floaters."""

    def main(self) -> None:
        import resource
        import time

        import torch
        from nerfstudio.utils.eval_utils import eval_setup

        from lift_common.checkpoints import refused_checkpoints_as_user_errors
        from lift_common.density_grid import sample_density_grid
        from lift_common.mesh_files import write_mesh_files
        from lift_common.surface_mesh import extract_surface
        from lift_common.texture_baking import bake_albedo
        from lift_common.trained_runs import read_trained_run

        for name, value, low in (("resolution", self.resolution, 8), ("faces", self.faces, 100)):
            if value < low:
                raise UserInputError(f"--{name} must be at least {low}; got {value}.")
        if self.texture_size < 16:
            raise UserInputError(f"--texture-size must be at least 16; got {self.texture_size}.")
        config = read_trained_run(self.load_config, METHODS)
        if config.method_name != "lolnerf" and (self.identity is not None or self.latent is not None):
            raise UserInputError("--identity and --latent choose a lolnerf identity; this is a neurallift run.")
        if self.identity is not None and self.latent is not None:
            raise UserInputError("Pass --identity or --latent, not both.")
        folder = self.output_dir if self.output_dir is not None else config.get_base_dir() / "mesh"
        check_writable(folder)

        start = time.perf_counter()
        with refused_checkpoints_as_user_errors():
            _, pipeline, _, _ = eval_setup(
                self.load_config, test_mode="inference", update_config_callback=lambda _: config
            )
        model = pipeline.model
        if config.method_name == "lolnerf":
            code = None
            if self.latent is not None:
                code = read_latent(self.latent, model.config.latent_dim)
            elif self.identity is not None:
                code = model.identity_code(self.identity)
            field = model.object_field(code)
        else:
            field = model.object_field()

        with torch.no_grad():
            grid = sample_density_grid(field.density, field.box, self.resolution, field.device)
            surface = extract_surface(
                grid, field.box.numpy(), field.surface_density, self.faces, self.min_part_fraction, progress=True
            )
            del grid
            textured = bake_albedo(surface, field.albedo, self.texture_size, field.device)
        paths = write_mesh_files(textured, folder)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        seconds = time.perf_counter() - start
        CONSOLE.print(
            f"Mesh of {len(textured.faces)} faces with a {self.texture_size}^2 texture in {seconds:.0f} s "
            f"(peak memory {peak:.2f} GB):"
        )
        for path in paths:
            CONSOLE.print(f"  {path}")


def check_writable(folder: Path) -> None:
    """Fail at once, in one line, when ``folder`` cannot be made or written into (not after minutes of work)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise UserInputError(f"Cannot write the mesh into {folder}: {reason}. Pass another --output-dir.") from None
    if not os.access(folder, os.W_OK):
        raise UserInputError(f"Cannot write the mesh into {folder}: permission denied. Pass another --output-dir.")


def read_latent(path: Path, latent_dim: int):
    """A latent code from a .npy or .pt file (one vector of ``latent_dim`` numbers)."""
    import numpy as np
    import torch

    if not path.is_file():
        raise UserInputError(f"{path} does not exist. Pass a latent code file (.npy or .pt) with --latent.")
    try:
        if path.suffix == ".npy":
            code = torch.from_numpy(np.load(path, allow_pickle=False))
        else:
            code = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a damaged or foreign file: one line, whatever the library's error
        raise UserInputError(f"{path} is not a readable latent code ({type(error).__name__}).") from None
    if not isinstance(code, torch.Tensor) or code.numel() != latent_dim:
        shape = tuple(code.shape) if isinstance(code, torch.Tensor) else type(code).__name__
        raise UserInputError(f"{path} holds {shape}, not a latent code of this run's size {latent_dim}.")
    return code.reshape(latent_dim).float()


def entrypoint() -> None:
    """Entry point of ``ns-lift-export-mesh``."""
    tyro.extras.set_accent_color("bright_yellow")
    tyro.cli(ExportMesh).main()


if __name__ == "__main__":
    entrypoint()
