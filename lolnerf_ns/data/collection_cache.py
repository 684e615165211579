"""Where a collection's preparation is kept: a cache folder named by a key of its photos, landmarks, masks and settings.

The key hashes the photos' names, sizes and modification times, the landmarks file's contents, the masks folder's
files and the settings, so the next run reuses the preparation unless one of them changes. Files are told apart by
name, size and modification time: reading 50,000 photos' bytes at every start would take longer than training takes
to start.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from lift_common.cache_keys import CacheKey
from lolnerf_ns.data.collection_inputs import masks_folder

if TYPE_CHECKING:
    from lolnerf_ns.data.collection import CollectionConfig

CACHE_FOLDER_NAME = ".lolnerf_cache"
CACHE_VERSION = 2
NOT_IN_CACHE_KEY = ("num_workers",)
"""Settings that change how fast a collection is prepared, not what is prepared."""


def cache_folder(data: Path, photos: list[Path], config: CollectionConfig) -> Path:
    """Where the preparation of ``photos`` (in the folder ``data``) with ``config`` lives."""
    settings = {k: v for k, v in asdict(config).items() if k not in NOT_IN_CACHE_KEY}
    key = CacheKey({"version": CACHE_VERSION, **settings})
    if config.landmarks_file is not None and Path(config.landmarks_file).is_file():
        key.add_contents(Path(config.landmarks_file))
    masks = masks_folder(data, config)
    inputs = [str(photo) for photo in photos]
    if masks is not None:
        with os.scandir(masks) as entries:
            inputs += sorted(entry.path for entry in entries if entry.is_file())
    for path in inputs:
        key.add_stamp(path, name=os.path.basename(path))
    return data / CACHE_FOLDER_NAME / key.hex()
