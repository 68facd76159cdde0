"""Vectorised encodings for bulk writes, built with numpy instead of row-by-row Python: runs of equal
values, exact decimal text of floats, UTC timestamps, PostgreSQL binary COPY (``numeric[]``, ``int4[]`` and
``timestamptz[]`` arrays) and SQLite JSON arrays.

Floats keep the contract of ``exact_texts``: the decimal text of their shortest ``repr`` (so they read back
as the same float), ``None`` for NaN and infinities.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from adapters.persistence.types import exact_texts

U8Matrix = npt.NDArray[np.uint8]
Bools = npt.NDArray[np.bool_]

_DAY_MS = 86_400_000
# Timestamps this fast path formats: years 1970..9999 (numpy writes other years with another width).
_MIN_MS = 0
_MAX_MS = 253_402_300_800_000  # 10000-01-01T00:00:00Z


def _runs(values: npt.NDArray[np.int64]) -> tuple[Bools, npt.NDArray[np.intp]]:
    """Where a new run of equal values starts, and for every row the index of its run."""
    n = values.shape[0]
    starts = np.empty(n, dtype=bool)
    starts[:1] = True
    np.not_equal(values[1:], values[:-1], out=starts[1:])
    return starts, np.cumsum(starts) - 1


def changes(values: npt.NDArray[np.float64]) -> Bools:
    """Where a value differs from the one before (the first always does). NaN equals NaN here: a column
    with no data is one run, not one per row."""
    n = values.shape[0]
    out = np.empty(n, dtype=bool)
    out[:1] = True
    np.not_equal(values[1:], values[:-1], out=out[1:])
    nan = np.isnan(values)
    out[1:] &= ~(nan[1:] & nan[:-1])
    return out


def float_texts(values: Sequence[float] | npt.NDArray[np.float64]) -> list[str | None]:
    """``exact_texts(values)`` (same strings, same ``None``), each run of equal values formatted once, and the
    finite values apart from the others (``repr`` of a whole list is the fast path; NaN would spoil it)."""
    array = np.asarray(values, dtype=np.float64)
    if not array.shape[0]:
        return []
    starts = changes(array)
    firsts = array[starts]
    finite = np.isfinite(firsts)
    texts = np.full(firsts.shape[0], None, dtype=object)
    texts[finite] = exact_texts(firsts[finite].tolist())
    out: list[str | None] = texts[np.cumsum(starts) - 1].tolist()
    return out


_TWO_DIGITS = np.array([f"{i:02d}".encode() for i in range(100)], dtype="S2")
_THREE_DIGITS = np.array([f"{i:03d}".encode() for i in range(1000)], dtype="S3")


_FOUR_DIGITS = np.array([f"{i:04d}".encode() for i in range(10_000)], dtype="S4")


def _dates(days: npt.NDArray[np.int64]) -> npt.NDArray[np.bytes_]:
    """``YYYY-MM-DD`` of days since 1970-01-01 (0 <= days, year < 10000): the proleptic Gregorian calendar
    computed with integer arithmetic (H. Hinnant's ``civil_from_days``)."""
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    record = np.empty(days.shape[0], dtype=[("y", "S4"), ("d1", "S1"), ("m", "S2"), ("d2", "S1"), ("d", "S2")])
    record["y"] = _FOUR_DIGITS[year]
    record["d1"] = record["d2"] = b"-"
    record["m"] = _TWO_DIGITS[month]
    record["d"] = _TWO_DIGITS[day]
    out: npt.NDArray[np.bytes_] = record.view("S10")
    return out


def utc_texts(times_ms: npt.NDArray[np.int64], suffix: bytes) -> npt.NDArray[np.bytes_] | None:
    """``YYYY-MM-DD HH:MM:SS.fff`` + ``suffix`` for each UTC ms, as a fixed-width bytes array; ``None`` when
    a time is outside 1970..9999 (callers then format value by value).

    Each part is gathered from a small table (dates once per day, digits from 00..99 and 000..999) into the
    fields of one record per time, which then reads as the whole text."""
    n = times_ms.shape[0]
    if not n or int(times_ms.min()) < _MIN_MS or int(times_ms.max()) >= _MAX_MS:
        return None
    days, tod = np.divmod(times_ms, _DAY_MS)
    seconds, millis = np.divmod(tod, 1000)
    minutes, second = np.divmod(seconds, 60)
    hour, minute = np.divmod(minutes, 60)
    parts = [("date", "S10"), ("sp", "S1"), ("hh", "S2"), ("c1", "S1"), ("mi", "S2"), ("c2", "S1"), ("ss", "S2"),
             ("dot", "S1"), ("ms", "S3")] + ([("suffix", f"S{len(suffix)}")] if suffix else [])  # fmt: skip
    record = np.empty(n, dtype=parts)
    starts, run = _runs(days)
    record["date"] = _dates(days[starts])[run]
    record["sp"] = b" "
    record["hh"] = _TWO_DIGITS[hour]
    record["c1"] = b":"
    record["mi"] = _TWO_DIGITS[minute]
    record["c2"] = b":"
    record["ss"] = _TWO_DIGITS[second]
    record["dot"] = b"."
    record["ms"] = _THREE_DIGITS[millis]
    if suffix:
        record["suffix"] = suffix
    out: npt.NDArray[np.bytes_] = record.view(f"S{record.dtype.itemsize}")
    return out


# -- PostgreSQL binary COPY ------------------------------------------------------------------------------
# Binary COPY skips the server's text parsing (of ``numeric`` and ``timestamptz`` above all), which was most
# of the cost of storing an account history. Formats: PostgreSQL's ``numeric_send``/``array_send``/
# ``timestamptz_send`` and the COPY BINARY file layout.

PG_EPOCH_MS = 946_684_800_000  # 2000-01-01T00:00:00Z, where PostgreSQL's timestamps count from
NUMERIC_OID = 1700
TIMESTAMPTZ_OID = 1184
INT4_OID = 23
_INT_DIGITS = 20  # NUMERIC(38, 18): at most 20 digits before the point ...
_FRAC_DIGITS = 20  # ... and 18 after, padded to whole base-10000 groups
_GROUPS = (_INT_DIGITS + _FRAC_DIGITS) // 4
NUMERIC_WIDTH = 4 + 8 + 2 * _GROUPS  # length prefix, header (ndigits, weight, sign, dscale), digits
_NUMERIC_HEAD = np.dtype([("len", ">i4"), ("ndigits", ">i2"), ("weight", ">i2"), ("sign", ">u2"), ("dscale", ">i2")])
_NEGATIVE = 0x4000
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_COPY_TRAILER = struct.pack("!h", -1)
_NULL_FIELD = struct.pack("!i", -1)


def numeric_elements(texts: Sequence[str | None]) -> tuple[U8Matrix, Bools]:
    """Binary array elements (an int32 length, then a ``numeric``) of exact decimal texts, one row of
    ``NUMERIC_WIDTH`` bytes each, and which are NULL (their row: the length -1, then padding not to send).

    Texts are what ``exact_text`` writes: an optional minus, digits, an optional point and at most 18
    decimals, under 10^20. Every value is sent with all ten base-10000 groups (weight 4, scale 18): fixed
    width, so the whole column is built at once; the server strips the zero groups when it stores it.
    """
    m = len(texts)
    if not m:
        return np.zeros((0, NUMERIC_WIDTH), dtype=np.uint8), np.zeros(0, dtype=bool)
    if None in texts:
        nulls = np.fromiter((t is None for t in texts), dtype=bool, count=m)
        raw = np.array(["0" if t is None else t for t in texts], dtype=np.bytes_)
    else:
        nulls = np.zeros(m, dtype=bool)
        raw = np.array(texts, dtype=np.bytes_)
    width = raw.dtype.itemsize
    chars = raw.view(np.uint8).reshape(m, width)
    negative = chars[:, 0] == ord("-")
    is_point = chars == ord(".")
    point = np.where(is_point.any(axis=1), is_point.argmax(axis=1), np.count_nonzero(chars, axis=1))
    # A fixed layout of 40 digits, 20 before the point and 20 after: the text shifted right by 20 (zeros
    # around it), then for the rows whose point is at p, columns p .. p + 40 less the point's. The sign,
    # point and padding are below "0" and become 0.
    lengths = np.count_nonzero(chars, axis=1)
    if (point > _INT_DIGITS + negative).any() or (point + 19 < lengths).any():
        raise ValueError("a value is out of range for an exact column (38 digits, 18 after the point)")
    padded = np.zeros((m, _INT_DIGITS + width + _FRAC_DIGITS + 1), dtype=np.uint8)
    padded[:, _INT_DIGITS : _INT_DIGITS + width] = chars
    found = np.empty((m, _INT_DIGITS + _FRAC_DIGITS), dtype=np.uint8)
    for p in np.unique(point).tolist():  # a few positions: the values' magnitudes
        rows = point == p
        block = padded[rows, p : p + _INT_DIGITS + _FRAC_DIGITS + 1]
        found[rows, :_INT_DIGITS] = block[:, :_INT_DIGITS]
        found[rows, _INT_DIGITS:] = block[:, _INT_DIGITS + 1 :]
    np.maximum(found, ord("0"), out=found)
    digits = (found - ord("0")).astype(np.int16)
    quads = digits.reshape(m, _GROUPS, 4)
    groups = ((quads[:, :, 0] * 10 + quads[:, :, 1]) * 10 + quads[:, :, 2]) * 10 + quads[:, :, 3]
    head = np.empty(m, dtype=_NUMERIC_HEAD)
    head["len"] = np.where(nulls, -1, NUMERIC_WIDTH - 4)
    head["ndigits"] = _GROUPS
    head["weight"] = _INT_DIGITS // 4 - 1
    head["sign"] = np.where(negative, _NEGATIVE, 0)
    head["dscale"] = 18
    out = np.empty((m, NUMERIC_WIDTH), dtype=np.uint8)
    out[:, :12] = head.view(np.uint8).reshape(m, 12)
    out[:, 12:] = groups.astype(">i2").view(np.uint8).reshape(m, 2 * _GROUPS)
    return out, nulls


def timestamp_elements(times_ms: npt.NDArray[np.int64]) -> U8Matrix:
    """Binary ``timestamptz`` array elements (an int32 length, then int64 microseconds since 2000) of UTC ms."""
    out = np.empty(times_ms.shape[0], dtype=[("len", ">i4"), ("us", ">i8")])
    out["len"] = 8
    out["us"] = (times_ms - PG_EPOCH_MS) * 1000
    return out.view(np.uint8).reshape(-1, 12)


def binary_array(elements: U8Matrix, oid: int, nulls: Bools | None = None) -> bytes:
    """A one-dimensional array in binary form from its elements' rows (see ``numeric_elements``)."""
    n = elements.shape[0]
    has_null = nulls is not None and bool(nulls.any())
    header = struct.pack("!iiiii", 1, int(has_null), oid, n, 1)
    if not has_null:
        return header + elements.tobytes()
    keep = np.ones(elements.shape, dtype=bool)
    keep[nulls, 4:] = False  # a NULL is its length (-1) alone
    return header + elements[keep].tobytes()


def int4_elements(values: npt.NDArray[np.int64]) -> U8Matrix:
    """Binary ``int4`` array elements (an int32 length, then the value)."""
    out = np.empty(values.shape[0], dtype=[("len", ">i4"), ("v", ">i4")])
    out["len"] = 4
    out["v"] = values
    return out.view(np.uint8).reshape(-1, 8)


def int4_binary(value: int) -> bytes:
    return struct.pack("!i", value)


def int8_binary(value: int) -> bytes:
    return struct.pack("!q", value)


def timestamp_binary(ms: int) -> bytes:
    return struct.pack("!q", (ms - PG_EPOCH_MS) * 1000)


def binary_copy(rows: Sequence[Sequence[bytes | None]]) -> bytes:
    """A COPY ... (FORMAT binary) stream of rows whose fields are already in binary form (``None``: NULL)."""
    parts = [_COPY_HEADER]
    for row in rows:
        parts.append(struct.pack("!h", len(row)))
        for field in row:
            parts.append(_NULL_FIELD if field is None else struct.pack("!i", len(field)) + field)
    parts.append(_COPY_TRAILER)
    return b"".join(parts)


# -- SQLite JSON arrays ----------------------------------------------------------------------------------
# Exact values are JSON strings of their text ("0.1": a JSON number would be read back as a binary float),
# NULL is ``null``; times are strings of the text ``UtcMillis`` stores.


def text_json_arrays(texts: Sequence[str | None], bounds: Sequence[tuple[int, int]]) -> list[str]:
    """One JSON array of strings (``None``: ``null``) per ``[start, end)`` of ``bounds``; the texts hold no
    quote or backslash (decimals, dates)."""
    items = ["null" if t is None else f'"{t}"' for t in texts]
    return ["[" + ",".join(items[start:end]) + "]" for start, end in bounds]
