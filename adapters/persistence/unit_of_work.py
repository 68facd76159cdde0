"""The unit of work: one connection, one transaction, every repository on it."""

from __future__ import annotations

from types import TracebackType

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, RootTransaction

from adapters.persistence.errors import translate
from adapters.persistence.repositories import (
    SqlAlchemyAccountHistoryRepository,
    SqlAlchemyCheckpointRepository,
    SqlAlchemyEventRepository,
    SqlAlchemyFillRepository,
    SqlAlchemyMetricsRepository,
    SqlAlchemyOrderRepository,
    SqlAlchemyPositionRepository,
    SqlAlchemySessionRepository,
    SqlAlchemyTradeRepository,
    TransactionState,
)


class SqlAlchemyUnitOfWork:
    """``with uow: ...; uow.commit()``. Rolls back whatever was not committed when the block ends.

    Database errors leave the block as ``PersistenceError`` (one line; the driver's error is the cause).
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None
        self._tx: RootTransaction | None = None

    def __enter__(self) -> SqlAlchemyUnitOfWork:
        try:
            conn = self._engine.connect()
        except sa.exc.SQLAlchemyError as e:
            raise translate(e, self._engine.url) from e
        self._conn = conn
        self._tx = conn.begin()
        self._state = state = TransactionState()  # shared by the repositories, forgotten at commit and rollback
        self.sessions = SqlAlchemySessionRepository(conn, state)
        self.orders = SqlAlchemyOrderRepository(conn, state)
        self.fills = SqlAlchemyFillRepository(conn, state)
        self.trades = SqlAlchemyTradeRepository(conn)
        self.positions = SqlAlchemyPositionRepository(conn)
        self.account = SqlAlchemyAccountHistoryRepository(conn, state)
        self.metrics = SqlAlchemyMetricsRepository(conn)
        self.events = SqlAlchemyEventRepository(conn, state)
        self.checkpoints = SqlAlchemyCheckpointRepository(conn, state)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        conn, tx = self._conn, self._tx
        self._conn = self._tx = None
        if conn is None:
            return
        try:
            if tx is not None and tx.is_active:
                tx.rollback()
        finally:
            conn.close()
        if isinstance(exc, sa.exc.SQLAlchemyError):
            raise translate(exc, self._engine.url) from exc

    def _transaction(self) -> tuple[Connection, RootTransaction]:
        if self._conn is None or self._tx is None:
            raise RuntimeError("use the unit of work in a with block")
        return self._conn, self._tx

    def commit(self) -> None:
        conn, tx = self._transaction()
        self._state.clear()
        try:
            tx.commit()
        except sa.exc.SQLAlchemyError as e:
            raise translate(e, self._engine.url) from e
        self._tx = conn.begin()

    def rollback(self) -> None:
        conn, tx = self._transaction()
        self._state.clear()
        tx.rollback()
        self._tx = conn.begin()
