"""Does the photo survive a prior that disagrees with it? A sweep of the prior's strength on the synthetic object.

Trains ``neurallift`` (the method's default balance of photo against prior, sizes shrunk for a CPU) on the synthetic
object's front view, with a test-only prior that pulls every sampled view toward another object (``disagreeing``) or
pushes it at random (``noisy``), at gradient magnitudes from a tenth to ten times the estimate of what Stable
Diffusion gives at the defaults (``lift_testing/synthetic_object.py``), and prints, for each magnitude: the
reference view's PSNR against the photo, the views from behind against the object and against the prior's object,
and the opacity off the object.

    python -m benchmarks.neurallift_prior_balance                          # disagreeing prior, the usual sweep
    python -m benchmarks.neurallift_prior_balance --prior noisy --factors 1 3
    python -m benchmarks.neurallift_prior_balance --estimate 3.6           # at the legacy defaults' estimate
    python -m benchmarks.neurallift_prior_balance --prior-weight 1         # at stable-dreamfusion's weight

Run from a checkout of another version of the method to compare defaults (its own config, the same test priors):
the config is built from whatever schedule fields that version has.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
from pathlib import Path

import torch

from lift_testing.neurallift_configs import tiny_neurallift_config
from lift_testing.synthetic_object import (
    SDS_MAGNITUDE_ESTIMATE,
    DisagreeingPriorGuidanceConfig,
    NoisyPriorGuidanceConfig,
    score_lift,
    write_reference_photo,
)

PRIORS = {"disagreeing": DisagreeingPriorGuidanceConfig, "noisy": NoisyPriorGuidanceConfig}


def train_and_score(prior: str, magnitude: float, steps: int, folder: Path, prior_weight: float | None = None):
    """Train with the prior at ``magnitude`` for ``steps`` steps (its weight the method's default unless
    ``prior_weight`` is given); the trained model's scores."""
    from nerfstudio.scripts.train import main as ns_train_main
    from nerfstudio.utils import writer
    from nerfstudio.utils.eval_utils import eval_setup

    data = write_reference_photo(folder / "photo", size=64)
    config = tiny_neurallift_config(data, folder / "outputs", steps, guidance=PRIORS[prior](magnitude=magnitude))
    if prior_weight is not None:
        config.pipeline.model.lambda_guidance = prior_weight
    with contextlib.redirect_stdout(io.StringIO()):
        ns_train_main(config)
    # nerfstudio leaves its tensorboard writer open: close it before the run's folder goes.
    for event_writer in writer.EVENT_WRITERS:
        if hasattr(event_writer, "tb_writer"):
            event_writer.tb_writer.close()
    writer.EVENT_WRITERS.clear()
    (config_path,) = (folder / "outputs").glob("*/neurallift/*/config.yml")
    _, pipeline, _, _ = eval_setup(config_path, test_mode="test")
    return score_lift(pipeline.model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prior", choices=sorted(PRIORS), default="disagreeing")
    parser.add_argument("--factors", type=float, nargs="+", default=[0.1, 0.3, 1.0, 3.0, 10.0])
    parser.add_argument("--estimate", type=float, default=SDS_MAGNITUDE_ESTIMATE, help="magnitude of factor 1")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument(
        "--prior-weight", type=float, default=None, help="lambda_guidance (default: the method's; 0: the photo alone)"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a busy 2-core CPU)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    weight = "the default weight" if args.prior_weight is None else f"weight {args.prior_weight:g}"
    print(f"{args.prior} prior at {weight}, {args.steps} steps, magnitude = factor x {args.estimate}")
    columns = ("factor", "magnitude", "reference PSNR", "behind PSNR to object", "behind PSNR to prior's object")
    print("| " + " | ".join((*columns, "off-object opacity")) + " |")
    print("|---|---|---|---|---|---|")
    for factor in args.factors:
        magnitude = factor * args.estimate
        with tempfile.TemporaryDirectory() as folder:
            scores = train_and_score(args.prior, magnitude, args.steps, Path(folder), args.prior_weight)
        behind = sum(scores.behind_psnr) / len(scores.behind_psnr)
        other = sum(scores.behind_psnr_to_other) / len(scores.behind_psnr_to_other)
        print(
            f"| {factor:g} | {magnitude:.3g} | {scores.reference_psnr:.1f} | {behind:.1f} | {other:.1f} "
            f"| {scores.off_object_opacity:.3f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
