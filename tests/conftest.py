"""Fixtures shared by the tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def coffee_photo(tmp_path: Path) -> Path:
    """The shipped example photo, copied so that its cache is written under the test's folder."""
    from PIL import Image
    from skimage import data

    path = tmp_path / "coffee.png"
    Image.fromarray(data.coffee()).save(path)
    return path
