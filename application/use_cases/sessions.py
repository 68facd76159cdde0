"""Sessions after the fact (list, show) and while they run (record fills, events, snapshots)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from application.ports.repositories import (
    AccountSnapshot,
    EventRecord,
    MetricsSnapshot,
    PositionSnapshot,
    SessionRecord,
    UnitOfWork,
)
from domain.model.orders import Fill, Order
from domain.model.trades import Trade

UnitOfWorkFactory = Callable[[], UnitOfWork]


@dataclass(frozen=True, slots=True)
class EventGroup:
    """Events of one kind and rule (the text of the message before its first colon, as in
    ``max_drawdown: 2.1% below the peak``): how many, and the first few in time order."""

    kind: str
    rule: str
    count: int
    first: list[EventRecord]


def event_rule(event: EventRecord) -> str:
    return event.message.split(":", 1)[0].strip()


def group_events(events: Sequence[EventRecord], first: int = 3) -> list[EventGroup]:
    """Events grouped by (kind, rule), the largest group first (ties by kind, then rule); each group keeps its
    ``first`` earliest events. ``events`` are in time order, as the repository returns them."""
    groups: dict[tuple[str, str], list[EventRecord]] = {}
    for event in events:
        groups.setdefault((event.kind, event_rule(event)), []).append(event)
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return [EventGroup(kind, rule, len(found), found[:first]) for (kind, rule), found in ordered]


@dataclass(frozen=True, slots=True)
class SessionDetail:
    """One session with its latest metrics, orders, fills, trades, events, open positions and the size of its
    account history."""

    session: SessionRecord
    metrics: MetricsSnapshot | None
    trades: list[Trade]
    events: list[EventRecord]
    positions: list[PositionSnapshot]
    account_snapshots: int
    final_equity: float | None
    orders: list[Order] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)


class ListSessions:
    """The newest sessions, newest first."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def __call__(self, limit: int = 50) -> list[SessionRecord]:
        with self._uow() as uow:
            return uow.sessions.list(limit)


class ShowSession:
    """Everything stored about one session; raises ``SessionNotFound``."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def __call__(self, session_id: int) -> SessionDetail:
        with self._uow() as uow:
            session = uow.sessions.get(session_id)
            metrics = uow.metrics.for_session(session_id)
            account = uow.account.summary(session_id)
            return SessionDetail(
                session=session,
                metrics=metrics[-1] if metrics else None,
                trades=uow.trades.for_session(session_id),
                events=uow.events.for_session(session_id),
                positions=uow.positions.open_positions(session_id),
                account_snapshots=account.snapshots,
                final_equity=float(account.last.equity) if account.last is not None else None,
                orders=uow.orders.for_session(session_id),
                fills=uow.fills.for_session(session_id),
            )


class DeleteSession:
    """Removes a session and everything stored about it, in one transaction; raises ``SessionNotFound``.
    Returns the deleted session."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def __call__(self, session_id: int) -> SessionRecord:
        with self._uow() as uow:
            session = uow.sessions.get(session_id)
            uow.sessions.delete(session_id)
            uow.commit()
        return session


class SessionRecorder:
    """What a running (paper or live) session writes as it goes. Each method is one transaction.

    ``record_fill`` stores the fill, its order's new status and the position it changed together: after a
    crash either all three are in the database or none is.
    """

    def __init__(self, uow: UnitOfWorkFactory, session_id: int) -> None:
        self._uow = uow
        self.session_id = session_id

    @classmethod
    def start(cls, uow: UnitOfWorkFactory, session: SessionRecord) -> SessionRecorder:
        with uow() as u:
            session_id = u.sessions.add(session)
            u.commit()
        return cls(uow, session_id)

    def record_order(self, order: Order, time_ms: int) -> None:
        with self._uow() as uow:
            uow.orders.save(self.session_id, order, time_ms)
            uow.commit()

    def record_fill(self, order: Order, fill: Fill, position: PositionSnapshot, trades: Sequence[Trade] = ()) -> None:
        with self._uow() as uow:
            uow.orders.save(self.session_id, order, fill.timestamp)
            uow.fills.add(self.session_id, fill)
            uow.positions.save(self.session_id, position)
            uow.trades.add_many(self.session_id, trades)
            uow.commit()

    def record_snapshot(self, account: AccountSnapshot, metrics: MetricsSnapshot | None = None) -> None:
        with self._uow() as uow:
            uow.account.add_many(self.session_id, [account])
            if metrics is not None:
                uow.metrics.add(self.session_id, metrics)
            uow.commit()

    def record_events(self, events: Sequence[EventRecord]) -> None:
        with self._uow() as uow:
            uow.events.add_many(self.session_id, events)
            uow.commit()

    def finish(self, status: str, ended_ms: int) -> None:
        with self._uow() as uow:
            uow.sessions.finish(self.session_id, status, ended_ms)
            uow.commit()
