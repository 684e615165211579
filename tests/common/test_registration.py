"""Both methods are registered with nerfstudio, list their own options, and keep every ns-* command's start-up light."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.commands import check, help_text, run_command

HEAVY_LIBRARIES = ("diffusers", "transformers", "mediapipe", "open_clip")


def test_config_modules_do_not_import_heavy_libraries() -> None:
    code = (
        "import json, sys\n"
        "import neurallift_ns.neurallift_config, lolnerf_ns.lolnerf_config\n"
        "import neurallift_ns.data.dataparser_config, lolnerf_ns.data.dataparser_config\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY_LIBRARIES!r}))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_both_methods_are_listed_by_ns_train() -> None:
    out = check(run_command(["ns-train", "--help"])).stdout
    assert "neurallift" in out and "lolnerf" in out
    assert "NeuralLift-360: lift one photo" in out


def test_neurallift_help_lists_our_options_with_their_help() -> None:
    out = help_text(check(run_command(["ns-train", "neurallift", "--help"])))
    assert "--pipeline.model.implementation {auto,tcnn,torch}" in out
    assert "picks tiny-cuda-nn when it is installed and a GPU is visible" in out
    assert "--pipeline.datamanager.dataparser.preprocess.depth-model" in out  # our dataparser's options
    assert "Depth-estimation model (transformers): a Hugging Face Hub id or a local folder." in out


def test_lolnerf_help_lists_our_options_with_their_help() -> None:
    out = help_text(check(run_command(["ns-train", "lolnerf", "--help"])))
    assert "--pipeline.model.latent-dim" in out and "Size of each instance's latent code." in out
    assert "--pipeline.datamanager.dataparser.collection.landmarks-file" in out
    assert "--pipeline.datamanager.images-per-batch" in out
