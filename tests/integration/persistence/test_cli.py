"""`atb db` and `atb sessions` through click, on a database the test owns (the container is injected)."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from adapters.persistence import Database
from application.ports.repositories import PersistenceError, SessionNotFound
from application.use_cases.run_backtest import BacktestReport, BacktestRequest, RunBacktest
from application.use_cases.save_backtest import SaveBacktest
from application.use_cases.sessions import ListSessions, ShowSession
from domain.metrics import METRICS
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe
from entrypoints.cli.db import db
from entrypoints.cli.sessions import sessions
from entrypoints.container import simulator
from entrypoints.reports.fmt import format_metric
from tests.builders import random_walk
from tests.fakes.market_data import InMemoryMarketData


class _Container:
    """The providers the commands use, as the real container will offer them."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def database(self) -> Database:
        return self._db

    def list_sessions(self) -> ListSessions:
        return ListSessions(self._db.unit_of_work)

    def show_session(self) -> ShowSession:
        return ShowSession(self._db.unit_of_work)


def test_db_upgrade_current_downgrade(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'atb.db'}")
    obj = {"container": _Container(database)}
    runner = CliRunner()
    out = runner.invoke(db, ["current"], obj=obj)
    assert out.exit_code == 0 and "no atb tables" in out.output
    out = runner.invoke(db, ["upgrade"], obj=obj)
    assert out.exit_code == 0 and f"at revision {database.head()}" in out.output
    out = runner.invoke(db, ["current"], obj=obj)
    assert "(up to date)" in out.output
    out = runner.invoke(db, ["downgrade", "base"], obj=obj, input="n\n")
    assert out.exit_code != 0 and database.current() == database.head()  # refused: nothing dropped
    out = runner.invoke(db, ["downgrade", "base", "--yes"], obj=obj)
    assert out.exit_code == 0 and database.current() is None


def test_an_unreachable_database_is_one_error_line() -> None:
    database = Database("postgresql+psycopg2://atb:pw@127.0.0.1:1/atb")
    out = CliRunner().invoke(db, ["current"], obj={"container": _Container(database)})
    assert isinstance(out.exception, PersistenceError)
    assert "\n" not in str(out.exception) and "cannot reach" in str(out.exception)


def test_sessions_list_and_show(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'atb.db'}")
    database.upgrade()
    obj = {"container": _Container(database)}
    runner = CliRunner()
    assert "no sessions saved yet" in runner.invoke(sessions, ["list"], obj=obj).output
    request = BacktestRequest("ema_cross", (Symbol.parse("BTCUSDT"),), Timeframe.H1, Decimal(10_000),
                              risk={"max_drawdown": "0.02"})  # fmt: skip
    report = RunBacktest(InMemoryMarketData(random_walk(2000, seed=5)), simulator)(request)
    session_id = SaveBacktest(database.unit_of_work)(report)
    out = runner.invoke(sessions, ["list"], obj=obj)
    assert out.exit_code == 0 and "ema_cross" in out.output and "completed" in out.output
    listed = json.loads(runner.invoke(sessions, ["list", "--json"], obj=obj).output)
    assert [s["id"] for s in listed] == [session_id]
    out = runner.invoke(sessions, ["show", str(session_id)], obj=obj)
    assert out.exit_code == 0, out.output
    assert f"{len(report.trades)} trades" in out.output and "sharpe" in out.output.lower()
    shown = json.loads(runner.invoke(sessions, ["show", str(session_id), "--json"], obj=obj).output)
    assert report.risk_events, "the fixture must trip the drawdown breaker"
    assert len(shown["trades"]) == len(report.trades)
    assert len(shown["events"]) == len(report.denials) + len(report.risk_events)
    kinds = [e["kind"] for e in shown["events"] if e["kind"] in ("risk_trip", "risk_reset")]
    assert sorted(kinds) == sorted(f"risk_{e.kind}" for e in report.risk_events)
    assert shown["account_snapshots"] == report.bars
    orders = len({f.client_order_id for f in report.fills})
    assert len(shown["orders"]) == orders and len(shown["fills"]) == len(report.fills) > 0
    assert f"{orders} orders  ·  {len(report.fills)} fills  ·  {len(report.trades)} trades" in out.output
    missing = runner.invoke(sessions, ["show", "999"], obj=obj)
    assert missing.exit_code != 0 and "no session 999" in str(missing.exception)


def _saved_backtest(database: Database) -> tuple[int, BacktestReport]:
    request = BacktestRequest("ema_cross", (Symbol.parse("BTCUSDT"),), Timeframe.H1, Decimal(10_000),
                              risk={"max_drawdown": "0.02"})  # fmt: skip
    report = RunBacktest(InMemoryMarketData(random_walk(2000, seed=5)), simulator)(request)
    return SaveBacktest(database.unit_of_work)(report), report


def test_show_formats_metrics_like_the_backtest_summary_and_groups_events_by_rule(database: Database) -> None:
    session_id, report = _saved_backtest(database)
    rules = Counter(d.reason.split(":", 1)[0] for d in report.denials)
    assert len(rules) >= 2 and max(rules.values()) > 3, "the fixture must deny by several rules, some often"
    out = CliRunner().invoke(
        sessions, ["show", str(session_id), "--events", "2"], obj={"container": _Container(database)},
        terminal_width=250,
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    for spec in METRICS:
        if spec.key in report.metrics:
            text = format_metric(spec.kind, report.metrics[spec.key])
            assert any(spec.label in line and text in line for line in lines), (spec.label, text)
    assert "total_return" not in out.output  # labels, not keys
    for rule, count in rules.items():
        row = next(line for line in lines if f" {rule} " in line and f" {count:,} " in line)
        first = next(d for d in report.denials if d.reason.startswith(rule))
        assert first.reason in row  # the group's earliest event on its first line
        shown = [line for line in lines if f"BTCUSDT: {rule}:" in line]
        assert len(shown) == min(count, 2)  # --events 2: the first two of each rule, no more


def test_delete_refuses_without_yes_then_removes_the_session_and_its_history(database: Database) -> None:
    session_id, _ = _saved_backtest(database)
    other, _ = _saved_backtest(database)
    obj = {"container": _Container(database)}
    runner = CliRunner()
    refused = runner.invoke(sessions, ["delete", str(session_id)], obj=obj)
    assert refused.exit_code != 0 and "--yes" in refused.output
    assert ShowSession(database.unit_of_work)(session_id).account_snapshots == 2000
    out = runner.invoke(sessions, ["delete", str(session_id), "--yes"], obj=obj)
    assert out.exit_code == 0 and f"deleted session {session_id}" in out.output
    with pytest.raises(SessionNotFound):
        ShowSession(database.unit_of_work)(session_id)
    with database.unit_of_work() as u:
        assert u.account.for_session(session_id) == [] and u.events.for_session(session_id) == []
        assert u.trades.for_session(session_id) == [] and u.metrics.for_session(session_id) == []
    assert ShowSession(database.unit_of_work)(other).account_snapshots == 2000
    again = runner.invoke(sessions, ["delete", str(session_id), "--yes"], obj=obj)
    assert again.exit_code != 0 and f"no session {session_id}" in str(again.exception)


def test_show_prints_sub_cent_prices_on_the_session_s_tick(tmp_path: Path) -> None:
    """The saved session records its exchange rules; `sessions show` prints its prices with the tick's 8
    decimals (they used to print as 0.00)."""
    from adapters.files import BundledInstruments

    database = Database(f"sqlite:///{tmp_path / 'atb.db'}")
    database.upgrade()
    candles = random_walk(2000, seed=5, start=0.00001234, symbol="FOOUSDT")
    request = BacktestRequest("ema_cross", (Symbol.parse("FOOUSDT"),), Timeframe.H1, Decimal(10_000),
                              instrument_overrides={"tick_size": Decimal("0.00000001")})  # fmt: skip
    report = RunBacktest(InMemoryMarketData(candles), simulator, instruments=BundledInstruments())(request)
    assert report.trades
    session_id = SaveBacktest(database.unit_of_work)(report)
    out = CliRunner().invoke(sessions, ["show", str(session_id)], obj={"container": _Container(database)},
                             terminal_width=250)  # fmt: skip
    assert out.exit_code == 0, out.output
    last = report.trades[-1]
    assert f"{last.entry_price:.8f}" in out.output and f"{last.exit_price:.8f}" in out.output
