"""Running ``ns-*`` commands as a user would, from this interpreter's environment."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

BIN_DIR = Path(sys.executable).parent
REPO_ROOT = Path(__file__).resolve().parents[1]


def run_command(
    args: list[str], cwd: Path | None = None, timeout: float = 900, **env: str
) -> subprocess.CompletedProcess:
    """Run a console script of this environment (``ns-train`` ...) and return its completed process."""
    return subprocess.run(
        _command_line(args), cwd=cwd, env=_environment(env), capture_output=True, text=True, timeout=timeout
    )


def _command_line(args: list[str]) -> list[str]:
    executable = str(BIN_DIR / args[0]) if (BIN_DIR / args[0]).exists() else args[0]
    return [executable, *args[1:]]


def _environment(env: dict[str, str]) -> dict[str, str]:
    return dict(os.environ, PYTHONWARNINGS="ignore", **env)


class BackgroundCommand:
    """A command left running (``ns-viewer``, ``ns-train`` with its viewer), its output going to a log file."""

    def __init__(self, process: subprocess.Popen, log: Path) -> None:
        self.process = process
        self.log = log

    def output(self, last_chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-last_chars:]

    def wait_until_serving(self, url: str, timeout: float = 300) -> None:
        """Return once ``url`` answers; fail with the command's output if it exits or ``timeout`` passes first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.process.args} exited {self.process.returncode}\n{self.output()}")
            try:
                with urllib.request.urlopen(url, timeout=5):
                    return
            except OSError:
                time.sleep(1)
        raise AssertionError(f"{url} did not answer within {timeout} s\n{self.output()}")

    def stop(self) -> None:
        """Terminate the command (and anything it started), killing it if it does not exit."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@contextlib.contextmanager
def background_command(args: list[str], log: Path, cwd: Path | None = None, **env: str) -> Iterator[BackgroundCommand]:
    """Run a console script of this environment in the background (its own process group) and always stop it."""
    with log.open("w") as output:
        process = subprocess.Popen(
            _command_line(args),
            cwd=cwd,
            env=_environment(env),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    command = BackgroundCommand(process, log)
    try:
        yield command
    finally:
        command.stop()


def free_port() -> int:
    """A TCP port nothing listens on now (the OS picks it), for a server started next."""
    with socket.socket() as probe:
        probe.bind(("", 0))
        return probe.getsockname()[1]


def check(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    """Fail the test with the command's output when it did not succeed."""
    assert result.returncode == 0, (
        f"{result.args} exited {result.returncode}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )
    return result


def help_text(result: subprocess.CompletedProcess) -> str:
    """A command's ``--help`` output as one line of words, free of tyro's box drawing and line wrapping."""
    return " ".join(result.stdout.replace("│", " ").split())
