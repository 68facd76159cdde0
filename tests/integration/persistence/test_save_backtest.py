"""`SaveBacktest` and the session queries, on the fake, SQLite and PostgreSQL: a saved backtest reads back
as it was run (configuration, data range, every trade, the equity curve to the last bit, denials, metrics)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import replace
from decimal import Decimal, localcontext
from pathlib import Path

import pytest

from application.ports.repositories import OrderStatusChange, SessionNotFound, UnitOfWork
from application.use_cases.run_backtest import BacktestReport, BacktestRequest, RunBacktest
from application.use_cases.save_backtest import SaveBacktest, orders_from_fills
from application.use_cases.sessions import ListSessions, ShowSession
from domain.model.orders import Fill, OrderStatus, OrderType, Side
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe
from entrypoints.container import simulator
from tests.builders import random_walk
from tests.fakes.market_data import InMemoryMarketData
from tests.integration.persistence.fixtures import units_of_work

Factory = Callable[[], UnitOfWork]


@pytest.fixture(scope="module")
def report() -> BacktestReport:
    btc = random_walk(3000, seed=3, start=100.0, symbol="BTCUSDT")
    eth = random_walk(3000, seed=11, start=20.0, symbol="ETHUSDT")
    request = BacktestRequest(
        "ema_cross", (Symbol.parse("BTCUSDT"), Symbol.parse("ETHUSDT")), Timeframe.H1, Decimal("5000.5"),
        params={"fast": "8", "slow": "30"}, risk={"max_drawdown": "0.02", "max_drawdown_cooldown": "0"},
    )  # fmt: skip
    result = RunBacktest(InMemoryMarketData(btc, eth), simulator)(request)
    assert result.trades and result.denials and result.risk_events  # the test needs all three
    return result


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def uow(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    yield from units_of_work(request, tmp_path)


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
    assert isinstance(request, dict) and request["risk"] == {"max_drawdown": "0.02", "max_drawdown_cooldown": "0"}
    assert request["simulation"]["fee_bps"] == "10"
    assert detail.trades == sorted(report.trades, key=lambda t: t.exit_time)
    denials = [(e.time_ms, e.symbol, e.message) for e in detail.events if e.kind in ("risk_denial", "risk_reduction")]
    assert denials == sorted(((d.time_ms, d.symbol, d.reason) for d in report.denials), key=lambda e: e[0])
    assert [e.details["rule"] for e in detail.events if e.kind in ("risk_denial", "risk_reduction")] == [
        d.rule for d in sorted(report.denials, key=lambda d: d.time_ms)
    ]
    breaker = [(e.time_ms, e.kind, e.details["equity"], e.details["drawdown"]) for e in detail.events
               if e.kind in ("risk_trip", "risk_reset")]  # fmt: skip
    assert breaker == [(e.time_ms, f"risk_{e.kind}", e.equity, e.drawdown) for e in report.risk_events]
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


def _at_18(value: Decimal) -> Decimal:
    with localcontext(prec=60):
        return value.quantize(Decimal("1e-18"))


def test_a_saved_backtest_keeps_its_orders_and_fills_under_the_session(uow: Factory, report: BacktestReport) -> None:
    assert report.fills, "the fixture must trade"
    save = SaveBacktest(uow)
    first, second = save(report), save(report)  # the engine's ids repeat from run to run: each save is its own
    detail = ShowSession(uow)(second)
    prefix = f"s{second}-"
    assert [f.client_order_id for f in detail.fills] == [prefix + f.client_order_id for f in report.fills]
    # Exact, to the 18 decimals the columns keep (a fee can have more).
    assert [replace(f, client_order_id=f.client_order_id[len(prefix) :]) for f in detail.fills] == [
        replace(f, fee=_at_18(f.fee), slippage=_at_18(f.slippage), price=_at_18(f.price)) for f in report.fills
    ]
    by_id: dict[str, list[Fill]] = {}
    for fill in report.fills:
        by_id.setdefault(prefix + fill.client_order_id, []).append(fill)
    assert [o.client_order_id for o in detail.orders] == list(by_id)  # in the order of their first fill
    for order in detail.orders:
        fills = by_id[order.client_order_id]
        assert order.status is OrderStatus.FILLED and order.request.side is fills[0].side
        assert order.filled_quantity == order.request.quantity == sum(f.quantity for f in fills)
        assert order.average_price == _at_18(sum(f.price * f.quantity for f in fills) / order.filled_quantity)
        assert order.request.tag == fills[0].tag and order.request.created_at == fills[0].timestamp
        expected = {"stop_loss": OrderType.STOP, "take_profit": OrderType.LIMIT}.get(fills[0].tag, OrderType.MARKET)
        assert order.request.type is expected and order.request.reduce_only == (fills[0].tag != "entry")
    with uow() as u:
        assert len(u.orders.for_session(first)) == len(detail.orders)
        last = detail.orders[-1].client_order_id
        assert u.orders.history(last) == [OrderStatusChange(by_id[last][-1].timestamp, OrderStatus.FILLED)]


def test_orders_from_fills_groups_by_id_and_types_by_tag() -> None:
    btc = Symbol.parse("BTCUSDT")
    fills = [
        Fill("bt-1-entry", btc, Side.BUY, Decimal("0.5"), Decimal("100"), Decimal("0.05"), 1000, tag="entry"),
        Fill("bt-1-entry", btc, Side.BUY, Decimal("1.5"), Decimal("104"), Decimal("0.15"), 2000, tag="entry"),
        Fill("bt-1-entry-tp1", btc, Side.SELL, Decimal("1"), Decimal("110"), Decimal("0.1"), 3000, tag="take_profit"),
        Fill("bt-5-trail", btc, Side.SELL, Decimal("1"), Decimal("99.5"), Decimal("0.1"), 4000, tag="trailing_stop"),
    ]
    orders, renamed = orders_from_fills(fills, prefix="s3-")
    assert [f.client_order_id for f in renamed] == ["s3-bt-1-entry", "s3-bt-1-entry", "s3-bt-1-entry-tp1",
                                                    "s3-bt-5-trail"]  # fmt: skip
    (entry, t1), (target, t2), (trail, t3) = orders
    assert (t1, t2, t3) == (2000, 3000, 4000)
    assert entry.request.type is OrderType.MARKET and not entry.request.reduce_only
    assert entry.filled_quantity == Decimal(2) and entry.average_price == Decimal(103)
    assert target.request.type is OrderType.LIMIT and target.request.price == Decimal(110)
    assert trail.request.type is OrderType.STOP and trail.request.stop_price == Decimal("99.5")
    assert trail.request.reduce_only and trail.status is OrderStatus.FILLED
    assert orders_from_fills([]) == ([], [])
