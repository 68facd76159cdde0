"""The account history in chunks (``account_history_chunks``), with a per-snapshot view ``account_history``
in place of the old table; client order ids up to 128 characters; no foreign key on ``events``.

A backtest saved one row per bar (33k rows for the bundled BTCUSDT 1h), which took longer than the backtest
itself on PostgreSQL. A chunk row holds up to 1024 consecutive snapshots of a session as runs: stretches of
snapshots ``step`` ms apart whose balance, equity and exposure are all equal, each stored once with its first
time and length. PostgreSQL: ``timestamptz[]``, ``int4[]`` and ``numeric(38, 18)[]`` (compressed with lz4
where the server has it, else stored uncompressed: pglz made writes twice as slow). SQLite: JSON arrays of the
texts the other tables store (times ``YYYY-MM-DD HH:MM:SS.ffffff`` UTC, exact decimals as strings). Existing
rows move into chunks and back, exactly. The view has the old table's columns, so queries by hand keep
working.

Saved backtests now store their orders, whose ids get the session as a prefix: 64 characters were too few.

``events`` loses its foreign key to ``trading_sessions``, as the account history did: the per-row check was
half the time of writing a risk-limited backtest's hundreds of denials (the repository checks the session).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 18:00:00+00:00
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out here (not imported from the adapters) so that this revision never changes with the code.
CHUNK = 1024
UTC_TIME = sa.DateTime(timezone=True)
EXACT = sa.Numeric(38, 18).with_variant(sa.String(64), "sqlite")
_ARRAYS = ("starts", "runs", "balance", "equity", "exposure")
_ROW_COLUMNS = "session_id, time, balance, equity, exposure"
_CHUNK_COLUMNS = "session_id, first_time, last_time, size, step, starts, runs, balance, equity, exposure"
_EVENTS_FK = "fk_events_session_id_trading_sessions"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _array(item: sa.types.TypeEngine[Any]) -> sa.types.TypeEngine[Any]:
    return postgresql.ARRAY(item).with_variant(sa.Text(), "sqlite")


# Each run's snapshots: its values, at its start and then every ``step`` ms.
_PG_VIEW = """
CREATE VIEW account_history AS
SELECT c.session_id, u.start + (i.i * c.step) * interval '1 millisecond' AS time, u.balance, u.equity, u.exposure
FROM account_history_chunks AS c
CROSS JOIN LATERAL unnest(c.starts, c.runs, c.balance, c.equity, c.exposure) AS u(start, n, balance, equity, exposure)
CROSS JOIN LATERAL generate_series(0, u.n - 1) AS i(i)
"""

# SQLite has no generate_series: a recursive count up to the chunk size does. A run's start is the text
# SQLAlchemy stores (microseconds); strftime gives milliseconds, so three zeros complete it.
_SQLITE_VIEW = f"""
CREATE VIEW account_history AS
WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < {CHUNK - 1})
SELECT c.session_id AS session_id,
       strftime('%Y-%m-%d %H:%M:%f', json_extract(c.starts, '$[' || u.key || ']'),
                printf('%+.3f seconds', seq.i * c.step / 1000.0)) || '000' AS time,
       json_extract(c.balance, '$[' || u.key || ']') AS balance,
       json_extract(c.equity, '$[' || u.key || ']') AS equity,
       json_extract(c.exposure, '$[' || u.key || ']') AS exposure
FROM account_history_chunks AS c, json_each(c.runs) AS u JOIN seq ON seq.i < u.value
"""


def _create_chunks(pg: bool) -> None:
    op.create_table(
        "account_history_chunks",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("first_time", UTC_TIME, nullable=False),
        sa.Column("last_time", UTC_TIME, nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("starts", _array(UTC_TIME), nullable=False),
        sa.Column("runs", _array(sa.Integer()), nullable=False),
        sa.Column("balance", _array(sa.Numeric(38, 18)), nullable=False),
        sa.Column("equity", _array(sa.Numeric(38, 18)), nullable=False),
        sa.Column("exposure", _array(sa.Numeric(38, 18)), nullable=False),
        # No foreign key, on purpose, as for the table it replaces (see adapters/persistence/schema.py).
        sa.PrimaryKeyConstraint("session_id", "first_time", name=op.f("pk_account_history_chunks")),
    )
    if not pg:
        return
    # The default (pglz) compression doubled the time of a bulk write; lz4 costs next to nothing.
    lz4 = op.get_bind().execute(
        sa.text("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
    ).scalar()
    for column in _ARRAYS:
        setting = "SET COMPRESSION lz4" if lz4 else "SET STORAGE EXTERNAL"
        op.execute(f"ALTER TABLE account_history_chunks ALTER COLUMN {column} {setting}")


def _ms(time: Any) -> int:
    """UTC ms of a stored time (an aware datetime on PostgreSQL, SQLAlchemy's text on SQLite)."""
    if isinstance(time, str):
        time = datetime.fromisoformat(time).replace(tzinfo=UTC)
    return int((time - _EPOCH) // timedelta(milliseconds=1))


def _chunks(rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """Rows (session_id, time, balance, equity, exposure) in session and time order, as chunks of runs."""
    out: list[dict[str, Any]] = []
    start = 0
    while start < len(rows):
        end = start
        while end < len(rows) and end - start < CHUNK and rows[end][0] == rows[start][0]:
            end += 1
        part = rows[start:end]
        times = [_ms(r[1]) for r in part]
        gaps = sorted(b - a for a, b in zip(times, times[1:], strict=False))
        step = gaps[len(gaps) // 2] if gaps else 0
        runs: list[int] = []
        firsts: list[Sequence[Any]] = []
        for k, row in enumerate(part):
            if firsts and tuple(row[2:]) == tuple(firsts[-1][2:]) and times[k] - times[k - 1] == step:
                runs[-1] += 1
            else:
                runs.append(1)
                firsts.append(row)
        out.append({
            "session_id": part[0][0], "first_time": part[0][1], "last_time": part[-1][1], "size": len(part),
            "step": step, "starts": [r[1] for r in firsts], "runs": runs, "balance": [r[2] for r in firsts],
            "equity": [r[3] for r in firsts], "exposure": [r[4] for r in firsts],
        })  # fmt: skip
        start = end
    return out


def _rows_to_chunks(conn: sa.Connection, pg: bool) -> None:
    rows = conn.execute(sa.text(f"SELECT {_ROW_COLUMNS} FROM account_history ORDER BY session_id, time")).all()
    chunks = _chunks(rows)
    if not chunks:
        return
    if pg:  # arrays bound as lists (psycopg2), typed by the casts
        casts = {"starts": "timestamptz[]", "runs": "int4[]", "balance": "numeric(38, 18)[]",
                 "equity": "numeric(38, 18)[]", "exposure": "numeric(38, 18)[]"}  # fmt: skip
        marks = ", ".join(
            f"CAST(:{name} AS {casts[name]})" if name in casts else f":{name}" for name in _CHUNK_COLUMNS.split(", ")
        )
    else:  # SQLite keeps times and exact values as text: they go into the JSON arrays unchanged
        for chunk in chunks:
            chunk.update({name: json.dumps(chunk[name]) for name in _ARRAYS})
        marks = ", ".join(f":{name}" for name in _CHUNK_COLUMNS.split(", "))
    conn.execute(sa.text(f"INSERT INTO account_history_chunks ({_CHUNK_COLUMNS}) VALUES ({marks})"), chunks)


def upgrade() -> None:
    conn = op.get_bind()
    pg = conn.dialect.name == "postgresql"
    _create_chunks(pg)
    _rows_to_chunks(conn, pg)
    op.drop_table("account_history")
    op.execute(_PG_VIEW if pg else _SQLITE_VIEW)
    with op.batch_alter_table("orders") as batch:
        batch.alter_column(
            "client_order_id", existing_type=sa.String(length=64), type_=sa.String(length=128), existing_nullable=False
        )
    with op.batch_alter_table("events") as batch:
        batch.drop_constraint(_EVENTS_FK, type_="foreignkey")


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("events") as batch:
        batch.create_foreign_key(_EVENTS_FK, "trading_sessions", ["session_id"], ["id"], ondelete="CASCADE")
    # PostgreSQL refuses (and nothing changes) while an order id is longer than 64 characters.
    with op.batch_alter_table("orders") as batch:
        batch.alter_column(
            "client_order_id", existing_type=sa.String(length=128), type_=sa.String(length=64), existing_nullable=False
        )
    # The table as revision 0002 left it (WITHOUT ROWID on SQLite), filled from the view, then in its place.
    op.create_table(
        "_account_history_rows",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("time", UTC_TIME, nullable=False),
        sa.Column("balance", EXACT, nullable=True),
        sa.Column("equity", EXACT, nullable=False),
        sa.Column("exposure", EXACT, nullable=True),
        sa.PrimaryKeyConstraint("session_id", "time", name="pk_account_history"),
        **({"sqlite_with_rowid": False} if sqlite else {}),
    )
    op.execute(f"INSERT INTO _account_history_rows ({_ROW_COLUMNS}) SELECT {_ROW_COLUMNS} FROM account_history")
    op.execute("DROP VIEW account_history")
    op.drop_table("account_history_chunks")
    op.rename_table("_account_history_rows", "account_history")
