"""Short keys that name a cache entry by the settings and input files it was made from."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any


class CacheKey:
    """A digest of settings and input files: a change to any of them makes another key, so another cache entry.

    Args:
        settings: JSON-able settings (paths and other objects are written as ``str``); ``None`` for none.
    """

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        self._digest = hashlib.sha256()
        if settings is not None:
            self._digest.update(json.dumps(settings, sort_keys=True, default=str).encode())

    def add_contents(self, path: Path | None) -> CacheKey:
        """Add a file's bytes (or a marker for a file that is not given)."""
        self._digest.update(b"\0" if path is None else Path(path).read_bytes())
        return self

    def add_stamp(self, path: str | os.PathLike, name: str | None = None) -> CacheKey:
        """Add a file's name, size and modification time: cheap where reading every byte would take too long (tens
        of thousands of photos), at the cost of missing a change that keeps both size and time."""
        status = os.stat(path)
        name = os.fspath(path) if name is None else name
        self._digest.update(f"{name}\0{status.st_size}\0{status.st_mtime_ns}\n".encode())
        return self

    def hex(self, length: int = 16) -> str:
        """The key: the first ``length`` hexadecimal digits of the digest."""
        return self._digest.hexdigest()[:length]
