"""Benchmark: how long landmark detection and the joint camera fit take for a large collection.

Run on demand from the repository root: ``python -m benchmarks.lolnerf_camera_fit [--num-images 1000]``.
Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--num-images", type=int, default=1000)
    args = parser.parse_args()

    from skimage import data

    from lift_testing.synthetic_landmarks import SIZE, relative_rotation_errors_deg, synthetic_landmarks
    from lolnerf_ns.data.camera_fit import fit_canonical_keypoints
    from lolnerf_ns.data.landmarks import FaceLandmarkDetector, SelfieSegmenter

    landmarks, truth, focal = synthetic_landmarks(args.num_images)
    start = time.perf_counter()
    fit = fit_canonical_keypoints(landmarks, (SIZE, SIZE), focal_length=focal)
    fit_seconds = time.perf_counter() - start
    errors = relative_rotation_errors_deg(truth, fit.camera_to_world)
    print(
        f"joint camera fit, {args.num_images} images: {fit_seconds:.2f} s, "
        f"median rotation error {np.median(errors):.2f} deg"
    )

    face = data.astronaut()[::2, ::2].copy()  # 256x256
    detector, segmenter = FaceLandmarkDetector(), SelfieSegmenter()
    repeats = 50
    start = time.perf_counter()
    for _ in range(repeats):
        detector(face)
    detect_ms = 1000 * (time.perf_counter() - start) / repeats
    start = time.perf_counter()
    for _ in range(repeats):
        segmenter(face)
    segment_ms = 1000 * (time.perf_counter() - start) / repeats
    print(f"MediaPipe face mesh: {detect_ms:.1f} ms/image; selfie segmentation: {segment_ms:.1f} ms/image (256x256)")
    print(
        f"estimated preparation of {args.num_images} photos (without reading files): "
        f"{fit_seconds + args.num_images * (detect_ms + segment_ms) / 1000:.1f} s"
    )


if __name__ == "__main__":
    main()
