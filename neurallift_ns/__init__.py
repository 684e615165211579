"""NeuralLift-360 for nerfstudio: one photo of an object becomes a NeRF viewable from all around."""

import lift_common  # noqa: F401  (lets nerfstudio's torch.load read our checkpoints; see lift_common.checkpoints)
