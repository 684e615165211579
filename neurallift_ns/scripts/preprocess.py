"""``ns-neurallift-preprocess``: make a photo's mask, depth and framing now, and look at them before training.

Writes the same cache ``ns-train neurallift`` reads (beside the photo, in ``.neurallift_cache/``), and a preview
picture, photo | mask | depth, whose path it prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import tyro
from nerfstudio.utils.rich_utils import CONSOLE

from neurallift_ns.data.preprocess import PreprocessConfig, preprocess_photo


@dataclass
class PreprocessCommand:
    """Preprocess a photo for ns-train neurallift and write a preview picture."""

    data: tyro.conf.Positional[Path]
    """The photo, or a folder holding it (and optionally mask.png, depth.npy or depth.png)."""
    settings: tyro.conf.OmitArgPrefixes[PreprocessConfig] = field(default_factory=PreprocessConfig)
    """Preprocessing settings (the same as ns-train neurallift's --pipeline.datamanager.dataparser.preprocess.*)."""
    force: bool = False
    """Preprocess again even when an identical earlier run is cached."""

    def main(self) -> None:
        result = preprocess_photo(self.data, self.settings, force=self.force)
        CONSOLE.print(f"Preview: {result.preview_path}")
        CONSOLE.print(f"Train with: ns-train neurallift --data {self.data}")


def entrypoint() -> None:
    """Entry point of ``ns-neurallift-preprocess``."""
    tyro.extras.set_accent_color("bright_yellow")
    tyro.cli(PreprocessCommand).main()


if __name__ == "__main__":
    entrypoint()
