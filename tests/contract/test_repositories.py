"""One contract for the repositories and the unit of work: the in-memory fakes, SQLite and PostgreSQL
behave alike (exact decimals, UTC milliseconds, ordering, idempotency, transactions)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from application.ports.repositories import (
    AccountSnapshot,
    AccountSummary,
    EventRecord,
    MetricsSnapshot,
    OrderStatusChange,
    PersistenceError,
    PositionSnapshot,
    SessionNotFound,
    SessionRecord,
    UnitOfWork,
)
from domain.model.orders import Fill, Order, OrderRequest, OrderStatus, OrderType, Side
from domain.model.positions import Position
from domain.model.symbols import Symbol
from domain.model.trades import Direction, Trade
from tests.integration.persistence.fixtures import postgres_url, sqlite_template, units_of_work

__all__ = ["postgres_url", "sqlite_template"]

BTC = Symbol("BTC", "USDT")
ETH = Symbol("ETH", "USDT")
T0 = 1_700_000_000_123  # UTC ms, with milliseconds that must survive
HUGE = Decimal("12345678901234567890.123456789012345678")  # 38 digits, 18 after the point
TINY = Decimal("0.000000000000000001")

Factory = Callable[[], UnitOfWork]


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def uow(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    yield from units_of_work(request, tmp_path)


def _session(**kw: object) -> SessionRecord:
    base: dict[str, object] = {
        "mode": "backtest", "exchange": "simulated", "strategy": "ema_cross", "strategy_version": "1.2.0",
        "config": {"fast": 12, "slow": 26, "fee_bps": "10", "nested": {"a": [1, 2.5, None]}},
        "symbols": ("BTCUSDT", "ETHUSDT"), "timeframe": "1h", "started_ms": T0, "model_version": "lstm-7",
        "data_start_ms": T0 - 86_400_000, "data_end_ms": T0, "initial_balance": Decimal("10000.05"),
    }  # fmt: skip
    base.update(kw)
    return SessionRecord(**base)  # type: ignore[arg-type]


def _new_session(factory: Factory, **kw: object) -> int:
    with factory() as u:
        sid = u.sessions.add(_session(**kw))
        u.commit()
    return sid


def _order(cid: str = "run-1-entry", qty: str = "0.12345678", **kw: object) -> Order:
    request = OrderRequest(
        cid, BTC, Side.BUY, OrderType.LIMIT, Decimal(qty), T0, price=Decimal("43210.12"),
        stop_loss=Decimal("42000.5"), take_profits=((Decimal("45000"), Decimal("0.5")),), tag="entry",
    )  # fmt: skip
    return Order(request, **kw)  # type: ignore[arg-type]


def _fill(cid: str = "run-1-entry", qty: str = "0.12345678", ts: int = T0 + 3_600_000, trade: str = "") -> Fill:
    return Fill(cid, BTC, Side.BUY, Decimal(qty), Decimal("43210.12"), Decimal("0.005334567"), ts,
                liquidity="maker", slippage=Decimal("0.01"), tag="entry", trade_id=trade or f"{cid}@{ts}",
                fee_asset="USDT")  # fmt: skip


# -- sessions -----------------------------------------------------------------------------------------
def test_a_session_reads_back_exactly_what_was_stored(uow: Factory) -> None:
    sid = _new_session(uow, initial_balance=HUGE)
    with uow() as u:
        got = u.sessions.get(sid)
    assert got == _session(initial_balance=HUGE, id=sid)
    assert got.started_ms == T0 and got.config["nested"] == {"a": [1, 2.5, None]}


def test_sessions_list_newest_first_with_a_limit(uow: Factory) -> None:
    ids = [_new_session(uow, strategy=f"s{i}") for i in range(3)]
    with uow() as u:
        assert [s.id for s in u.sessions.list()] == ids[::-1]
        assert [s.strategy for s in u.sessions.list(limit=2)] == ["s2", "s1"]


def test_finishing_a_session_is_idempotent_and_unknown_ids_are_refused(uow: Factory) -> None:
    sid = _new_session(uow)
    for _ in range(2):
        with uow() as u:
            u.sessions.finish(sid, "completed", T0 + 5)
            u.commit()
    with uow() as u:
        got = u.sessions.get(sid)
        assert (got.status, got.ended_ms) == ("completed", T0 + 5)
        with pytest.raises(SessionNotFound):
            u.sessions.get(sid + 100)
        with pytest.raises(SessionNotFound):
            u.sessions.finish(sid + 100, "failed", T0)


# -- orders -------------------------------------------------------------------------------------------
def test_orders_round_trip_and_keep_their_status_history(uow: Factory) -> None:
    sid = _new_session(uow)
    new = _order()
    filled = new.with_fill(_fill())
    with uow() as u:
        u.orders.save(sid, new, T0)
        u.orders.save(sid, new, T0 + 1)  # the same state again: no new history entry
        u.orders.save(sid, filled, T0 + 3_600_000)
        u.commit()
    with uow() as u:
        assert u.orders.get("run-1-entry") == filled
        assert u.orders.get("nope") is None
        assert u.orders.for_session(sid) == [filled]
        assert u.orders.history("run-1-entry") == [
            OrderStatusChange(T0, OrderStatus.NEW),
            OrderStatusChange(T0 + 3_600_000, OrderStatus.FILLED),
        ]


def test_a_client_order_id_belongs_to_one_session(uow: Factory) -> None:
    first, second = _new_session(uow), _new_session(uow)
    with uow() as u:
        u.orders.save(first, _order(), T0)
        u.commit()
    with uow() as u, pytest.raises(PersistenceError):
        u.orders.save(second, _order(), T0)


def test_orders_in_bulk_read_back_as_saved_with_one_history_entry_each(uow: Factory) -> None:
    sid, other = _new_session(uow), _new_session(uow)
    filled = _order("bulk-1").with_fill(_fill("bulk-1"))
    partial = _order("bulk-2", qty="1").with_fill(_fill("bulk-2", qty="0.25"))
    canceled = _order("bulk-3").canceled("position closed")
    with uow() as u:
        u.orders.add_many(sid, [(filled, T0 + 10), (partial, T0 + 20), (canceled, T0 + 30)])
        u.orders.add_many(sid, [])
        u.commit()
    with uow() as u:
        assert u.orders.for_session(sid) == [filled, partial, canceled]
        assert u.orders.get("bulk-2") == partial
        assert u.orders.history("bulk-1") == [OrderStatusChange(T0 + 10, OrderStatus.FILLED)]
        assert u.orders.history("bulk-3") == [OrderStatusChange(T0 + 30, OrderStatus.CANCELED, "position closed")]
    with pytest.raises(PersistenceError), uow() as u:
        u.orders.add_many(other, [(_order("bulk-1"), T0)])  # the id is taken
    with pytest.raises(PersistenceError), uow() as u:
        u.orders.add_many(other, [(_order("twice"), T0), (_order("twice"), T0 + 1)])
    with uow() as u:
        assert u.orders.for_session(other) == [] and u.orders.get("twice") is None


def test_fills_in_bulk_need_orders_of_their_session(uow: Factory) -> None:
    sid, other = _new_session(uow), _new_session(uow)
    early, late = _fill("bulk-1", qty="0.1", ts=T0 + 60), _fill("bulk-1", qty="0.2", ts=T0 + 30)
    with uow() as u:  # orders and fills in one transaction, as a saved backtest writes them
        u.orders.add_many(sid, [(_order("bulk-1", qty="0.3").with_fill(early).with_fill(late), T0 + 60)])
        u.fills.add_many(sid, [early, late])
        u.commit()
    with uow() as u:
        u.orders.save(other, _order("other-1"), T0)
        u.commit()
    later = _fill("other-1", ts=T0 + 90)
    with uow() as u:  # an order saved in an earlier transaction
        u.fills.add_many(other, [later])
        u.fills.add_many(other, [])
        u.commit()
    with uow() as u:
        assert u.fills.for_session(sid) == [late, early]  # by time
        assert u.fills.for_session(other) == [later]
    for session, fill in ((sid, _fill("never-saved")), (sid, _fill("other-1"))):  # unknown, another session's
        with pytest.raises(PersistenceError), uow() as u:
            u.fills.add_many(session, [fill])
    with uow() as u:
        assert len(u.fills.for_session(sid)) == 2


# -- fills, positions, trades -------------------------------------------------------------------------
def test_fills_round_trip_exactly_by_time_and_need_their_order(uow: Factory) -> None:
    sid = _new_session(uow)
    order = _order(qty="0.3")
    late, early = _fill(qty="0.1", ts=T0 + 7_200_000), _fill(qty="0.2", ts=T0 + 3_600_000)
    with uow() as u:
        u.orders.save(sid, order, T0)
        u.fills.add(sid, late)
        u.fills.add(sid, early)
        u.commit()
    with uow() as u:
        assert u.fills.for_session(sid) == [early, late]
    with uow() as u, pytest.raises(PersistenceError):
        u.fills.add(sid, _fill(cid="never-saved"))


def test_a_fill_is_stored_once_by_its_trade_id(uow: Factory) -> None:
    """A venue's fills replayed after a restart: the same trade id again, alone, in bulk, within one batch or
    in a later transaction, changes nothing; another session may hold the same trade id."""
    sid, other = _new_session(uow), _new_session(uow)
    first, second = _fill(qty="0.1", trade="T-1"), _fill(qty="0.2", ts=T0 + 7_200_000, trade="T-2")
    with uow() as u:
        u.orders.save(sid, _order(qty="0.3"), T0)
        u.fills.add(sid, first)
        u.fills.add(sid, first)
        u.fills.add_many(sid, [first, second, second])
        u.commit()
    with uow() as u:
        u.fills.add_many(sid, [second, first])
        u.fills.add(sid, second)
        u.commit()
    with uow() as u:
        assert u.fills.for_session(sid) == [first, second]
        assert [f.trade_id for f in u.fills.for_session(sid)] == ["T-1", "T-2"]
    with uow() as u:
        u.orders.save(other, _order("other-entry", qty="0.3"), T0)
        u.fills.add_many(other, [_fill("other-entry", qty="0.1", trade="T-1")])
        u.commit()
    with uow() as u:
        assert [f.trade_id for f in u.fills.for_session(other)] == ["T-1"]
        assert len(u.fills.for_session(sid)) == 2


def test_a_fill_without_a_trade_id_is_refused(uow: Factory) -> None:
    sid = _new_session(uow)
    with uow() as u:
        u.orders.save(sid, _order(), T0)
        u.commit()
    nameless = dataclasses.replace(_fill(), trade_id="")
    for write in ("add", "add_many"):
        with pytest.raises(PersistenceError, match="trade id"), uow() as u:
            u.fills.add(sid, nameless) if write == "add" else u.fills.add_many(sid, [nameless])
    with uow() as u:
        assert u.fills.for_session(sid) == []


def test_a_fill_without_a_fee_asset_is_stored_with_the_quote(uow: Factory) -> None:
    sid = _new_session(uow)
    fill = dataclasses.replace(_fill(), fee_asset="")
    with uow() as u:
        u.orders.save(sid, _order(), T0)
        u.fills.add(sid, fill)
        u.commit()
    with uow() as u:
        assert u.fills.for_session(sid) == [dataclasses.replace(fill, fee_asset="USDT")]


def test_positions_are_replaced_per_symbol_and_removed_when_flat(uow: Factory) -> None:
    sid = _new_session(uow)
    btc = Position(BTC, Decimal("0.5"), Decimal("21605.06"), Decimal("1.25"), Decimal("0.02"))
    eth = Position(ETH, Decimal("-2"), Decimal("-4000"))
    with uow() as u:
        u.positions.save(sid, PositionSnapshot(btc, T0, opened_ms=T0, stop_loss=Decimal("40000"),
                                               mark_price=Decimal("44000")))  # fmt: skip
        u.positions.save(sid, PositionSnapshot(eth, T0))
        bigger = Position(BTC, Decimal("1.5"), HUGE, TINY, Decimal("0.03"))
        u.positions.save(sid, PositionSnapshot(bigger, T0 + 1, take_profit=Decimal("50000")))
        u.commit()
    with uow() as u:
        got = u.positions.open_positions(sid)
        assert [p.position for p in got] == [bigger, eth]
        assert got[0].take_profit == Decimal("50000") and got[0].stop_loss is None and got[0].updated_ms == T0 + 1
        u.positions.save(sid, PositionSnapshot(Position(ETH), T0 + 2))
        u.commit()
    with uow() as u:
        assert [p.position.symbol for p in u.positions.open_positions(sid)] == [BTC]


def test_unrealised_pnl_is_exact() -> None:
    snap = PositionSnapshot(Position(BTC, Decimal("0.5"), Decimal("21605.06")), T0, mark_price=Decimal("44000.01"))
    assert snap.unrealized_pnl == Decimal("394.945")


def test_trades_round_trip_to_the_same_floats_by_exit_time(uow: Factory) -> None:
    sid = _new_session(uow)
    pnl = -123456.78901234567
    second = Trade(BTC, Direction.SHORT, T0 + 10, T0 + 20, 0.1 + 0.2, 1e-7, 3.0000000000000004, 0.0, pnl)
    first = Trade(ETH, Direction.LONG, T0, T0 + 5, 43210.123456789, 44000.1, 0.00012, 0.1, 12.345,
                  exit_reason="stop_loss", slippage=0.3, mfe=0.02, mae=-0.01)  # fmt: skip
    with uow() as u:
        u.trades.add_many(sid, [second, first])
        u.trades.add_many(sid, [])
        u.commit()
    with uow() as u:
        got = u.trades.for_session(sid)
    assert got[0] == first
    # NaN never equals itself: compare the rest, then check the excursions stayed undefined.
    assert got[1].entry_price == 0.1 + 0.2 and got[1].pnl == pnl and got[1].quantity == 3.0000000000000004
    assert math.isnan(got[1].mfe) and math.isnan(got[1].mae)


# -- account history, metrics, events -----------------------------------------------------------------
def test_account_history_is_exact_and_ordered(uow: Factory) -> None:
    sid = _new_session(uow)
    snaps = [AccountSnapshot(T0 + i * 3_600_000, Decimal("10000.5") + i * TINY, Decimal("5000.25"), Decimal("0.5"))
             for i in range(500)]  # fmt: skip
    snaps.append(AccountSnapshot(T0 - 1, HUGE))
    with uow() as u:
        u.account.add_many(sid, snaps)
        u.commit()
    with uow() as u:
        got = u.account.for_session(sid)
    assert got == [snaps[-1], *snaps[:-1]]
    assert got[2].equity == Decimal("10000.500000000000000001")


def test_an_equity_curve_goes_in_at_once_and_reads_back_as_the_same_floats(uow: Factory) -> None:
    sid = _new_session(uow)
    times = [T0 + i * 60_000 for i in range(300)]
    equity = [10_000 * (1.0001**i) for i in range(300)]
    exposure = [math.nan if i % 7 == 0 else 0.1 + i / 301 for i in range(300)]  # 18 decimals at most
    balance = [0.1 + 0.2, 1e-05, 123456789.12345679, *([5.5] * 297)]
    with uow() as u:
        u.account.add_series(sid, times, equity, balance, exposure)
        u.account.add_series(sid, [], [])
        u.commit()
    with uow() as u:
        got = u.account.for_session(sid)
        with pytest.raises(PersistenceError):
            u.account.add_series(sid, [T0], [math.nan])
    assert [a.time_ms for a in got] == times
    assert [float(a.equity) for a in got] == equity
    assert [None if a.exposure is None else float(a.exposure) for a in got] == [
        None if math.isnan(x) else x for x in exposure
    ]
    assert [float(a.balance) for a in got[:3] if a.balance is not None] == balance[:3]
    assert got[0].balance == Decimal("0.30000000000000004") and got[1].balance == Decimal("0.00001")


def test_one_snapshot_per_time_and_only_for_a_known_session(uow: Factory) -> None:
    sid = _new_session(uow)
    with uow() as u:
        u.account.add_many(sid, [AccountSnapshot(T0, Decimal(1))])
        u.commit()
    with pytest.raises(PersistenceError), uow() as u:
        u.account.add_many(sid, [AccountSnapshot(T0 + 1, Decimal(2)), AccountSnapshot(T0, Decimal(3))])
    with pytest.raises(SessionNotFound), uow() as u:
        u.account.add_series(sid + 1, [T0], [1.0])
    with uow() as u:
        assert u.account.for_session(sid) == [AccountSnapshot(T0, Decimal(1))]


def test_a_long_curve_in_runs_reads_back_bar_by_bar(uow: Factory) -> None:
    """Longer than one chunk, flat stretches (runs), a balance that is never known, exposure with holes."""
    sid = _new_session(uow)
    n = 2500
    rng = np.random.default_rng(1)
    times = (T0 + np.cumsum(rng.integers(1, 4, n)) * 60_000).tolist()  # irregular: gaps
    equity = np.repeat(rng.normal(1000, 50, n // 10), 10)  # runs of ten
    equity[700:1400] = -1234.5  # one long run across a chunk boundary
    equity[5] = 1e-25  # rounds to 0 at 18 places
    exposure = np.where(np.arange(n) % 300 < 20, np.nan, np.round(rng.random(n), 6))
    with uow() as u:
        u.account.add_series(sid, times, equity, exposure=exposure)
        u.commit()
    with uow() as u:
        got = u.account.for_session(sid)
        summary = u.account.summary(sid)
    assert [a.time_ms for a in got] == times
    assert [float(a.equity) for a in got] == [0.0 if x == 1e-25 else x for x in equity.tolist()]
    assert all(a.balance is None for a in got)
    assert [None if a.exposure is None else float(a.exposure) for a in got] == [
        None if math.isnan(x) else x for x in exposure.tolist()
    ]
    assert summary.snapshots == n and summary.last == got[-1]


def test_snapshots_written_apart_read_back_in_time_order(uow: Factory) -> None:
    sid = _new_session(uow)
    with uow() as u:
        assert u.account.summary(sid) == AccountSummary(0, None)
        u.account.add_series(sid, [T0, T0 + 20, T0 + 40], [1.0, 1.0, 2.0], balance=[1.0, 1.0, 1.5])
        u.account.add_many(sid, [AccountSnapshot(T0 + 30, Decimal("3"), Decimal("2.5")),
                                 AccountSnapshot(T0 + 10, Decimal("4"))])  # fmt: skip
        with pytest.raises(PersistenceError):  # T0 + 20 is taken, and this transaction wrote it
            u.account.add_many(sid, [AccountSnapshot(T0 + 20, Decimal("5"))])
    with uow() as u:
        assert u.account.for_session(sid) == []  # the error left the block: nothing was committed
        u.account.add_series(sid, [T0, T0 + 20, T0 + 40], [1.0, 1.0, 2.0], balance=[1.0, 1.0, 1.5])
        u.commit()
        u.account.add_many(sid, [AccountSnapshot(T0 + 30, Decimal("3"), Decimal("2.5")),
                                 AccountSnapshot(T0 + 10, Decimal("4"))])  # fmt: skip
        u.commit()
        with pytest.raises(PersistenceError):
            u.account.add_series(sid, [T0 + 50, T0 + 40], [1.0, 2.0])
    with uow() as u:
        got = u.account.for_session(sid)
        summary = u.account.summary(sid)
    assert [(a.time_ms, a.equity, a.balance) for a in got] == [
        (T0, 1, 1), (T0 + 10, 4, None), (T0 + 20, 1, 1), (T0 + 30, 3, Decimal("2.5")), (T0 + 40, 2, Decimal("1.5"))
    ]  # fmt: skip
    assert summary == AccountSummary(5, got[-1])


def test_a_session_rolled_back_is_unknown_to_the_history_and_events(uow: Factory) -> None:
    with uow() as u:
        sid = u.sessions.add(_session())
        u.account.add_series(sid, [T0], [1.0])
        u.rollback()
        with pytest.raises(SessionNotFound):
            u.account.add_series(sid, [T0], [1.0])
        with pytest.raises(SessionNotFound):
            u.events.add_many(sid, [EventRecord(T0, "info", "gone")])


def test_metrics_store_undefined_figures_as_none(uow: Factory) -> None:
    sid = _new_session(uow)
    with uow() as u:
        u.metrics.add(sid, MetricsSnapshot(T0 + 1, {"sharpe": 1.25, "sortino": math.nan, "calmar": math.inf}))
        u.metrics.add(sid, MetricsSnapshot(T0, {"sharpe": 0.5}))
        u.commit()
    with uow() as u:
        got = u.metrics.for_session(sid)
    assert got == [MetricsSnapshot(T0, {"sharpe": 0.5}),
                   MetricsSnapshot(T0 + 1, {"sharpe": 1.25, "sortino": None, "calmar": None})]  # fmt: skip


def test_events_round_trip_by_time(uow: Factory) -> None:
    sid = _new_session(uow)
    denial = EventRecord(T0 + 1, "risk_denial", "max drawdown reached", "BTCUSDT", {"action": "denied"})
    swap = EventRecord(T0, "strategy_swap", "ema_cross 1.2.0 -> 1.3.0")
    with uow() as u:
        u.events.add_many(sid, [denial, swap])
        u.commit()
    with uow() as u:
        assert u.events.for_session(sid) == [swap, denial]


# -- the unit of work ---------------------------------------------------------------------------------
def test_nothing_is_visible_without_commit(uow: Factory) -> None:
    sid = _new_session(uow)
    with uow() as u:
        u.orders.save(sid, _order(), T0)
        u.events.add_many(sid, [EventRecord(T0, "error", "boom")])
    with uow() as u:  # left without commit: rolled back
        assert u.orders.for_session(sid) == [] and u.events.for_session(sid) == []
        u.orders.save(sid, _order(), T0)
        u.rollback()
        assert u.orders.for_session(sid) == []


def test_an_error_rolls_back_the_fill_its_order_and_the_position_together(uow: Factory) -> None:
    sid = _new_session(uow)
    order = _order()
    with uow() as u:
        u.orders.save(sid, order, T0)
        u.commit()
    fill = _fill()
    with pytest.raises(RuntimeError), uow() as u:
        u.orders.save(sid, order.with_fill(fill), fill.timestamp)
        u.fills.add(sid, fill)
        u.positions.save(sid, PositionSnapshot(Position(BTC).apply(fill), fill.timestamp))
        raise RuntimeError("crash before commit")
    with uow() as u:
        assert u.orders.get(order.client_order_id) == order
        assert u.fills.for_session(sid) == [] and u.positions.open_positions(sid) == []
        assert u.orders.history(order.client_order_id) == [OrderStatusChange(T0, OrderStatus.NEW)]


def test_a_commit_is_visible_to_the_next_unit_of_work_and_work_goes_on_after_it(uow: Factory) -> None:
    sid = _new_session(uow)
    with uow() as u:
        u.events.add_many(sid, [EventRecord(T0, "info", "one")])
        u.commit()
        u.events.add_many(sid, [EventRecord(T0 + 1, "info", "two")])
        u.commit()
        u.events.add_many(sid, [EventRecord(T0 + 2, "info", "three")])
    with uow() as u:
        assert [e.message for e in u.events.for_session(sid)] == ["one", "two"]


# -- deleting a session ---------------------------------------------------------------------------------
def _fill_session(factory: Factory, sid: int, prefix: str) -> None:
    order = _order(f"{prefix}-entry")
    fill = Fill(order.client_order_id, BTC, Side.BUY, Decimal("0.1"), Decimal("43000"), Decimal("0.1"), T0 + 1,
                trade_id=f"{prefix}-t1", fee_asset="USDT")  # fmt: skip
    with factory() as u:
        u.orders.save(sid, order, T0)
        u.orders.save(sid, order.with_fill(fill), fill.timestamp)
        u.fills.add(sid, fill)
        u.positions.save(sid, PositionSnapshot(Position(BTC).apply(fill), fill.timestamp))
        u.trades.add_many(sid, [Trade(BTC, Direction.LONG, T0, T0 + 2, 100.0, 110.0, 1.0, 0.2, 9.8)])
        u.account.add_series(sid, [T0, T0 + 1], [100.0, 101.5], exposure=[0.0, 0.5])
        u.metrics.add(sid, MetricsSnapshot(T0, {"sharpe": 1.0}))
        u.events.add_many(sid, [EventRecord(T0, "risk_denial", "max_drawdown: 3% >= 2%", "BTCUSDT")])
        u.commit()


def _everything(u: UnitOfWork, sid: int, cid: str) -> list[object]:
    return [
        u.orders.for_session(sid), u.orders.get(cid), u.orders.history(cid), u.fills.for_session(sid),
        u.positions.open_positions(sid), u.trades.for_session(sid), u.account.for_session(sid),
        u.metrics.for_session(sid), u.events.for_session(sid),
    ]  # fmt: skip


def test_deleting_a_session_removes_everything_about_it_and_nothing_else(uow: Factory) -> None:
    gone, kept = _new_session(uow), _new_session(uow)
    _fill_session(uow, gone, "gone")
    _fill_session(uow, kept, "kept")
    with uow() as u:
        before = _everything(u, kept, "kept-entry")
    with uow() as u:
        u.sessions.delete(gone)  # not committed: rolled back, all of it
    with uow() as u:
        assert all(_everything(u, gone, "gone-entry"))
        u.sessions.delete(gone)
        u.commit()
    with uow() as u:
        with pytest.raises(SessionNotFound):
            u.sessions.get(gone)
        assert _everything(u, gone, "gone-entry") == [[], None, [], [], [], [], [], [], []]
        assert _everything(u, kept, "kept-entry") == before
        assert [s.id for s in u.sessions.list()] == [kept]
        with pytest.raises(SessionNotFound):
            u.sessions.delete(gone)
    _fill_session(uow, _new_session(uow), "gone")  # its order ids are free again


def test_an_equity_curve_before_1970_is_stored_too(uow: Factory) -> None:
    sid = _new_session(uow)
    times = [-86_400_000 - 1, -1, 0, 1]
    with uow() as u:
        u.account.add_series(sid, times, [1.0, 2.0, 2.0, 3.5], exposure=[0.0, 0.0, 0.25, 0.25])
        u.commit()
    with uow() as u:
        got = u.account.for_session(sid)
    assert [a.time_ms for a in got] == times and [float(a.equity) for a in got] == [1.0, 2.0, 2.0, 3.5]


def test_an_equity_curve_lands_in_its_own_session_whatever_its_id(uow: Factory) -> None:
    sids = [_new_session(uow) for _ in range(12)]  # ids of two digits and more
    with uow() as u:
        for k, sid in enumerate(sids):
            u.account.add_series(sid, [T0, T0 + 1], [float(k), k + 0.5])
        u.commit()
    with uow() as u:
        for k, sid in enumerate(sids):
            assert [float(a.equity) for a in u.account.for_session(sid)] == [float(k), k + 0.5]
