"""`SaveBacktest` and the session queries, on the fake, SQLite and PostgreSQL: a saved backtest reads back
as it was run (configuration, data range, every trade, the equity curve to the last bit, denials, metrics)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from application.ports.repositories import SessionNotFound, UnitOfWork
from application.use_cases.run_backtest import BacktestReport, BacktestRequest, RunBacktest
from application.use_cases.save_backtest import SaveBacktest
from application.use_cases.sessions import ListSessions, ShowSession
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe
from entrypoints.container import simulator
from tests.builders import random_walk
from tests.fakes.market_data import InMemoryMarketData
from tests.fakes.repositories import InMemoryStore, InMemoryUnitOfWork
from tests.integration.persistence.fixtures import make_database

Factory = Callable[[], UnitOfWork]


@pytest.fixture(scope="module")
def report() -> BacktestReport:
    btc = random_walk(3000, seed=3, start=100.0, symbol="BTCUSDT")
    eth = random_walk(3000, seed=11, start=20.0, symbol="ETHUSDT")
    request = BacktestRequest(
        "ema_cross", (Symbol.parse("BTCUSDT"), Symbol.parse("ETHUSDT")), Timeframe.H1, Decimal("5000.5"),
        params={"fast": "8", "slow": "30"}, risk={"max_drawdown": "0.02"},
    )  # fmt: skip
    result = RunBacktest(InMemoryMarketData(btc, eth), simulator)(request)
    assert result.trades and result.denials  # the test needs both
    return result


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def uow(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    if request.param == "memory":
        store = InMemoryStore()
        yield lambda: InMemoryUnitOfWork(store)
        return
    db = make_database(request.param, request, tmp_path)
    yield db.unit_of_work
    db.dispose()


def test_a_saved_backtest_reads_back_as_it_ran(uow: Factory, report: BacktestReport) -> None:
    session_id = SaveBacktest(uow, clock=lambda: 1_800_000_000_000)(report, started_ms=1_799_999_999_000,
                                                                     model_version="none")  # fmt: skip
    detail = ShowSession(uow)(session_id)
    s = detail.session
    assert (s.mode, s.strategy, s.strategy_version, s.status) == ("backtest", "ema_cross", report.strategy_version,
                                                                  "completed")  # fmt: skip
    assert s.symbols == ("BTCUSDT", "ETHUSDT") and s.timeframe == "1h" and s.model_version == "none"
    assert (s.started_ms, s.ended_ms) == (1_799_999_999_000, 1_800_000_000_000)
    assert s.data_start_ms == int(report.open_time[0])
    assert s.data_end_ms == int(report.open_time[-1]) + 3_600_000
    assert s.initial_balance == Decimal("5000.5")
    assert s.config["strategy_params"] == {k: v for k, v in report.strategy_params.items()}
    request = s.config["request"]
    assert isinstance(request, dict) and request["risk"] == {"max_drawdown": "0.02"}
    assert request["simulation"]["fee_bps"] == "10"
    assert detail.trades == sorted(report.trades, key=lambda t: t.exit_time)
    assert [(e.time_ms, e.symbol, e.message) for e in detail.events] == sorted(
        ((d.time_ms, d.symbol, d.reason) for d in report.denials), key=lambda e: e[0]
    )
    assert detail.metrics is not None
    for name, value in report.metrics.items():
        stored = detail.metrics.values[name]
        assert stored == value if math.isfinite(value) else stored is None
    assert detail.account_snapshots == report.bars
    assert detail.final_equity == float(report.equity[-1])
    with uow() as u:
        snapshots = u.account.for_session(session_id)
    equity = [float(a.equity) for a in snapshots]
    assert equity == report.equity.tolist()  # bit for bit
    assert report.cash is not None
    # The quote balance, exact to the 18 decimals the columns keep (dust left after an exit can have more).
    assert [float(a.balance) for a in snapshots] == pytest.approx(report.cash.tolist(), rel=1e-15, abs=1e-18)
    assert [str(p.position.symbol) for p in detail.positions] == sorted(report.open_positions)
    assert [s.id for s in ListSessions(uow)()] == [session_id]
    with pytest.raises(SessionNotFound):
        ShowSession(uow)(session_id + 1)
