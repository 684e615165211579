"""``ns-train neurallift ... zero123`` on a real photo with a tiny Zero-1-to-3 model, then ``ns-export pointcloud`` on
its checkpoint, as a user runs them; and each prior's options in ``ns-train``'s help."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.commands import check, help_text, run_command

pytestmark = pytest.mark.slow

TRAIN_TWO_STEPS = [
    *("--max-num-iterations", "2", "--steps-per-save", "1", "--vis", "tensorboard", "--machine.seed", "0"),
    *("--pipeline.datamanager.train-num-rays-per-batch", "256", "--pipeline.datamanager.sampled-views-per-step", "2"),
    *("--pipeline.datamanager.reference-resolution", "16", "--pipeline.datamanager.sampled-resolution", "16"),
    *("--pipeline.datamanager.reference-only-steps", "0", "--pipeline.datamanager.reference-step-interval", "2"),
    *("--pipeline.datamanager.dataparser.preprocess.image-size", "32"),
    *("--pipeline.datamanager.dataparser.preprocess.mask-method", "grabcut"),
    *("--pipeline.model.num-levels", "8", "--pipeline.model.max-res", "64", "--pipeline.model.log2-hashmap-size", "15"),
]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, tiny_depth_model, tiny_zero123) -> Path:
    """A two-step run (a reference step, then two sampled views under Zero-1-to-3): its config.yml."""
    from PIL import Image
    from skimage import data

    folder = tmp_path_factory.mktemp("neurallift-zero123")
    photo = folder / "coffee.png"
    Image.fromarray(data.coffee()).save(photo)
    outputs = folder / "outputs"
    depth = ("--pipeline.datamanager.dataparser.preprocess.depth-model", str(tiny_depth_model))
    prior = ("zero123", "--diffusion.model", str(tiny_zero123), "--diffusion-resolution", "16")
    train = ["ns-train", "neurallift", "--data", str(photo), "--output-dir", str(outputs), *TRAIN_TWO_STEPS, *depth]
    result = check(run_command([*train, *prior], HF_HUB_OFFLINE="1"))
    assert "Zero-1-to-3 conditioned on the photo (zero123 camera numbers)" in " ".join(result.stdout.split())
    (config,) = outputs.glob("*/neurallift/*/config.yml")
    return config


def test_the_checkpoint_holds_only_the_lifted_object(trained_run) -> None:
    import lift_common  # noqa: F401  (checkpoint allowlist)

    (checkpoint,) = (trained_run.parent / "nerfstudio_models").glob("step-*.ckpt")
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    assert state["step"] == 1
    modules = {key.split(".")[1] for key in state["pipeline"] if key.startswith("_model.")}
    # The model's own networks (and nerfstudio's device marker), nothing of the prior.
    assert modules == {"field", "background_field", "proposal_networks", "device_indicator_param"}
    frozen = ("unet", "vae", "image_encoder", "projection", "clip", "guidance")
    assert not [key for key in state["pipeline"] if any(word in key for word in frozen)]


def test_the_config_records_the_prior_and_its_views(trained_run) -> None:
    import yaml

    from neurallift_ns.guidance.zero123_guidance import Zero123GuidanceConfig

    config = yaml.load(trained_run.read_text(), Loader=yaml.Loader)
    assert isinstance(config.pipeline.model.guidance, Zero123GuidanceConfig)
    assert config.pipeline.model.guidance.diffusion_resolution == 16


def test_ns_export_pointcloud_loads_the_checkpoint_without_the_prior(trained_run, tmp_path: Path) -> None:
    export = ["ns-export", "pointcloud", "--load-config", str(trained_run), "--output-dir", str(tmp_path)]
    result = check(
        run_command([*export, "--num-points", "500", "--normal-method", "open3d", "--num-rays-per-batch", "256"])
    )
    assert "Zero-1-to-3" not in result.stdout  # exporting never loads the prior
    ply = tmp_path / "point_cloud.ply"
    assert ply.exists() and ply.stat().st_size > 0


def test_each_prior_lists_its_options_with_their_help() -> None:
    listing = help_text(check(run_command(["ns-train", "neurallift", "--help"])))
    assert "(default: stable-diffusion)" in listing
    assert "zero123 Zero-1-to-3 / Stable Zero123: a prior given the photo and each view's camera." in listing
    joint = help_text(check(run_command(["ns-train", "neurallift", "joint", "--help"])))
    assert "--zero123.diffusion.model STR" in joint and "--stable-diffusion.guidance-scale FLOAT" in joint
    assert "Weight of Stable Diffusion's loss (magic123-coarse-sd.yaml: lambda_sd 0.025). (default: 0.025)" in joint
    assert "--zero123.elevation-range-deg FLOAT FLOAT" in joint and "(default: -45.0 45.0)" in joint
