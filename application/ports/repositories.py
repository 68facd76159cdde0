"""Persistence of sessions and trades (SQLAlchemy adapters arrive in [M4])."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Protocol

from domain.model.trades import Trade


class TradeRepository(Protocol):
    """Closed trades of a session. ``add_many`` writes in bulk; ``for_session`` returns them by exit time."""

    def add_many(self, session_id: int, trades: Sequence[Trade]) -> None: ...

    def for_session(self, session_id: int) -> list[Trade]: ...


class SessionRepository(Protocol):
    """Trading sessions (backtest, paper, live). ``start`` returns the new session's id."""

    def start(self, mode: str, strategy: str, config: dict[str, object]) -> int: ...

    def finish(self, session_id: int, status: str) -> None: ...


class UnitOfWork(Protocol):
    """One transaction across repositories: nothing is visible to others until ``commit``; leaving the
    ``with`` block without committing rolls back."""

    sessions: SessionRepository
    trades: TradeRepository

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...
