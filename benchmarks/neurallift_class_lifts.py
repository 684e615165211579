"""Benchmark: neurallift's completion of the side the photo does not show, on held-out objects of a class folder, with
each prior beside no prior, the ground-truth oracle and "copy the front".

Each lift trains ``neurallift`` as it ships (every loss weight, regulariser, schedule, shading and background at its
default; only sizes and the run's length shrunk: :func:`lift_testing.neurallift_configs.shipped_neurallift_config`)
on an object's front photo with its true depth, then scores renders from every camera of the object's
``transforms.json`` (:mod:`lift_testing.class_lifts`). The oracle (the upper bound) is guidance by the object's true
views at the photo's weight; it sees albedo views on white, as its truth is drawn. "Copy the front" is no lift: the
photo itself scored as every back view.

Run on demand from the repository root (a class written by ``python -m lift_testing.object_class``, priors trained by
``python -m lift_testing.miniature_zero123`` / ``miniature_stable_diffusion`` on it)::

    python -m benchmarks.neurallift_class_lifts --objects CLASS --zero123 PRIOR [--stable-diffusion PRIOR]
        [--num-objects 5] [--seeds 0 1 2] [--steps 600] [--conditions "no prior" oracle zero123 joint ...]
        [--set lambda_guidance=1.0 guidance.stable_diffusion.adapt_to_photo=False ...]

``joint`` (Magic123's two priors) needs both folders.

Measured (5 held-out objects x 3 seeds, 300 steps, 4-8 min a lift on one core of the 2-core CPU machine; the sweeps
and a 600-step pilot): docs/miniature-priors.md.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch


def lift_config(condition: str, args, data: Path, output: Path, object_folder: Path, seed: int, resolution: int):
    """The shipped config at the benchmark's sizes, with the condition's prior."""
    from lift_testing.neurallift_configs import shipped_neurallift_config
    from lift_testing.object_class_oracle import ObjectClassOracleGuidanceConfig
    from neurallift_ns.guidance.joint_guidance import JointGuidanceConfig
    from neurallift_ns.guidance.stable_diffusion_guidance import StableDiffusionGuidanceConfig
    from neurallift_ns.guidance.zero123_guidance import Zero123GuidanceConfig

    config = shipped_neurallift_config(data, output, args.steps, image_size=resolution, resolution=resolution)
    config.machine.seed = seed
    model = config.pipeline.model
    datamanager_settings = [setting for setting in args.set if setting.startswith(DATAMANAGER_PREFIX)]
    apply_settings(
        config.pipeline.datamanager, [setting[len(DATAMANAGER_PREFIX) :] for setting in datamanager_settings]
    )
    # The model's settings for every lift first, so each condition's own (no prior's zero weight, the oracle's)
    # win; the guidance's after the condition has chosen its prior.
    model_settings = [setting for setting in args.set if setting not in datamanager_settings]
    apply_settings(model, [setting for setting in model_settings if not setting.startswith("guidance.")])
    if condition == "no prior":
        model.lambda_guidance = 0.0
    elif condition == "oracle":
        model.guidance = ObjectClassOracleGuidanceConfig(object_folder=object_folder)
        model.lambda_guidance = model.lambda_rgb
        model.shading_probabilities = (1.0, 0.0, 0.0)
        model.p_random_background = 0.0
        model.background = "white"
    elif condition == "zero123":
        model.guidance = Zero123GuidanceConfig(diffusion_resolution=resolution, seed=seed)
        model.guidance.diffusion.model = str(args.zero123)
    elif condition == "stable-diffusion":
        model.guidance = StableDiffusionGuidanceConfig(diffusion_resolution=resolution, seed=seed)
        model.guidance.diffusion.model = str(args.stable_diffusion)
        model.guidance.clip_model, model.guidance.clip_pretrained = args.clip_model, args.clip_pretrained
    elif condition == "joint":
        model.guidance = JointGuidanceConfig()
        for part, folder in (
            (model.guidance.zero123, args.zero123),
            (model.guidance.stable_diffusion, args.stable_diffusion),
        ):
            part.diffusion_resolution, part.seed, part.diffusion.model = resolution, seed, str(folder)
    else:
        raise ValueError(condition)
    if condition in PRIOR_CONDITIONS:
        apply_settings(model, [setting for setting in args.set if setting.startswith("guidance.")])
    return config


DATAMANAGER_PREFIX = "datamanager."
"""Settings named with this prefix are the datamanager's (``datamanager.sampled_views_per_step=4``), the rest the
model's."""

PRIOR_CONDITIONS = {
    "zero123": ("zero123",),
    "stable-diffusion": ("stable_diffusion",),
    "joint": ("zero123", "stable_diffusion"),
}
"""Each lift with a prior, and the ``--zero123`` / ``--stable-diffusion`` folders it needs."""


def apply_settings(config, settings: list[str]) -> None:
    """``name=value`` settings of ``config``'s fields (dotted names reach nested configs), each value read as a
    Python literal of the field's type (a string field takes the text as it is)."""
    for setting in settings:
        name, value = setting.split("=", 1)
        holder = config
        *path, leaf = name.split(".")
        for part in path:
            holder = getattr(holder, part)
        current = getattr(holder, leaf)
        if isinstance(current, str):
            setattr(holder, leaf, value)
        else:  # an unset (None) field takes the literal as it is
            literal = ast.literal_eval(value)
            setattr(holder, leaf, literal if current is None else type(current)(literal))


PICTURE_AZIMUTHS_DEG = (0.0, 90.0, 180.0, -90.0)
"""The front, the right side, the back and the left side, at the class's middle elevation."""
PICTURE_ELEVATION_DEG = 15.0


def picture_views(views) -> list[int]:
    """The indices of the object's views the picture shows: the nearest to each of :data:`PICTURE_AZIMUTHS_DEG` at
    :data:`PICTURE_ELEVATION_DEG`."""
    picked = []
    for azimuth in PICTURE_AZIMUTHS_DEG:
        azimuth_off = ((views.azimuths_deg - azimuth + 180.0) % 360.0 - 180.0).abs()
        picked.append(int(torch.argmin(azimuth_off + (views.elevations_deg - PICTURE_ELEVATION_DEG).abs())))
    return picked


@torch.no_grad()
def render_picture_row(model, views) -> torch.Tensor:
    """The lift seen from :func:`picture_views`, side by side: ``[H, 4 W, 3]``."""
    model.eval()
    row = [model.get_outputs_for_camera(views.cameras[i : i + 1])["rgb"].cpu() for i in picture_views(views)]
    return torch.cat(row, dim=1)


def save_picture(rows: list[torch.Tensor], path: Path, scale: int = 3) -> None:
    """Rows (each from :func:`render_picture_row`, the first the truth) stacked and enlarged, as a PNG."""
    from PIL import Image

    image = (torch.cat(rows, dim=0).clamp(0.0, 1.0).numpy() * 255).round().astype(np.uint8)
    picture = Image.fromarray(image)
    picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST).save(path)


def lift_and_score(condition: str, args, object_folder: Path, seed: int, views) -> tuple[dict, torch.Tensor | None]:
    """One lift's scores and minutes, and its picture row where ``--picture`` asks for one."""
    from lift_testing.class_lifts import score_class_lift, train_class_lift

    # Runs stay in the work folder: nerfstudio's event writer goes on writing after training returns.
    folder = args.work_dir / f"{object_folder.name}-seed{seed}-{condition.replace(' ', '-')}"
    shutil.rmtree(folder, ignore_errors=True)  # an earlier run of the same lift
    resolution = views.images.shape[1]
    model, minutes = train_class_lift(
        object_folder,
        folder,
        lambda data, output: lift_config(condition, args, data, output, object_folder, seed, resolution),
    )
    scores = dataclasses.asdict(score_class_lift(model, views))
    row = render_picture_row(model, views) if args.picture is not None else None
    return {**scores, "minutes": minutes}, row


def summary(rows: list[dict], key: str) -> str:
    values = np.array([row.get(key, np.nan) for row in rows], dtype=float)
    if not np.isfinite(values).any():
        return "-"
    spread = f" ± {values.std():.2f}" if len(values) > 1 else ""
    return f"{values.mean():.2f}{spread}"


def main() -> None:
    from lift_testing.class_lifts import copy_the_front_scores, read_object_views
    from lift_testing.object_class import read_object_class

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=Path, required=True, help="a class folder; its held-out objects are lifted")
    parser.add_argument("--zero123", type=Path, help="a Zero-1-to-3 folder trained on the class")
    parser.add_argument("--stable-diffusion", type=Path, help="a Stable Diffusion folder trained on the class")
    parser.add_argument("--clip-model", default="ViT-B-16", help="open_clip model of the CLIP guidance")
    parser.add_argument("--clip-pretrained", default="openai", help="its weights (a local file offline)")
    parser.add_argument("--num-objects", type=int, default=5, help="lift the first N held-out objects")
    parser.add_argument("--names", nargs="+", help="lift these held-out objects instead")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=600, help="steps of each lift (the schedules shrink with it)")
    parser.add_argument(
        "--conditions",
        nargs="+",
        default=["no prior", "oracle", *PRIOR_CONDITIONS],
        choices=["no prior", "oracle", *PRIOR_CONDITIONS],
        help="lifts to run (each prior's only where its folders are given)",
    )
    parser.add_argument(
        "--set",
        nargs="*",
        default=[],
        help="model settings for every lift, e.g. lambda_guidance=0.01 'shading_probabilities=(1.0, 0.0, 0.0)' "
        "(datamanager.NAME=VALUE: the datamanager's, e.g. datamanager.sampled_views_per_step=4)",
    )
    parser.add_argument("--work-dir", type=Path, help="where the lifts' runs are kept (default: a new temporary one)")
    parser.add_argument(
        "--picture", type=Path, help="a PNG of the first object's truth and each condition's first lift, four sides"
    )
    args = parser.parse_args()
    args.work_dir = args.work_dir or Path(tempfile.mkdtemp(prefix="class-lifts-"))
    print(f"Runs are kept in {args.work_dir}")
    conditions = [
        condition
        for condition in args.conditions
        if all(getattr(args, prior) for prior in PRIOR_CONDITIONS.get(condition, ()))
    ]
    heldout = read_object_class(args.objects).heldout
    heldout = [path for path in heldout if path.name in args.names] if args.names else heldout[: args.num_objects]
    results: dict[str, list[dict]] = {condition: [] for condition in ["copy the front", *conditions]}
    picture: list[torch.Tensor] = []
    for object_folder in heldout:
        views = read_object_views(object_folder)
        if args.picture is not None and not picture:  # the first object's truth
            picture.append(torch.cat([views.images[i] for i in picture_views(views)], dim=1))
        results["copy the front"].append(dataclasses.asdict(copy_the_front_scores(views)))
        for condition in conditions:
            for seed in args.seeds:
                row, row_picture = lift_and_score(condition, args, object_folder, seed, views)
                if row_picture is not None and not results[condition]:  # each condition's first lift
                    picture.append(row_picture)
                results[condition].append(row)
                print(f"{object_folder.name} seed {seed} {condition}: {row}", flush=True)
    if args.picture is not None:
        save_picture(picture, args.picture)
        print(f"Picture (truth, then {', '.join(conditions)}; front, right, back, left): {args.picture}")
    keys = ("reference_psnr", "back_psnr", "back_ssim", "silhouette_iou", "off_object_opacity", "minutes")
    print(f"\n{len(heldout)} held-out objects x {len(args.seeds)} seeds, {args.steps} steps; mean ± std over lifts")
    print("| condition | " + " | ".join(keys) + " |")
    print("| --- " * (len(keys) + 1) + "|")
    for condition, rows in results.items():
        print(f"| {condition} | " + " | ".join(summary(rows, key) for key in keys) + " |")
    for prior in (condition for condition in PRIOR_CONDITIONS if results.get(condition)):
        if not (results.get("no prior") and results.get("oracle")):
            break
        gap = {}
        for key in ("back_psnr", "silhouette_iou"):
            none, oracle, lift = (np.mean([row[key] for row in results[c]]) for c in ("no prior", "oracle", prior))
            gap[key] = (lift - none) / (oracle - none) if not math.isclose(oracle, none) else float("nan")
        print(f"{prior} closes {gap['back_psnr']:.0%} of the back PSNR gap, {gap['silhouette_iou']:.0%} of the IoU's")


if __name__ == "__main__":
    main()
