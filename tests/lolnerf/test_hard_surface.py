"""The hard-surface loss measurably lowers the fraction of semi-transparent samples.

Two short trainings on the same synthetic class with the same seed, one without the loss (lambda 0) and one with it
(lambda 1), are compared on the held-out views of the training instances, on the coarse pass's evenly spaced
samples (the fine pass's samples crowd around the surface, closer together than any learnt density transition).
"""

from __future__ import annotations

import pytest
import torch

from lift_testing.lolnerf_configs import one_thread, tiny_lolnerf_config
from lift_testing.synthetic_class import write_synthetic_class
from lolnerf_ns.losses import semi_transparent_fraction

pytestmark = pytest.mark.slow

STEPS = 300
MIN_REDUCTION = 0.06
"""Measured on the 2-core CPU machine (12 instances at 24x24, 4 x 64 rays a step): 0.95 without the loss and 0.83
with it for the class of seed 0, 0.90 and 0.76 for seed 1; held-out PSNR was unchanged (19.9 / 20.2 dB)."""


def semi_transparent_fraction_of_heldout_views(config_path) -> float:
    from nerfstudio.utils.eval_utils import eval_setup

    _, pipeline, _, _ = eval_setup(config_path, test_mode="test")
    model, dataset = pipeline.model, pipeline.datamanager.eval_dataset
    torch.manual_seed(0)  # the coarse pass's stratified jitter
    fractions = []
    model.train()  # training outputs carry the per-sample weights
    with torch.no_grad():
        for index in range(len(dataset)):
            rays = dataset.cameras[index : index + 1].generate_rays(camera_indices=0, keep_shape=False)
            fractions.append(float(semi_transparent_fraction(model(rays)["weights_coarse"])))
    return sum(fractions) / len(fractions)


def test_hard_surface_loss_makes_surfaces_sharper(tmp_path) -> None:
    from nerfstudio.scripts.train import main as ns_train_main

    data = write_synthetic_class(tmp_path / "data", num_instances=12, num_unseen=0, size=24)
    fractions = {}
    for weight in (0.0, 1.0):
        outputs = tmp_path / f"lambda_{weight}"
        config = tiny_lolnerf_config(data.folder, outputs, STEPS, images_per_batch=4, lambda_hard_surface=weight)
        with one_thread():
            ns_train_main(config)
            (config_path,) = outputs.glob("*/lolnerf/*/config.yml")
            fractions[weight] = semi_transparent_fraction_of_heldout_views(config_path)
    print(f"semi-transparent fraction of visible coarse samples: {fractions}")
    assert fractions[1.0] <= fractions[0.0] - MIN_REDUCTION
