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
def trained(tmp_path_factory):
    from nerfstudio.scripts.train import main as ns_train_main
    from nerfstudio.utils.eval_utils import eval_setup

    folder = tmp_path_factory.mktemp("synthetic")
    data = write_reference_photo(folder / "photo", size=64)
    config = ground_truth_config(data, folder / "outputs", GROUND_TRUTH_PROOF_STEPS)
    ns_train_main(config)
    (config_path,) = (folder / "outputs").glob("*/neurallift/*/config.yml")
    _, pipeline, _, step = eval_setup(config_path, test_mode="test")
    assert step == GROUND_TRUTH_PROOF_STEPS - 1
    return pipeline.model


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
