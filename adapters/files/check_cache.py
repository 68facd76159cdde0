"""A :class:`~application.ports.check_cache.CheckCache` of JSON files: one file per key in a folder of the data
directory (``<data_dir>/checks/<key>.json``)."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

_KEY = re.compile(r"^[0-9a-f]{16,128}$")


class JsonFileCheckCache:
    """Check reports as JSON files in ``root`` (created on the first ``put``). Writes are atomic (a temporary
    file renamed over the record); a record that cannot be read or parsed is a miss, never an error."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"not a check cache key: {key!r}")
        return self._root / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        path = self._path(key)
        try:
            self._root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".check-", suffix=".json", dir=self._root)
        except OSError:
            return  # a read-only data directory: the check simply runs again next time
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(value, out, indent=1, sort_keys=True, allow_nan=False)
            os.replace(tmp, path)
        except (OSError, ValueError):
            Path(tmp).unlink(missing_ok=True)
