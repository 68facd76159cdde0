"""Save a finished backtest: the session, its orders and fills, trades, risk denials, account history, metrics
and open positions."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from enum import Enum
from typing import Any

import numpy as np

from application.ports.repositories import (
    EventRecord,
    MetricsSnapshot,
    PositionSnapshot,
    SessionRecord,
    UnitOfWork,
)
from application.redaction import redact_mapping
from application.use_cases.run_backtest import BacktestReport
from domain.model.orders import Fill, Order, OrderRequest, OrderStatus, OrderType
from domain.model.symbols import Symbol

UnitOfWorkFactory = Callable[[], UnitOfWork]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def jsonable(value: Any) -> Any:
    """A JSON-ready copy: Decimals as strings (exact), enums by value, NaN and infinities as null."""
    if isinstance(value, Symbol):
        return str(value)
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    return str(value)


def _exact(value: float) -> Decimal | None:
    return Decimal(repr(value)) if math.isfinite(value) else None


# A backtest report carries the fills, not the orders: an order's type follows from why it existed (its tag).
_ORDER_TYPES = {"take_profit": OrderType.LIMIT, "stop_loss": OrderType.STOP, "trailing_stop": OrderType.STOP,
                "liquidation": OrderType.STOP}  # fmt: skip
_OPENING_TAGS = ("entry", "")


def orders_from_fills(fills: Sequence[Fill], prefix: str = "") -> tuple[list[tuple[Order, int]], list[Fill]]:
    """The orders a backtest's fills executed, one per client order id, each with the time of its last fill,
    and the fills; ids get ``prefix`` (the engine numbers orders from 1 in every run).

    Rebuilt from the fills alone (the report does not carry the broker's orders): every order is filled, for
    the sum of its fills, at their volume-weighted average price; created at its first fill. Its type follows
    from its tag (take-profit: limit; stop-loss, trailing stop, liquidation: stop; others: market), and as its
    limit or stop price it gets its first fill's price (a fill does not carry its order's levels; a stop's
    fill price includes slippage). Orders that never filled (cancelled stops, rejections) are not in the
    report, so not here either."""
    renamed = [dataclasses.replace(f, client_order_id=prefix + f.client_order_id) for f in fills]
    groups: dict[str, list[Fill]] = {}
    for fill in renamed:
        groups.setdefault(fill.client_order_id, []).append(fill)
    orders: list[tuple[Order, int]] = []
    for cid, group in groups.items():
        first = group[0]
        kind = _ORDER_TYPES.get(first.tag, OrderType.MARKET)
        quantity = sum((f.quantity for f in group), Decimal(0))
        average = first.price if len(group) == 1 else sum((f.price * f.quantity for f in group), Decimal(0)) / quantity
        request = OrderRequest(
            cid, first.symbol, first.side, kind, quantity, first.timestamp,
            price=first.price if kind is OrderType.LIMIT else None,
            stop_price=first.price if kind is OrderType.STOP else None,
            reduce_only=first.tag not in _OPENING_TAGS, tag=first.tag,
        )  # fmt: skip
        orders.append((Order(request, OrderStatus.FILLED, None, quantity, average), group[-1].timestamp))
    return orders, renamed


class SaveBacktest:
    """Writes a ``BacktestReport`` in one unit of work and returns the new session's id.

    The session records the strategy (name, version, parameters), the whole request (symbols, timeframe,
    fees, risk limits, sizer), the model version if any, and the half-open range of bars it used. The
    equity curve goes to the account history in bulk, one snapshot per bar. Orders (rebuilt from the fills,
    see ``orders_from_fills``) and fills are stored with their ids prefixed by the session, ``s<id>-``: every
    backtest numbers its orders alike, and an id names one order across sessions.
    """

    def __init__(self, uow: UnitOfWorkFactory, clock: Callable[[], int] = now_ms) -> None:
        self._uow = uow
        self._clock = clock

    def __call__(self, report: BacktestReport, started_ms: int | None = None, model_version: str | None = None) -> int:
        request = report.request
        ended = self._clock()
        all_times = report.open_time.tolist()
        step = request.timeframe.milliseconds
        config = {
            "strategy_params": jsonable(report.strategy_params),
            "request": jsonable(request),
            "risk_limits": jsonable(report.risk_limits),
            "sizer": jsonable(report.sizer),
            "warmup_bars_used": report.warmup_bars_used,
            "notes": list(report.notes),
            "instruments": jsonable(report.instruments),  # the exchange rules traded under, per symbol
        }
        session = SessionRecord(
            mode="backtest",
            exchange="simulated",
            strategy=report.strategy_name,
            strategy_version=report.strategy_version,
            config=redact_mapping(config),  # the one redaction rule: no secret is saved (ADR 0013)
            symbols=tuple(str(s) for s in request.symbols),
            timeframe=request.timeframe.value,
            started_ms=started_ms if started_ms is not None else ended,
            status="completed",
            ended_ms=ended,
            model_version=model_version,
            data_start_ms=int(all_times[0]) if all_times else None,
            data_end_ms=int(all_times[-1]) + step if all_times else None,
            initial_balance=request.initial_cash,
        )
        finite = np.isfinite(report.equity)  # never expected not to be; a curve with holes is stored without them
        times, equity, exposure = report.open_time, report.equity, report.exposure
        balance = report.cash if report.cash is not None else np.full(equity.shape[0], np.nan)
        if not finite.all():
            times, equity, exposure, balance = times[finite], equity[finite], exposure[finite], balance[finite]
        events = [
            EventRecord(
                d.time_ms, "risk_denial" if d.action == "denied" else "risk_reduction", d.reason, d.symbol,
                {"action": d.action, "rule": d.rule},
            )
            for d in report.denials
        ]  # fmt: skip
        # The drawdown breaker's trips and resets: kind risk_trip / risk_reset, the numbers in details.
        events += [
            EventRecord(
                e.time_ms, f"risk_{e.kind}",
                f"{e.rule}: circuit breaker {'tripped' if e.kind == 'trip' else 'reset'} at equity {e.equity:,.2f}, "
                f"drawdown {e.drawdown:.2%} from {e.peak:,.2f}", None,
                {"rule": e.rule, "kind": e.kind, "equity": e.equity, "drawdown": e.drawdown, "peak": e.peak},
            )
            for e in report.risk_events
        ]  # fmt: skip
        last = int(all_times[-1]) if all_times else ended
        with self._uow() as uow:
            session_id = uow.sessions.add(session)
            orders, fills = orders_from_fills(report.fills, prefix=f"s{session_id}-")
            uow.orders.add_many(session_id, orders)
            uow.fills.add_many(session_id, fills)
            uow.trades.add_many(session_id, report.trades)
            uow.events.add_many(session_id, events)
            uow.account.add_series(session_id, times, equity, balance=balance, exposure=exposure)
            uow.metrics.add(session_id, MetricsSnapshot(last, dict(report.metrics)))
            for name, position in report.open_positions.items():
                closes = report.closes.get(name)
                mark = _exact(float(closes[-1])) if closes is not None and len(closes) else None
                uow.positions.save(session_id, PositionSnapshot(position, last, mark_price=mark))
            uow.commit()
        return session_id
