"""The database adapter: URLs, errors as one line, exact numbers and UTC times as the server stores them."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from adapters.persistence import Database, resolve_url
from application.ports.repositories import AccountSnapshot, PersistenceError, SessionRecord

T0 = 1_700_000_000_123


def _session() -> SessionRecord:
    return SessionRecord("backtest", "simulated", "ema_cross", "1", {}, ("BTCUSDT",), "1h", T0)


def test_the_default_is_a_sqlite_file_in_the_data_directory(tmp_path: Path) -> None:
    assert resolve_url(None, tmp_path / "data") == f"sqlite:///{tmp_path / 'data' / 'atb.db'}"
    assert resolve_url("postgresql+psycopg2://u@h/db", tmp_path) == "postgresql+psycopg2://u@h/db"
    db = Database.from_settings(None, tmp_path / "data")
    db.upgrade()
    assert (tmp_path / "data" / "atb.db").is_file() and db.current() == db.head()
    db.dispose()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url", "invalid database URL"),
        ("mysql://u:secret@localhost/atb", "unsupported database 'mysql'"),
    ],
)
def test_a_wrong_url_is_one_line_without_the_password(url: str, expected: str) -> None:
    with pytest.raises(PersistenceError) as err:
        Database(url)
    message = str(err.value)
    assert expected in message and "\n" not in message and "secret" not in message


def test_an_unreachable_server_is_one_line_without_the_password() -> None:
    db = Database("postgresql+psycopg2://atb:hunter2@127.0.0.1:1/atb")
    with pytest.raises(PersistenceError) as err:
        db.check()
    message = str(err.value)
    assert message.startswith("cannot reach the database at postgresql+psycopg2://atb:***@127.0.0.1:1/atb")
    assert "\n" not in message and "hunter2" not in message
    with pytest.raises(PersistenceError, match="cannot reach"), db.unit_of_work():
        pass


def test_a_database_without_tables_says_to_upgrade(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    assert db.current() is None
    with pytest.raises(PersistenceError, match="atb db upgrade"), db.unit_of_work() as uow:
        uow.sessions.list()
    db.dispose()


def test_exact_columns_round_to_18_places_alike_and_refuse_what_does_not_fit(database: Database) -> None:
    with database.unit_of_work() as uow:
        sid = uow.sessions.add(_session())
        uow.account.add_many(sid, [AccountSnapshot(T0, Decimal("0.1234567890123456785"))])  # half-even: ...78
        uow.commit()
    with database.unit_of_work() as uow:
        assert uow.account.for_session(sid)[0].equity == Decimal("0.123456789012345678")
    with pytest.raises(PersistenceError, match="out of range"), database.unit_of_work() as uow:
        uow.account.add_many(sid, [AccountSnapshot(T0, Decimal("1e20"))])


def test_the_server_holds_numerics_and_utc_timestamps(database: Database) -> None:
    with database.unit_of_work() as uow:
        uow.sessions.add(_session())
        uow.commit()
    with database.engine.connect() as conn:
        raw = conn.execute(sa.text("select started_at from trading_sessions")).scalar()
        if database.engine.dialect.name == "postgresql":
            conn.execute(sa.text("set time zone 'America/New_York'"))  # the session's zone must not matter
            types = dict(
                conn.execute(
                    sa.text(
                        "select column_name, data_type || coalesce('(' || numeric_precision || ',' "
                        "|| numeric_scale || ')', '') from information_schema.columns where table_name = 'fills'"
                    )
                ).all()
            )
            assert types["price"] == types["quantity"] == types["fee"] == "numeric(38,18)"
            assert types["time"] == "timestamp with time zone"
            epoch = conn.execute(sa.text("select extract(epoch from started_at) * 1000 from trading_sessions"))
            assert int(epoch.scalar()) == T0
            with database.unit_of_work() as uow:
                assert uow.sessions.list()[0].started_ms == T0
        else:
            assert str(raw).startswith("2023-11-14 22:13:20.123000")
