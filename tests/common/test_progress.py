"""Long stages report their progress where the console is not a terminal too (a log file, CI)."""

from __future__ import annotations

import subprocess
import sys

STAGE = """
from lift_common.progress import stage_progress

with stage_progress("Training the thing", total=250) as advance:
    for _ in range(250):
        advance(1)
"""


def test_a_stage_writes_a_line_at_each_tenth_of_its_work_into_a_log():
    # stdout is a pipe here, as it is when a run's output goes to a file.
    output = subprocess.run([sys.executable, "-c", STAGE], capture_output=True, text=True, check=True).stdout
    lines = [line for line in output.splitlines() if line.startswith("Training the thing:")]
    assert [line.split()[3] for line in lines] == [f"{10 * tenth}%" for tenth in range(1, 11)], output
