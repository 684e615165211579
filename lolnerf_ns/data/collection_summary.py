"""What a collection's preparation tells the user: the photos not used and why, too few photos left, the fit."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from nerfstudio.utils.rich_utils import CONSOLE

from lift_common.errors import UserInputError

if TYPE_CHECKING:
    from lolnerf_ns.data.camera_fit import CameraFit

MAX_LISTED_SKIPPED = 30
"""Photos not used are listed one per line up to this many; beyond, counted by reason (all are in cameras.json)."""


def print_skipped(skipped: list[tuple[str, str]], total: int, record: Path | None = None) -> None:
    """A table of the photos not used with their reasons (counted by reason when there are many), naming the
    ``record`` that lists them all."""
    if not skipped:
        return
    from rich.table import Table

    table = Table(title=f"{len(skipped)} of {total} photos not used")
    if len(skipped) <= MAX_LISTED_SKIPPED:
        table.add_column("photo")
        table.add_column("reason")
        for name, reason in skipped:
            table.add_row(name, reason)
    else:
        table.add_column("photos")
        table.add_column("reason")
        for reason, count in Counter(reason.split(":")[0] for _, reason in skipped).most_common():
            table.add_row(str(count), reason)
    CONSOLE.print(table)
    if record is not None:
        CONSOLE.print(f"Every photo not used, and why, is listed in {record}.")


def check_enough(num_kept: int, skipped: list, min_images: int, data: Path, when: str) -> None:
    """Raise a :class:`UserInputError` counting the reasons, after the table, if fewer than ``min_images`` remain."""
    if num_kept >= min_images:
        return
    print_skipped(skipped, num_kept + len(skipped))
    reasons = Counter(reason.split(":")[0] for _, reason in skipped)
    summary = ", ".join(f"{count} {reason}" for reason, count in reasons.most_common())
    raise UserInputError(
        f"Only {num_kept} of the photos in {data} remain {when} ({summary}); at least {min_images} are needed. "
        "Add photos, or for classes other than faces pass a landmarks file with --pipeline.datamanager.dataparser"
        ".collection.landmarks-file."
    )


def log_fit(fit: CameraFit, seconds: float) -> None:
    """One line on the fitted cameras: the landmark residuals' spread and the focal length."""
    residuals = fit.residual_px
    CONSOLE.log(
        f"Cameras of {len(residuals)} photos fitted: landmark residual median {np.median(residuals):.2f} px, "
        f"95th percentile {np.percentile(residuals, 95):.2f} px, worst {residuals.max():.2f} px "
        f"(each photo's is in cameras.json); focal length {fit.focal_length:.1f} px; {seconds:.1f} s in all."
    )
