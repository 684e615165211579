"""The balance of prior against photo is logged: the norm of each one's gradient on the rendered pixels, and their
ratio, on every step once both kinds of step have happened, unscaled from mixed precision."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Type

import torch
from nerfstudio.data.scene_box import SceneBox

from neurallift_ns.data.orbit_views import orbit_cameras, view_major_rays
from neurallift_ns.guidance.base import Guidance, GuidanceConfig, GuidanceOutput
from neurallift_ns.model import NeuralLiftModelConfig

SLOPE = 0.25
"""The test prior's loss is SLOPE times the sum of the rendered pixels: its gradient on each one is SLOPE."""


class SlopeGuidance(Guidance):
    def __init__(self, config, **kwargs) -> None:
        self.config = config

    def __call__(self, images, cameras, directions, shading, step) -> GuidanceOutput:
        return GuidanceOutput(loss=SLOPE * images.sum())


@dataclass
class SlopeGuidanceConfig(GuidanceConfig):
    _target: Type = field(default_factory=lambda: SlopeGuidance)


class FakeScaler:
    """What nerfstudio's trainer hands the model: the loss is multiplied by the scale before backward."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def get_scale(self) -> float:
        return self.scale

    def is_enabled(self) -> bool:
        return True


def test_gradient_norms_of_photo_and_prior_and_their_ratio_are_logged() -> None:
    torch.manual_seed(0)
    config = NeuralLiftModelConfig(num_levels=2, log2_hashmap_size=10, max_res=16, guidance=SlopeGuidanceConfig())
    model = config.setup(scene_box=SceneBox(aabb=torch.tensor([[-1.0] * 3, [1.0] * 3])), num_train_data=1)
    model.get_training_callbacks(SimpleNamespace(grad_scaler=FakeScaler(1024.0)))
    model.train()
    size = 6
    camera = orbit_cameras(torch.zeros(1), torch.zeros(1), torch.full((1,), 3.0), torch.full((1,), 40.0), size)

    def step(batch: dict) -> dict:
        rays = model.prepare_rays(view_major_rays(camera).flatten(), batch)
        outputs = model(rays)  # the collider sets near and far, as in training
        metrics = {}
        loss = model.get_loss_dict(outputs, batch, metrics)
        (1024.0 * sum(loss.values())).backward()
        metrics["expected_photo"] = (
            (2.0 * config.lambda_rgb * (outputs["rgb"] - batch["image"]) / outputs["rgb"].numel()).norm().detach()
            if "image" in batch
            else None
        )
        return metrics

    image = torch.rand(size * size, 3)
    reference = step({"is_reference": True, "image": image, "image_shape": (size, size)})
    assert "prior_photo_gradient_ratio" not in reference  # no sampled step yet
    photo_norm = float(reference["pixel_gradient_norm/photo"])
    assert abs(photo_norm - float(reference["expected_photo"])) < 1e-4 * photo_norm

    sampled = step(
        {
            "is_reference": False,
            "num_views": 1,
            "image_shape": (size, size),
            "cameras": camera,
            "directions": torch.zeros(1, dtype=torch.long),
        }
    )
    prior_norm = config.guidance_weight() * SLOPE * (size * size * 3) ** 0.5
    assert abs(float(sampled["pixel_gradient_norm/guidance"]) - prior_norm) < 1e-4 * prior_norm
    assert float(sampled["pixel_gradient_norm/photo"]) == photo_norm  # the latest reference step's, carried over
    ratio = float(sampled["prior_photo_gradient_ratio"])
    assert abs(ratio - prior_norm / photo_norm) < 1e-4 * ratio
    for callback in model.get_training_callbacks(SimpleNamespace(grad_scaler=FakeScaler(1024.0))):
        callback.run_callback_at_location(1, callback.where_to_run[0])
    assert abs(model.viewer_prior_balance.value - ratio) < 1e-4 * ratio  # the viewer's read-only number

    # A reference step after it still carries the balance, so whatever step is logged shows it.
    again = step({"is_reference": True, "image": image, "image_shape": (size, size)})
    assert "prior_photo_gradient_ratio" in again and float(again["pixel_gradient_norm/guidance"]) > 0
