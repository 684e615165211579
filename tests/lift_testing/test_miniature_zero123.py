"""A miniature Zero-1-to-3 trained on a class folder is saved in the layout ``zero123 --diffusion.model`` loads, and
the guidance's own loading code samples views with it. (That it learns the class is the benchmark's to show: a few
steps prove the path, not the prior.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lift_testing.class_views import read_class_views
from lift_testing.miniature_zero123 import MiniatureZero123Config, train_miniature_zero123
from lift_testing.object_class import write_object_class
from lift_testing.zero123_sampling import Zero123Sampler

pytestmark = pytest.mark.slow


def test_a_miniature_zero123_trains_saves_and_samples(tmp_path: Path) -> None:
    from neurallift_ns.guidance.zero123 import check_local_layout

    written = write_object_class(
        tmp_path / "cups", 4, 1, size=16, azimuths_deg=(0.0, 90.0, 180.0, 270.0), elevations_deg=(0.0,)
    )
    config = MiniatureZero123Config(vae_steps=3, steps=3, batch_size=4, width=16, vae_channels=(8, 16))
    record = train_miniature_zero123(written.folder, tmp_path / "prior", config)
    assert all(torch.isfinite(torch.tensor(value)) for value in record.values())
    check_local_layout(tmp_path / "prior", "prior", "zero123 --diffusion.model")  # every part where it belongs
    vae_config = json.loads((tmp_path / "prior" / "vae" / "config.json").read_text())
    assert vae_config["scaling_factor"] == pytest.approx(record["scaling_factor"])
    views = read_class_views(written.heldout)
    front, back = views.view_nearest(0.0, 0.0), views.view_nearest(180.0, 0.0)
    photo = views.float_images(torch.tensor([0]), torch.tensor([front]))[0]
    sampled = Zero123Sampler(tmp_path / "prior").sample_views(
        photo, views.positions[0, front], views.positions[0, [back]], 16, steps=4
    )
    assert sampled.shape == (1, 3, 16, 16) and sampled.min() >= 0.0 and sampled.max() <= 1.0
