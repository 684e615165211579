"""Pieces both methods share: checkpoints that load back, run configs read safely, device and tinycudann choice,
model-weight lookup, errors.

Imported by every ``ns-*`` command through the method configs, so it stays light: torch, numpy and yaml only.
"""

from lift_common.checkpoints import allow_numpy_scalars_in_checkpoints, report_refused_checkpoints_in_one_line
from lift_common.run_configs import protect_nerfstudio_config_readers

allow_numpy_scalars_in_checkpoints()
report_refused_checkpoints_in_one_line()
protect_nerfstudio_config_readers()
