"""The lolnerf method's config, sized for a CPU test on the synthetic class."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from lift_testing.short_runs import make_short_cpu_run

ONE_THREAD = {"OMP_NUM_THREADS": "1"}
"""Environment of ns-* commands run by the slow tests. The machine the tests were sized on has 2 cores shared with
other work; one thread per process avoids torch's threads waiting on each other (measured: 2 threads under load
were 3-5x slower than 1)."""


@contextmanager
def one_thread() -> Iterator[None]:
    """Torch on one thread inside the block (in-process training in the slow tests; see ``ONE_THREAD``)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


SYNTHETIC_CLASS_STEPS = 600
"""Steps of the proof that lolnerf recovers the synthetic class (tests/lolnerf/test_recovers_synthetic_class.py)."""

TINY_MODEL = dict(
    latent_dim=16,
    num_layers=4,
    layer_width=64,
    skip_layer=2,
    num_frequencies=6,
    color_hidden_dim=32,
    num_coarse_samples=32,
    num_importance_samples=32,
    background_num_layers=2,
    background_layer_width=32,
    eval_num_rays_per_chunk=2048,
)
"""Model options of the tiny config (also used by the benchmark's small size)."""


def synthetic_class_config(data: Path, output_dir: Path, steps: int, images_per_batch: int = 8, pixels: int = 64):
    """The ``lolnerf`` method's own config (model, rates and schedules unchanged) for ``steps`` steps on ``data``
    on the CPU, writing under ``output_dir``, seeded, with one checkpoint at the end and no evaluation."""
    from lolnerf_ns.lolnerf_config import lolnerf_method

    config = copy.deepcopy(lolnerf_method.config)
    make_short_cpu_run(config, output_dir, steps)
    config.pipeline.datamanager.data = data
    config.pipeline.datamanager.images_per_batch = images_per_batch
    config.pipeline.datamanager.pixels_per_image = pixels
    config.pipeline.datamanager.__post_init__()  # batch size follows identities x pixels
    return config


def tiny_lolnerf_config(data: Path, output_dir: Path, steps: int, images_per_batch: int = 8, pixels: int = 64, **model):
    """A ``lolnerf`` trainer config for ``steps`` steps on ``data``, writing under ``output_dir``; ``model`` overrides
    fields of the model config."""
    config = synthetic_class_config(data, output_dir, steps, images_per_batch, pixels)
    for name, value in {**TINY_MODEL, **model}.items():
        setattr(config.pipeline.model, name, value)
    # A 4x64 MLP learns fastest at rates about 20x those of the default 8x256 one.
    rates = {"fields": 1e-2, "latents": 1e-1}
    for name, group in config.optimizers.items():
        group["optimizer"].lr = rates[name]
        group["scheduler"].lr_final = rates[name] / 10
        group["scheduler"].max_steps = steps
    return config
