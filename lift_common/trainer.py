"""nerfstudio's trainer, with checkpoints written atomically, resumed from a checked folder, and the device chosen
from what the machine has."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Type

from nerfstudio.configs.base_config import MachineConfig
from nerfstudio.engine.trainer import Trainer, TrainerConfig
from nerfstudio.utils.decorators import check_main_thread
from nerfstudio.utils.rich_utils import CONSOLE

from lift_common.checkpoints import save_checkpoint_atomically
from lift_common.device import default_device_type
from lift_common.errors import UserInputError

CHECKPOINT_NAME = re.compile(r"step-(\d+)\.ckpt")
"""How nerfstudio names a checkpoint: ``step-000001000.ckpt``."""


@dataclass
class LiftTrainerConfig(TrainerConfig):
    """nerfstudio's ``TrainerConfig`` whose machine defaults to CUDA when present, else CPU."""

    _target: Type = field(default_factory=lambda: LiftTrainer)
    machine: MachineConfig = field(default_factory=lambda: MachineConfig(device_type=default_device_type()))
    """Machine configuration (device defaults to CUDA when a GPU is visible, else CPU)."""


class LiftTrainer(Trainer):
    """Writes each checkpoint to a temporary file and renames it into place, and resumes to the run's last step.

    A run killed while saving keeps its previous checkpoint intact, so ``--load-dir`` always finds a complete one.
    The temporary file lives in a sibling folder because nerfstudio parses the step out of every file name in the
    checkpoint folder when it resumes. Under multi-process training only the main process writes (as nerfstudio's
    own trainer does), since every process holds the same weights.
    """

    def setup(self, test_mode: Literal["test", "val", "inference"] = "val") -> None:
        """Check what ``--load-dir`` / ``--load-checkpoint`` name before the (slow) pipeline set-up, then set up."""
        self._check_checkpoint_to_resume()
        super().setup(test_mode=test_mode)

    def _check_checkpoint_to_resume(self) -> None:
        """One message for a resume that cannot work, and ``load_step`` set to the folder's latest checkpoint.

        nerfstudio parses a step out of every file name in ``--load-dir``, so an empty folder ends in an
        ``IndexError`` and a stray file in a ``ValueError``; a missing step or file in an ``AssertionError``.
        """
        load_dir, load_checkpoint = self.config.load_dir, self.config.load_checkpoint
        if load_dir is not None:
            load_dir = Path(load_dir)
            expected = "the nerfstudio_models/ folder of a run (outputs/<experiment>/<method>/<timestamp>/)"
            if not load_dir.is_dir():
                raise UserInputError(f"--load-dir {load_dir} is not a folder. Pass {expected}.")
            steps = sorted(
                int(found.group(1))
                for found in map(CHECKPOINT_NAME.fullmatch, (p.name for p in load_dir.iterdir()))
                if found
            )
            if not steps:
                hint = ""
                if any((load_dir / "nerfstudio_models").glob("step-*.ckpt")):
                    hint = f" It is a run's folder: pass --load-dir {load_dir / 'nerfstudio_models'}."
                raise UserInputError(
                    f"--load-dir {load_dir} holds no checkpoint (step-<step>.ckpt files written by ns-train).{hint} "
                    f"Pass {expected}, or leave --load-dir out to train from the start."
                )
            if self.config.load_step is None:
                self.config.load_step = steps[-1]
            elif self.config.load_step not in steps:
                raise UserInputError(
                    f"--load-dir {load_dir} has no checkpoint of step {self.config.load_step} "
                    f"(it has steps {', '.join(map(str, steps))}). Pass one of them as --load-step, or leave it out."
                )
        elif load_checkpoint is not None and not Path(load_checkpoint).is_file():
            raise UserInputError(
                f"--load-checkpoint {load_checkpoint} does not exist. Pass a .ckpt that ns-train wrote."
            )

    def train(self) -> None:
        """Train up to ``max_num_iterations`` steps counted from the run's start, also when resuming.

        nerfstudio counts them from the resumed step, so resuming a stopped run with its own command would train a
        whole run more; here it finishes the run, at the step and learning rates an unbroken run ends with.
        """
        total = self.config.max_num_iterations
        if self._start_step >= total:
            CONSOLE.print(f"The checkpoint is at step {self._start_step - 1}: this {total}-step run is complete.")
            return
        self.config.max_num_iterations = total - self._start_step
        try:
            super().train()
        finally:
            self.config.max_num_iterations = total

    @check_main_thread
    def save_checkpoint(self, step: int) -> None:
        ckpt_path: Path = self.checkpoint_dir / f"step-{step:09d}.ckpt"
        pipeline = self.pipeline.module if hasattr(self.pipeline, "module") else self.pipeline
        state = {
            "step": step,
            "pipeline": pipeline.state_dict(),  # type: ignore[union-attr]
            "optimizers": {k: v.state_dict() for (k, v) in self.optimizers.optimizers.items()},
            "schedulers": {k: v.state_dict() for (k, v) in self.optimizers.schedulers.items()},
            "scalers": self.grad_scaler.state_dict(),
        }
        partial_dir = self.checkpoint_dir.parent / f".{self.checkpoint_dir.name}.partial"
        save_checkpoint_atomically(state, ckpt_path, partial_dir=partial_dir)
        if self.config.save_only_latest_checkpoint:
            for old in self.checkpoint_dir.glob("*.ckpt"):
                if old != ckpt_path:
                    old.unlink()
