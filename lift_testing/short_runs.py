"""What makes a method's config a short, seeded CPU run: the settings both tiny configs share."""

from __future__ import annotations

from pathlib import Path


def make_short_cpu_run(config, output_dir: Path, steps: int) -> None:
    """Set ``config`` (a nerfstudio ``TrainerConfig``) to train ``steps`` steps on the CPU, seeded, into
    ``output_dir``, with one checkpoint at the end and no evaluation."""
    config.output_dir = output_dir
    config.vis = "tensorboard"
    config.max_num_iterations = steps
    config.steps_per_save = steps
    config.steps_per_eval_batch = steps * 10
    config.steps_per_eval_image = steps * 10
    config.steps_per_eval_all_images = steps * 10
    config.machine.seed = 0
    config.machine.device_type = "cpu"
