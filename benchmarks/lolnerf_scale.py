"""Benchmark: training's peak memory and start-up time against the number of photos in a LOLNeRF collection.

Run on demand from the repository root::

    python -m benchmarks.lolnerf_scale [--sizes 1000 10000 50000] [--resolutions 64 128]
                                       [--before-checkout ../lolnerf-main] [--before-max-photos 10000]

For each resolution and number of photos it writes a generated collection (flat-coloured photos with masks and a
landmarks file; disk space: about 4 bytes a pixel for the prepared store), prepares it as the first ``ns-train``
would, then measures in a fresh process what a training run costs: peak resident memory (the whole process, from
Python's start) and start-up time (from the process's start to its first batch). Training runs two steps of the tiny
model of the tests (the model's own memory does not depend on the collection). With ``--before-checkout`` (a checkout
of another commit, e.g. ``git worktree add ../lolnerf-main main``) the same is measured with that checkout's code,
up to ``--before-max-photos`` photos. Prints a table; asserts nothing. Generated data is deleted afterwards unless
``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]

PREPARE = """
import sys, time
from pathlib import Path
from lolnerf_ns.data.collection import CollectionConfig, prepare_collection
start = time.perf_counter()
prepare_collection(Path(sys.argv[1]), CollectionConfig(landmarks_file=Path(sys.argv[2])))
print(time.perf_counter() - start)
"""

TRAIN = """
import time
started = time.perf_counter()
import json, resource, sys
from pathlib import Path
import torch
from lift_testing.lolnerf_configs import tiny_lolnerf_config

torch.set_num_threads(1)
config = tiny_lolnerf_config(Path(sys.argv[1]), Path(sys.argv[3]), 2, images_per_batch=8, pixels=64)
config.pipeline.datamanager.dataparser.collection.landmarks_file = Path(sys.argv[2])
trainer = config.setup(local_rank=0, world_size=1)
trainer.setup()
first_batch = []
next_train = trainer.pipeline.datamanager.next_train
def timed_next_train(step):
    batch = next_train(step)
    first_batch.append(time.perf_counter() - started)
    return batch
trainer.pipeline.datamanager.next_train = timed_next_train
trainer.train()
print(json.dumps({"startup_s": first_batch[0], "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def write_collection(folder: Path, num: int, size: int) -> Path:
    """``num`` flat-coloured ``size``x``size`` photos with masks (a centred disc) and, beside the folder, a landmarks
    file of face-like landmarks seen from many directions (returned)."""
    from PIL import Image

    from lift_testing.synthetic_landmarks import SIZE, synthetic_landmarks

    (folder / "masks").mkdir(parents=True)
    landmarks, _, _ = synthetic_landmarks(num)
    landmarks *= size / SIZE
    rows, cols = np.mgrid[:size, :size]
    mask = Image.fromarray(((rows - size / 2) ** 2 + (cols - size / 2) ** 2 < (size / 3) ** 2).astype(np.uint8) * 255)
    colours = np.random.default_rng(0).integers(0, 256, (num, 3), dtype=np.uint8)
    for index, colour in enumerate(colours):
        name = f"p{index:06d}.png"
        Image.fromarray(np.broadcast_to(colour, (size, size, 3)).copy()).save(folder / name)
        mask.save(folder / "masks" / name)
    points = folder.parent / "landmarks.json"
    points.write_text(json.dumps({f"p{index:06d}.png": lm.tolist() for index, lm in enumerate(landmarks)}))
    return points


def _run(code: str, checkout: Path, arguments: list[str]) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code, *arguments],
        cwd=checkout,
        env=dict(os.environ, PYTHONPATH=str(checkout), OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore"),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{checkout}: {result.stderr[-3000:]}")
    return result.stdout.strip().splitlines()[-1]


def _folder_mb(folder: Path) -> float:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) / 2**20


def measure(checkout: Path, folder: Path, landmarks: Path, work: Path) -> dict:
    """Prepare the collection with ``checkout``'s code, then train it twice from the prepared cache (the second
    start-up is reported: the first one pays for reading the store's files into the page cache)."""
    shutil.rmtree(folder / ".lolnerf_cache", ignore_errors=True)
    prepare_s = float(_run(PREPARE, checkout, [str(folder), str(landmarks)]))
    runs = [json.loads(_run(TRAIN, checkout, [str(folder), str(landmarks), str(work / "outputs")])) for _ in range(2)]
    return {"prepare_s": prepare_s, **runs[-1], "cache_mb": _folder_mb(folder / ".lolnerf_cache")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000])
    parser.add_argument("--resolutions", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--before-checkout", type=Path, default=None)
    parser.add_argument("--before-max-photos", type=int, default=10000)
    parser.add_argument("--work", type=Path, default=None, help="where collections are written (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the generated collections")
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="lolnerf_scale_"))
    header = "| photos | size | code | prepare s | start-up s | peak RSS MB | store on disk MB |"
    print(header, "\n|---|---|---|---|---|---|---|", flush=True)
    try:
        for resolution in args.resolutions:
            for num in args.sizes:
                folder = work / f"{resolution}px_{num}" / "photos"
                started = time.perf_counter()
                landmarks = write_collection(folder, num, resolution)
                print(f"(wrote {num} photos at {resolution}^2 in {time.perf_counter() - started:.0f} s)", flush=True)
                checkouts = [("after", REPO_ROOT)]
                if args.before_checkout is not None and num <= args.before_max_photos:
                    checkouts.insert(0, ("before", args.before_checkout.resolve()))
                for label, checkout in checkouts:
                    result = measure(checkout, folder, landmarks, work)
                    print(
                        f"| {num} | {resolution}^2 | {label} | {result['prepare_s']:.0f} | {result['startup_s']:.1f} "
                        f"| {result['peak_mb']:.0f} | {result['cache_mb']:.0f} |",
                        flush=True,
                    )
                if not args.keep:
                    shutil.rmtree(folder.parent)  # disk: a 50,000-photo store at 128^2 is 3 GB
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
