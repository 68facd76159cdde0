"""SQLAlchemy Core repositories over one connection (the unit of work's transaction)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from adapters.persistence import schema as t
from adapters.persistence.bulk import (
    INT4_OID,
    NUMERIC_OID,
    TIMESTAMPTZ_OID,
    binary_array,
    binary_copy,
    changes,
    float_texts,
    int4_binary,
    int4_elements,
    int8_binary,
    numeric_elements,
    text_json_arrays,
    timestamp_binary,
    timestamp_elements,
    utc_texts,
)
from adapters.persistence.rows import Kind, copy_in, insert_rows
from adapters.persistence.types import exact_text, read_exact
from application.ports.repositories import (
    AccountSnapshot,
    AccountSummary,
    Checkpoint,
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
_MS = timedelta(milliseconds=1)


def _sym(symbol: Symbol) -> str:
    return f"{symbol.base}/{symbol.quote}"


def _parse_sym(text: str) -> Symbol:
    base, _, quote = text.partition("/")
    return Symbol(base, quote)


def _utc_sqlite(ms: int) -> str:
    """The text SQLAlchemy's SQLite DATETIME stores for a UTC ms (the slow path, for unusual years)."""
    return (_EPOCH + timedelta(milliseconds=ms)).strftime("%Y-%m-%d %H:%M:%S.%f")


def _opt_float(value: Decimal | None) -> float:
    return math.nan if value is None else float(value)


class TransactionState:
    """What the current transaction wrote or checked, shared by its repositories to spare round trips:

    - sessions it added or found: the tables without a foreign key (account history, events) check their
      session here, once per transaction, not once per write;
    - sessions it added, as long as no account history was written for them (nothing to check it against);
    - the ids of the orders it inserted in bulk, by client order id, for their fills.

    The unit of work forgets it all at commit and rollback (a rollback may undo a session; after a commit,
    another connection may delete it)."""

    def __init__(self) -> None:
        self.sessions: set[int] = set()
        self.fresh: set[int] = set()
        self.orders: dict[str, tuple[int, int]] = {}  # client order id -> (session id, order id)

    def clear(self) -> None:
        self.sessions.clear()
        self.fresh.clear()
        self.orders.clear()

    def require_session(self, conn: Connection, session_id: int) -> None:
        if session_id in self.sessions:
            return
        found = conn.execute(sa.select(t.trading_sessions.c.id).where(t.trading_sessions.c.id == session_id))
        if found.first() is None:
            raise SessionNotFound(f"no session {session_id}")
        self.sessions.add(session_id)


class SqlAlchemySessionRepository:
    def __init__(self, conn: Connection, tx: TransactionState | None = None) -> None:
        self._conn = conn
        self._tx = tx or TransactionState()

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
        session_id = int(result.scalar_one())
        self._tx.sessions.add(session_id)
        self._tx.fresh.add(session_id)
        return session_id

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
        # Explicitly, child tables first: the account history and events have no foreign key (see schema.py),
        # and the others must not depend on SQLite's foreign_keys pragma for their ON DELETE CASCADE.
        s = t.trading_sessions
        if self._conn.execute(sa.select(s.c.id).where(s.c.id == session_id)).first() is None:
            raise SessionNotFound(f"no session {session_id}")
        orders = sa.select(t.orders.c.id).where(t.orders.c.session_id == session_id)
        self._conn.execute(sa.delete(t.order_status_history).where(t.order_status_history.c.order_id.in_(orders)))
        children = (
            t.fills, t.orders, t.trades, t.positions, t.account_history_chunks, t.performance_metrics, t.events,
            t.checkpoints,
        )  # fmt: skip
        for table in children:
            self._conn.execute(sa.delete(table).where(table.c.session_id == session_id))
        self._conn.execute(sa.delete(s).where(s.c.id == session_id))
        self._tx.sessions.discard(session_id)
        self._tx.fresh.discard(session_id)
        self._tx.orders = {cid: ids for cid, ids in self._tx.orders.items() if ids[0] != session_id}


def _session(m: RowMapping) -> SessionRecord:
    return SessionRecord(
        mode=m["mode"], exchange=m["exchange"], strategy=m["strategy"], strategy_version=m["strategy_version"],
        config=m["config"], symbols=tuple(m["symbols"]), timeframe=m["timeframe"], started_ms=m["started_at"],
        status=m["status"], ended_ms=m["ended_at"], model_version=m["model_version"],
        data_start_ms=m["data_start"], data_end_ms=m["data_end"], initial_balance=m["initial_balance"], id=m["id"],
    )  # fmt: skip


class SqlAlchemyOrderRepository:
    def __init__(self, conn: Connection, tx: TransactionState | None = None) -> None:
        self._conn = conn
        self._tx = tx or TransactionState()

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

    def add_many(self, session_id: int, orders: Sequence[tuple[Order, int]]) -> None:
        if not orders:
            return
        postgres = self._conn.dialect.name == "postgresql"
        # PostgreSQL: the ids are drawn first (one query), so that the orders, their history and later their
        # fills go in by COPY without asking for them; SQLite numbers the rows itself.
        ids = _next_ids(self._conn, "orders", len(orders)) if postgres else []
        rows = []
        for order, time_ms in orders:
            req = order.request
            rows.append((
                session_id, req.client_order_id, order.exchange_order_id, _sym(req.symbol), req.side.value,
                req.type.value, order.status.value, req.quantity, req.quote_quantity, req.price, req.stop_price,
                req.stop_loss, [[str(p), str(f)] for p, f in req.take_profits], req.reduce_only, req.tag,
                order.filled_quantity, order.average_price, order.reason, req.created_at, time_ms,
            ))  # fmt: skip
        if not postgres:
            insert_rows(self._conn, "orders", _ORDER_COLUMNS, rows)
            self._history_from_orders(session_id, [order.client_order_id for order, _ in orders])
            return
        numbered = list(zip(ids, orders, strict=True))
        insert_rows(self._conn, "orders", _ID_ORDER_COLUMNS, [(i, *r) for i, r in zip(ids, rows, strict=True)])
        history = [(i, order.status.value, order.reason, time_ms) for i, (order, time_ms) in numbered]
        insert_rows(self._conn, "order_status_history", _HISTORY_COLUMNS, history)
        self._tx.orders.update((order.client_order_id, (session_id, i)) for i, (order, _) in numbered)

    def _history_from_orders(self, session_id: int, cids: list[str]) -> None:
        """Each new order's one history entry, from the rows just written."""
        o, h = t.orders, t.order_status_history
        for start in range(0, len(cids), _IN_LIST):
            self._conn.execute(
                sa.insert(h).from_select(
                    ["order_id", "status", "reason", "time"],
                    sa.select(o.c.id, o.c.status, o.c.reason, o.c.updated_at).where(
                        o.c.session_id == session_id, o.c.client_order_id.in_(cids[start : start + _IN_LIST])
                    ),
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


_ORDER_COLUMNS = (
    ("session_id", Kind.INT), ("client_order_id", Kind.TEXT), ("exchange_order_id", Kind.TEXT),
    ("symbol", Kind.TEXT), ("side", Kind.TEXT), ("type", Kind.TEXT), ("status", Kind.TEXT),
    ("quantity", Kind.EXACT), ("quote_quantity", Kind.EXACT), ("price", Kind.EXACT), ("stop_price", Kind.EXACT),
    ("stop_loss", Kind.EXACT), ("take_profits", Kind.JSON), ("reduce_only", Kind.BOOL), ("tag", Kind.TEXT),
    ("filled_quantity", Kind.EXACT), ("average_price", Kind.EXACT), ("reason", Kind.TEXT),
    ("created_at", Kind.TIME), ("updated_at", Kind.TIME),
)  # fmt: skip
_ID_ORDER_COLUMNS = (("id", Kind.INT), *_ORDER_COLUMNS)
_IN_LIST = 1000  # ids per IN (...): SQLite takes up to 32766 parameters
_HISTORY_COLUMNS = (("order_id", Kind.INT), ("status", Kind.TEXT), ("reason", Kind.TEXT), ("time", Kind.TIME))


def _next_ids(conn: Connection, table: str, n: int) -> list[int]:
    """``n`` ids from the sequence of ``table.id`` (PostgreSQL), as its inserts would draw them."""
    result = conn.exec_driver_sql(
        f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %(n)s)", {"n": n}
    )
    return [int(r[0]) for r in result]


_FILL_COLUMNS = (
    ("session_id", Kind.INT), ("order_id", Kind.INT), ("symbol", Kind.TEXT), ("side", Kind.TEXT),
    ("quantity", Kind.EXACT), ("price", Kind.EXACT), ("fee", Kind.EXACT), ("slippage", Kind.EXACT),
    ("liquidity", Kind.TEXT), ("tag", Kind.TEXT), ("time", Kind.TIME), ("trade_id", Kind.TEXT),
    ("fee_asset", Kind.TEXT),
)  # fmt: skip


def _new_fills(conn: Connection, session_id: int, fills: Sequence[Fill]) -> list[Fill]:
    """``fills`` less those already stored for the session and repeats within them, by trade id (the first
    of each is kept); refuses a fill without one. One indexed query when the session has no fills yet."""
    unique: dict[str, Fill] = {}
    for f in fills:
        if not f.trade_id:
            raise PersistenceError(
                f"fill of {f.client_order_id} has no trade id: fills are stored by their venue trade id"
            )
        unique.setdefault(f.trade_id, f)
    fc = t.fills.c
    if conn.execute(sa.select(fc.id).where(fc.session_id == session_id).limit(1)).first() is None:
        return list(unique.values())
    ids = list(unique)
    stored: set[str] = set()
    for start in range(0, len(ids), _IN_LIST):
        rows = conn.execute(
            sa.select(fc.trade_id).where(fc.session_id == session_id, fc.trade_id.in_(ids[start : start + _IN_LIST]))
        )
        stored.update(r.trade_id for r in rows)
    return [f for trade_id, f in unique.items() if trade_id not in stored]


def _order_ids(conn: Connection, session_id: int) -> dict[str, int]:
    o = t.orders
    rows = conn.execute(sa.select(o.c.client_order_id, o.c.id).where(o.c.session_id == session_id))
    return {r.client_order_id: r.id for r in rows}


def _order(m: RowMapping) -> Order:
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
    def __init__(self, conn: Connection, tx: TransactionState | None = None) -> None:
        self._conn = conn
        self._tx = tx or TransactionState()

    def add(self, session_id: int, fill: Fill) -> None:
        order_id = self._conn.execute(
            sa.select(t.orders.c.id).where(t.orders.c.client_order_id == fill.client_order_id)
        ).scalar()
        if order_id is None:
            raise PersistenceError(f"fill of unknown order {fill.client_order_id}: save the order first")
        if not _new_fills(self._conn, session_id, [fill]):
            return  # recorded before: a fill is stored once
        self._conn.execute(
            sa.insert(t.fills).values(
                session_id=session_id, order_id=order_id, symbol=_sym(fill.symbol), side=fill.side.value,
                quantity=fill.quantity, price=fill.price, fee=fill.fee, slippage=fill.slippage,
                liquidity=fill.liquidity, tag=fill.tag, time=fill.timestamp, trade_id=fill.trade_id,
                fee_asset=fill.fee_asset or fill.symbol.quote,
            )
        )  # fmt: skip

    def add_many(self, session_id: int, fills: Sequence[Fill]) -> None:
        if not fills:
            return
        known = self._tx.orders
        if all(known.get(f.client_order_id, (None,))[0] == session_id for f in fills):
            ids = {cid: order_id for cid, (_, order_id) in known.items()}  # inserted by this transaction
        else:
            ids = _order_ids(self._conn, session_id)
        missing = next((f.client_order_id for f in fills if f.client_order_id not in ids), None)
        if missing is not None:
            raise PersistenceError(f"fill of unknown order {missing} in session {session_id}: save the order first")
        rows = [
            (session_id, ids[f.client_order_id], _sym(f.symbol), f.side.value, f.quantity, f.price, f.fee,
             f.slippage, f.liquidity, f.tag, f.timestamp, f.trade_id, f.fee_asset or f.symbol.quote)
            for f in _new_fills(self._conn, session_id, fills)
        ]  # fmt: skip
        insert_rows(self._conn, "fills", _FILL_COLUMNS, rows)

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
                liquidity=r.liquidity, slippage=r.slippage, tag=r.tag, trade_id=r.trade_id, fee_asset=r.fee_asset,
            )
            for r in rows
        ]  # fmt: skip


_TRADE_COLUMNS = (
    ("session_id", Kind.INT), ("symbol", Kind.TEXT), ("direction", Kind.TEXT), ("entry_time", Kind.TIME),
    ("exit_time", Kind.TIME), ("entry_price", Kind.FLOAT), ("exit_price", Kind.FLOAT), ("quantity", Kind.FLOAT),
    ("fees", Kind.FLOAT), ("pnl", Kind.FLOAT), ("slippage", Kind.FLOAT), ("exit_reason", Kind.TEXT),
    ("mfe", Kind.FLOAT), ("mae", Kind.FLOAT), ("stop_initial", Kind.FLOAT), ("stop_last", Kind.FLOAT),
)  # fmt: skip


class SqlAlchemyTradeRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add_many(self, session_id: int, trades: Sequence[Trade]) -> None:
        if not trades:
            return
        rows = [
            (session_id, _sym(tr.symbol), tr.direction.value, tr.entry_time, tr.exit_time, tr.entry_price,
             tr.exit_price, tr.quantity, tr.fees, tr.pnl, tr.slippage, tr.exit_reason, tr.mfe, tr.mae,
             tr.stop_initial, tr.stop_last)
            for tr in trades
        ]  # fmt: skip
        insert_rows(self._conn, "trades", _TRADE_COLUMNS, rows)

    def for_session(self, session_id: int) -> list[Trade]:
        tr = t.trades
        rows = self._conn.execute(sa.select(tr).where(tr.c.session_id == session_id).order_by(tr.c.exit_time, tr.c.id))
        return [
            Trade(
                _parse_sym(r.symbol), Direction(r.direction), r.entry_time, r.exit_time, float(r.entry_price),
                float(r.exit_price), float(r.quantity), float(r.fees), float(r.pnl), exit_reason=r.exit_reason,
                slippage=float(r.slippage), mfe=_opt_float(r.mfe), mae=_opt_float(r.mae),
                stop_initial=_opt_float(r.stop_initial), stop_last=_opt_float(r.stop_last),
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


_CHUNK_COLUMNS = "session_id, first_time, last_time, size, step, starts, runs, balance, equity, exposure"
_VALUE_COLUMNS = ("balance", "equity", "exposure")


class _Figures:
    """Balance, equity and exposure of a series in time order, as floats or as exact texts (``None``, NaN:
    NULL): where their joint value changes, and their values at given rows."""

    def __init__(
        self,
        floats: dict[str, npt.NDArray[np.float64]] | None = None,
        texts: dict[str, list[str | None]] | None = None,
    ) -> None:
        self._floats = floats
        self._texts = {name: np.array(col, dtype=object) for name, col in (texts or {}).items()}

    def changes(self) -> npt.NDArray[np.bool_]:
        if self._floats is not None:
            columns = [changes(col) for col in self._floats.values()]
        else:
            columns = []
            for col in self._texts.values():
                differs = np.ones(col.shape[0], dtype=bool)
                differs[1:] = col[1:] != col[:-1]
                columns.append(differs)
        out: npt.NDArray[np.bool_] = np.logical_or.reduce(columns)
        return out

    def values(self, rows: npt.NDArray[np.intp]) -> tuple[list[str | None], dict[str, npt.NDArray[np.intp]]]:
        """The distinct texts of the figures at ``rows``, and for each figure which of them it has there.

        Each distinct value is formatted (and later encoded) once: out of the market, balance and equity are
        the same number, so a backtest's 5.4k run values hold ~3.6k distinct ones."""
        m = rows.shape[0]
        if self._floats is not None:
            # + 0.0 turns -0.0 into 0.0 (equal floats): unique() would keep either for both.
            together = np.concatenate([self._floats[name][rows] for name in _VALUE_COLUMNS]) + 0.0
            distinct, which = np.unique(together, return_inverse=True)  # NaN once (NULL)
            texts = float_texts(distinct)
        else:
            found: dict[str | None, int] = {}
            picks = [found.setdefault(v, len(found)) for name in _VALUE_COLUMNS for v in self._texts[name][rows]]
            texts, which = list(found), np.array(picks, dtype=np.intp)
        return texts, {name: which[k * m : (k + 1) * m] for k, name in enumerate(_VALUE_COLUMNS)}


def _exact_or_none(value: Decimal | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, Decimal):
        raise TypeError(f"exact columns take Decimal, not {type(value).__name__}")
    try:
        return exact_text(value)
    except ValueError as e:
        raise PersistenceError(str(e)) from None


class SqlAlchemyAccountHistoryRepository:
    """Snapshots in chunks of up to ``ACCOUNT_CHUNK`` bars, each figure stored once per run of equal values
    (schema.py), all written in one statement: a binary COPY on PostgreSQL, one executemany on SQLite."""

    def __init__(self, conn: Connection, tx: TransactionState | None = None) -> None:
        self._conn = conn
        self._tx = tx or TransactionState()

    def add_many(self, session_id: int, snapshots: Sequence[AccountSnapshot]) -> None:
        if not snapshots:
            return
        ordered = sorted(snapshots, key=lambda s: s.time_ms)
        ms = np.fromiter((int(s.time_ms) for s in ordered), dtype=np.int64, count=len(ordered))
        texts = {
            "balance": [_exact_or_none(s.balance) for s in ordered],
            "equity": [_exact_or_none(s.equity) for s in ordered],
            "exposure": [_exact_or_none(s.exposure) for s in ordered],
        }
        if None in texts["equity"]:
            raise PersistenceError("every snapshot needs an equity")
        self._write(session_id, ms, _Figures(texts=texts))

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
        ms = np.asarray(times, dtype=np.int64)
        none = np.full(n, np.nan)
        floats = {
            "balance": none if balance is None else np.asarray(balance, dtype=np.float64),
            "equity": eq,
            "exposure": none if exposure is None else np.asarray(exposure, dtype=np.float64),
        }
        if n > 1 and not (ms[1:] > ms[:-1]).all():  # not in time order: sort (a tie is refused below)
            order = np.argsort(ms, kind="stable")
            ms = ms[order]
            floats = {name: values[order] for name, values in floats.items()}
        self._write(session_id, ms, _Figures(floats=floats))

    def _write(self, session_id: int, ms: npt.NDArray[np.int64], figures: _Figures) -> None:
        """``ms`` in time order; refuses a time twice, here or already stored, and an unknown session."""
        n = ms.shape[0]
        if n > 1 and not (ms[1:] > ms[:-1]).all():
            raise PersistenceError(f"session {session_id} would have two snapshots at the same time")
        self._tx.require_session(self._conn, session_id)
        if session_id in self._tx.fresh:  # a session this transaction added has no snapshots yet
            self._tx.fresh.discard(session_id)
        else:
            self._refuse_overlap(session_id, ms)
        # Runs: stretches of bars, ``step`` ms apart, where balance, equity and exposure all stay the same; cut
        # where chunks start. The step is the series' usual spacing: a gap in the bars starts a run too.
        gaps = np.diff(ms)
        step = int(np.median(gaps)) if n > 1 else 0
        chunk_starts = np.arange(0, n, t.ACCOUNT_CHUNK)
        cuts_mask = figures.changes()
        cuts_mask[1:] |= gaps != step
        cuts_mask[chunk_starts] = True
        cuts = np.flatnonzero(cuts_mask)
        chunks = _Chunks(ms, step, cuts, chunk_starts, *figures.values(cuts))
        if self._conn.dialect.name == "postgresql":
            self._copy(session_id, chunks)
        else:
            self._sqlite(session_id, chunks)

    def _refuse_overlap(self, session_id: int, ms: npt.NDArray[np.int64]) -> None:
        # One query; only chunks whose time range meets the new one are read, and a new session has none.
        c = t.account_history_chunks
        rows = self._conn.execute(
            sa.select(c.c.step, c.c.starts, c.c.runs).where(
                c.c.session_id == session_id, c.c.first_time <= int(ms[-1]), c.c.last_time >= int(ms[0])
            )
        ).all()
        for step, starts, runs in rows:
            taken = np.intersect1d(_times(step, _decode_times(starts), _decode_ints(runs)), ms)
            if taken.size:
                raise PersistenceError(f"session {session_id} already has a snapshot at {int(taken[0])} (UTC ms)")

    def _copy(self, session_id: int, chunks: _Chunks) -> None:
        """One binary COPY: no text for the server to parse (docs/adr/0004-persistence.md)."""
        stamps = timestamp_elements(chunks.starts)
        lengths = int4_elements(chunks.lengths)
        distinct, nulls = numeric_elements(chunks.texts)  # each distinct value once, then picked per run
        width = distinct.shape[1]
        items = distinct.view(f"V{width}").reshape(-1)  # one opaque item per value: a faster pick
        figures = [
            (items[which].view(np.uint8).reshape(-1, width), nulls[which])
            for which in (chunks.which[name] for name in _VALUE_COLUMNS)
        ]
        sid, step = int4_binary(session_id), int8_binary(chunks.step)
        rows = [
            [
                sid, timestamp_binary(int(chunks.ms[start])), timestamp_binary(int(chunks.ms[end - 1])),
                int4_binary(end - start), step, binary_array(stamps[first:last], TIMESTAMPTZ_OID),
                binary_array(lengths[first:last], INT4_OID),
                *(binary_array(values[first:last], NUMERIC_OID, null[first:last]) for values, null in figures),
            ]
            for (start, end), (first, last) in zip(chunks.bars, chunks.runs, strict=True)
        ]  # fmt: skip
        sql = f"COPY account_history_chunks ({_CHUNK_COLUMNS}) FROM STDIN (FORMAT binary)"
        copy_in(self._conn, sql, binary_copy(rows))

    def _sqlite(self, session_id: int, chunks: _Chunks) -> None:
        """JSON arrays of the texts SQLAlchemy stores in the other tables (times, exact decimals)."""
        # One formatting pass for every time written: the runs' starts, then each chunk's first and last.
        edges = [start for start, _ in chunks.bars] + [end - 1 for _, end in chunks.bars]
        stamps = _sqlite_times(np.concatenate([chunks.starts, chunks.ms[edges]]))
        k, m = len(chunks.bars), chunks.starts.shape[0]
        starts, bounds = stamps[:m], stamps[m:]
        starts_json = text_json_arrays(starts, chunks.runs)
        lengths = chunks.lengths.tolist()
        runs = ["[" + ",".join(map(str, lengths[first:last])) + "]" for first, last in chunks.runs]
        texts = np.array(chunks.texts, dtype=object)
        figures = [text_json_arrays(texts[chunks.which[name]].tolist(), chunks.runs) for name in _VALUE_COLUMNS]
        rows = [
            (session_id, bounds[j], bounds[k + j], end - start, chunks.step, starts_json[j], runs[j],
             *(f[j] for f in figures))
            for j, (start, end) in enumerate(chunks.bars)
        ]  # fmt: skip
        marks = ", ".join("?" * 10)
        self._conn.exec_driver_sql(f"INSERT INTO account_history_chunks ({_CHUNK_COLUMNS}) VALUES ({marks})", rows)

    # -- reading -------------------------------------------------------------------------------------------
    def _chunks(self, session_id: int, latest_only: bool = False) -> list[Sequence[Any]]:
        c = t.account_history_chunks
        query = sa.select(c.c.step, c.c.starts, c.c.runs, c.c.balance, c.c.equity, c.c.exposure)
        query = query.where(c.c.session_id == session_id)
        query = query.order_by(c.c.last_time.desc()).limit(1) if latest_only else query.order_by(c.c.first_time)
        return [tuple(r) for r in self._conn.execute(query)]

    @staticmethod
    def _snapshots(chunks: list[Sequence[Any]]) -> list[AccountSnapshot]:
        if not chunks:
            return []
        per_chunk = [_decode_ints(chunk[2]) for chunk in chunks]
        times = np.concatenate(
            [_times(chunk[0], _decode_times(chunk[1]), runs) for chunk, runs in zip(chunks, per_chunk, strict=True)]
        )
        runs = np.concatenate(per_chunk)
        balance, equity, exposure = ([v for chunk in chunks for v in _decode_values(chunk[k])] for k in (3, 4, 5))
        which = np.repeat(np.arange(runs.shape[0]), runs).tolist()  # the run of each bar
        order = np.argsort(times, kind="stable").tolist()  # chunks written apart may interleave in time
        ms = times.tolist()
        return [AccountSnapshot(ms[i], equity[which[i]], balance[which[i]], exposure[which[i]]) for i in order]

    def for_session(self, session_id: int) -> list[AccountSnapshot]:
        return self._snapshots(self._chunks(session_id))

    def summary(self, session_id: int) -> AccountSummary:
        c = t.account_history_chunks
        count = self._conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(c.c.size), 0)).where(c.c.session_id == session_id)
        ).scalar_one()
        latest = self._snapshots(self._chunks(session_id, latest_only=True))
        return AccountSummary(int(count), latest[-1] if latest else None)


class _Chunks:
    """A series cut into chunks of bars and, within them, runs: ``bars[k]`` and ``runs[k]`` are chunk k's
    ``[start, end)`` in the series and in the runs; ``starts`` the first time of each run and ``lengths`` its
    bars, ``step`` ms apart; ``texts`` the distinct exact texts of the figures and ``which[figure]`` the one
    of each run."""

    def __init__(
        self, ms: npt.NDArray[np.int64], step: int, cuts: npt.NDArray[np.intp], chunk_starts: npt.NDArray[np.int64],
        texts: list[str | None], which: dict[str, npt.NDArray[np.intp]],
    ) -> None:  # fmt: skip
        n = ms.shape[0]
        self.ms = ms
        self.step = step
        self.starts = ms[cuts]
        self.texts = texts
        self.which = which
        self.lengths = np.diff(np.append(cuts, n))
        ends = [*chunk_starts[1:].tolist(), n]
        self.bars = list(zip(chunk_starts.tolist(), ends, strict=True))
        firsts = np.searchsorted(cuts, chunk_starts).tolist()
        self.runs = list(zip(firsts, [*firsts[1:], cuts.shape[0]], strict=True))


def _sqlite_times(ms: npt.NDArray[np.int64]) -> list[str]:
    """The texts SQLAlchemy's DateTime stores on SQLite for UTC ms."""
    stamps = utc_texts(ms, b"000")
    if stamps is None:  # outside 1970..9999: value by value
        return [_utc_sqlite(int(v)) for v in ms.tolist()]
    return [s.decode("ascii") for s in stamps.tolist()]


def _times(step: int, starts: npt.NDArray[np.int64], runs: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Every snapshot's time: each run's start, then ``step`` ms apart."""
    firsts = np.cumsum(runs) - runs  # the index of each run's first snapshot
    index = np.arange(int(runs.sum()))
    return np.repeat(starts, runs) + (index - np.repeat(firsts, runs)) * int(step)


def _decode_times(times: Any) -> npt.NDArray[np.int64]:
    if isinstance(times, str):  # SQLite: a JSON array of UTC texts
        return np.array(json.loads(times), dtype="datetime64[us]").astype("datetime64[ms]").astype(np.int64)
    return np.fromiter(((d - _EPOCH) // _MS for d in times), dtype=np.int64, count=len(times))  # aware datetimes


def _decode_ints(values: Any) -> npt.NDArray[np.int64]:
    return np.array(json.loads(values) if isinstance(values, str) else values, dtype=np.int64)


def _decode_values(values: Any) -> list[Decimal | None]:
    if isinstance(values, str):  # SQLite: a JSON array of decimal texts and nulls
        return [None if v is None else read_exact(Decimal(v)) for v in json.loads(values)]
    return [None if v is None else read_exact(v) for v in values]


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


_EVENT_COLUMNS = (
    ("session_id", Kind.INT), ("time", Kind.TIME), ("kind", Kind.TEXT), ("symbol", Kind.TEXT),
    ("message", Kind.TEXT), ("details", Kind.JSON),
)  # fmt: skip


class SqlAlchemyEventRepository:
    def __init__(self, conn: Connection, tx: TransactionState | None = None) -> None:
        self._conn = conn
        self._tx = tx or TransactionState()

    def add_many(self, session_id: int, events: Sequence[EventRecord]) -> None:
        if not events:
            return
        self._tx.require_session(self._conn, session_id)  # no foreign key (schema.py)
        rows = [(session_id, e.time_ms, e.kind, e.symbol, e.message, dict(e.details)) for e in events]
        insert_rows(self._conn, "events", _EVENT_COLUMNS, rows)

    def for_session(self, session_id: int) -> list[EventRecord]:
        e = t.events
        rows = self._conn.execute(sa.select(e).where(e.c.session_id == session_id).order_by(e.c.time, e.c.id))
        return [EventRecord(r.time, r.kind, r.message, r.symbol, r.details) for r in rows]


class SqlAlchemyCheckpointRepository:
    """One row per session, replaced by each save (delete and insert: the same statements on every backend)."""

    def __init__(self, conn: Connection, tx: TransactionState | None = None) -> None:
        self._conn = conn
        self._tx = tx or TransactionState()

    def save(self, session_id: int, checkpoint: Checkpoint) -> None:
        self._tx.require_session(self._conn, session_id)
        c = t.checkpoints
        self._conn.execute(sa.delete(c).where(c.c.session_id == session_id))
        self._conn.execute(
            sa.insert(c).values(session_id=session_id, time=checkpoint.time_ms, state=dict(checkpoint.state))
        )

    def latest(self, session_id: int) -> Checkpoint | None:
        c = t.checkpoints
        row = self._conn.execute(sa.select(c.c.time, c.c.state).where(c.c.session_id == session_id)).first()
        return None if row is None else Checkpoint(row.time, row.state)
