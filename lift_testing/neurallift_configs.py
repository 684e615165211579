"""The neurallift method's config, sized for a CPU test on the synthetic object, its balance left at the defaults."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

from lift_testing.short_runs import make_short_cpu_run
from lift_testing.synthetic_object import AnalyticObjectGuidanceConfig

DEFAULT_RUN_STEPS = 10000
"""Steps of a default ``ns-train neurallift`` run: the schedules below are fractions of it."""

SCHEDULE_FIELDS = {
    "reference_only_steps",
    "reference_probability_decay_steps",
    "widening_steps",
    "anneal_start_step",
    "anneal_steps",
    "max_steps",
    "blob_fade_steps",
    "proposal_warmup",
    "proposal_weights_anneal_max_num_iters",
    "shading_start_step",
}
"""Config fields counted in training steps. A shortened run keeps each at the same fraction of the run (whichever of
them the config has: the prior-balance benchmark also builds configs of older versions of the method)."""


def scale_schedules(config, steps: int) -> None:
    """Every schedule in ``config`` (a nested dataclass) shrunk from a default run's length to ``steps``."""
    for item in dataclasses.fields(config):
        value = getattr(config, item.name)
        if item.name in SCHEDULE_FIELDS and isinstance(value, int):
            setattr(config, item.name, max(1, round(value * steps / DEFAULT_RUN_STEPS)))
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            scale_schedules(value, steps)
        elif isinstance(value, dict):
            for entry in value.values():
                for part in entry.values() if isinstance(entry, dict) else (entry,):
                    if dataclasses.is_dataclass(part) and not isinstance(part, type):
                        scale_schedules(part, steps)


def shipped_neurallift_config(
    data: Path, output_dir: Path, steps: int, guidance=None, image_size: int = 64, resolution: int = 32
):
    """A ``neurallift`` trainer config as the method ships, for ``steps`` steps on the photo in ``data``: only sizes
    change (grids, samples, the photo's ``image_size``, the ``resolution`` of its views and of sampled views) and the
    schedules shrink with the run. Every loss weight, regulariser, shading and background is the default. The photo
    is not recentred, so the reference camera is the dataparser's default, the camera its truth was drawn from."""
    from neurallift_ns.neurallift_config import neurallift_method

    config = copy.deepcopy(neurallift_method.config)
    make_short_cpu_run(config, output_dir, steps)
    scale_schedules(config, steps)
    datamanager = config.pipeline.datamanager
    datamanager.data = data
    datamanager.dataparser.preprocess.image_size = image_size
    datamanager.dataparser.preprocess.recenter = False
    datamanager.reference_resolution = resolution
    datamanager.sampled_resolution = resolution
    model = config.pipeline.model
    model.num_levels, model.max_res, model.log2_hashmap_size = 8, 64, 17
    model.num_proposal_samples_per_ray, model.num_nerf_samples_per_ray = (64, 32), 32
    for args in model.proposal_net_args_list:
        args.update(num_levels=5, max_res=128, log2_hashmap_size=15)
    if guidance is not None:
        model.guidance = guidance
    return config


def tiny_neurallift_config(data: Path, output_dir: Path, steps: int, guidance=None):
    """The shipped config at test sizes (:func:`shipped_neurallift_config`) on the synthetic object's photo in
    ``data``, with sampled views as the test priors render their targets: albedo on white, no orientation loss. The
    balance of the photo against the prior (loss weights, how often the photo is seen, learning rates) is the
    method's default.
    """
    config = shipped_neurallift_config(data, output_dir, steps, guidance)
    model = config.pipeline.model
    model.blob_radius = 0.9  # the object reaches 0.85 from the centre: start it solid everywhere it could be
    model.shading_probabilities = (1.0, 0.0, 0.0)
    model.p_random_background = 0.0
    model.background = "white"
    model.lambda_orientation = 0.0
    return config


GROUND_TRUTH_PROOF_STEPS = 650
"""Long enough to converge: seed 0 gave behind views of 29.9 / 29.8 / 29.0 dB after 650 steps and 29.9 / 30.2 / 28.9
after 1000; seed 1 after 650, 28.6 / 29.0 / 28.7; after 500, seeds 0 and 1 fell to 28.6 / 29.3 / 27.2 and
26.6 / 27.4 / 25.9. An untrained field scores 10.5 dB."""


def ground_truth_config(data: Path, output_dir: Path, steps: int):
    """The tiny neurallift config with the ground truth for a prior, as strong as the photo itself."""
    config = tiny_neurallift_config(data, output_dir, steps, guidance=AnalyticObjectGuidanceConfig())
    config.pipeline.datamanager.sampled_views_per_step = 2
    model = config.pipeline.model
    model.lambda_guidance = model.lambda_rgb
    return config
