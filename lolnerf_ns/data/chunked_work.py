"""Long preparation over many files: in chunks, on every core, resumable.

The work is cut into chunks of files. A process pool works on the chunks (each worker one file at a time); a worker
writes what its chunk produced (image shards) under the work folder and returns a small JSON-able result, which the
main process then commits as ``chunks/<chunk>.json``, written atomically. A chunk whose result is committed is done:
when the same work is run again after an interruption (Ctrl-C, a crash, a killed process), done chunks are read back
and only the others are worked on, with the done chunks whose files were damaged since (deleted, truncated). Each
chunk's output depends only on its own files, so an interrupted (or damaged) and resumed run produces what an unbroken
one does.

One ``rich`` progress bar, with the time remaining, counts the files.
"""

from __future__ import annotations

import json
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from nerfstudio.utils.rich_utils import CONSOLE

from lift_common.atomic_files import remove_stale_partial_files, write_atomically
from lift_common.errors import UserInputError

CHUNKS_FOLDER = "chunks"
COMMITTED_FILES_KEY = "num_files"
"""Added to each committed result: the files its chunk covered."""

Work = Callable[[Path, str, Any], dict]
"""``work(folder, chunk_name, payload)``: does one chunk, writes its files under ``folder``, returns its result. Runs
in a worker process: a module-level function (or a ``functools.partial`` of one) with a picklable payload."""

Damage = Callable[[Path, str, dict], "str | None"]
"""``damage(folder, chunk_name, result)``: what is wrong with the files a committed chunk wrote, or ``None``."""


@dataclass(frozen=True)
class Chunk:
    name: str
    """Names its committed result (``chunks/<name>.json``) and whatever files the work writes for it."""
    num_files: int
    """Files it covers, for the progress bar."""
    payload: Any
    """What ``work`` gets: the chunk's files and whatever else it needs."""


CHUNK_BYTES = 128 * 2**20
"""Most decoded bytes (images and masks) in one chunk, which its worker holds until it writes them: a chunk of large
images holds fewer files (an 800x800 RGBA image with its mask takes 3.2 MB, so 41 fit), and a worker's memory stays
about this much plus the file it is reading, whatever the images' size."""


def chunks_of(payloads: Sequence, sizes: Sequence[int], max_files: int, max_bytes: int | None = None) -> list[Chunk]:
    """``payloads`` (one a file) cut in order into chunks of at most ``max_files`` files and ``max_bytes`` (default
    :data:`CHUNK_BYTES`) bytes, ``sizes`` being each file's decoded bytes; a file larger than ``max_bytes`` is a
    chunk alone. Each chunk is named by the position of its first file, so the same files cut the same way are the
    same chunks when an interrupted run is resumed."""
    max_bytes = CHUNK_BYTES if max_bytes is None else max_bytes
    chunks: list[Chunk] = []
    first, held = 0, 0
    for position, size in enumerate(sizes):
        if position > first and (position - first == max_files or held + size > max_bytes):
            chunks.append(Chunk(f"{first:07d}", position - first, list(payloads[first:position])))
            first, held = position, 0
        held += size
    if len(payloads) > first:
        chunks.append(Chunk(f"{first:07d}", len(payloads) - first, list(payloads[first:])))
    return chunks


def default_num_workers() -> int:
    """One worker per core this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run_in_chunks(
    folder: Path,
    chunks: Sequence[Chunk],
    work: Work,
    description: str,
    num_workers: int | None = None,
    num_workers_option: str | None = None,
    damage: Damage | None = None,
) -> list[dict]:
    """Run ``work`` on every chunk not yet committed under ``folder`` (or committed, but whose files ``damage`` finds
    damaged) and return every chunk's result, in order. ``num_workers_option`` names the command-line option setting
    ``num_workers``, for the message when a worker dies (most often killed for using too much memory)."""
    committed = folder / CHUNKS_FOLDER
    committed.mkdir(parents=True, exist_ok=True)
    for subfolder in (path for path in folder.iterdir() if path.is_dir()):
        remove_stale_partial_files(subfolder)
    results: dict[str, dict] = {}
    damaged: list[str] = []
    for chunk in chunks:
        result = _read_committed(committed / f"{chunk.name}.json", chunk)
        problem = None if result is None or damage is None else damage(folder, chunk.name, result)
        if problem is not None:
            damaged.append(problem)
        elif result is not None:
            results[chunk.name] = result
    if damaged:
        CONSOLE.log(
            f"[yellow]{len(damaged)} of the {len(chunks)} chunks in {folder} are damaged ({damaged[0]}): preparing "
            "them again."
        )
    to_do = [chunk for chunk in chunks if chunk.name not in results]
    total = sum(chunk.num_files for chunk in chunks)
    done = total - sum(chunk.num_files for chunk in to_do)
    if done and to_do:
        CONSOLE.log(f"Resuming: {done} of {total} files were prepared by an earlier run.")
    workers = max(1, min(num_workers or default_num_workers(), len(to_do)))
    with _progress() as progress:
        task = progress.add_task(description, total=total, completed=done)

        def commit(chunk: Chunk, result: dict) -> None:
            result = {**result, COMMITTED_FILES_KEY: chunk.num_files}
            _commit(committed / f"{chunk.name}.json", result)
            results[chunk.name] = result
            progress.advance(task, chunk.num_files)

        if workers == 1:  # one chunk (or one core): no pool to start
            for chunk in to_do:
                commit(chunk, work(folder, chunk.name, chunk.payload))
        else:
            try:
                _run_in_pool(folder, to_do, work, workers, commit, description)
            except BrokenProcessPool:
                fewer = (
                    f", with fewer workers ({num_workers_option} {max(1, workers // 2)})" if num_workers_option else ""
                )
                raise UserInputError(
                    f"A worker process stopped abruptly during '{description}' (most often killed by the system for "
                    f"running out of memory). The {len(results)} of {len(chunks)} chunks finished are kept in "
                    f"{folder}: run again to prepare the rest{fewer}."
                ) from None
    return [results[chunk.name] for chunk in chunks]


def _run_in_pool(folder: Path, to_do: list[Chunk], work: Work, workers: int, commit, description: str) -> None:
    # spawn: workers start clean, whatever threads (torch, rich) the main process runs.
    executor = ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_init_worker)
    pending: dict[Future, Chunk] = {}
    queue = list(reversed(to_do))
    try:
        while queue or pending:
            while queue and len(pending) < 2 * workers:  # a few ahead, so no worker waits for the main process
                chunk = queue.pop()
                pending[executor.submit(work, folder, chunk.name, chunk.payload)] = chunk
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                commit(pending.pop(future), future.result())
    except KeyboardInterrupt:
        # The workers finish the chunks they hold before the pool shuts down: say why the command still waits.
        CONSOLE.log(
            f"Stopping '{description}' once the workers finish their current chunks. Finished chunks are kept in "
            f"{folder}: run again to prepare the rest."
        )
        raise
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _init_worker() -> None:
    # Ctrl-C is the main process's to handle: a worker finishes its chunk, which stays committed or is redone.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A worker whose main process is killed would otherwise wait for work forever.
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True).start()
    import cv2

    cv2.setNumThreads(1)  # one worker per core already


def _exit_with(parent_sentinel: int) -> None:
    multiprocessing.connection.wait([parent_sentinel])
    os._exit(1)  # nothing of this worker's is committed but by the main process, which is gone


def _commit(path: Path, result: dict) -> None:
    write_atomically(path, lambda file: file.write(json.dumps(result).encode()))


def _read_committed(path: Path, chunk: Chunk) -> dict | None:
    if not path.is_file():
        return None
    try:
        result = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # cannot happen with atomic writes unless the disk is damaged: the chunk is simply redone
    # A chunk of the same name cut otherwise (an interrupted run of an earlier version, whose chunks held a fixed
    # number of files) is another chunk: redone.
    return result if isinstance(result, dict) and result.get(COMMITTED_FILES_KEY) == chunk.num_files else None


def _progress():
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("elapsed"),
        TimeElapsedColumn(),
        TextColumn("remaining"),
        TimeRemainingColumn(),
    )
    return Progress(*columns, console=CONSOLE, transient=False)
