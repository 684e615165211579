"""Benchmark: lolnerf training speed beside nerfstudio's vanilla-nerf, novel-view quality, and how fast the default
configuration learns, on a synthetic class (24 instances, one 32x32 view each, held-out views at +-30 degrees).

Run on demand from the repository root: ``python -m benchmarks.lolnerf_train [--device cuda] [--part speed quality
defaults]`` (default: speed and quality; on the 2-core CPU they take about 50 minutes, defaults about two hours).

* **quality**: the tests' tiny lolnerf (4x64 MLP) trained on the synthetic class, then PSNR / SSIM / LPIPS of the
  held-out views of its instances (``ns-eval``'s metrics): with empty-space skipping (the default) and without, with
  bfloat16 MLPs, without the mask and hard-surface losses, beside showing each instance's training photo instead.
* **speed**: training rays per second of ``lolnerf`` and ``vanilla-nerf`` at the same MLP size (8 layers of 256, skip
  at 4, 10 position frequencies) and samples budget (64 coarse + 64 importance), on the same ray batches, each a
  forward, backward and Adam step with the model's own losses; with the network evaluations a ray costs. lolnerf
  skips empty space with the occupancy grid of the quality part's trained run (the tiny model's: training the 8x256
  one for this would take hours here), the grid a trained run works with. The models run in turn, for several
  rounds, each in its own process (so that peak memory is its own); the median round is printed, so that load from
  other work on the machine falls on all of them alike.
* **defaults**: the default 8x256 configuration at its default learning rates, at twice and four times its network
  rate, at jax3d's LOLNeRF rates, and the tiny model at the tests' rates, trained for the same steps on the same
  rays: training PSNR along the way and the held-out PSNR at the end.

Prints numbers.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Type

import torch
from nerfstudio.engine.optimizers import OptimizerConfig

from benchmarks.measure import peak_memory_mb, time_steps

QUALITY_VARIANTS = {
    "lolnerf": {},
    "lolnerf, no skipping": {"skip_empty_space": False},
    "lolnerf, bf16 MLPs": {"mlp_precision": "bfloat16"},
    "lolnerf, lambda_hard_surface 0": {"lambda_hard_surface": 0.0},
    "lolnerf, lambda_mask 0": {"lambda_mask": 0.0},
}
SPEED_VARIANTS = {
    "lolnerf": {},
    "lolnerf, no skipping": {"skip_empty_space": False},
    "lolnerf, bf16 MLPs": {"mlp_precision": "bfloat16"},
    "vanilla-nerf": None,
}
DEFAULTS_VARIANTS = (
    "4x64, tests' rates",
    "8x256, defaults",
    "8x256, fields 1e-3",
    "8x256, fields 2e-3",
    "8x256, jax3d rates",
)
GRID_FILE = "occupancy_grid.pt"
"""Where the quality part leaves its trained run's grid for the speed part (in the data folder)."""


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
    model = config.setup(scene_box=dataset.scene_box, num_train_data=len(dataset), metadata=dataset.metadata)
    return model, [model.field_coarse.mlp_base.layers[0], model.field_fine.mlp_base.layers[0]]


def _lolnerf_model(datamanager, overrides: dict, grid: Path | None):
    from lolnerf_ns.lolnerf_config import lolnerf_method

    config = copy.deepcopy(lolnerf_method.config.pipeline.model)
    for name, value in overrides.items():
        setattr(config, name, value)
    dataset = datamanager.train_dataset
    model = config.setup(scene_box=dataset.scene_box, num_train_data=len(dataset), metadata=dataset.metadata)
    if grid is not None:
        model.occupancy_grid.occupied = torch.load(grid, weights_only=True)
    return model, [model.field.trunk.layers[0]]


def run_speed(name: str, data: Path, device: str, steps: int, rays: int, grid: Path | None) -> dict:
    from lolnerf_ns.lolnerf_config import lolnerf_method

    torch.manual_seed(0)
    datamanager_config = copy.deepcopy(lolnerf_method.config.pipeline.datamanager)
    datamanager_config.data = data
    datamanager_config.images_per_batch = 8
    datamanager_config.pixels_per_image = rays // 8
    datamanager_config.__post_init__()
    datamanager = datamanager_config.setup(device=device, test_mode="val")
    batches = [datamanager.next_train(step) for step in range(steps + 1)]  # drawn up front: not timed
    if SPEED_VARIANTS[name] is None:
        model, first_layers = _vanilla_nerf_model(datamanager, device)
    else:
        model, first_layers = _lolnerf_model(datamanager, SPEED_VARIANTS[name], grid)
    model.to(device).train()
    evaluations = []
    for layer in first_layers:  # each row through a big MLP's first layer is one network evaluation
        layer.register_forward_hook(lambda _module, _inputs, output: evaluations.append(output[..., 0].numel()))
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
    num_rays = len(batches[0][0])
    return {
        "rays_per_second": num_rays / seconds,
        "seconds_per_step": seconds,
        "evaluations_per_ray": sum(evaluations) / (num_rays * (steps + 1)),
        "peak_mb": peak_memory_mb(device),
    }


def _train(config) -> tuple[Path, float]:
    """Train with nerfstudio's own entry point; the run's config.yml and the seconds it took."""
    from nerfstudio.scripts.train import main as ns_train_main

    start = time.perf_counter()
    ns_train_main(config)
    seconds = time.perf_counter() - start
    (config_path,) = Path(config.output_dir).glob("*/lolnerf/*/config.yml")
    return config_path, seconds


def _logged(config_path: Path, tag: str) -> list[tuple[int, float]]:
    """(step, value) of a scalar the run logged to tensorboard."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(config_path.parent), size_guidance={"scalars": 0})
    events.Reload()
    return [(event.step, event.value) for event in events.Scalars(tag)]


def _heldout_metrics(config_path: Path) -> tuple[dict, float]:
    """Mean held-out PSNR / SSIM / LPIPS (ns-eval's), and the occupied share of the run's grid."""
    from nerfstudio.utils.eval_utils import eval_setup

    _, pipeline, _, _ = eval_setup(config_path, test_mode="test")
    metrics = pipeline.get_average_eval_image_metrics()
    return metrics, pipeline.model.occupancy_grid.occupied_fraction


def run_quality(variant: str, data_root: Path, device: str, steps: int) -> dict:
    from lift_testing.lolnerf_configs import tiny_lolnerf_config

    output = Path(tempfile.mkdtemp(prefix="lolnerf-quality-"))
    config = tiny_lolnerf_config(data_root / "class", output, steps, **QUALITY_VARIANTS[variant])
    config.machine.device_type = device
    config_path, seconds = _train(config)
    metrics, occupied = _heldout_metrics(config_path)
    evaluations = [value for step, value in _logged(config_path, "Train Metrics Dict/field_evaluations_per_ray")]
    if variant == "lolnerf":  # the speed part times the 8x256 network with this run's grid
        (checkpoint,) = config_path.parent.glob("nerfstudio_models/*.ckpt")
        pipeline_state = torch.load(checkpoint, map_location="cpu", weights_only=True)["pipeline"]
        torch.save(pipeline_state["_model.occupancy_grid.occupied"], data_root / GRID_FILE)
    return {
        **{key: metrics[key] for key in ("psnr", "ssim", "lpips")},
        "train_seconds": seconds,
        "occupied": occupied,
        "evaluations_per_ray": statistics.mean(evaluations[len(evaluations) // 2 :]),
    }


@dataclass
class SGDOptimizerConfig(OptimizerConfig):
    """Plain SGD, as jax3d's LOLNeRF trainer updates its latent table."""

    _target: Type = torch.optim.SGD

    def setup(self, params) -> torch.optim.Optimizer:
        return torch.optim.SGD(params, lr=self.lr)


def defaults_config(variant: str, data: Path, output: Path, steps: int, rays: int):
    """One of ``DEFAULTS_VARIANTS``: every one trains ``steps`` steps of 8 identities x ``rays // 8`` pixels."""
    from nerfstudio.engine.schedulers import ExponentialDecaySchedulerConfig

    from lift_testing.lolnerf_configs import synthetic_class_config, tiny_lolnerf_config

    if variant == "4x64, tests' rates":
        return tiny_lolnerf_config(data, output, steps, images_per_batch=8, pixels=rays // 8)
    config = synthetic_class_config(data, output, steps, images_per_batch=8, pixels=rays // 8)
    if variant.startswith("8x256, fields "):  # a candidate network rate, decaying 10x as the default's does
        rate = float(variant.split()[-1])
        config.optimizers["fields"]["optimizer"].lr = rate
        config.optimizers["fields"]["scheduler"].lr_final = rate / 10
    if variant == "8x256, jax3d rates":
        # jax3d/projects/generative/nerf/glo_nerf/trainer.py: Adam, 5e-4 decaying exponentially to 1e-4 over
        # max_steps (500,000 in its gin configs); latent table of zeros updated by plain SGD at the same rate.
        schedule = ExponentialDecaySchedulerConfig(lr_final=1e-4, max_steps=500000)
        config.optimizers["fields"]["optimizer"].lr = 5e-4
        config.optimizers["fields"]["scheduler"] = schedule
        config.optimizers["latents"] = {"optimizer": SGDOptimizerConfig(lr=5e-4), "scheduler": copy.copy(schedule)}
        config.pipeline.model.latent_init_std = 0.0
    return config


def run_defaults(variant: str, data_root: Path, device: str, steps: int, rays: int) -> dict:
    output = Path(tempfile.mkdtemp(prefix="lolnerf-defaults-"))
    config = defaults_config(variant, data_root / "class", output, steps, rays)
    config.machine.device_type = device
    config_path, seconds = _train(config)
    psnr = _logged(config_path, "Train Metrics Dict/psnr")
    window = max(steps // 6, 1)
    curve = {}
    for end in range(window, steps + 1, window):
        values = [value for step, value in psnr if end - window <= step < end]
        if values:
            curve[end] = statistics.mean(values)
    metrics, _ = _heldout_metrics(config_path)
    return {"train_psnr": curve, "psnr": metrics["psnr"], "ssim": metrics["ssim"], "train_seconds": seconds}


def copy_baseline(data_root: Path) -> dict:
    """Metrics of showing each instance's training photo for its held-out views."""
    import numpy as np
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


def _quality(common: list[str], steps: int, data: Path) -> None:
    print(f"\nHeld-out views of training instances after {steps} steps (tiny 4x64 lolnerf)")
    print(f"{'':34s} {'PSNR':>6s} {'SSIM':>6s} {'LPIPS':>6s} {'train s':>8s} {'occupied':>8s} {'evals/ray':>9s}")
    for variant in QUALITY_VARIANTS:
        row = _child([*common, "--quality-steps", str(steps), "--one", "quality", variant])
        metrics = f"{row['psnr']:6.2f} {row['ssim']:6.3f} {_nan(row['lpips']):>6s}"
        extra = f"{row['occupied']:8.2f} {row['evaluations_per_ray']:9.1f}"
        print(f"{variant:34s} {metrics} {row['train_seconds']:8.0f} {extra}")
    row = copy_baseline(data)
    print(f"{'training photo shown instead':34s} {row['psnr']:6.2f} {row['ssim']:6.3f} {_nan(row['lpips']):>6s}")
    print("(LPIPS is NaN where torchvision's AlexNet weights cannot be downloaded; occupied: share of the grid's cells")
    print("at the end; evals/ray: network evaluations per training ray over the second half of training)")


def _speed(common: list[str], args: argparse.Namespace, data: Path) -> None:
    if not (data / GRID_FILE).exists():
        print("\n(training the tiny lolnerf for the occupancy grid the speed part uses)")
        _child([*common, "--quality-steps", str(args.quality_steps), "--one", "quality", "lolnerf"])
    memory = "peak GPU memory" if args.device == "cuda" else "peak process RSS"
    print(f"\nTraining step, 8x256 MLP, 64+64 samples, {args.rays} rays, {args.steps} timed steps; {memory};")
    print(f"median of {args.rounds} rounds, the models taking turns")
    rounds: dict[str, list[dict]] = {name: [] for name in SPEED_VARIANTS}
    sizes = ["--steps", str(args.steps), "--rays", str(args.rays)]
    for _ in range(args.rounds):
        for name in SPEED_VARIANTS:
            rounds[name].append(_child([*common, *sizes, "--one", "speed", name]))
    print(f"{'model':22s} {'rays/s':>8s} {'s/step':>8s} {'evals/ray':>9s} {'MB':>7s}   rays/s of each round")
    speed = {}
    for name, rows in rounds.items():
        speed[name] = statistics.median(row["rays_per_second"] for row in rows)
        each = " ".join(f"{row['rays_per_second']:.0f}" for row in rows)
        evaluations = statistics.mean(row["evaluations_per_ray"] for row in rows)
        peak = max(row["peak_mb"] for row in rows)
        print(f"{name:22s} {speed[name]:8.0f} {args.rays / speed[name]:8.2f} {evaluations:9.1f} {peak:7.0f}   {each}")
    for name in SPEED_VARIANTS:
        if name != "vanilla-nerf":
            print(f"{name} / vanilla-nerf: rays per second {speed[name] / speed['vanilla-nerf']:.2f}")


def _defaults(common: list[str], args: argparse.Namespace) -> None:
    print(f"\nLearning the synthetic class: {args.defaults_steps} steps of {args.rays_defaults} rays (8 identities)")
    rows = {}
    for variant in DEFAULTS_VARIANTS:
        sizes = ["--defaults-steps", str(args.defaults_steps), "--rays", str(args.rays_defaults)]
        rows[variant] = _child([*common, *sizes, "--one", "defaults", variant])
    ends = list(next(iter(rows.values()))["train_psnr"])
    title = "training PSNR, mean of the steps before"
    print(f"{'':22s} {title:>{8 * len(ends) - 1}s} {'held-out':>9s} {'train s':>8s}")
    print(f"{'':22s} " + " ".join(f"{end:>7s}" for end in ends) + f" {'PSNR':>9s}")
    for variant, row in rows.items():
        curve = " ".join(f"{value:7.2f}" for value in row["train_psnr"].values())
        print(f"{variant:22s} {curve} {row['psnr']:9.2f} {row['train_seconds']:8.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if _cuda() else "cpu")
    parser.add_argument("--part", nargs="+", choices=("speed", "quality", "defaults"), default=["speed", "quality"])
    parser.add_argument("--steps", type=int, default=3, help="timed training steps per model and round (speed)")
    parser.add_argument("--rounds", type=int, default=3, help="turns each model takes (speed)")
    parser.add_argument("--rays", type=int, default=1024, help="rays per training step (speed)")
    parser.add_argument("--quality-steps", type=int, default=600, help="training steps per variant (quality)")
    parser.add_argument("--defaults-steps", type=int, default=300, help="training steps per variant (defaults)")
    parser.add_argument("--rays-defaults", type=int, default=256, help="rays per training step (defaults)")
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--one", nargs=2, metavar=("PART", "NAME"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        part, name = args.one
        if part == "speed":
            grid = args.data / GRID_FILE
            result = run_speed(name, args.data / "class", args.device, args.steps, args.rays, grid)
        elif part == "quality":
            result = run_quality(name, args.data, args.device, args.quality_steps)
        else:
            result = run_defaults(name, args.data, args.device, args.defaults_steps, args.rays)
        print(json.dumps(result))
        return

    from lift_testing.synthetic_class import write_synthetic_class

    data = Path(tempfile.mkdtemp(prefix="lolnerf-class-"))
    write_synthetic_class(data, num_instances=24, num_unseen=0, size=32)
    common = ["--device", args.device, "--data", str(data)]
    print(f"device {args.device}; synthetic class of 24 instances, one 32x32 view each, held-out views at +-30 deg")
    if "quality" in args.part:
        _quality(common, args.quality_steps, data)
    if "speed" in args.part:
        _speed(common, args, data)
    if "defaults" in args.part:
        _defaults(common, args)


def _nan(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.3f}"


def _cuda() -> bool:
    return torch.cuda.is_available()


if __name__ == "__main__":
    main()
