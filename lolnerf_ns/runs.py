"""Trained ``lolnerf`` runs as files: reading a run's ``config.yml``, and writing runs derived from it.

A derived run is a ``config.yml`` (and, for a lifted photo, a checkpoint) that nerfstudio's own tools load unchanged
with ``--load-config``: ``ns-render``, ``ns-export``, ``ns-viewer``, ``ns-eval``. Its ``output_dir`` is made
absolute from where the original ``config.yml`` lies, so it finds its checkpoints from any working directory.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import torch
import yaml
from nerfstudio.engine.trainer import TrainerConfig

from lift_common.checkpoints import save_checkpoint_atomically
from lift_common.trained_runs import read_trained_run


def read_run_config(config_path: Path) -> TrainerConfig:
    """The trained lolnerf run's config, anchored to where ``config_path`` lies; bad paths get one message."""
    return read_trained_run(config_path, ("lolnerf",))


def safe_name(text: str) -> str:
    """``text`` reduced to letters, digits, '-', '_' and '.', for file and identity names."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return name or "identity"


def write_config(config: TrainerConfig, path: Path) -> Path:
    """Write ``config`` as nerfstudio writes config.yml."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.dump(config), "utf8")
    return path


def write_lifted_run(
    config: TrainerConfig,
    pipeline_state: dict[str, torch.Tensor],
    step: int,
    name: str,
    code: torch.Tensor,
) -> Path:
    """A new run beside ``config``'s whose latent table has ``code`` appended as identity ``name``, shown by default.

    ``pipeline_state`` is the run's pipeline state (with fine-tuned fields, if they were). The new run's folder is
    ``<timestamp>_lifted_<name>`` next to the original; returns its config.yml.
    """
    lifted = copy.deepcopy(config)
    lifted.timestamp = f"{config.timestamp}_lifted_{name}"
    model = lifted.pipeline.model
    model.lifted_instances = (*model.lifted_instances, name)
    model.render_identities = (name,)
    lifted.load_dir = None
    key = next(k for k in pipeline_state if k.endswith("latent_table.weight"))
    state = dict(pipeline_state)
    state[key] = torch.cat([pipeline_state[key], code.detach().reshape(1, -1).to(pipeline_state[key])])
    checkpoint = lifted.get_checkpoint_dir() / f"step-{step:09d}.ckpt"
    save_checkpoint_atomically({"step": step, "pipeline": state, "optimizers": {}, "schedulers": {}}, checkpoint)
    return write_config(lifted, lifted.get_base_dir() / "config.yml")
