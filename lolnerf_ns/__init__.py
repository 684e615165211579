"""LOLNeRF for nerfstudio: one latent-conditioned NeRF learnt from many single-view photos of one class."""

import lift_common  # noqa: F401  (lets nerfstudio's torch.load read our checkpoints; see lift_common.checkpoints)
