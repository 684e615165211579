"""A ``neurallift`` model loaded from a checkpoint is the model training had at the checkpoint's step.

Where it is set to fade (``blob_fade_steps``), the blob fades out by a schedule, not a saved weight: nerfstudio
restores it through ``Model.update_to_step`` when ``ns-viewer``, ``ns-eval`` or ``ns-export`` load a checkpoint.
Without it they rendered the learnt density plus a full-strength blob, which hid the haze the viewer showed during
training. By default the blob is kept, as the references keep theirs.
"""

from __future__ import annotations

import torch
from nerfstudio.data.scene_box import SceneBox
from nerfstudio.engine.callbacks import TrainingCallbackLocation

from neurallift_ns.model import NeuralLiftModelConfig


def tiny_model(blob_fade_steps: int | None = 100):
    config = NeuralLiftModelConfig(
        num_levels=2, log2_hashmap_size=10, max_res=16, blob_fade_steps=blob_fade_steps, lambda_guidance=0.0
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


def test_the_blob_is_kept_all_through_training_by_default() -> None:
    assert NeuralLiftModelConfig().blob_fade_steps is None
    model = tiny_model(blob_fade_steps=None)
    model.update_to_step(1_000_000)
    assert model.field.blob_scale == 1.0
