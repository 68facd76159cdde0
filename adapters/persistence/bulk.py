"""Vectorised text for bulk writes (account history): exact decimal text of floats, UTC timestamps, and
PostgreSQL COPY buffers, built with numpy instead of row-by-row Python.

Floats keep the contract of ``exact_texts``: the decimal text of their shortest ``repr`` (so they read back
as the same float), ``None`` for NaN and infinities. A curve is formatted once per *run* of equal values:
an equity curve is constant while the strategy is flat, an exposure curve is zero, so most bars reuse the
text of the bar before.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from adapters.persistence.types import exact_texts

_DAY_MS = 86_400_000
# Timestamps this fast path formats: years 1970..9999 (numpy writes other years with another width).
_MIN_MS = 0
_MAX_MS = 253_402_300_800_000  # 10000-01-01T00:00:00Z

NULL_COPY = b"\\N"  # COPY's text format writes NULL as \N


def _runs(values: npt.NDArray[np.generic]) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.intp]]:
    """Where a new run of equal values starts, and for every row the index of its run."""
    n = values.shape[0]
    starts = np.empty(n, dtype=bool)
    starts[:1] = True
    np.not_equal(values[1:], values[:-1], out=starts[1:])  # NaN != NaN: each NaN starts its own run
    return starts, np.cumsum(starts) - 1


def float_texts(values: Sequence[float] | npt.NDArray[np.float64]) -> list[str | None]:
    """``exact_texts(values)`` (same strings, same ``None``), formatting each run of equal values once."""
    array = np.asarray(values, dtype=np.float64)
    if not array.shape[0]:
        return []
    starts, run = _runs(array)
    texts = np.array(exact_texts(array[starts].tolist()), dtype=object)
    out: list[str | None] = texts[run].tolist()
    return out


def float_copy_texts(values: Sequence[float] | npt.NDArray[np.float64]) -> npt.NDArray[np.bytes_]:
    """The COPY text of each float as a fixed-width bytes array (NUL-padded), ``\\N`` for NaN/infinity."""
    array = np.asarray(values, dtype=np.float64)
    starts, run = _runs(array)
    texts = exact_texts(array[starts].tolist())
    unique = np.array([NULL_COPY if t is None else t.encode("ascii") for t in texts], dtype=np.bytes_)
    out: npt.NDArray[np.bytes_] = unique[run]
    return out


def _digits(matrix: npt.NDArray[np.uint8], column: int, values: npt.NDArray[np.int64], width: int) -> None:
    for i in range(width - 1, -1, -1):
        matrix[:, column + i] = ord("0") + values % 10
        values = values // 10


def utc_texts(times_ms: npt.NDArray[np.int64], suffix: bytes) -> npt.NDArray[np.bytes_] | None:
    """``YYYY-MM-DD HH:MM:SS.fff`` + ``suffix`` for each UTC ms, as a fixed-width bytes array; ``None`` when
    a time is outside 1970..9999 (callers then format value by value)."""
    n = times_ms.shape[0]
    if not n or int(times_ms.min()) < _MIN_MS or int(times_ms.max()) >= _MAX_MS:
        return None
    days = times_ms // _DAY_MS
    tod = times_ms - days * _DAY_MS
    width = 23 + len(suffix)
    matrix = np.empty((n, width), dtype=np.uint8)
    starts, run = _runs(days)
    dates = np.datetime_as_string(days[starts].astype("datetime64[D]")).astype("S10")
    matrix[:, :10] = dates.view(np.uint8).reshape(-1, 10)[run]
    matrix[:, 10] = ord(" ")
    _digits(matrix, 11, tod // 3_600_000, 2)
    matrix[:, 13] = ord(":")
    _digits(matrix, 14, tod // 60_000 % 60, 2)
    matrix[:, 16] = ord(":")
    _digits(matrix, 17, tod // 1000 % 60, 2)
    matrix[:, 19] = ord(".")
    _digits(matrix, 20, tod % 1000, 3)
    if suffix:
        matrix[:, 23:] = np.frombuffer(suffix, dtype=np.uint8)
    out: npt.NDArray[np.bytes_] = matrix.view(f"S{width}").reshape(n)
    return out


def copy_buffer(columns: Sequence[npt.NDArray[np.bytes_]]) -> bytes:
    """COPY text rows from fixed-width bytes columns (tab-separated, one row per line). NUL padding is
    dropped: none of the texts (digits, signs, dates) can contain a NUL byte."""
    n = columns[0].shape[0]
    parts: list[npt.NDArray[np.uint8]] = []
    for i, col in enumerate(columns):
        width = col.dtype.itemsize
        parts.append(np.ascontiguousarray(col).view(np.uint8).reshape(n, width))
        parts.append(np.full((n, 1), ord("\n") if i == len(columns) - 1 else ord("\t"), dtype=np.uint8))
    flat = np.concatenate(parts, axis=1).ravel()
    return flat[flat != 0].tobytes()
