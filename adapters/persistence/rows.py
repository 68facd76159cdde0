"""Bulk inserts without SQLAlchemy's per-row work: COPY on PostgreSQL, one executemany on SQLite.

Values come in the application's terms (``Decimal``, floats, UTC ms, JSON-ready objects) and are converted
here, a column at a time, to exactly what the column types store (``ExactDecimal``, ``UtcMillis``, JSON):
the rows read back through the ordinary queries as if SQLAlchemy had written them one by one.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from adapters.persistence.bulk import utc_texts
from adapters.persistence.types import exact_text, exact_texts
from application.ports.repositories import PersistenceError


class Kind(Enum):
    """How a column's values are given and stored."""

    INT = "int"
    TEXT = "text"
    EXACT = "exact"  # Decimal (or None): exact decimal text, 18 places at most
    FLOAT = "float"  # float: the exact text of its shortest repr; NaN and infinities are NULL
    TIME = "time"  # UTC ms (or None)
    JSON = "json"  # a JSON-ready object
    BOOL = "bool"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_COPY_NULL = "\\N"
_SEPARATOR = "\x00"  # never in a stored text: PostgreSQL refuses NUL characters in text


def _exact(values: Sequence[Any]) -> list[str | None]:
    try:
        return [None if v is None else exact_text(_decimal(v)) for v in values]
    except ValueError as e:
        raise PersistenceError(str(e)) from None


def _decimal(value: Any) -> Decimal:
    if not isinstance(value, Decimal):
        raise TypeError(f"exact columns take Decimal, not {type(value).__name__}")
    return value


def _floats(values: Sequence[Any]) -> list[str | None]:
    try:
        return exact_texts([float(v) for v in values])
    except ValueError as e:
        raise PersistenceError(str(e)) from None


def _times(values: Sequence[Any], suffix: str) -> list[str | None]:
    """UTC ms as ``YYYY-MM-DD HH:MM:SS.ffffff`` (SQLite, as SQLAlchemy writes it) or with ``+00``
    (PostgreSQL's ``timestamptz`` input)."""
    if values and all(v is not None for v in values):
        fast = utc_texts(np.asarray(values, dtype=np.int64), b"000" if not suffix else suffix.encode())
        if fast is not None:
            return [t.decode("ascii") for t in fast.tolist()]
    out: list[str | None] = []
    for v in values:
        if v is None:
            out.append(None)
        else:
            text = (_EPOCH + timedelta(milliseconds=int(v))).strftime("%Y-%m-%d %H:%M:%S.%f")
            out.append(text[:-3] + suffix if suffix else text)
    return out


def _json(values: Sequence[Any]) -> list[str]:
    """``json.dumps`` of each value, once per distinct flat dict (events repeat a few ``details`` over and
    over)."""
    out: list[str] = []
    cache: dict[tuple[tuple[Any, type, Any], ...], str] = {}
    for v in values:
        key = None
        if isinstance(v, dict):
            try:  # the types too: 1, 1.0 and True are equal keys but not the same JSON
                key = tuple((k, x.__class__, x) for k, x in v.items())
                text = cache.get(key)
            except TypeError:  # unhashable values: nested lists or dicts
                key, text = None, None
            if text is None:
                text = json.dumps(v)
                if key is not None:
                    cache[key] = text
        else:
            text = json.dumps(v)
        out.append(text)
    return out


def _sqlite_column(kind: Kind, values: Sequence[Any]) -> Sequence[Any]:
    if kind is Kind.EXACT:
        return _exact(values)
    if kind is Kind.FLOAT:
        return _floats(values)
    if kind is Kind.TIME:
        return _times(values, "")
    if kind is Kind.JSON:
        return _json(values)
    if kind is Kind.BOOL:
        return [None if v is None else int(bool(v)) for v in values]
    return values


def _copy_escape(texts: list[str | None]) -> list[str]:
    """COPY's text format: backslash, tab, newline and carriage return escaped; NULL as ``\\N``."""
    joined = _SEPARATOR.join("" if t is None else t for t in texts)
    if "\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined:
        joined = joined.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    parts = joined.split(_SEPARATOR)
    if len(parts) != len(texts):
        raise PersistenceError("a text holds a NUL character, which the database cannot store")
    return [_COPY_NULL if t is None else p for t, p in zip(texts, parts, strict=True)]


def _together(kind: Kind, columns: list[Sequence[Any]], suffix: str) -> list[list[str | None]]:
    """Float or time columns converted in one go (one ``repr``, one numpy pass), then split again."""
    flat = [v for col in columns for v in col]
    texts = _floats(flat) if kind is Kind.FLOAT else _times(flat, suffix)
    n = len(columns[0]) if columns else 0
    return [texts[k * n : (k + 1) * n] for k in range(len(columns))]


def _converted(columns: Sequence[tuple[str, Kind]], values: list[Sequence[Any]], postgres: bool) -> list[Sequence[Any]]:
    """Each column's values as the statement takes them (COPY text on PostgreSQL, parameters on SQLite)."""
    out: list[Sequence[Any] | None] = [None] * len(columns)
    for kind in (Kind.FLOAT, Kind.TIME):
        where = [i for i, (_, k) in enumerate(columns) if k is kind]
        if len(where) > 1:
            for i, texts in zip(
                where, _together(kind, [values[i] for i in where], "+00" if postgres else ""), strict=True
            ):
                out[i] = [_COPY_NULL if t is None else t for t in texts] if postgres else texts
    return [
        done if done is not None else (_copy_column(kind, col) if postgres else _sqlite_column(kind, col))
        for done, (_, kind), col in zip(out, columns, values, strict=True)
    ]


def _copy_column(kind: Kind, values: Sequence[Any]) -> list[str]:
    texts: list[str | None]
    if kind is Kind.INT:
        return [_COPY_NULL if v is None else str(int(v)) for v in values]
    if kind is Kind.BOOL:
        return [_COPY_NULL if v is None else ("t" if v else "f") for v in values]
    if kind is Kind.EXACT:
        texts = _exact(values)
    elif kind is Kind.FLOAT:
        texts = _floats(values)
    elif kind is Kind.TIME:
        texts = _times(values, "+00")
    elif kind is Kind.JSON:
        texts = list(_json(values))
    else:
        texts = list(values)
    if kind in (Kind.EXACT, Kind.FLOAT, Kind.TIME):  # digits, signs and dates: nothing to escape
        return [_COPY_NULL if t is None else t for t in texts]
    return _copy_escape(texts)


def raw_cursor_call(conn: Connection, statement: str, call: Callable[[Any], None]) -> None:
    """Run ``call(cursor)`` on a cursor of the connection's own DBAPI connection (so inside the unit of
    work's transaction); driver errors come out as SQLAlchemy's, which the unit of work translates."""
    dbapi = conn.dialect.loaded_dbapi
    dbapi_connection = conn.connection.dbapi_connection
    if dbapi_connection is None:  # only a pooled connection that was detached, never the unit of work's
        raise sa.exc.ResourceClosedError("the database connection is closed")
    cursor = dbapi_connection.cursor()
    try:
        call(cursor)
    except dbapi.Error as e:
        raise sa.exc.DBAPIError.instance(statement, None, e, dbapi.Error, dialect=conn.dialect) from e
    finally:
        cursor.close()


def copy_in(conn: Connection, statement: str, data: bytes) -> None:
    """``COPY ... FROM STDIN`` with ``data`` (PostgreSQL)."""
    raw_cursor_call(conn, statement, lambda cursor: cursor.copy_expert(statement, io.BytesIO(data)))


def insert_rows(
    conn: Connection, table: str, columns: Sequence[tuple[str, Kind]], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert ``rows`` (value tuples in the order of ``columns``) into ``table``, in one statement."""
    if not rows:
        return
    names = ", ".join(name for name, _ in columns)
    values: list[Sequence[Any]] = list(zip(*rows, strict=True))
    if conn.dialect.name == "postgresql":
        converted = _converted(columns, values, postgres=True)
        text = "".join("\t".join(row) + "\n" for row in zip(*converted, strict=True))
        copy_in(conn, f"COPY {table} ({names}) FROM STDIN", text.encode("utf-8"))
        return
    prepared = _converted(columns, values, postgres=False)
    marks = ", ".join("?" * len(columns))
    conn.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(zip(*prepared, strict=True)))
