"""`atb db upgrade`, `atb backtest --save`, `atb sessions list|show` through the real CLI and container.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from entrypoints.cli.main import cli


def test_save_a_backtest_then_list_and_show_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("ATB_DATABASE_URL", raising=False)
    monkeypatch.setenv("ATB_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    args = ["--env-file", os.devnull]  # no env file
    unmigrated = runner.invoke(cli, [*args, "sessions", "list"])
    assert unmigrated.exit_code != 0 and "atb db upgrade" in str(unmigrated.exception)
    assert runner.invoke(cli, [*args, "db", "upgrade"]).exit_code == 0
    assert (tmp_path / "data" / "atb.db").is_file()
    saved = runner.invoke(cli, [*args, "backtest", "--start", "2021-01-01", "--save", "--json"])
    assert saved.exit_code == 0, saved.output
    listed = json.loads(runner.invoke(cli, [*args, "sessions", "list", "--json"]).output)
    assert len(listed) == 1 and listed[0]["mode"] == "backtest"
    shown = json.loads(runner.invoke(cli, [*args, "sessions", "show", str(listed[0]["id"]), "--json"]).output)
    assert shown["session"]["symbols"] == ["BTCUSDT"] and shown["account_snapshots"] > 1000
