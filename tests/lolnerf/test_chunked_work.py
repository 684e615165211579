"""Chunked preparation: a worker that dies is one message saying what is kept and what to do; a committed chunk is
reused only for the same files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lift_common.errors import UserInputError
from lolnerf_ns.data.chunked_work import Chunk, run_in_chunks


def die_on_request(folder: Path, chunk: str, payload: str) -> dict:
    """A chunk's work whose worker is killed (as by the kernel's out-of-memory killer) when its payload says so."""
    if payload == "die":
        os._exit(1)
    return {"chunk": chunk}


def test_a_worker_that_dies_is_one_message_suggesting_fewer_workers(tmp_path: Path) -> None:
    chunks = [Chunk("a", 1, "live"), Chunk("b", 1, "die")]
    with pytest.raises(UserInputError) as error:
        run_in_chunks(tmp_path, chunks, die_on_request, "Test", num_workers=2, num_workers_option="--num-workers")
    message = " ".join(str(error.value).split())
    assert "A worker process stopped abruptly during 'Test'" in message and "finished are kept" in message
    assert "fewer workers (--num-workers" in message


def interrupt_on_request(folder: Path, chunk: str, payload: str) -> dict:
    """A chunk's work that stands in for Ctrl-C arriving while the pool works."""
    if payload == "interrupt":
        raise KeyboardInterrupt
    return {"chunk": chunk}


def test_ctrl_c_says_what_is_kept_and_how_to_resume(tmp_path: Path, capsys) -> None:
    chunks = [Chunk("a", 1, "live"), Chunk("b", 1, "interrupt")]
    with pytest.raises(KeyboardInterrupt):
        run_in_chunks(tmp_path, chunks, interrupt_on_request, "Test", num_workers=2)
    message = " ".join(capsys.readouterr().out.split())
    assert "Stopping 'Test'" in message and "run again to prepare the rest" in message


def record_payload(folder: Path, chunk: str, payload: list[str]) -> dict:
    return {"payload": payload}


def test_a_chunk_committed_for_other_files_is_done_again(tmp_path: Path) -> None:
    """Chunks are named by their first file: the same name cut with other files (as by an earlier version, whose
    chunks held a fixed number of files whatever their size) is not the same chunk."""
    run_in_chunks(tmp_path, [Chunk("0000000", 2, ["x", "y"])], record_payload, "Test", num_workers=1)
    (result,) = run_in_chunks(tmp_path, [Chunk("0000000", 1, ["x"])], record_payload, "Test", num_workers=1)
    assert result["payload"] == ["x"]
