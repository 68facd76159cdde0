"""Column types: exact decimals and UTC timestamps that hold the application's UTC milliseconds."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Context, Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_WIDE = Context(prec=60)  # wider than any stored value: normalising never rounds
_SCALE = Decimal("1e-18")
_LIMIT = Decimal(10) ** 20


class ExactDecimal(sa.types.TypeDecorator[Decimal]):
    """Exact to 18 decimal places (values are rounded half-even there), below 10^20 in magnitude.

    ``NUMERIC(38, 18)`` on PostgreSQL. SQLite has no exact decimal (NUMERIC affinity turns ``'0.1'``
    into a binary float), so there the value is stored as its decimal text and read back exactly."""

    impl = sa.Numeric(38, 18)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(64))
        return dialect.type_descriptor(sa.Numeric(38, 18, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"exact columns take Decimal, not {type(value).__name__}")
        # The same rounding and range on every backend: 18 decimal places, under 10^20.
        text = exact_text(value)
        return text if dialect.name == "sqlite" else Decimal(text)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        # PostgreSQL pads to the column's scale: normalise so that 1.50 reads back as stored (1.5).
        out = Decimal(value)
        return _strip(out)


def _strip(value: Decimal) -> Decimal:
    if value == value.to_integral_value(context=_WIDE):
        return value.quantize(Decimal(1), context=_WIDE)
    return value.normalize(context=_WIDE)


def read_exact(value: Decimal) -> Decimal:
    """A stored exact value as ``ExactDecimal`` gives it back: without the column's padding (1.50 as 1.5)."""
    return _strip(value)


def exact_column_type() -> TypeEngine[Any]:
    """The DDL type migrations use for ``ExactDecimal`` columns."""
    return sa.Numeric(38, 18).with_variant(sa.String(64), "sqlite")


def exact_array_type() -> TypeEngine[Any]:
    """An array of exact values: ``NUMERIC(38, 18)[]`` on PostgreSQL, a JSON array of decimal texts (strings,
    ``null``) on SQLite. Written and read by the account history repository, not through SQLAlchemy."""
    return postgresql.ARRAY(sa.Numeric(38, 18)).with_variant(sa.Text(), "sqlite")


def int_array_type() -> TypeEngine[Any]:
    """An array of integers: ``INTEGER[]`` on PostgreSQL, a JSON array of numbers on SQLite."""
    return postgresql.ARRAY(sa.Integer()).with_variant(sa.Text(), "sqlite")


def utc_array_type() -> TypeEngine[Any]:
    """An array of UTC times: ``TIMESTAMP WITH TIME ZONE[]`` on PostgreSQL, a JSON array of the texts
    ``UtcMillis`` stores on SQLite (``YYYY-MM-DD HH:MM:SS.ffffff``, UTC)."""
    return postgresql.ARRAY(sa.DateTime(timezone=True)).with_variant(sa.Text(), "sqlite")


class UtcMillis(sa.types.TypeDecorator[int]):
    """A timezone-aware UTC timestamp in the database, UTC milliseconds (``int``) in Python."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return _EPOCH + timedelta(milliseconds=int(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        # SQLite stores text; the other drivers return a datetime
        moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        if moment.tzinfo is None:  # SQLite drops the offset; we only ever write UTC
            moment = moment.replace(tzinfo=UTC)
        delta = moment - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def exact_text(value: Decimal) -> str:
    """The decimal text stored for ``value``: rounded half-even to 18 places; refuses what does not fit."""
    if not value.is_finite():
        raise ValueError(f"cannot store {value} in an exact column")
    text = format(value, "f")
    whole, _, places = text.partition(".")
    if len(places) <= 18 and len(whole) <= 20:  # nothing to round and under 10^20: drop the zero padding
        places = places.rstrip("0")
        return f"{whole}.{places}" if places else whole
    try:
        exact = value.quantize(_SCALE, context=_WIDE)
    except InvalidOperation:  # more digits than the wide context holds: far out of range
        exact = _LIMIT
    if exact.copy_abs() >= _LIMIT:  # copy_abs: abs() would round to 28 digits
        raise ValueError(f"{value} is out of range for an exact column (38 digits, 18 after the point)")
    return format(_strip(exact), "f")


_LONG = re.compile(r"\.\d{19}")  # more than 18 decimals (values >= 10^16 have an exponent in their repr)


def exact_texts(values: Sequence[float]) -> list[str | None]:
    """Floats as the decimal text of their shortest repr (what ``ExactDecimal`` stores for
    ``Decimal(repr(x))``), ``None`` for NaN and infinities.

    Bulk path: one ``repr`` of the whole list (C speed); only when some value needs rounding or is not
    finite does it go value by value."""
    floats = [float(v) for v in values] if not isinstance(values, list) else values
    if not floats:
        return []
    joined = repr(floats)
    if "e" not in joined and "n" not in joined and not _LONG.search(joined):  # no exponent, nan or inf
        return list(joined[1:-1].split(", "))
    out: list[str | None] = []
    for v in floats:
        out.append(exact_text(Decimal(repr(v))) if math.isfinite(v) else None)
    return out
