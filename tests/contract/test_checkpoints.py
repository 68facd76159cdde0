"""The checkpoint repository, one contract for the in-memory fake, SQLite and PostgreSQL: one checkpoint per
session, replaced by each save, stored with the rest of the unit of work or not at all, JSON kept exactly
(floats to the last bit, Decimal text as text), gone with its session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from application.ports.repositories import Checkpoint, SessionNotFound, SessionRecord, UnitOfWork
from tests.integration.persistence.fixtures import postgres_url, sqlite_template, units_of_work

__all__ = ["postgres_url", "sqlite_template"]

T0 = 1_700_000_000_123
Factory = Callable[[], UnitOfWork]
STATE = {
    "engine": {"schema": 1, "cash": "9876.543210987654321", "peak": 0.1 + 0.2, "win_sum": 1e-300,
               "nested": [None, True, -3, {"x": "0.000000000000000000001"}]},
    "venue": {"open_orders": []},
}  # fmt: skip


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def uow(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    yield from units_of_work(request, tmp_path)


def _session(factory: Factory) -> int:
    record = SessionRecord("live", "simulated", "ema_cross", "1", {}, ("BTCUSDT",), "1h", T0)
    with factory() as u:
        sid = u.sessions.add(record)
        u.commit()
    return sid


def test_the_latest_checkpoint_replaces_the_one_before(uow: Factory) -> None:
    sid, other = _session(uow), _session(uow)
    with uow() as u:
        assert u.checkpoints.latest(sid) is None
        u.checkpoints.save(sid, Checkpoint(T0, STATE))
        u.checkpoints.save(other, Checkpoint(T0, {"engine": {}}))
        u.commit()
    with uow() as u:
        got = u.checkpoints.latest(sid)
        assert got == Checkpoint(T0, STATE)
        assert got is not None and got.state["engine"]["peak"] == 0.1 + 0.2
        u.checkpoints.save(sid, Checkpoint(T0 + 3_600_000, {"engine": {"schema": 1}}))
        u.commit()
    with uow() as u:
        assert u.checkpoints.latest(sid) == Checkpoint(T0 + 3_600_000, {"engine": {"schema": 1}})
        assert u.checkpoints.latest(other) == Checkpoint(T0, {"engine": {}})


def test_a_checkpoint_not_committed_is_not_stored(uow: Factory) -> None:
    sid = _session(uow)
    with uow() as u:
        u.checkpoints.save(sid, Checkpoint(T0, STATE))
    with uow() as u:
        assert u.checkpoints.latest(sid) is None


def test_a_checkpoint_needs_its_session_and_goes_with_it(uow: Factory) -> None:
    with uow() as u, pytest.raises(SessionNotFound):
        u.checkpoints.save(999, Checkpoint(T0, STATE))
    sid = _session(uow)
    with uow() as u:
        u.checkpoints.save(sid, Checkpoint(T0, STATE))
        u.commit()
    with uow() as u:
        u.sessions.delete(sid)
        u.commit()
    with uow() as u:
        assert u.checkpoints.latest(sid) is None
