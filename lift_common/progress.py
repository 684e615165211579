"""A rich progress bar for one stage of a long computation, or nothing when it is turned off."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

LOG_LINES = 10
"""Lines a stage writes, at each tenth of its work, where the console is not a terminal (a log file, CI), which a
live bar would leave empty until the stage ends."""


@contextmanager
def stage_progress(description: str, total: float, enabled: bool = True) -> Iterator[Callable[[float], None]]:
    """A bar for ``total`` units of work; the block is given a function that advances it by some units."""
    if not enabled:
        yield lambda _units: None
        return
    from nerfstudio.utils.rich_utils import CONSOLE

    if not CONSOLE.is_terminal:
        yield _logged_advance(description, total, CONSOLE.print)
        return
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
    with Progress(*columns, console=CONSOLE, transient=False) as progress:
        task = progress.add_task(description, total=total)
        yield lambda units: progress.advance(task, units)


def _logged_advance(description: str, total: float, write: Callable[[str], None]) -> Callable[[float], None]:
    """A function advancing progress that writes it as :data:`LOG_LINES` plain lines, each with the share done and the
    time taken so far."""
    start = time.monotonic()
    done, lines_written = 0.0, 0

    def advance(units: float) -> None:
        nonlocal done, lines_written
        done += units
        share = min(done / total, 1.0) if total > 0 else 1.0
        due = int(LOG_LINES * share)
        if due > lines_written:
            lines_written = due
            write(f"{description}: {share:.0%} after {time.monotonic() - start:.0f} s")

    return advance
