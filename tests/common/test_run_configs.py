"""A run's config.yml is read without running code it names: by our commands and by nerfstudio's."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from lift_common.errors import UserInputError
from lift_common.run_configs import (
    EXTRA_PACKAGES_VARIABLE,
    installed_method_packages,
    parse_run_config,
    read_run_config,
)
from tests.commands import run_command

SYSTEM_CALL = "!!python/object/apply:os.system\n- touch {marker}\n"
"""The payload of the issue: a config.yml whose whole content runs a shell command when yaml.Loader reads it."""
NEW_OBJECT = "pipeline: !!python/object/new:subprocess.Popen\n- [touch, {marker}]\n"
"""A class outside the config packages built with ``object/new``: Popen runs its argument list."""

PAYLOADS = {
    "system call": SYSTEM_CALL,
    "new object outside the packages": NEW_OBJECT,
    "function of nerfstudio that runs a command": "a: !!python/object/apply:nerfstudio.utils.scripts.run_command\n"
    "- touch {marker}\n",
    "reference to such a function": "a: !!python/name:nerfstudio.utils.scripts.run_command ''\n",
    "payload inside a path": "a: !!python/object/apply:pathlib.PosixPath\n- !!python/object/apply:os.system "
    "[touch {marker}]\n",
    "payload inside a generic alias": "a: !!python/object/apply:_operator.getitem\n"
    "- !!python/name:subprocess.Popen ''\n- [touch, {marker}]\n",
    "dict that is not a dataclass": "a: !!python/object:collections.OrderedDict {{}}\n",
    "module": "a: !!python/module:os ''\n",
}


def test_every_installed_method_config_loads_unchanged() -> None:
    from nerfstudio.configs.method_configs import all_methods

    assert {"neurallift", "lolnerf", "nerfacto", "neus"} <= set(all_methods)  # ours and nerfstudio's (neus: generics)
    for name, config in all_methods.items():
        text = yaml.dump(config)
        loaded = parse_run_config(text, f"{name}.yml", installed_method_packages())
        assert loaded == config, name
        assert yaml.dump(loaded) == text, name


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_a_config_that_names_other_objects_is_refused_before_they_are_built(tmp_path: Path, payload: str) -> None:
    marker = tmp_path / "PWNED"
    config = tmp_path / "config.yml"
    config.write_text(payload.format(marker=marker))
    with pytest.raises(UserInputError, match=rf"{config} was not loaded: line \d holds !!python/") as refused:
        read_run_config(config)
    assert not marker.exists()
    assert "\n" not in refused.value.message


@dataclass
class OwnGuidanceConfig:
    """A config class outside our packages and any installed method's: a user's own guidance."""

    weight: float = 1.0


def test_packages_named_by_the_environment_are_allowed(tmp_path: Path, monkeypatch) -> None:
    config = tmp_path / "config.yml"
    config.write_text(yaml.dump({"guidance": OwnGuidanceConfig(weight=2.0)}))
    monkeypatch.delenv(EXTRA_PACKAGES_VARIABLE, raising=False)
    with pytest.raises(UserInputError, match=r"holds !!python/object:tests\.common\.test_run_configs\.OwnGuidance"):
        read_run_config(config)
    monkeypatch.setenv(EXTRA_PACKAGES_VARIABLE, "other, tests")
    assert read_run_config(config) == {"guidance": OwnGuidanceConfig(weight=2.0)}


def test_other_callers_of_yaml_keep_their_loader() -> None:
    # Only nerfstudio's run-config readers are given the restricted loader.
    assert yaml.load("!!python/object/apply:collections.OrderedDict [[[a, 1]]]\n", Loader=yaml.Loader) == {"a": 1}


def _check_refused(result, config: Path, marker: Path) -> None:
    assert not marker.exists(), result.stdout + result.stderr
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith(f"Error: {config} was not loaded: line"), result.stderr


OUR_COMMANDS = {
    "ns-lift-orbit-path": ["--output-path", "orbit.json"],
    "ns-lolnerf-identities": ["--identities", "0"],
    "ns-lolnerf-lift": ["--image", "photo.png"],
}
NERFSTUDIO_COMMANDS = {
    "ns-export": ["ns-export", "pointcloud", "--output-dir", "exported"],
    "ns-eval": ["ns-eval", "--output-path", "eval.json"],
    "ns-render": ["ns-render", "camera-path", "--camera-path-filename", "path.json"],
    "ns-viewer": ["ns-viewer"],
    "ns-train": ["ns-train", "neurallift"],
}


@pytest.mark.slow
@pytest.mark.parametrize("payload", [SYSTEM_CALL, NEW_OBJECT], ids=["system call", "new object"])
@pytest.mark.parametrize("command", OUR_COMMANDS)
def test_our_commands_refuse_a_config_that_runs_code(tmp_path: Path, command: str, payload: str) -> None:
    marker, config = tmp_path / "PWNED", tmp_path / "config.yml"
    config.write_text(payload.format(marker=marker))
    result = run_command([command, "--load-config", str(config), *OUR_COMMANDS[command]], cwd=tmp_path, timeout=300)
    _check_refused(result, config, marker)


@pytest.mark.slow
@pytest.mark.parametrize("command", NERFSTUDIO_COMMANDS)
def test_nerfstudio_commands_refuse_a_config_that_runs_code(tmp_path: Path, command: str) -> None:
    marker, config = tmp_path / "PWNED", tmp_path / "config.yml"
    config.write_text(SYSTEM_CALL.format(marker=marker))
    args = [*NERFSTUDIO_COMMANDS[command], "--load-config", str(config)]
    _check_refused(run_command(args, cwd=tmp_path, timeout=300), config, marker)
