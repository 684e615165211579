"""Pieces both methods share: checkpoints that load back, device and tinycudann choice, model-weight lookup, errors.

Imported by every ``ns-*`` command through the method configs, so it stays light: torch and numpy only.
"""

from lift_common.checkpoints import allow_numpy_scalars_in_checkpoints, report_refused_checkpoints_in_one_line

allow_numpy_scalars_in_checkpoints()
report_refused_checkpoints_in_one_line()
