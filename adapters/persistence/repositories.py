"""SQLAlchemy Core repositories over one connection (the unit of work's transaction)."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from adapters.persistence import schema as t
from adapters.persistence.bulk import copy_buffer, float_copy_texts, float_texts, utc_texts
from application.ports.repositories import (
    AccountSnapshot,
    EventRecord,
    Floats,
    MetricsSnapshot,
    OrderStatusChange,
    PersistenceError,
    PositionSnapshot,
    SessionNotFound,
    SessionRecord,
    Times,
)
from domain.model.orders import Fill, Order, OrderRequest, OrderStatus, OrderType, Side
from domain.model.positions import Position
from domain.model.symbols import Symbol
from domain.model.trades import Direction, Trade

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _sym(symbol: Symbol) -> str:
    return f"{symbol.base}/{symbol.quote}"


def _parse_sym(text: str) -> Symbol:
    base, _, quote = text.partition("/")
    return Symbol(base, quote)


def _dec(value: float) -> Decimal:
    """A float as the Decimal of its shortest repr: ``float(_dec(x)) == x``."""
    return Decimal(repr(value))


def _opt_dec(value: float) -> Decimal | None:
    return None if math.isnan(value) or math.isinf(value) else Decimal(repr(value))


def _utc_sqlite(ms: int) -> str:
    """The text SQLAlchemy's SQLite DATETIME stores for a UTC ms (the slow path, for unusual years)."""
    return (_EPOCH + timedelta(milliseconds=ms)).strftime("%Y-%m-%d %H:%M:%S.%f")


def _opt_float(value: Decimal | None) -> float:
    return math.nan if value is None else float(value)


class SqlAlchemySessionRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, session: SessionRecord) -> int:
        result = self._conn.execute(
            sa.insert(t.trading_sessions).values(
                mode=session.mode, exchange=session.exchange, strategy=session.strategy,
                strategy_version=session.strategy_version, config=dict(session.config),
                symbols=list(session.symbols), timeframe=session.timeframe, status=session.status,
                started_at=session.started_ms, ended_at=session.ended_ms, model_version=session.model_version,
                data_start=session.data_start_ms, data_end=session.data_end_ms,
                initial_balance=session.initial_balance,
            ).returning(t.trading_sessions.c.id)
        )  # fmt: skip
        return int(result.scalar_one())

    def finish(self, session_id: int, status: str, ended_ms: int) -> None:
        result = self._conn.execute(
            sa.update(t.trading_sessions)
            .where(t.trading_sessions.c.id == session_id)
            .values(status=status, ended_at=ended_ms)
        )
        if result.rowcount == 0:
            raise SessionNotFound(f"no session {session_id}")

    def get(self, session_id: int) -> SessionRecord:
        row = self._conn.execute(sa.select(t.trading_sessions).where(t.trading_sessions.c.id == session_id)).first()
        if row is None:
            raise SessionNotFound(f"no session {session_id}")
        return _session(row._mapping)

    def list(self, limit: int = 50) -> list[SessionRecord]:
        rows = self._conn.execute(sa.select(t.trading_sessions).order_by(t.trading_sessions.c.id.desc()).limit(limit))
        return [_session(r._mapping) for r in rows]

    def delete(self, session_id: int) -> None:
        # Explicitly, child tables first: account_history has no foreign key (see schema.py), and the
        # others must not depend on SQLite's foreign_keys pragma for their ON DELETE CASCADE.
        s = t.trading_sessions
        if self._conn.execute(sa.select(s.c.id).where(s.c.id == session_id)).first() is None:
            raise SessionNotFound(f"no session {session_id}")
        orders = sa.select(t.orders.c.id).where(t.orders.c.session_id == session_id)
        self._conn.execute(sa.delete(t.order_status_history).where(t.order_status_history.c.order_id.in_(orders)))
        for table in (t.fills, t.orders, t.trades, t.positions, t.account_history, t.performance_metrics, t.events):
            self._conn.execute(sa.delete(table).where(table.c.session_id == session_id))
        self._conn.execute(sa.delete(s).where(s.c.id == session_id))


def _session(m: Mapping[str, Any]) -> SessionRecord:
    return SessionRecord(
        mode=m["mode"], exchange=m["exchange"], strategy=m["strategy"], strategy_version=m["strategy_version"],
        config=m["config"], symbols=tuple(m["symbols"]), timeframe=m["timeframe"], started_ms=m["started_at"],
        status=m["status"], ended_ms=m["ended_at"], model_version=m["model_version"],
        data_start_ms=m["data_start"], data_end_ms=m["data_end"], initial_balance=m["initial_balance"], id=m["id"],
    )  # fmt: skip


class SqlAlchemyOrderRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def save(self, session_id: int, order: Order, time_ms: int) -> None:
        o = t.orders
        req = order.request
        values = {
            "exchange_order_id": order.exchange_order_id, "status": order.status.value,
            "filled_quantity": order.filled_quantity, "average_price": order.average_price, "reason": order.reason,
            "updated_at": time_ms,
        }  # fmt: skip
        row = self._conn.execute(
            sa.select(o.c.id, o.c.status, o.c.session_id).where(o.c.client_order_id == req.client_order_id)
        ).first()
        if row is None:
            order_id = self._conn.execute(
                sa.insert(o).values(
                    session_id=session_id, client_order_id=req.client_order_id, symbol=_sym(req.symbol),
                    side=req.side.value, type=req.type.value, quantity=req.quantity,
                    quote_quantity=req.quote_quantity, price=req.price, stop_price=req.stop_price,
                    stop_loss=req.stop_loss, take_profits=[[str(p), str(f)] for p, f in req.take_profits],
                    reduce_only=req.reduce_only, tag=req.tag, created_at=req.created_at, **values,
                ).returning(o.c.id)
            ).scalar_one()  # fmt: skip
            changed = True
        else:
            if row.session_id != session_id:
                raise PersistenceError(f"order {req.client_order_id} belongs to session {row.session_id}")
            order_id = row.id
            changed = row.status != order.status.value
            self._conn.execute(sa.update(o).where(o.c.id == order_id).values(**values))
        if changed:
            self._conn.execute(
                sa.insert(t.order_status_history).values(
                    order_id=order_id, status=order.status.value, reason=order.reason, time=time_ms
                )
            )

    def get(self, client_order_id: str) -> Order | None:
        row = self._conn.execute(sa.select(t.orders).where(t.orders.c.client_order_id == client_order_id)).first()
        return None if row is None else _order(row._mapping)

    def for_session(self, session_id: int) -> list[Order]:
        rows = self._conn.execute(
            sa.select(t.orders).where(t.orders.c.session_id == session_id).order_by(t.orders.c.id)
        )
        return [_order(r._mapping) for r in rows]

    def history(self, client_order_id: str) -> list[OrderStatusChange]:
        h = t.order_status_history
        rows = self._conn.execute(
            sa.select(h.c.time, h.c.status, h.c.reason)
            .join(t.orders, t.orders.c.id == h.c.order_id)
            .where(t.orders.c.client_order_id == client_order_id)
            .order_by(h.c.time, h.c.id)
        )
        return [OrderStatusChange(r.time, OrderStatus(r.status), r.reason) for r in rows]


def _order(m: Mapping[str, Any]) -> Order:
    request = OrderRequest(
        client_order_id=m["client_order_id"], symbol=_parse_sym(m["symbol"]), side=Side(m["side"]),
        type=OrderType(m["type"]), quantity=m["quantity"], created_at=m["created_at"],
        quote_quantity=m["quote_quantity"], price=m["price"], stop_price=m["stop_price"],
        reduce_only=bool(m["reduce_only"]), stop_loss=m["stop_loss"],
        take_profits=tuple((Decimal(p), Decimal(f)) for p, f in m["take_profits"]), tag=m["tag"],
    )  # fmt: skip
    return Order(
        request,
        OrderStatus(m["status"]),
        m["exchange_order_id"],
        m["filled_quantity"],
        m["average_price"],
        m["reason"],
    )


class SqlAlchemyFillRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, session_id: int, fill: Fill) -> None:
        order_id = self._conn.execute(
            sa.select(t.orders.c.id).where(t.orders.c.client_order_id == fill.client_order_id)
        ).scalar()
        if order_id is None:
            raise PersistenceError(f"fill of unknown order {fill.client_order_id}: save the order first")
        self._conn.execute(
            sa.insert(t.fills).values(
                session_id=session_id, order_id=order_id, symbol=_sym(fill.symbol), side=fill.side.value,
                quantity=fill.quantity, price=fill.price, fee=fill.fee, slippage=fill.slippage,
                liquidity=fill.liquidity, tag=fill.tag, time=fill.timestamp,
            )
        )  # fmt: skip

    def for_session(self, session_id: int) -> list[Fill]:
        f = t.fills
        rows = self._conn.execute(
            sa.select(f, t.orders.c.client_order_id)
            .join(t.orders, t.orders.c.id == f.c.order_id)
            .where(f.c.session_id == session_id)
            .order_by(f.c.time, f.c.id)
        )
        return [
            Fill(
                r.client_order_id, _parse_sym(r.symbol), Side(r.side), r.quantity, r.price, r.fee, r.time,
                liquidity=r.liquidity, slippage=r.slippage, tag=r.tag,
            )
            for r in rows
        ]  # fmt: skip


class SqlAlchemyTradeRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add_many(self, session_id: int, trades: Sequence[Trade]) -> None:
        if not trades:
            return
        rows = [
            {
                "session_id": session_id, "symbol": _sym(tr.symbol), "direction": tr.direction.value,
                "entry_time": tr.entry_time, "exit_time": tr.exit_time, "entry_price": _dec(tr.entry_price),
                "exit_price": _dec(tr.exit_price), "quantity": _dec(tr.quantity), "fees": _dec(tr.fees),
                "pnl": _dec(tr.pnl), "slippage": _dec(tr.slippage), "exit_reason": tr.exit_reason,
                "mfe": _opt_dec(tr.mfe), "mae": _opt_dec(tr.mae),
            }
            for tr in trades
        ]  # fmt: skip
        self._conn.execute(sa.insert(t.trades), rows)

    def for_session(self, session_id: int) -> list[Trade]:
        tr = t.trades
        rows = self._conn.execute(sa.select(tr).where(tr.c.session_id == session_id).order_by(tr.c.exit_time, tr.c.id))
        return [
            Trade(
                _parse_sym(r.symbol), Direction(r.direction), r.entry_time, r.exit_time, float(r.entry_price),
                float(r.exit_price), float(r.quantity), float(r.fees), float(r.pnl), exit_reason=r.exit_reason,
                slippage=float(r.slippage), mfe=_opt_float(r.mfe), mae=_opt_float(r.mae),
            )
            for r in rows
        ]  # fmt: skip


class SqlAlchemyPositionRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def save(self, session_id: int, snapshot: PositionSnapshot) -> None:
        p = t.positions
        pos = snapshot.position
        where = sa.and_(p.c.session_id == session_id, p.c.symbol == _sym(pos.symbol))
        self._conn.execute(sa.delete(p).where(where))
        if pos.is_flat:
            return
        self._conn.execute(
            sa.insert(p).values(
                session_id=session_id, symbol=_sym(pos.symbol), quantity=pos.quantity, cost=pos.cost,
                entry_price=pos.average_entry, realized_pnl=pos.realized_pnl, fees=pos.fees,
                stop_loss=snapshot.stop_loss, take_profit=snapshot.take_profit, mark_price=snapshot.mark_price,
                unrealized_pnl=snapshot.unrealized_pnl, opened_at=snapshot.opened_ms, updated_at=snapshot.updated_ms,
            )
        )  # fmt: skip

    def open_positions(self, session_id: int) -> list[PositionSnapshot]:
        p = t.positions
        rows = self._conn.execute(sa.select(p).where(p.c.session_id == session_id).order_by(p.c.symbol))
        return [
            PositionSnapshot(
                Position(_parse_sym(r.symbol), r.quantity, r.cost, r.realized_pnl, r.fees), r.updated_at,
                opened_ms=r.opened_at, stop_loss=r.stop_loss, take_profit=r.take_profit, mark_price=r.mark_price,
            )
            for r in rows
        ]  # fmt: skip


_SQLITE_ROWS = 1000  # rows per multi-row INSERT (at most 4 parameters each: under SQLite's 32766)


class SqlAlchemyAccountHistoryRepository:
    """Bulk writes: one executemany (batched multi-row INSERTs on PostgreSQL)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _require_session(self, session_id: int) -> None:
        # The table has no foreign key (bulk speed, see schema.py): check the session once per write.
        found = self._conn.execute(sa.select(t.trading_sessions.c.id).where(t.trading_sessions.c.id == session_id))
        if found.first() is None:
            raise SessionNotFound(f"no session {session_id}")

    def add_many(self, session_id: int, snapshots: Sequence[AccountSnapshot]) -> None:
        if not snapshots:
            return
        self._require_session(session_id)
        rows = [
            {"session_id": session_id, "time": s.time_ms, "balance": s.balance, "equity": s.equity,
             "exposure": s.exposure}
            for s in snapshots
        ]  # fmt: skip
        self._conn.execute(sa.insert(t.account_history), rows)

    def add_series(
        self,
        session_id: int,
        times: Times,
        equity: Floats,
        balance: Floats | None = None,
        exposure: Floats | None = None,
    ) -> None:
        n = len(times)
        if not n:
            return
        if not len(equity) == n or any(c is not None and len(c) != n for c in (balance, exposure)):
            raise ValueError("times, equity, balance and exposure must have the same length")
        eq = np.asarray(equity, dtype=np.float64)
        if not np.isfinite(eq).all():
            raise PersistenceError("an equity curve must be finite to be stored")
        self._require_session(session_id)
        ms = np.asarray(times, dtype=np.int64)
        optional = [(name, col) for name, col in (("balance", balance), ("exposure", exposure)) if col is not None]
        if self._conn.dialect.name == "postgresql":
            self._copy(session_id, ms, eq, optional)
        else:
            self._sqlite(session_id, ms, eq, optional)

    def _sqlite(
        self, session_id: int, ms: npt.NDArray[np.int64], eq: npt.NDArray[np.float64],
        optional: list[tuple[str, Floats]],
    ) -> None:  # fmt: skip
        """Multi-row INSERTs of pre-formatted text (SQLite binds them much faster than executemany), in
        the unit of work's transaction. Times are the text SQLAlchemy's DATETIME writes and reads there."""
        n = ms.shape[0]
        stamps = utc_texts(ms, b"000")
        if stamps is None:
            stamps = np.array([_utc_sqlite(int(v)) for v in ms.tolist()], dtype=np.bytes_)
        columns = [("time", stamps.astype("U26")), ("equity", float_texts(eq))]
        columns += [(name, float_texts(col)) for name, col in optional]
        rows = np.empty((n, len(columns)), dtype=object)
        for i, (_, col) in enumerate(columns):
            rows[:, i] = col
        names = ", ".join(name for name, _ in columns)
        cells = "(" + ", ".join([str(int(session_id))] + ["?"] * len(columns)) + ")"
        full = f"INSERT INTO account_history (session_id, {names}) VALUES {', '.join([cells] * _SQLITE_ROWS)}"
        for start in range(0, n, _SQLITE_ROWS):
            part = rows[start : start + _SQLITE_ROWS]
            sql = (
                full
                if len(part) == _SQLITE_ROWS
                else full[: full.index(" VALUES ") + 8] + ", ".join([cells] * len(part))
            )
            self._conn.exec_driver_sql(sql, tuple(part.ravel().tolist()))

    def _copy(
        self, session_id: int, ms: npt.NDArray[np.int64], eq: npt.NDArray[np.float64],
        optional: list[tuple[str, Floats]],
    ) -> None:  # fmt: skip
        """PostgreSQL COPY (text format) on the unit of work's own connection (so inside its transaction),
        from one buffer built with numpy."""
        n = ms.shape[0]
        stamps = utc_texts(ms, b"+00")
        if stamps is None:
            text = np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms", timezone="UTC")
            stamps = np.char.encode(text, "ascii")
        columns = [
            np.full(n, str(int(session_id)).encode(), dtype=f"S{len(str(int(session_id)))}"),
            stamps,
            float_copy_texts(eq),
        ]
        names = ["session_id", "time", "equity"]
        for name, col in optional:
            columns.append(float_copy_texts(col))
            names.append(name)
        cursor = self._conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            buffer = io.BytesIO(copy_buffer(columns))
            cursor.copy_expert(f"COPY account_history ({', '.join(names)}) FROM STDIN", buffer)
        finally:
            cursor.close()

    def for_session(self, session_id: int) -> list[AccountSnapshot]:
        a = t.account_history
        rows = self._conn.execute(
            sa.select(a.c.time, a.c.equity, a.c.balance, a.c.exposure)
            .where(a.c.session_id == session_id)
            .order_by(a.c.time)
        )
        return [AccountSnapshot(r.time, r.equity, r.balance, r.exposure) for r in rows]


class SqlAlchemyMetricsRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, session_id: int, snapshot: MetricsSnapshot) -> None:
        # JSON has no NaN or infinity: undefined figures are stored as null.
        values = {
            k: (None if v is None or math.isnan(v) or math.isinf(v) else float(v)) for k, v in snapshot.values.items()
        }
        self._conn.execute(
            sa.insert(t.performance_metrics).values(session_id=session_id, time=snapshot.time_ms, metrics=values)
        )

    def for_session(self, session_id: int) -> list[MetricsSnapshot]:
        m = t.performance_metrics
        rows = self._conn.execute(
            sa.select(m.c.time, m.c.metrics).where(m.c.session_id == session_id).order_by(m.c.time, m.c.id)
        )
        return [MetricsSnapshot(r.time, r.metrics) for r in rows]


class SqlAlchemyEventRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add_many(self, session_id: int, events: Sequence[EventRecord]) -> None:
        if not events:
            return
        if self._conn.dialect.name == "postgresql":
            # One statement over arrays (psycopg2 adapts a list in C): a risk-limited backtest has hundreds
            # of denials, and an executemany spends most of its time binding row by row.
            self._conn.exec_driver_sql(
                "INSERT INTO events (session_id, time, kind, symbol, message, details) "
                "SELECT %(sid)s, timestamptz 'epoch' + u.t * interval '1 millisecond', u.k, u.s, u.m, u.d::json "
                "FROM unnest(%(t)s::bigint[], %(k)s::text[], %(s)s::text[], %(m)s::text[], %(d)s::text[]) "
                "AS u(t, k, s, m, d)",
                {
                    "sid": session_id, "t": [int(e.time_ms) for e in events], "k": [e.kind for e in events],
                    "s": [e.symbol for e in events], "m": [e.message for e in events],
                    "d": [json.dumps(dict(e.details)) for e in events],
                },
            )  # fmt: skip
            return
        rows = [
            {"session_id": session_id, "time": e.time_ms, "kind": e.kind, "symbol": e.symbol, "message": e.message,
             "details": dict(e.details)}
            for e in events
        ]  # fmt: skip
        self._conn.execute(sa.insert(t.events), rows)

    def for_session(self, session_id: int) -> list[EventRecord]:
        e = t.events
        rows = self._conn.execute(sa.select(e).where(e.c.session_id == session_id).order_by(e.c.time, e.c.id))
        return [EventRecord(r.time, r.kind, r.message, r.symbol, r.details) for r in rows]
