"""``atb backtest --save`` keeps the run's orders and fills; ``atb sessions show`` counts them (SQLite file in
the data directory, the real CLI and container, in-process)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from entrypoints.cli.main import cli


def test_a_saved_backtest_shows_its_orders_and_fills(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATB_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    args = ["--env-file", os.devnull]  # no env file
    assert runner.invoke(cli, [*args, "db", "upgrade"]).exit_code == 0
    run = ["backtest", "--strategy", "ema_cross", "--start", "2021-01-01", "--json"]
    ran = runner.invoke(cli, [*args, *run])
    assert ran.exit_code == 0, ran.output
    trades = json.loads(ran.output)["trades"]
    assert trades, "the run must trade"
    for _ in range(2):  # the same run twice: its order ids are the same, each session keeps its own
        saved = runner.invoke(cli, [*args, *run, "--save"])
        assert saved.exit_code == 0, saved.output
    shown = json.loads(runner.invoke(cli, [*args, "sessions", "show", "2", "--json"]).output)
    orders, fills = shown["orders"], shown["fills"]
    assert fills and len(orders) == len({f["client_order_id"] for f in fills})
    assert all(o["client_order_id"].startswith("s2-") and o["status"] == "filled" for o in orders)
    assert len(shown["trades"]) == len(trades)
    for order in orders:  # an order's fills add up to it
        mine = [f for f in fills if f["client_order_id"] == order["client_order_id"]]
        assert sum(float(f["quantity"]) for f in mine) == pytest.approx(float(order["filled_quantity"]))
        assert {f["side"] for f in mine} == {order["side"]}
    text = runner.invoke(cli, [*args, "sessions", "show", "2"], terminal_width=200).output
    assert f"{len(orders)} orders  ·  {len(fills)} fills  ·  {len(trades)} trades" in text
