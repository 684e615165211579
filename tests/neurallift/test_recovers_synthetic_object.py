"""The proof: with ground-truth guidance, neurallift recovers a whole object from one view of it.

Trained through nerfstudio's own training entry point (what ``ns-train`` runs after parsing its command line; an
in-process run lets the config carry this test-only guidance), then loaded back the way ``ns-eval`` loads it.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch

from neurallift_ns.data.orbit_views import orbit_cameras
from tests.neurallift.synthetic_object import AnalyticObjectGuidanceConfig, render, write_reference_photo

pytestmark = pytest.mark.slow

STEPS = 1000


def tiny_neurallift_config(data: Path, output_dir: Path, steps: int):
    """The neurallift method's config, sized for a CPU test."""
    from neurallift_ns.neurallift_config import neurallift_method

    config = copy.deepcopy(neurallift_method.config)
    config.output_dir = output_dir
    config.vis = "tensorboard"
    config.max_num_iterations = steps
    config.steps_per_save = steps
    config.steps_per_eval_batch = steps * 10
    config.steps_per_eval_image = steps * 10
    config.steps_per_eval_all_images = steps * 10
    config.machine.seed = 0
    datamanager = config.pipeline.datamanager
    datamanager.data = data
    datamanager.dataparser.preprocess.image_size = 64
    datamanager.dataparser.preprocess.recenter = False
    datamanager.reference_resolution = 32
    datamanager.sampled_resolution = 32
    datamanager.sampled_views_per_step = 2
    datamanager.reference_only_steps = 50
    datamanager.reference_probability_start = 0.3
    datamanager.reference_probability_end = 0.1
    datamanager.reference_probability_decay_steps = 300
    model = config.pipeline.model
    model.num_levels, model.max_res, model.log2_hashmap_size = 8, 64, 17
    model.num_proposal_samples_per_ray, model.num_nerf_samples_per_ray = (64, 32), 32
    for args in model.proposal_net_args_list:
        args.update(num_levels=5, max_res=128, log2_hashmap_size=15)
    model.proposal_warmup = 200
    model.blob_fade_steps = 200
    model.blob_radius = 0.9  # the object reaches 0.85 from the centre: start it solid everywhere it could be
    model.shading_probabilities = (1.0, 0.0, 0.0)
    model.p_random_background = 0.0
    model.background = "white"
    model.lambda_orientation = 0.0
    model.guidance = AnalyticObjectGuidanceConfig()
    model.lambda_guidance = model.lambda_rgb  # ground truth: as strong as the photo itself
    for group in config.optimizers.values():
        group["scheduler"].max_steps = steps
    return config


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from nerfstudio.scripts.train import main as ns_train_main
    from nerfstudio.utils.eval_utils import eval_setup

    folder = tmp_path_factory.mktemp("synthetic")
    data = write_reference_photo(folder / "photo", size=64)
    config = tiny_neurallift_config(data, folder / "outputs", STEPS)
    ns_train_main(config)
    (config_path,) = (folder / "outputs").glob("*/neurallift/*/config.yml")
    _, pipeline, _, step = eval_setup(config_path, test_mode="test")
    assert step == STEPS - 1
    return pipeline.model


def psnr(prediction: torch.Tensor, truth: torch.Tensor) -> float:
    return -10.0 * math.log10(float(torch.mean((prediction - truth) ** 2)))


def test_novel_views_from_behind_match_the_object(trained) -> None:
    azimuths = torch.tensor([135.0, 180.0, 225.0])
    cameras = orbit_cameras(azimuths, torch.full((3,), 10.0), torch.full((3,), 3.0), torch.full((3,), 40.0), 64)
    truth, _, _ = render(cameras)
    scores = []
    for index in range(3):
        outputs = trained.get_outputs_for_camera(cameras[index : index + 1])
        scores.append(psnr(outputs["rgb"].cpu(), truth[index]))
    print(f"PSNR of views from behind at 64x64: {scores}")
    # Measured on this machine (seed 0): 26.5 / 26.1 / 25.4 dB.
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
