"""Collections of thousands of photos: training's memory does not grow with the collection, batches keep their
identities, and a preparation killed half-way resumes to what an unbroken one gives.

The photos are tiny (24x24 pixels, flat colours) so that thousands are quick to write and prepare; their landmarks,
given in a landmarks file, are projections of a face-like set of keypoints seen from many directions.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lift_testing.photo_collections import store_files, write_photo_collection
from lolnerf_ns.data.collection import CollectionConfig, prepare_collection
from lolnerf_ns.data.collection_cache import CACHE_FOLDER_NAME
from tests.commands import REPO_ROOT

pytestmark = pytest.mark.slow

IMAGES_PER_BATCH = 4
PIXELS_PER_IMAGE = 16
LATENT_DIM = 16
"""The tiny config's latent size (lift_testing/lolnerf_configs.py)."""


TRAIN_AND_MEASURE = """
import json, resource, sys
from pathlib import Path
import torch
from lift_testing.lolnerf_configs import tiny_lolnerf_config
from lolnerf_ns.ray_keys import LATENT_INDEX_KEY

torch.set_num_threads(1)
data, landmarks, output = (Path(arg) for arg in sys.argv[1:4])
images, pixels = int(sys.argv[4]), int(sys.argv[5])
config = tiny_lolnerf_config(data, output, 4, images_per_batch=images, pixels=pixels)
config.pipeline.datamanager.dataparser.collection.landmarks_file = landmarks
peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
trainer = config.setup(local_rank=0, world_size=1)
trainer.setup()
batches = []
next_train = trainer.pipeline.datamanager.next_train
def recording_next_train(step):
    rays, batch = next_train(step)
    latents, counts = torch.unique(rays.metadata[LATENT_INDEX_KEY].flatten(), return_counts=True)
    batches.append({"latents": latents.tolist(), "counts": counts.tolist(), "targets": len(batch["image"])})
    return rays, batch
trainer.pipeline.datamanager.next_train = recording_next_train
trainer.train()
growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
print(json.dumps({"growth_mb": growth, "batches": batches}))
"""


def _train_and_measure(data: Path, landmarks: Path, output: Path) -> dict:
    """Train the tiny config for a few steps in a fresh process: how much its peak resident memory grew from before
    the trainer was set up (everything imported), and what each batch held."""
    arguments = [str(data), str(landmarks), str(output), str(IMAGES_PER_BATCH), str(PIXELS_PER_IMAGE)]
    result = subprocess.run(
        [sys.executable, "-c", TRAIN_AND_MEASURE, *arguments],
        cwd=REPO_ROOT,
        env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore"),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_training_memory_does_not_grow_with_the_collection(tmp_path: Path) -> None:
    sizes = (300, 3000)
    runs = {}
    for num in sizes:
        folder = tmp_path / f"photos{num}"
        landmarks = write_photo_collection(folder, num)
        prepare_collection(folder, CollectionConfig(landmarks_file=landmarks))  # what the first ns-train does
        runs[num] = _train_and_measure(folder, landmarks, tmp_path / "outputs")

    extra_photos = sizes[1] - sizes[0]
    # The latent table grows with the photos: weights, gradients and Adam's two moments, 4 bytes each.
    latent_table_mb = extra_photos * LATENT_DIM * 4 * 4 / 2**20
    # So do the names and cameras of the index (a few hundred bytes a photo); and peak memory varies by some MB
    # from run to run. Caching the photos in memory as nerfstudio does costs ~30 KB a 24x24 photo (90 MB here).
    allowance_mb = latent_table_mb + extra_photos * 2048 / 2**20 + 10.0
    growth = {num: run["growth_mb"] for num, run in runs.items()}
    print(f"peak memory growth while training: {growth} MB; allowed difference {allowance_mb:.1f} MB")
    assert growth[sizes[1]] - growth[sizes[0]] < allowance_mb, f"peak memory growth while training: {growth} MB"

    for num, run in runs.items():
        assert len(run["batches"]) == 4
        for batch in run["batches"]:
            assert len(batch["latents"]) == IMAGES_PER_BATCH and batch["counts"] == [PIXELS_PER_IMAGE] * 4
            assert batch["targets"] == IMAGES_PER_BATCH * PIXELS_PER_IMAGE and max(batch["latents"]) < num


PREPARE = """
import os, signal, sys
from pathlib import Path
from lolnerf_ns.data import chunked_work, collection

folder, landmarks = Path(sys.argv[1]), Path(sys.argv[2])
photos_per_chunk, kill_after = int(sys.argv[3]), int(sys.argv[4])
collection.PHOTOS_PER_CHUNK = photos_per_chunk
commit, committed = chunked_work._commit, []
def commit_then_maybe_die(path, result):
    commit(path, result)
    committed.append(path)
    if len(committed) == kill_after:
        os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer or a lost machine would
chunked_work._commit = commit_then_maybe_die
config = collection.CollectionConfig(landmarks_file=landmarks, num_workers=2)
print(collection.prepare_collection(folder, config).folder)
"""


def _prepare_in_a_process(folder: Path, landmarks: Path, photos_per_chunk: int, kill_after: int = 0):
    process = subprocess.Popen(
        [sys.executable, "-c", PREPARE, str(folder), str(landmarks), str(photos_per_chunk), str(kill_after)],
        cwd=REPO_ROOT,
        env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, to see that its workers end with it
    )
    try:
        stdout, stderr = process.communicate(timeout=600)  # until the workers too have closed its output
        assert _group_ends(process.pid), "worker processes outlived their preparation"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    return process.returncode, stdout, stderr


def _group_ends(group: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_a_killed_preparation_resumes_to_what_an_unbroken_one_gives(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    landmarks = write_photo_collection(folder, 400, seed=1)
    unbroken_folder = tmp_path / "unbroken" / "photos"
    shutil.copytree(folder, unbroken_folder)  # same photos, names, sizes and times: the same cache key

    returncode, _, _ = _prepare_in_a_process(folder, landmarks, photos_per_chunk=16, kill_after=5)
    assert returncode == -signal.SIGKILL
    (cache,) = (folder / CACHE_FOLDER_NAME).iterdir()
    committed = list((cache / "chunks").glob("*.json"))
    assert 5 <= len(committed) < 25 and not (cache / "index.npz").exists()  # interrupted part-way

    returncode, stdout, stderr = _prepare_in_a_process(folder, landmarks, photos_per_chunk=16)
    assert returncode == 0, stderr[-3000:]
    assert f"Resuming: {16 * len(committed)} of 400 files were prepared by an earlier run" in " ".join(stdout.split())
    returncode, _, stderr = _prepare_in_a_process(unbroken_folder, landmarks, photos_per_chunk=16)
    assert returncode == 0, stderr[-3000:]

    (unbroken_cache,) = (unbroken_folder / CACHE_FOLDER_NAME).iterdir()
    resumed, unbroken = store_files(cache), store_files(unbroken_cache)
    assert sorted(resumed) == sorted(unbroken) and len(resumed) > 50
    for name, content in unbroken.items():
        assert resumed[name] == content, f"{name} differs"
    assert len(json.loads((cache / "cameras.json").read_text())["frames"]) == 400
