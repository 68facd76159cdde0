"""Isolation from the developer's machine: no ATB_ or seed variables, no .env, the root logger restored."""

from __future__ import annotations

import logging
import os
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
    """Drop every setting variable, work in an empty folder (so no .env is found), restore logging after."""
    for name in list(os.environ):
        if is_setting(name):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield tmp_path
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
