"""Persistence of trading sessions: what a backtest, paper or live session did, kept for later.

Conventions shared by every repository here:

- Times are UTC milliseconds (``int``); adapters store them as timezone-aware UTC timestamps and give back
  exactly the milliseconds they were given.
- Money, prices and quantities are exact ``Decimal`` values and come back equal to what was stored when
  they have at most 18 decimal places (beyond, they are rounded half-even to 18); magnitudes must stay
  below 10^20. Quote-currency amounts are in the session's quote currency. Float figures of the domain
  (a ``Trade``'s prices, an equity curve) are stored as the ``Decimal`` of their shortest ``repr`` and come
  back as the same ``float``.
- Nothing written through a repository is visible to anyone else until the unit of work commits.
- Lists come back in a stable order (stated on each method); ``session_id`` names a session that exists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import TracebackType
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from application.ports.errors import ApplicationError
from domain.model.orders import Fill, Order, OrderStatus
from domain.model.positions import Position
from domain.model.trades import Trade

Times = Sequence[int] | npt.NDArray[np.int64]  # UTC ms
Floats = Sequence[float] | npt.NDArray[np.float64]

SESSION_STATUSES = ("running", "completed", "failed", "interrupted")
SESSION_MODES = ("backtest", "paper", "live")


class PersistenceError(ApplicationError):
    """The database cannot be used: wrong URL, server unreachable, schema missing. One readable line."""


class SessionNotFound(PersistenceError):
    """No session has this id."""


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A trading session: what ran, on what, with which configuration and data.

    ``config`` is the JSON-ready configuration (strategy parameters, risk limits, simulation settings);
    ``data_start_ms``/``data_end_ms`` the half-open range of bars it used; ``model_version`` the predictor
    model it used, if any. ``id`` is ``None`` until the session is added.
    """

    mode: str
    exchange: str
    strategy: str
    strategy_version: str
    config: Mapping[str, object]
    symbols: tuple[str, ...]
    timeframe: str
    started_ms: int
    status: str = "running"
    ended_ms: int | None = None
    model_version: str | None = None
    data_start_ms: int | None = None
    data_end_ms: int | None = None
    initial_balance: Decimal | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class OrderStatusChange:
    """One step of an order's life: the status it reached at ``time_ms`` and why (rejections, cancels)."""

    time_ms: int
    status: OrderStatus
    reason: str = ""


@dataclass(frozen=True, slots=True)
class PositionSnapshot:
    """An open position with its protective levels and, when a mark price is known, its unrealised PnL."""

    position: Position
    updated_ms: int
    opened_ms: int | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    mark_price: Decimal | None = None

    @property
    def unrealized_pnl(self) -> Decimal | None:
        return None if self.mark_price is None else self.position.unrealized_pnl(self.mark_price)


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """Balance (free cash) and equity (cash + positions marked) at ``time_ms``; ``exposure`` is gross
    notional / equity. ``balance`` and ``exposure`` are ``None`` where the source did not record them."""

    time_ms: int
    equity: Decimal
    balance: Decimal | None = None
    exposure: Decimal | None = None


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """The size of a session's account history and its latest snapshot (``None`` when it has none)."""

    snapshots: int
    last: AccountSnapshot | None


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """Performance figures of a session at ``time_ms`` (name -> value; ``None`` where undefined)."""

    time_ms: int
    values: Mapping[str, float | None]


EVENT_KINDS = (
    "risk_denial", "risk_reduction", "risk_trip", "risk_reset", "strategy_swap", "reconciliation", "error", "info",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class EventRecord:
    """Something worth knowing that is not an order or a fill: a risk denial, a strategy swap, a
    reconciliation difference, an error. ``details`` is JSON-ready."""

    time_ms: int
    kind: str
    message: str
    symbol: str | None = None
    details: Mapping[str, object] = field(default_factory=dict)


class SessionRepository(Protocol):
    """Trading sessions (backtest, paper, live)."""

    def add(self, session: SessionRecord) -> int:
        """Record a new session; returns its id (its ``id`` field is ignored)."""
        ...

    def finish(self, session_id: int, status: str, ended_ms: int) -> None:
        """Set the final status and end time. Idempotent: finishing twice keeps the last call's values."""
        ...

    def get(self, session_id: int) -> SessionRecord:
        """The session; raises ``SessionNotFound``."""
        ...

    def list(self, limit: int = 50) -> list[SessionRecord]:
        """The newest ``limit`` sessions, newest (highest id) first."""
        ...

    def delete(self, session_id: int) -> None:
        """Remove the session and everything stored about it (orders and their history, fills, trades,
        positions, account history, metrics, events); raises ``SessionNotFound``. Visible once the unit of
        work commits, all of it at once."""
        ...


class OrderRepository(Protocol):
    """Orders by client order id (ours, unique across sessions)."""

    def save(self, session_id: int, order: Order, time_ms: int) -> None:
        """Insert or update the order. Idempotent: saving the same state again changes nothing; a new
        status appends one ``OrderStatusChange`` at ``time_ms`` to its history."""
        ...

    def add_many(self, session_id: int, orders: Sequence[tuple[Order, int]]) -> None:
        """Insert new orders in bulk (not a statement per order): each ``(order, time_ms)`` is stored as
        ``save`` would store it at ``time_ms``, with one ``OrderStatusChange`` (its status at ``time_ms``).
        An id already stored, or twice in ``orders``, raises ``PersistenceError``."""
        ...

    def get(self, client_order_id: str) -> Order | None:
        """The order as last saved, or ``None``."""
        ...

    def for_session(self, session_id: int) -> list[Order]:
        """The session's orders, in the order they were first saved."""
        ...

    def history(self, client_order_id: str) -> list[OrderStatusChange]:
        """Every status the order went through, oldest first."""
        ...


class FillRepository(Protocol):
    """Executions."""

    def add(self, session_id: int, fill: Fill) -> None:
        """Record one fill of an order that was saved before (in this or an earlier transaction)."""
        ...

    def add_many(self, session_id: int, fills: Sequence[Fill]) -> None:
        """Record fills in bulk (not a statement per fill), in the given order; each of an order of this
        session saved before (in this or an earlier transaction), else ``PersistenceError``."""
        ...

    def for_session(self, session_id: int) -> list[Fill]:
        """The session's fills by time, then in the order they were added."""
        ...


class TradeRepository(Protocol):
    """Closed round trips (and partial exits) with their fees and net PnL."""

    def add_many(self, session_id: int, trades: Sequence[Trade]) -> None:
        """Write trades in bulk (one statement, not one per trade)."""
        ...

    def for_session(self, session_id: int) -> list[Trade]:
        """The session's trades by exit time, then in the order they were added."""
        ...


class PositionRepository(Protocol):
    """The open positions of a session, one per symbol."""

    def save(self, session_id: int, snapshot: PositionSnapshot) -> None:
        """Insert or replace the session's position in the snapshot's symbol; a flat position removes it."""
        ...

    def open_positions(self, session_id: int) -> list[PositionSnapshot]:
        """The session's open positions, by symbol."""
        ...


class AccountHistoryRepository(Protocol):
    """Balance and equity over time: at most one snapshot per session and time (a second one for the same
    time is refused with ``PersistenceError``; the unit of work then rolls back). An unknown session raises
    ``SessionNotFound``. One writer per session: two transactions writing the same session's history at
    once are not checked against each other."""

    def add_many(self, session_id: int, snapshots: Sequence[AccountSnapshot]) -> None:
        """Write snapshots in bulk (one statement, never a statement per snapshot), in any order."""
        ...

    def add_series(
        self,
        session_id: int,
        times: Times,
        equity: Floats,
        balance: Floats | None = None,
        exposure: Floats | None = None,
    ) -> None:
        """Write a whole equity curve at once (a backtest's, one snapshot per bar): the fastest path.

        Parallel sequences (lists or numpy arrays) of UTC ms and float64 figures; each float is stored as its
        shortest ``repr``, so it reads back as the same float (unless that repr has more than 18 decimals: then
        it is rounded).
        NaN or infinite ``balance`` or ``exposure`` values are stored as ``None``; the equity must be finite.
        """
        ...

    def for_session(self, session_id: int) -> list[AccountSnapshot]:
        """The session's snapshots by time."""
        ...

    def summary(self, session_id: int) -> AccountSummary:
        """How many snapshots the session has and its latest one, without reading them all."""
        ...


class MetricsRepository(Protocol):
    """Performance figures, snapshotted periodically."""

    def add(self, session_id: int, snapshot: MetricsSnapshot) -> None: ...

    def for_session(self, session_id: int) -> list[MetricsSnapshot]:
        """The session's snapshots by time (the last one is the latest figures)."""
        ...


class EventRepository(Protocol):
    """Risk denials, strategy swaps, reconciliation differences, errors."""

    def add_many(self, session_id: int, events: Sequence[EventRecord]) -> None:
        """Write events in bulk (one statement); an unknown session raises ``SessionNotFound``."""
        ...

    def for_session(self, session_id: int) -> list[EventRecord]:
        """The session's events by time, then in the order they were added."""
        ...


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A session's state after a step: ``time_ms`` the open time (UTC) of the last bar processed, ``state`` a
    JSON-safe mapping (``{"engine": Engine.snapshot(), "venue": ...}``: what a restart restores)."""

    time_ms: int
    state: Mapping[str, Any]


class CheckpointRepository(Protocol):
    """Each session's latest checkpoint (one per session: a newer one replaces it)."""

    def save(self, session_id: int, checkpoint: Checkpoint) -> None:
        """Make ``checkpoint`` the session's latest, in this unit of work's transaction (with the step's fills,
        orders and events: all or nothing); an unknown session raises ``SessionNotFound``."""
        ...

    def latest(self, session_id: int) -> Checkpoint | None:
        """The session's latest checkpoint, None when it has none."""
        ...


class UnitOfWork(Protocol):
    """One transaction across the repositories.

    Use as ``with uow: ...; uow.commit()``: nothing is visible to others until ``commit``; leaving the
    ``with`` block without committing (or by an exception) rolls back. A fill, its order's new status and
    the position it changes are written in one unit of work, so they are stored together or not at all.
    """

    sessions: SessionRepository
    orders: OrderRepository
    fills: FillRepository
    trades: TradeRepository
    positions: PositionRepository
    account: AccountHistoryRepository
    metrics: MetricsRepository
    events: EventRepository
    checkpoints: CheckpointRepository

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...
