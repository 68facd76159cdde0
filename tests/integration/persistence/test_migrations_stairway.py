"""The stairway: every revision upgrades, downgrades and upgrades again, one by one, on SQLite and PostgreSQL;
at the head the database matches the tables the code declares."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from adapters.persistence import Database, metadata
from adapters.persistence.types import ExactDecimal, UtcMillis
from application.ports.repositories import AccountSnapshot, SessionRecord
from tests.integration.persistence import fixtures

HUGE = Decimal("12345678901234567890.123456789012345678")


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    yield from fixtures.empty_database(request.param, tmp_path, "stairway")


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


def test_the_account_history_moves_into_chunks_and_back_exactly(empty_database: Database) -> None:
    """Revision 0003 turns rows into chunks of runs and back, on both backends; the view shows the rows."""
    db = empty_database
    db.upgrade("0002")
    rows_table = sa.Table(
        "account_history", sa.MetaData(), sa.Column("session_id", sa.Integer), sa.Column("time", UtcMillis),
        sa.Column("balance", ExactDecimal), sa.Column("equity", ExactDecimal), sa.Column("exposure", ExactDecimal),
    )  # fmt: skip
    rows = [
        {"session_id": 1, "time": -86_400_000 + i * 3_600_000, "balance": None if i % 7 == 0 else Decimal(i // 3),
         "equity": Decimal("10000.000000000000000001") + i // 10, "exposure": None if i < 5 else Decimal("0.25")}
        for i in range(2500)
    ]  # fmt: skip
    rows.append({"session_id": 2, "time": 1_700_000_000_123, "balance": None, "equity": HUGE, "exposure": None})
    order = sa.select(rows_table).order_by(rows_table.c.session_id, rows_table.c.time)
    with db.engine.begin() as conn:
        conn.execute(sa.insert(rows_table), rows)
    db.upgrade("0003")
    with db.engine.connect() as conn:
        assert [dict(r._mapping) for r in conn.execute(order)] == rows  # through the view
        assert conn.execute(sa.text("SELECT count(*) FROM account_history_chunks")).scalar() == 4  # 1024 a chunk
    with db.unit_of_work() as uow:
        got = uow.account.for_session(1) + uow.account.for_session(2)
    assert [(a.time_ms, a.balance, a.equity, a.exposure) for a in got] == [
        (r["time"], r["balance"], r["equity"], r["exposure"]) for r in rows
    ]
    db.downgrade("0002")
    with db.engine.connect() as conn:
        assert [dict(r._mapping) for r in conn.execute(order)] == rows


def test_the_view_shows_what_the_repository_reads(database: Database) -> None:
    with database.unit_of_work() as uow:
        sid = uow.sessions.add(
            SessionRecord("backtest", "simulated", "ema_cross", "1", {}, ("BTCUSDT",), "1h", 0)
        )  # fmt: skip
        times = [i * 60_000 for i in range(3000)]
        equity = [100.0 + (i // 50) * 0.1 for i in range(3000)]
        uow.account.add_series(sid, times, equity, balance=[50.5] * 3000, exposure=[0.0] * 3000)
        uow.commit()
        stored = uow.account.for_session(sid)
    view = sa.table("account_history", *(sa.column(n) for n in ("session_id", "time", "balance", "equity", "exposure")))
    with database.engine.connect() as conn:
        shown = conn.execute(
            sa.select(sa.type_coerce(view.c.time, UtcMillis), sa.type_coerce(view.c.equity, ExactDecimal),
                      sa.type_coerce(view.c.balance, ExactDecimal), sa.type_coerce(view.c.exposure, ExactDecimal))
            .where(view.c.session_id == sid).order_by(view.c.time)
        ).all()  # fmt: skip
    assert [AccountSnapshot(*r) for r in shown] == stored
