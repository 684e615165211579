"""Under torch DDP the first process of a machine prepares the collection and the others wait for it (two CPU
processes, gloo), however long the preparation takes.

Each process joins a process group as nerfstudio's launcher does (with a local group of the machine's processes), but
with a timeout shorter than the preparation, which every process then asks for as the dataparser does. The chunk
work runs in the process itself (one worker), counted and slowed down there.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import torch
import torch.multiprocessing as mp

from lift_testing.photo_collections import write_photo_collection

WORLD_SIZE = 2
PROCESS_GROUP_TIMEOUT_S = 3
"""The run's process group's timeout (30 minutes by default), shorter here than the preparation."""
PREPARATION_S = 6
"""How long the preparation takes: longer than the process group's timeout."""


def _process(rank: int, data: Path, landmarks: Path, init_file: Path, out: Path, min_images: int) -> None:
    import torch.distributed as dist
    from nerfstudio.utils import comms

    from lift_common.errors import UserInputError
    from lolnerf_ns.data import collection

    torch.set_num_threads(1)  # two processes on a shared 2-core machine
    timeout = timedelta(seconds=PROCESS_GROUP_TIMEOUT_S)
    dist.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD_SIZE, timeout=timeout
    )
    comms.LOCAL_PROCESS_GROUP = dist.new_group(list(range(WORLD_SIZE)))
    prepared_photos = []
    prepare_chunk = collection.prepare_chunk

    def slow_counting_prepare_chunk(settings, folder, chunk, tasks):
        prepared_photos.append(len(tasks))
        time.sleep(PREPARATION_S)
        return prepare_chunk(settings, folder, chunk, tasks)

    collection.prepare_chunk = slow_counting_prepare_chunk
    config = collection.CollectionConfig(landmarks_file=landmarks, num_workers=1, min_images=min_images)
    try:
        prepared = collection.prepare_collection(data, config)
        result = {"folder": str(prepared.folder), "frames": len(prepared.frames)}
    except UserInputError as error:
        result = {"error": str(error)}
    result["prepared_photos"] = sum(prepared_photos)
    (out / f"rank{rank}.json").write_text(json.dumps(result))
    dist.destroy_process_group()


def _run_two_processes(tmp_path: Path, min_images: int = 2) -> list[dict]:
    data = tmp_path / "photos"
    landmarks = write_photo_collection(data, 12, seed=4)
    arguments = (data, landmarks, tmp_path / "init", tmp_path, min_images)
    mp.spawn(_process, args=arguments, nprocs=WORLD_SIZE, join=True)
    return [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in range(WORLD_SIZE)]


def test_one_process_prepares_and_the_other_waits_longer_than_the_process_group_timeout(tmp_path: Path) -> None:
    started = time.monotonic()
    first, second = _run_two_processes(tmp_path)
    assert first["prepared_photos"] == 12 and second["prepared_photos"] == 0
    assert first["folder"] == second["folder"] and first["frames"] == second["frames"] == 12
    assert time.monotonic() - started > PREPARATION_S


def test_an_error_while_preparing_ends_both_processes_with_its_message(tmp_path: Path) -> None:
    first, second = _run_two_processes(tmp_path, min_images=20)
    assert first["prepared_photos"] == 12 and second["prepared_photos"] == 0
    assert "at least 20 are needed" in first["error"] and second["error"] == first["error"]
