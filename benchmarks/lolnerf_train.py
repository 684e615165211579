"""Benchmark: lolnerf training speed beside nerfstudio's vanilla-nerf, and novel-view quality on a synthetic class.

Run on demand from the repository root: ``python -m benchmarks.lolnerf_train [--device cuda] [--part speed|quality]``.

* **speed**: training rays per second and peak memory of ``lolnerf`` and ``vanilla-nerf`` at the same MLP size (8
  layers of 256, skip at 4, 10 position frequencies) and the same samples per ray (64 coarse + 64 importance), on the
  same ray batches of the synthetic class (lolnerf's identity batches), each a forward, backward and Adam step with
  the model's own losses. vanilla-nerf runs a separate coarse and fine network; lolnerf one network for both passes
  plus the latent input, the background network and the mask and hard-surface losses.
* **quality**: the tests' tiny lolnerf (4x64 MLP) trained on the synthetic class (24 instances, one 32x32 view
  each), then PSNR / SSIM / LPIPS of the held-out views of those instances (``ns-eval``'s metrics), with and
  without the mask and hard-surface losses, beside showing each instance's training photo instead.

Each configuration runs in its own process so that peak memory is its own. Prints numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.measure import peak_memory_mb, time_steps

QUALITY_VARIANTS = {
    "lolnerf": {},
    "lolnerf, lambda_hard_surface 0": {"lambda_hard_surface": 0.0},
    "lolnerf, lambda_mask 0": {"lambda_mask": 0.0},
}


def _vanilla_nerf_model(datamanager, device: str):
    from nerfstudio.models import vanilla_nerf

    class NoLPIPS:
        """Stands in for LPIPS (vanilla-nerf builds it at once; its AlexNet weights need a download)."""

        def __init__(self, **kwargs) -> None: ...

    import torchmetrics.image.lpip

    torchmetrics.image.lpip.LearnedPerceptualImagePatchSimilarity = NoLPIPS
    config = vanilla_nerf.VanillaModelConfig(
        num_coarse_samples=64,
        num_importance_samples=64,
        collider_params={"near_plane": 1.0, "far_plane": 5.0},  # cameras at radius 3 around the [-1, 1] box
        background_color="white",
    )
    dataset = datamanager.train_dataset
    return config.setup(scene_box=dataset.scene_box, num_train_data=len(dataset), metadata=dataset.metadata)


def _lolnerf_model(datamanager, device: str):
    from lolnerf_ns.lolnerf_config import lolnerf_method

    dataset = datamanager.train_dataset
    return lolnerf_method.config.pipeline.model.setup(
        scene_box=dataset.scene_box, num_train_data=len(dataset), metadata=dataset.metadata
    )


def run_speed(model_name: str, data: Path, device: str, steps: int, rays: int) -> dict:
    import copy

    import torch

    from lolnerf_ns.lolnerf_config import lolnerf_method

    torch.manual_seed(0)
    datamanager_config = copy.deepcopy(lolnerf_method.config.pipeline.datamanager)
    datamanager_config.data = data
    datamanager_config.images_per_batch = 8
    datamanager_config.pixels_per_image = rays // 8
    datamanager_config.__post_init__()
    datamanager = datamanager_config.setup(device=device, test_mode="val")
    batches = [datamanager.next_train(step) for step in range(steps + 1)]  # drawn up front: not timed
    model = (_lolnerf_model if model_name == "lolnerf" else _vanilla_nerf_model)(datamanager, device).to(device)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)

    def train_step(ray_bundle_and_batch) -> None:
        ray_bundle, batch = ray_bundle_and_batch
        optimizer.zero_grad()
        outputs = model(ray_bundle.to(device))
        loss = sum(model.get_loss_dict(outputs, batch).values())
        loss.backward()
        optimizer.step()

    timings = time_steps(steps, device, train_step, prepare=batches.__getitem__)
    seconds = sum(timings) / len(timings)
    return {
        "rays_per_second": len(batches[0][0]) / seconds,
        "seconds_per_step": seconds,
        "peak_mb": peak_memory_mb(device),
    }


def run_quality(variant: str, data_root: Path, device: str, steps: int) -> dict:
    from nerfstudio.scripts.train import main as ns_train_main
    from nerfstudio.utils.eval_utils import eval_setup

    from tests.lolnerf.tiny_config import tiny_lolnerf_config

    output = Path(tempfile.mkdtemp(prefix="lolnerf-quality-"))
    config = tiny_lolnerf_config(data_root / "class", output, steps, **QUALITY_VARIANTS[variant])
    config.machine.device_type = device
    start = time.perf_counter()
    ns_train_main(config)
    seconds = time.perf_counter() - start
    (config_path,) = output.glob("*/lolnerf/*/config.yml")
    _, pipeline, _, _ = eval_setup(config_path, test_mode="test")
    metrics = pipeline.get_average_eval_image_metrics()
    return {"psnr": metrics["psnr"], "ssim": metrics["ssim"], "lpips": metrics["lpips"], "train_seconds": seconds}


def copy_baseline(data_root: Path) -> dict:
    """Metrics of showing each instance's training photo for its held-out views."""
    import numpy as np
    import torch
    from PIL import Image

    from lift_common.metrics import ImageQualityMetrics

    folder = data_root / "class"
    meta = json.loads((folder / "transforms.json").read_text())
    metrics = ImageQualityMetrics()

    def image(name: str):
        return torch.from_numpy(np.asarray(Image.open(folder / name), dtype=np.float32) / 255.0)

    scores = [metrics.all(image(name), image(name.split("_view")[0] + "_train.png")) for name in meta["test_filenames"]]
    return {key: sum(score[key] for score in scores) / len(scores) for key in ("psnr", "ssim", "lpips")}


def _child(args: list[str]) -> dict:
    command = [sys.executable, "-m", "benchmarks.lolnerf_train", *args]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if _cuda() else "cpu")
    parser.add_argument("--part", choices=("speed", "quality", "all"), default="all")
    parser.add_argument("--steps", type=int, default=3, help="timed training steps per model (speed)")
    parser.add_argument("--rays", type=int, default=1024, help="rays per training step (speed)")
    parser.add_argument("--quality-steps", type=int, default=600, help="training steps per variant (quality)")
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--one", nargs=2, metavar=("PART", "NAME"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        part, name = args.one
        if part == "speed":
            result = run_speed(name, args.data / "class", args.device, args.steps, args.rays)
        else:
            result = run_quality(name, args.data, args.device, args.quality_steps)
        print(json.dumps(result))
        return

    from tests.lolnerf.synthetic_class import write_synthetic_class

    data = Path(tempfile.mkdtemp(prefix="lolnerf-class-"))
    write_synthetic_class(data, num_instances=24, num_unseen=0, size=32)
    common = ["--device", args.device, "--data", str(data)]
    print(f"device {args.device}; synthetic class of 24 instances, one 32x32 view each, held-out views at +-30 deg")
    if args.part in ("speed", "all"):
        memory = "peak GPU memory" if args.device == "cuda" else "peak process RSS"
        print(f"\nTraining step, 8x256 MLP, 64+64 samples, {args.rays} rays, {args.steps} timed steps; {memory}")
        print(f"{'model':14s} {'rays/s':>10s} {'s/step':>8s} {'MB':>8s}")
        speed = {}
        sizes = ["--steps", str(args.steps), "--rays", str(args.rays)]
        for name in ("lolnerf", "vanilla-nerf"):
            speed[name] = _child([*common, *sizes, "--one", "speed", name])
            row = speed[name]
            print(f"{name:14s} {row['rays_per_second']:10.0f} {row['seconds_per_step']:8.3f} {row['peak_mb']:8.0f}")
        ratio = speed["lolnerf"]["rays_per_second"] / speed["vanilla-nerf"]["rays_per_second"]
        memory_ratio = speed["lolnerf"]["peak_mb"] / speed["vanilla-nerf"]["peak_mb"]
        print(f"lolnerf / vanilla-nerf: rays per second {ratio:.2f}, peak memory {memory_ratio:.2f}")
    if args.part in ("quality", "all"):
        print(f"\nHeld-out views of training instances after {args.quality_steps} steps (tiny 4x64 lolnerf)")
        print(f"{'':34s} {'PSNR':>6s} {'SSIM':>6s} {'LPIPS':>6s} {'train s':>8s}")
        for variant in QUALITY_VARIANTS:
            row = _child([*common, "--quality-steps", str(args.quality_steps), "--one", "quality", variant])
            metrics = f"{row['psnr']:6.2f} {row['ssim']:6.3f} {_nan(row['lpips']):>6s}"
            print(f"{variant:34s} {metrics} {row['train_seconds']:8.0f}")
        row = copy_baseline(data)
        print(f"{'training photo shown instead':34s} {row['psnr']:6.2f} {row['ssim']:6.3f} {_nan(row['lpips']):>6s}")
        print("(LPIPS is NaN where torchvision's AlexNet weights cannot be downloaded)")


def _nan(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.3f}"


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


if __name__ == "__main__":
    main()
