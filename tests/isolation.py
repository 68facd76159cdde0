"""Isolation from the developer's machine: no ATB_ or seed variables, no .env, a throwaway home (so the default
data directory, ``~/.local/share/atb``, is never the machine's), the root logger restored."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

SEED_NAMES = (
    "DATABASE_URL",
    "BINANCE_API_KEY",
    "BINANCE_API_SECRET",
    "COINBASE_API_KEY",
    "COINBASE_API_SECRET",
    "TRADING_MODE",
    "INITIAL_BALANCE",
    "LOG_LEVEL",
)


def is_setting(name: str) -> bool:
    """Whether an environment variable would reach atb's settings."""
    return name.upper().startswith("ATB_") or name.upper() in SEED_NAMES


def isolate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Drop every setting variable, work in an empty folder (so no .env is found) under a home of its own (the
    default data directory is then the test's, for atb in this process and in the subprocesses it starts),
    restore logging after."""
    for name in list(os.environ):
        if is_setting(name):
            monkeypatch.delenv(name)
    home = Path(tempfile.mkdtemp(prefix="atb-test-home-"))  # beside, not in, the test's folder (kept empty)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield tmp_path
    shutil.rmtree(home, ignore_errors=True)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
