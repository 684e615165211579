"""Running ``ns-*`` commands as a user would, from this interpreter's environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BIN_DIR = Path(sys.executable).parent
REPO_ROOT = Path(__file__).resolve().parents[1]


def run_command(
    args: list[str], cwd: Path | None = None, timeout: float = 900, **env: str
) -> subprocess.CompletedProcess:
    """Run a console script of this environment (``ns-train`` ...) and return its completed process."""
    executable = str(BIN_DIR / args[0]) if (BIN_DIR / args[0]).exists() else args[0]
    environment = dict(os.environ, PYTHONWARNINGS="ignore", **env)
    return subprocess.run(
        [executable, *args[1:]], cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout
    )


def check(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    """Fail the test with the command's output when it did not succeed."""
    assert result.returncode == 0, (
        f"{result.args} exited {result.returncode}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )
    return result


def help_text(result: subprocess.CompletedProcess) -> str:
    """A command's ``--help`` output as one line of words, free of tyro's box drawing and line wrapping."""
    return " ".join(result.stdout.replace("│", " ").split())
