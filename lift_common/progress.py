"""A rich progress bar for one stage of a long computation, or nothing when it is turned off."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def stage_progress(description: str, total: float, enabled: bool = True) -> Iterator[Callable[[float], None]]:
    """A bar for ``total`` units of work; the block is given a function that advances it by some units."""
    if not enabled:
        yield lambda _units: None
        return
    from nerfstudio.utils.rich_utils import CONSOLE
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
    with Progress(*columns, console=CONSOLE, transient=False) as progress:
        task = progress.add_task(description, total=total)
        yield lambda units: progress.advance(task, units)
