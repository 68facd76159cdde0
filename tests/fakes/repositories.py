"""In-memory repositories and unit of work: the fakes the contract tests hold to the database's rules.

A unit of work works on a copy of the store; ``commit`` publishes the copy, so uncommitted writes are
invisible to other units of work, as in a database transaction.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, localcontext
from types import TracebackType

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
from domain.model.orders import Fill, Order
from domain.model.trades import Trade


@dataclass
class InMemoryStore:
    sessions: dict[int, SessionRecord] = field(default_factory=dict)
    orders: dict[str, tuple[int, Order]] = field(default_factory=dict)  # insertion-ordered
    history: dict[str, list[OrderStatusChange]] = field(default_factory=dict)
    fills: list[tuple[int, Fill]] = field(default_factory=list)
    trades: list[tuple[int, Trade]] = field(default_factory=list)
    positions: dict[tuple[int, str], PositionSnapshot] = field(default_factory=dict)
    account: list[tuple[int, AccountSnapshot]] = field(default_factory=list)
    metrics: list[tuple[int, MetricsSnapshot]] = field(default_factory=list)
    events: list[tuple[int, EventRecord]] = field(default_factory=list)
    checkpoints: dict[int, Checkpoint] = field(default_factory=dict)
    next_id: int = 1


def _dec(value: float) -> Decimal:
    return Decimal(repr(float(value))).quantize(Decimal("1e-18"))


def _opt(value: float | None) -> Decimal | None:
    return None if value is None or not math.isfinite(value) else _dec(value)


def _exact(value: Decimal | None) -> Decimal | None:
    """As the database stores it: rounded half-even to 18 decimal places."""
    if value is None or value.as_tuple().exponent >= -18:  # type: ignore[operator]
        return value
    with localcontext(prec=60):
        return value.quantize(Decimal("1e-18"))


def _exact_fill(fill: Fill) -> Fill:
    return replace(fill, quantity=_exact(fill.quantity), price=_exact(fill.price), fee=_exact(fill.fee),
                   slippage=_exact(fill.slippage), fee_asset=fill.fee_asset or fill.symbol.quote)  # fmt: skip


def _exact_order(order: Order) -> Order:
    r = order.request
    request = replace(r, quantity=_exact(r.quantity), quote_quantity=_exact(r.quote_quantity), price=_exact(r.price),
                      stop_price=_exact(r.stop_price), stop_loss=_exact(r.stop_loss))  # fmt: skip
    return replace(order, request=request, filled_quantity=_exact(order.filled_quantity),
                   average_price=_exact(order.average_price))  # fmt: skip


class _Repo:
    def __init__(self, store: InMemoryStore) -> None:
        self.s = store

    def _check(self, session_id: int) -> None:
        if session_id not in self.s.sessions:
            raise SessionNotFound(f"no session {session_id}")


class InMemorySessionRepository(_Repo):
    def add(self, session: SessionRecord) -> int:
        sid = self.s.next_id
        self.s.next_id += 1
        self.s.sessions[sid] = replace(session, id=sid)
        return sid

    def finish(self, session_id: int, status: str, ended_ms: int) -> None:
        if session_id not in self.s.sessions:
            raise SessionNotFound(f"no session {session_id}")
        self.s.sessions[session_id] = replace(self.s.sessions[session_id], status=status, ended_ms=ended_ms)

    def get(self, session_id: int) -> SessionRecord:
        if session_id not in self.s.sessions:
            raise SessionNotFound(f"no session {session_id}")
        return self.s.sessions[session_id]

    def list(self, limit: int = 50) -> list[SessionRecord]:
        return [self.s.sessions[k] for k in sorted(self.s.sessions, reverse=True)[:limit]]

    def delete(self, session_id: int) -> None:
        if session_id not in self.s.sessions:
            raise SessionNotFound(f"no session {session_id}")
        s = self.s
        del s.sessions[session_id]
        gone = [cid for cid, (sid, _) in s.orders.items() if sid == session_id]
        for cid in gone:
            del s.orders[cid]
            s.history.pop(cid, None)
        s.positions = {k: v for k, v in s.positions.items() if k[0] != session_id}
        s.fills = [x for x in s.fills if x[0] != session_id]
        s.trades = [x for x in s.trades if x[0] != session_id]
        s.account = [x for x in s.account if x[0] != session_id]
        s.metrics = [x for x in s.metrics if x[0] != session_id]
        s.events = [x for x in s.events if x[0] != session_id]
        s.checkpoints.pop(session_id, None)


class InMemoryOrderRepository(_Repo):
    def save(self, session_id: int, order: Order, time_ms: int) -> None:
        self._check(session_id)
        cid = order.client_order_id
        known = self.s.orders.get(cid)
        if known is not None and known[0] != session_id:
            raise PersistenceError(f"order {cid} belongs to session {known[0]}")
        if known is None or known[1].status != order.status:
            self.s.history.setdefault(cid, []).append(OrderStatusChange(time_ms, order.status, order.reason))
        self.s.orders[cid] = (session_id, _exact_order(order))

    def add_many(self, session_id: int, orders: Sequence[tuple[Order, int]]) -> None:
        if session_id not in self.s.sessions:
            raise SessionNotFound(f"no session {session_id}")
        seen: set[str] = set()
        for order, _ in orders:
            cid = order.client_order_id
            if cid in self.s.orders or cid in seen:
                raise PersistenceError(f"order {cid} is already stored")
            seen.add(cid)
        for order, time_ms in orders:
            self.save(session_id, order, time_ms)

    def get(self, client_order_id: str) -> Order | None:
        known = self.s.orders.get(client_order_id)
        return None if known is None else known[1]

    def for_session(self, session_id: int) -> list[Order]:
        return [o for sid, o in self.s.orders.values() if sid == session_id]

    def history(self, client_order_id: str) -> list[OrderStatusChange]:
        return sorted(self.s.history.get(client_order_id, []), key=lambda c: c.time_ms)


class InMemoryFillRepository(_Repo):
    def add(self, session_id: int, fill: Fill) -> None:
        self._check(session_id)
        if fill.client_order_id not in self.s.orders:
            raise PersistenceError(f"fill of unknown order {fill.client_order_id}: save the order first")
        self.s.fills.extend((session_id, _exact_fill(f)) for f in self._new(session_id, [fill]))

    def _new(self, session_id: int, fills: Sequence[Fill]) -> list[Fill]:
        """Fills not stored yet, by trade id (as the unique key on the fills table keeps them)."""
        seen = {f.trade_id for sid, f in self.s.fills if sid == session_id}
        out = []
        for f in fills:
            if not f.trade_id:
                raise PersistenceError(f"fill of {f.client_order_id} has no trade id")
            if f.trade_id not in seen:
                seen.add(f.trade_id)
                out.append(f)
        return out

    def add_many(self, session_id: int, fills: Sequence[Fill]) -> None:
        self._check(session_id)
        for fill in fills:
            known = self.s.orders.get(fill.client_order_id)
            if known is None or known[0] != session_id:
                raise PersistenceError(f"fill of unknown order {fill.client_order_id} in session {session_id}")
        self.s.fills.extend((session_id, _exact_fill(f)) for f in self._new(session_id, fills))

    def for_session(self, session_id: int) -> list[Fill]:
        return sorted((f for sid, f in self.s.fills if sid == session_id), key=lambda f: f.timestamp)


class InMemoryTradeRepository(_Repo):
    def add_many(self, session_id: int, trades: Sequence[Trade]) -> None:
        self._check(session_id)
        self.s.trades.extend((session_id, t) for t in trades)

    def for_session(self, session_id: int) -> list[Trade]:
        return sorted((t for sid, t in self.s.trades if sid == session_id), key=lambda t: t.exit_time)


class InMemoryPositionRepository(_Repo):
    def save(self, session_id: int, snapshot: PositionSnapshot) -> None:
        self._check(session_id)
        key = (session_id, str(snapshot.position.symbol))
        self.s.positions.pop(key, None)
        if not snapshot.position.is_flat:
            self.s.positions[key] = snapshot

    def open_positions(self, session_id: int) -> list[PositionSnapshot]:
        return [self.s.positions[k] for k in sorted(k for k in self.s.positions if k[0] == session_id)]


class InMemoryAccountHistoryRepository(_Repo):
    def add_many(self, session_id: int, snapshots: Sequence[AccountSnapshot]) -> None:
        if session_id not in self.s.sessions:
            raise SessionNotFound(f"no session {session_id}")
        taken = {a.time_ms for sid, a in self.s.account if sid == session_id}
        for a in snapshots:
            if a.time_ms in taken:
                raise PersistenceError(f"session {session_id} already has a snapshot at {a.time_ms}")
            taken.add(a.time_ms)
        self.s.account.extend((session_id, a) for a in snapshots)

    def add_series(
        self,
        session_id: int,
        times: Times,
        equity: Floats,
        balance: Floats | None = None,
        exposure: Floats | None = None,
    ) -> None:
        eq = [float(e) for e in equity]
        if not all(math.isfinite(e) for e in eq):
            raise PersistenceError("an equity curve must be finite to be stored")
        nones: list[float | None] = [None] * len(times)
        bal = nones if balance is None else [float(b) for b in balance]
        exp = nones if exposure is None else [float(x) for x in exposure]
        self.add_many(
            session_id,
            [
                AccountSnapshot(int(t), _dec(e), _opt(b), _opt(x))
                for t, e, b, x in zip(times, eq, bal, exp, strict=True)
            ],
        )

    def for_session(self, session_id: int) -> list[AccountSnapshot]:
        return sorted((a for sid, a in self.s.account if sid == session_id), key=lambda a: a.time_ms)

    def summary(self, session_id: int) -> AccountSummary:
        snapshots = self.for_session(session_id)
        return AccountSummary(len(snapshots), snapshots[-1] if snapshots else None)


class InMemoryMetricsRepository(_Repo):
    def add(self, session_id: int, snapshot: MetricsSnapshot) -> None:
        self._check(session_id)
        values = {k: (None if v is None or not math.isfinite(v) else float(v)) for k, v in snapshot.values.items()}
        self.s.metrics.append((session_id, MetricsSnapshot(snapshot.time_ms, values)))

    def for_session(self, session_id: int) -> list[MetricsSnapshot]:
        return sorted((m for sid, m in self.s.metrics if sid == session_id), key=lambda m: m.time_ms)


class InMemoryEventRepository(_Repo):
    def add_many(self, session_id: int, events: Sequence[EventRecord]) -> None:
        self._check(session_id)
        self.s.events.extend((session_id, e) for e in events)

    def for_session(self, session_id: int) -> list[EventRecord]:
        return sorted((e for sid, e in self.s.events if sid == session_id), key=lambda e: e.time_ms)


class InMemoryCheckpointRepository(_Repo):
    def save(self, session_id: int, checkpoint: Checkpoint) -> None:
        self._check(session_id)
        # Stored as a database stores JSON: a copy that later changes to the caller's mapping do not reach.
        self.s.checkpoints[session_id] = Checkpoint(checkpoint.time_ms, json.loads(json.dumps(checkpoint.state)))

    def latest(self, session_id: int) -> Checkpoint | None:
        return self.s.checkpoints.get(session_id)


class InMemoryUnitOfWork:
    def __init__(self, store: InMemoryStore | None = None) -> None:
        self.store = store if store is not None else InMemoryStore()
        self.commits = 0

    def _open(self) -> None:
        self._work = copy.deepcopy(self.store)
        w = self._work
        self.sessions = InMemorySessionRepository(w)
        self.orders = InMemoryOrderRepository(w)
        self.fills = InMemoryFillRepository(w)
        self.trades = InMemoryTradeRepository(w)
        self.positions = InMemoryPositionRepository(w)
        self.account = InMemoryAccountHistoryRepository(w)
        self.metrics = InMemoryMetricsRepository(w)
        self.events = InMemoryEventRepository(w)
        self.checkpoints = InMemoryCheckpointRepository(w)

    def __enter__(self) -> InMemoryUnitOfWork:
        self._open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        del self._work

    def commit(self) -> None:
        # Publish in place: every unit of work sharing the store sees the commit.
        for name in vars(self._work):
            setattr(self.store, name, getattr(self._work, name))
        self.commits += 1
        self._open()

    def rollback(self) -> None:
        self._open()
