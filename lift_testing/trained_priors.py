"""The trained miniature Zero-1-to-3 that the suite lifts with, kept in the repository, and the command that remakes it.

It is the miniature of :mod:`lift_testing.miniature_zero123` at its defaults (seed 0), trained on the procedural cups
of :mod:`lift_testing.object_class` (120 objects at 32^2 pixels, seed 0, the last 12 held out), saved in half
precision (5.0 MB; the guidance loads it in float32 on the CPU). Its checks and the lifts made with it:
docs/miniature-priors.md.

Remake it from the repository root (about 30 min on one core of the 2-core CPU machine)::

    python -m lift_testing.trained_priors
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

TRAINED_ZERO123 = Path(__file__).parent / "trained" / "zero123_cups32"
"""The miniature Zero-1-to-3's folder, in the layout ``zero123 --diffusion.model`` loads."""
CLASS_OBJECTS, CLASS_HELDOUT, CLASS_SIZE, CLASS_SEED = 120, 12, 32, 0
"""The class it was trained on (``python -m lift_testing.object_class DIR --objects 120 --heldout 12 --size 32``)."""
HELDOUT_OBJECT = 108
"""object0108: the first held-out object, never seen in training; the suite lifts it."""


def write_heldout_object(folder: Path) -> Path:
    """Write the held-out object the suite lifts (its views all around, as the whole class writes it) to ``folder``
    without writing the other 119."""
    from lift_testing.object_class import random_objects, write_object

    write_object(folder, random_objects(CLASS_OBJECTS, CLASS_SEED)[HELDOUT_OBJECT], CLASS_SIZE)
    return folder


def save_half_precision(source: Path, destination: Path) -> None:
    """Copy a model folder, every safetensors file's floating-point tensors cast to float16."""
    from safetensors.torch import load_file, save_file

    shutil.rmtree(destination, ignore_errors=True)
    shutil.copytree(source, destination)
    for weights in destination.rglob("*.safetensors"):
        tensors = load_file(str(weights))
        half = {name: value.half() if value.is_floating_point() else value for name, value in tensors.items()}
        save_file(half, str(weights))


def main() -> None:
    from lift_testing.miniature_zero123 import MiniatureZero123Config, train_miniature_zero123
    from lift_testing.object_class import write_object_class

    with tempfile.TemporaryDirectory() as work:
        class_folder, trained = Path(work) / "class", Path(work) / "zero123"
        write_object_class(class_folder, CLASS_OBJECTS, CLASS_HELDOUT, CLASS_SIZE, CLASS_SEED)
        train_miniature_zero123(class_folder, trained, MiniatureZero123Config())
        save_half_precision(trained, TRAINED_ZERO123)
    print(f"Saved {TRAINED_ZERO123}")


if __name__ == "__main__":
    main()
