"""Files and folders written aside and renamed into place, so a reader finds the old one or the whole new one."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

PARTIAL_SUFFIX = ".partial"


def write_atomically(path: Path, write: Callable[[BinaryIO], object], partial_dir: Path | None = None) -> None:
    """Call ``write(file)`` on a temporary file, then rename it to ``path``: readers see the whole file or none.

    Args:
        path: The file's final name.
        write: Writes the file's bytes into the binary file object it is given.
        partial_dir: Where the temporary file is written (on the same file system as ``path``); defaults to
            ``path``'s folder. Its name holds this process's id (see :func:`remove_stale_partial_files`).
    """
    path = Path(path)
    partial_dir = Path(partial_dir) if partial_dir is not None else path.parent
    path.parent.mkdir(parents=True, exist_ok=True)
    partial_dir.mkdir(parents=True, exist_ok=True)
    partial = partial_dir / f".{path.name}.{os.getpid()}{PARTIAL_SUFFIX}"
    try:
        with open(partial, "wb") as file:
            write(file)
            # On disk before the rename: after a power cut the name must not point at a file whose data never landed.
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    sync_folder(path.parent)


@contextmanager
def atomic_folder(folder: Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``folder``; when the block succeeds it replaces ``folder`` whole, when
    it fails (or is interrupted) it is removed, so a reader never finds a half-written folder."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        yield partial
        for file in partial.rglob("*"):
            if file.is_file():
                _sync_file(file)
        if folder.exists():
            shutil.rmtree(folder)
        partial.rename(folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    sync_folder(folder.parent)


def sync_folder(folder: Path) -> None:
    """Put ``folder``'s entries on disk: a rename lives there, and until they are written a power cut can undo it."""
    if os.name != "posix":  # folders cannot be opened for fsync on Windows; NTFS journals renames itself
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _sync_file(path: Path) -> None:
    with open(path, "rb") as file:
        os.fsync(file.fileno())


def remove_stale_partial_files(folder: Path) -> None:
    """Remove temporary files left by :func:`write_atomically` in processes that no longer run (killed mid-write).
    Files of running processes are kept: several processes may write into one folder at once (DDP)."""
    if not folder.is_dir():
        return
    for path in folder.glob(f".*{PARTIAL_SUFFIX}"):
        try:
            pid = int(path.name.rsplit(".", 2)[-2])
        except ValueError:
            continue
        if not _process_runs(pid):
            path.unlink(missing_ok=True)


def _process_runs(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
