"""The schema guard on both backends: ``Database.status()`` and ``require_current()`` tell a database without
atb tables, one at an older revision, one at this atb's newest and one at a revision this atb does not know."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from adapters.persistence import Database
from application.ports.repositories import PersistenceError
from tests.integration.persistence import fixtures

UNKNOWN = "feedfacecafe"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    yield from fixtures.empty_database(request.param, tmp_path, "guard")


def _refusal(db: Database) -> str:
    with pytest.raises(PersistenceError) as err:
        db.require_current()
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{db.display_url}: ")
    return message


def test_the_guard_tells_each_state(empty_database: Database) -> None:
    db = empty_database
    revisions = db.revisions()
    assert len(revisions) >= 2
    head = revisions[-1]
    assert db.head() == head

    status = db.status()
    assert (status.current, status.head, status.known, status.up_to_date) == (None, head, True, False)
    assert "has no atb tables: run `atb db upgrade`" in _refusal(db)

    db.upgrade(revisions[-2])
    status = db.status()
    assert (status.current, status.known, status.up_to_date) == (revisions[-2], True, False)
    assert f"at revision {revisions[-2]}, atb needs {head}: run `atb db upgrade`" in _refusal(db)

    db.upgrade()
    assert db.status().up_to_date and db.status().problem() is None
    db.require_current()  # no error

    with db.engine.begin() as conn:  # as a newer atb would leave it
        conn.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": UNKNOWN})
    status = db.status()
    assert (status.current, status.known, status.up_to_date) == (UNKNOWN, False, False)
    assert f"at an unknown revision {UNKNOWN} (newer atb?)" in _refusal(db)
    for step in (db.upgrade, db.downgrade):
        with pytest.raises(PersistenceError, match=f"unknown revision {UNKNOWN}"):
            step()
    assert db.current() == UNKNOWN  # left as it was


def test_an_unreachable_server_is_one_line_before_any_check() -> None:
    db = Database("postgresql+psycopg2://atb:hunter2@127.0.0.1:1/atb")
    with pytest.raises(PersistenceError, match="cannot reach the database") as err:
        db.require_current()
    assert "\n" not in str(err.value) and "hunter2" not in str(err.value)


def test_atb_tables_without_a_version_table_are_named_as_such(empty_database: Database) -> None:
    db = empty_database
    db.upgrade()
    with db.engine.begin() as conn:  # as tables made by hand, or with the version table dropped, leave it
        conn.execute(sa.text("DROP TABLE alembic_version"))
    status = db.status()
    assert status.current is None and not status.up_to_date
    assert {"trading_sessions", "events", "fills"} <= set(status.untracked)
    message = _refusal(db)
    assert "has atb tables (" in message and "but no alembic_version table" in message
    assert "no atb tables" not in message
    for step in (db.upgrade, db.downgrade):
        with pytest.raises(PersistenceError, match="but no alembic_version table"):
            step()
    assert db.status().untracked == status.untracked  # nothing created or dropped


def test_an_empty_database_has_no_untracked_tables(empty_database: Database) -> None:
    status = empty_database.status()
    assert (status.current, status.untracked) == (None, ())
    assert "has no atb tables: run `atb db upgrade`" in _refusal(empty_database)
