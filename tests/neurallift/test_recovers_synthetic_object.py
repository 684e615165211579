"""The proof: with ground-truth guidance, neurallift recovers a whole object from one view of it.

Trained through nerfstudio's own training entry point (what ``ns-train`` runs after parsing its command line; an
in-process run lets the config carry this test-only guidance), then loaded back the way ``ns-eval`` loads it.
"""

from __future__ import annotations

import pytest
import torch

from lift_common.metrics import psnr
from lift_testing.neurallift_configs import GROUND_TRUTH_PROOF_STEPS, ground_truth_config
from lift_testing.synthetic_object import render, write_reference_photo
from neurallift_ns.data.orbit_views import orbit_cameras

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    from nerfstudio.scripts.train import main as ns_train_main
    from nerfstudio.utils.eval_utils import eval_setup

    folder = tmp_path_factory.mktemp("synthetic")
    data = write_reference_photo(folder / "photo", size=64)
    config = ground_truth_config(data, folder / "outputs", GROUND_TRUTH_PROOF_STEPS)
    ns_train_main(config)
    (config_path,) = (folder / "outputs").glob("*/neurallift/*/config.yml")
    _, pipeline, _, step = eval_setup(config_path, test_mode="test")
    assert step == GROUND_TRUTH_PROOF_STEPS - 1
    return config_path, pipeline.model


@pytest.fixture(scope="module")
def trained(trained_run):
    return trained_run[1]


def test_novel_views_from_behind_match_the_object(trained) -> None:
    azimuths = torch.tensor([135.0, 180.0, 225.0])
    cameras = orbit_cameras(azimuths, torch.full((3,), 10.0), torch.full((3,), 3.0), torch.full((3,), 40.0), 64)
    truth, _, _ = render(cameras)
    scores = []
    for index in range(3):
        outputs = trained.get_outputs_for_camera(cameras[index : index + 1])
        scores.append(float(psnr(outputs["rgb"].cpu(), truth[index])))
    print(f"PSNR of views from behind at 64x64: {scores}")
    # Measured: see GROUND_TRUTH_PROOF_STEPS (26.5 / 26.1 / 25.4 dB after 1000 steps before the prior's defaults were
    # calibrated).
    assert sum(scores) / len(scores) >= 25.0 and min(scores) >= 24.0


def test_reference_depth_order_matches_the_truth(trained) -> None:
    camera = orbit_cameras(torch.tensor([0.0]), torch.tensor([0.0]), torch.tensor([3.0]), torch.tensor([40.0]), 64)
    _, true_depth, mask = render(camera)
    outputs = trained.get_outputs_for_camera(camera)
    on_object = mask[0, ..., 0] > 0
    rendered, truth = outputs["depth"].cpu()[..., 0][on_object], true_depth[0, ..., 0][on_object]
    generator = torch.Generator().manual_seed(0)
    first, second = torch.randint(0, len(truth), (2, 20000), generator=generator)
    decided = (truth[first] - truth[second]).abs() > 0.02
    agree = torch.sign(rendered[first] - rendered[second]) == torch.sign(truth[first] - truth[second])
    fraction = float(agree[decided].float().mean())
    print(f"reference-view depth order agreement: {fraction:.3f}")
    assert fraction > 0.9


MESH_CHAMFER_CEILING = 0.015
"""Chamfer distance of ns-lift-export-mesh's default mesh to the true surface (scene units; the object is 1.7 tall).
Measured 0.0057; the same run's mesh without the field's inside made solid (inner surfaces kept): 0.065."""
MESH_PSNR_FLOOR_VS_FIELD = 27.0
"""PSNR of the textured mesh's renders from 8 views all around against the field's own renders. Measured 30.3 dB
(without the margin left under the outer surface when the inside is filled: 27.0)."""
MESH_PSNR_FLOOR_VS_TRUTH = 25.0
"""The same against the object's ground truth. Measured 27.4 dB."""


def test_exported_mesh_matches_the_object(trained_run, tmp_path: Path) -> None:
    """ns-lift-export-mesh at its defaults, run as a user runs it: the mesh lies on the true surface and, textured,
    looks from all around like the field (and the truth)."""
    import numpy as np

    from lift_common.mesh_render import read_textured_mesh
    from lift_testing.mesh_quality import chamfer_distance, mean_psnr
    from lift_testing.synthetic_object import SPHERES, views_around
    from tests.commands import check, run_command

    config_path, model = trained_run
    export = ["ns-lift-export-mesh", "--load-config", str(config_path), "--output-dir", str(tmp_path)]
    check(run_command(export))
    mesh = read_textured_mesh(tmp_path / "mesh.glb")

    def distance(points: np.ndarray) -> np.ndarray:
        return np.abs(np.min([np.linalg.norm(points - c.numpy(), axis=-1) - r for c, r in SPHERES], axis=0))

    directions = np.random.default_rng(0).normal(size=(10000, 3))
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    surface = np.concatenate([c.numpy() + r * directions for c, r in SPHERES])
    surface = surface[distance(surface) < 1e-5]  # each sphere without the part inside the other
    chamfer = chamfer_distance(mesh, surface, distance)

    cameras = views_around(tuple(45.0 * i for i in range(8)), 15.0, 64)
    model.eval()
    with torch.no_grad():
        field = [model.get_outputs_for_camera(cameras[i : i + 1])["rgb"].cpu() for i in range(len(cameras))]
    truth, _, _ = render(cameras)
    vs_field, vs_truth = mean_psnr(mesh, cameras, field), mean_psnr(mesh, cameras, list(truth))
    print(f"mesh: {len(mesh.faces)} faces, Chamfer {chamfer:.4f}; PSNR vs field {vs_field:.2f}, truth {vs_truth:.2f}")
    assert chamfer < MESH_CHAMFER_CEILING
    assert vs_field >= MESH_PSNR_FLOOR_VS_FIELD and vs_truth >= MESH_PSNR_FLOOR_VS_TRUTH


def test_ns_export_rays_end_on_the_object(trained_run) -> None:
    """``ns-export pointcloud`` and ``poisson`` keep a ray's point only where the render is opaque, and draw batches
    until they hold a million: nearly every ray the datamanager gives them ends on the object (measured 0.998; rays
    through random pixels all around, as before: 0.27)."""
    from lift_testing.export_rays import opaque_fraction_of_export_rays

    config_path, _ = trained_run
    assert opaque_fraction_of_export_rays(config_path) > 0.9
