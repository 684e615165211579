"""A ``neurallift`` model loaded from a checkpoint is the model training had at the checkpoint's step.

The blob fades out over training by a schedule, not a saved weight: nerfstudio restores it through
``Model.update_to_step`` when ``ns-viewer``, ``ns-eval`` or ``ns-export`` load a checkpoint. Without it they rendered
the learnt density plus a full-strength blob, which hid the haze the viewer showed during training.
"""

from __future__ import annotations

import torch
from nerfstudio.data.scene_box import SceneBox
from nerfstudio.engine.callbacks import TrainingCallbackLocation

from neurallift_ns.model import NeuralLiftModelConfig


def tiny_model():
    config = NeuralLiftModelConfig(
        num_levels=2, log2_hashmap_size=10, max_res=16, blob_fade_steps=100, lambda_guidance=0.0
    )
    return config.setup(scene_box=SceneBox(aabb=torch.tensor([[-1.0] * 3, [1.0] * 3])), num_train_data=1)


def test_loaded_model_renders_the_density_training_had_at_its_step() -> None:
    torch.manual_seed(0)
    trained = tiny_model()
    for callback in trained.get_training_callbacks(None):
        if TrainingCallbackLocation.BEFORE_TRAIN_ITERATION in callback.where_to_run:
            callback.run_callback_at_location(150, TrainingCallbackLocation.BEFORE_TRAIN_ITERATION)
    assert trained.field.blob_scale == 0.0  # faded out after blob_fade_steps

    loaded = tiny_model()
    loaded.load_state_dict(trained.state_dict())
    loaded.update_to_step(150)  # what nerfstudio's load_pipeline calls

    points = torch.rand(64, 3) * 2.0 - 1.0
    torch.testing.assert_close(loaded.field.density_at(points), trained.field.density_at(points))
    assert loaded.step == 150
