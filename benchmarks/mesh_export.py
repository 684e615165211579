"""Benchmark: time and peak memory of ``ns-lift-export-mesh`` at its defaults, and of nerfstudio's own exporters
(``ns-export poisson`` and ``pointcloud``) at theirs, on trained runs.

Run on demand from the repository root::

    python -m benchmarks.mesh_export --configs RUN/config.yml [RUN2/config.yml ...] [--exporters lift-mesh poisson ...]

Each command runs as a user runs it, in its own process; its peak memory is the highest resident set of its
process tree, polled every 0.2 s. A command that passes ``--timeout`` seconds or ``--max-memory-gb`` is stopped and
reported as such (nerfstudio's Poisson export before normals were cheap grew past 15 GB). Runs trained with the
tests' guidances need ``LIFT_CONFIG_PACKAGES=tests`` and the repository on ``PYTHONPATH``; both are set here.

Measured on the 2-core CPU machine (24 GB), torch 2.14.1, shared with other work (times move by up to 2x with load):

* ``ns-lift-export-mesh`` defaults (256^3 grid, 20k faces, 1024^2 texture):
  synthetic object (neurallift proof run): 51-63 s, 1.74-1.86 GB; synthetic class identity 0 (lolnerf proof run):
  70 s, 1.59 GB.
  Under heavier load (a test training beside it) the synthetic object took 4.3 min at 1.31 GB.
* ``ns-export pointcloud`` / ``poisson`` at nerfstudio's defaults (1M points, 32768 rays a batch), on the proof runs:

  - synthetic object, before (rays through random pixels, one batch rendered whole): both stopped unfinished at the
    600 s limit, at 3.82 GB and 4.29 GB peak. After (rays aimed at the object, batches rendered in chunks):
    pointcloud 5.93 min, 2.05 GB; poisson wrote its points' mesh after 4.5 min, then its NeRF texture was still
    being made when stopped at 50 min, 3.16 GB peak (``benchmarks.poisson_texture`` shows where that time goes).
    ``poisson --texture-method point_cloud`` (``poisson-vertex-colours``): 2.92 min, 2.39 GB.
  - synthetic class (lolnerf): before, pointcloud failed after 7.42 min at 2.77 GB with an empty cloud (``KeyError:
    'Key colors not found in TensorMap'``): a million points from under 25,000 distinct pixel-centre rays, which
    nerfstudio's outlier removal drops (4.7 of those minutes shared the CPU with the quick tests). After: 1.70 min,
    1.45 GB. Poisson after: its mesh written after 2 min, then its NeRF texture still being made when stopped at
    29.5 min, 2.9 GB. ``poisson --texture-method point_cloud``: 2.05 min, 2.89 GB.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

NS_EXPORTS = {
    "pointcloud": ["pointcloud"],
    "poisson": ["poisson"],
    "poisson-vertex-colours": ["poisson", "--texture-method", "point_cloud"],
}
"""nerfstudio's exporters as the benchmark runs them: the subcommand, then any option that differs from its default."""


def run_measured(command: list[str], timeout: float, max_memory_gb: float) -> dict:
    """Run ``command``; return its wall time, peak resident memory of its process tree, and how it ended."""
    import psutil

    # An existing PYTHONPATH comes first: pointed at another checkout, it measures that version's code ("before").
    path = os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(REPO_ROOT)]))
    env = dict(os.environ, LIFT_CONFIG_PACKAGES="tests", PYTHONPATH=path, PYTHONWARNINGS="ignore")
    with tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        root = psutil.Process(process.pid)
        peak, ended = 0, "finished"
        while process.poll() is None:
            try:
                members = [root, *root.children(recursive=True)]
                peak = max(peak, sum(member.memory_info().rss for member in members))
            except psutil.Error:
                pass
            elapsed = time.perf_counter() - start
            if elapsed > timeout or peak > max_memory_gb * 2**30:
                ended = f"stopped after {elapsed:.0f} s" if elapsed > timeout else f"stopped at {peak / 2**30:.1f} GB"
                os.killpg(process.pid, 9)
                process.wait()
                break
            time.sleep(0.2)
        seconds = time.perf_counter() - start
        if ended == "finished" and process.returncode != 0:
            log.seek(0)
            ended = f"failed ({process.returncode}): {log.read().decode(errors='replace')[-300:]}"
        return {"seconds": seconds, "peak_gb": peak / 2**30, "ended": ended}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", type=Path, nargs="+", required=True, help="config.yml of trained runs")
    parser.add_argument(
        "--exporters",
        nargs="+",
        choices=("lift-mesh", *NS_EXPORTS),
        default=["lift-mesh"],
        help="ns-lift-export-mesh, and nerfstudio's ns-export pointcloud / poisson at their defaults (poisson-vertex-"
        "colours: with --texture-method point_cloud)",
    )
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds before a command is stopped")
    parser.add_argument("--max-memory-gb", type=float, default=12.0, help="memory at which a command is stopped")
    parser.add_argument("--keep-outputs", type=Path, help="a folder to keep the exports in (one subfolder a run)")
    args = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    for index, config in enumerate(args.configs):
        with tempfile.TemporaryDirectory() as temporary:
            output = args.keep_outputs / f"run{index}" if args.keep_outputs else Path(temporary)
            commands = {}
            if "lift-mesh" in args.exporters:
                commands["ns-lift-export-mesh"] = [str(bin_dir / "ns-lift-export-mesh"), "--load-config", str(config)]
                commands["ns-lift-export-mesh"] += ["--output-dir", f"{output}/mesh"]
            for name, arguments in NS_EXPORTS.items():
                if name in args.exporters:
                    commands[f"ns-export {' '.join(arguments)}"] = [
                        *(str(bin_dir / "ns-export"), *arguments[:1], "--load-config", str(config)),
                        *arguments[1:],
                        *("--output-dir", f"{output}/{name}"),
                    ]
            for name, command in commands.items():
                result = run_measured(command, args.timeout, args.max_memory_gb)
                print(
                    f"{config}: {name}: {result['seconds'] / 60:.2f} min, peak {result['peak_gb']:.2f} GB, "
                    f"{result['ended']}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
