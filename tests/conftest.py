"""Fixtures shared by the tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Runs trained with guidances defined in test modules (``tests.neurallift...GuidanceConfig``) name the
    ``tests`` package in their config.yml: the run-config loader is told to allow it, here and in the ns-* commands
    the tests start.

    Under pytest-xdist, each worker and the ns-* commands it starts get their share of the cores. torch's default
    of one thread per core makes two workers run four busy threads on two cores, and OpenMP's spinning threads then
    slow each other's steps several times over."""
    from lift_common.run_configs import EXTRA_PACKAGES_VARIABLE

    os.environ[EXTRA_PACKAGES_VARIABLE] = "tests"
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if workers > 1:
        threads = max(1, (os.cpu_count() or 1) // workers)
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
        import torch

        torch.set_num_threads(threads)


@pytest.fixture
def coffee_photo(tmp_path: Path) -> Path:
    """The shipped example photo, copied so that its cache is written under the test's folder."""
    from PIL import Image
    from skimage import data

    path = tmp_path / "coffee.png"
    Image.fromarray(data.coffee()).save(path)
    return path


@pytest.fixture(scope="session")
def tiny_depth_model(tmp_path_factory) -> Path:
    """A tiny random Depth Anything model saved in the transformers format."""
    from lift_testing.tiny_models import save_tiny_depth_anything

    return save_tiny_depth_anything(tmp_path_factory.mktemp("models") / "tiny-depth-anything")


@pytest.fixture
def offline(monkeypatch, tmp_path: Path) -> None:
    """No Hugging Face Hub, and an empty cache: only local folders can be loaded."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "empty-hf-cache"))


@pytest.fixture(scope="session")
def tiny_stable_diffusion(tmp_path_factory) -> Path:
    """A tiny random Stable Diffusion pipeline saved in the diffusers format."""
    from lift_testing.tiny_models import save_tiny_stable_diffusion

    return save_tiny_stable_diffusion(tmp_path_factory.mktemp("models") / "tiny-stable-diffusion")


@pytest.fixture(scope="session")
def tiny_open_clip(tmp_path_factory) -> Path:
    """A tiny random open_clip model saved as a Hub repository holds it."""
    from lift_testing.tiny_models import save_tiny_open_clip

    return save_tiny_open_clip(tmp_path_factory.mktemp("models") / "tiny-open-clip")


@pytest.fixture(scope="session")
def tiny_zero123(tmp_path_factory) -> Path:
    """A tiny random Zero-1-to-3 model saved in the diffusers layout kxic/zero123-xl ships."""
    from lift_testing.tiny_models import save_tiny_zero123

    return save_tiny_zero123(tmp_path_factory.mktemp("models") / "tiny-zero123")


LONGEST_FILES = (
    "neurallift/test_recovers_synthetic_object.py",
    "neurallift/test_completes_the_back_with_a_trained_prior.py",
    "neurallift/test_keeps_the_photo_against_a_disagreeing_prior.py",
    "neurallift/test_keeps_the_photo_against_noise.py",
    "lolnerf/test_recovers_synthetic_class.py",
    "neurallift/test_nerfstudio_tools.py",
    "tools/test_viewer_in_browser.py",
    "neurallift/test_fits_a_real_photo.py",
)
"""The suite's longest files, longest first (measured on the 2-core machine: 11 to 3 minutes each); they are handed
out first so that no worker is left with one of them at the end."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest files first, then the other files with slow tests, then the quick ones: the suite's workers
    (pytest-xdist, a file each) start the long end-to-end runs together and fill in with the quick files, instead of
    finishing on one long file while the others idle."""
    tests = Path(__file__).parent
    rank = {tests / name: index for index, name in enumerate(LONGEST_FILES)}
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    # Stable: each file's own order is kept.
    items.sort(key=lambda item: (rank.get(item.path, len(rank)), item.path not in slow_files))
