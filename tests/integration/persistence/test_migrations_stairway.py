"""The stairway: every revision upgrades, downgrades and upgrades again, one by one, on SQLite and PostgreSQL;
at the head the database matches the tables the code declares."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from adapters.persistence import Database, metadata
from tests.integration.persistence.fixtures import create_postgres_database, drop_postgres_database, postgres_admin


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'stairway.db'}")
        yield db
        db.dispose()
        return
    admin = postgres_admin()
    url = create_postgres_database(admin, "_stairway")
    db = Database(url)
    try:
        yield db
    finally:
        db.dispose()
        drop_postgres_database(admin, url)
        admin.dispose()


def _tables(db: Database) -> set[str]:
    with db.engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names())


def test_every_revision_goes_up_down_and_up_again(empty_database: Database) -> None:
    db = empty_database
    revisions = db.revisions()
    assert revisions, "no migrations"
    previous: str | None = None
    for revision in revisions:
        db.upgrade(revision)
        assert db.current() == revision
        after_up = _tables(db)
        db.downgrade(previous or "base")
        assert db.current() == previous
        db.upgrade(revision)
        assert _tables(db) == after_up
        previous = revision
    assert db.current() == db.head()
    assert _tables(db) == {t.name for t in metadata.sorted_tables} | {"alembic_version"}
    command.check(db._alembic())  # raises if the migrations lag behind the declared tables
    db.downgrade("base")
    assert _tables(db) == {"alembic_version"}
    assert db.current() is None


def test_the_application_never_creates_tables_itself() -> None:
    root = Path(__file__).resolve().parents[3]
    offenders = [
        str(p.relative_to(root))
        for package in ("domain", "application", "adapters", "entrypoints")
        for p in (root / package).rglob("*.py")
        if "create_all(" in p.read_text(encoding="utf-8")
    ]
    assert offenders == []


def test_rebuilding_sqlite_account_history_keeps_its_rows(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'rebuild.db'}")
    db.upgrade("0001")
    row = {"s": 7, "t": "2024-01-02 03:04:05.678000", "b": None, "e": "10000.5", "x": "0.25"}
    insert = "INSERT INTO account_history VALUES (:s, :t, :b, :e, :x)"
    select = "SELECT session_id, time, balance, equity, exposure FROM account_history"
    with db.engine.begin() as conn:
        conn.execute(sa.text(insert), row)
    for step in (lambda: db.upgrade("0002"), lambda: db.downgrade("0001"), lambda: db.upgrade("head")):
        step()
        with db.engine.connect() as conn:
            assert [tuple(r) for r in conn.execute(sa.text(select))] == [tuple(row.values())]
    db.dispose()
