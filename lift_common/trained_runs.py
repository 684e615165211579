"""A trained run's config.yml read safely and anchored to its folder, so its checkpoints are found from anywhere."""

from __future__ import annotations

from pathlib import Path

from lift_common.errors import UserInputError
from lift_common.run_configs import read_run_config


def read_trained_run(config_path: Path, methods: tuple[str, ...]):
    """The ``TrainerConfig`` of a trained run of one of ``methods``, with ``output_dir`` made absolute from where
    ``config_path`` lies (a run's folder is ``<output_dir>/<experiment>/<method>/<timestamp>``) and relative data
    paths that exist made absolute. A missing file, another method's run or a run without a checkpoint is one
    message."""
    from nerfstudio.engine.trainer import TrainerConfig

    config_path = Path(config_path)
    config = read_run_config(config_path)
    if not isinstance(config, TrainerConfig) or config.method_name not in methods:
        method = getattr(config, "method_name", None)
        names = " or ".join(methods)
        raise UserInputError(
            f"{config_path} is not the config of a {names} run (method: {method}). Pass a {names} run's config.yml."
        )
    run_folder = config_path.resolve().parent
    if (
        run_folder.name == str(config.timestamp)
        and run_folder.parent.name == config.method_name
        and run_folder.parents[1].name == str(config.experiment_name)
    ):
        config.output_dir = run_folder.parents[2]
    for holder in (config.pipeline.datamanager, config.pipeline.datamanager.dataparser):
        data = getattr(holder, "data", None)
        if data is not None and not Path(data).is_absolute() and Path(data).exists():
            holder.data = Path(data).resolve()
    checkpoints = config.get_checkpoint_dir()
    if not checkpoints.is_dir() or not any(checkpoints.glob("step-*.ckpt")):
        raise UserInputError(
            f"No checkpoint in {checkpoints} for {config_path}. Train until a checkpoint is saved "
            "(--steps-per-save), or pass the config.yml that sits beside nerfstudio_models/."
        )
    return config
