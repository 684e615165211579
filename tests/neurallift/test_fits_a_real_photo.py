"""``ns-train neurallift`` on a real photo with the prior off fits the photo from its own viewpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.commands import check, run_command

pytestmark = pytest.mark.slow

STEPS = 80
TINY_MODEL = [
    *("--pipeline.model.num-levels", "8", "--pipeline.model.max-res", "64", "--pipeline.model.log2-hashmap-size", "17"),
    *("--pipeline.model.num-proposal-samples-per-ray", "64", "32", "--pipeline.model.num-nerf-samples-per-ray", "32"),
    *("--pipeline.model.blob-fade-steps", "40", "--pipeline.model.proposal-warmup", "40"),
]


def test_reference_view_psnr_after_a_short_fit(coffee_photo: Path, tiny_depth_model: Path, tmp_path: Path) -> None:
    outputs = tmp_path / "outputs"
    train = [
        "ns-train",
        "neurallift",
        "--data",
        str(coffee_photo),
        "--output-dir",
        str(outputs),
        "--vis",
        "tensorboard",
    ]
    train += ["--max-num-iterations", str(STEPS), "--steps-per-save", str(STEPS), "--machine.seed", "0"]
    train += [
        "--steps-per-eval-batch",
        "100000",
        "--steps-per-eval-image",
        "100000",
        "--steps-per-eval-all-images",
        "100000",
    ]
    train += [
        "--pipeline.datamanager.reference-resolution",
        "48",
        "--pipeline.datamanager.reference-only-steps",
        str(STEPS),
        # ns-eval's CLIP similarity renders these orbit views: at the default 128 px the CPU hash grid takes minutes.
        "--pipeline.datamanager.eval-orbit-resolution",
        "32",
    ]
    train += ["--pipeline.datamanager.dataparser.preprocess.image-size", "48", "--pipeline.model.lambda-guidance", "0"]
    train += ["--pipeline.datamanager.dataparser.preprocess.mask-method", "grabcut"]
    train += ["--pipeline.datamanager.dataparser.preprocess.depth-model", str(tiny_depth_model)]
    check(run_command([*train, *TINY_MODEL], timeout=1800, HF_HUB_OFFLINE="1"))  # 80 s on one thread
    (config,) = outputs.glob("*/neurallift/*/config.yml")
    check(run_command(["ns-eval", "--load-config", str(config), "--output-path", str(tmp_path / "eval.json")]))
    results = json.loads((tmp_path / "eval.json").read_text())["results"]
    print(f"reference-view PSNR after {STEPS} steps: {results['psnr']:.2f} dB, SSIM {results['ssim']:.3f}")
    # Measured on this machine: 25.1 dB (SSIM 0.95) after 80 steps of a tiny hash grid, 21.4 dB after 60, 29.9 dB
    # after 120; after 1 step, 13.0 dB (SSIM 0.66). The floor sits halfway between 1 step and 80.
    assert results["psnr"] >= 19.0
