"""The Crypto Fear & Greed index from a daily CSV (bundled: ``bundled/fear_greed_daily.csv.gz``).

Format: header ``date,fng_value,fng_classification``, one row per UTC day (``YYYY-MM-DD``), value 0..100,
days strictly increasing (gaps allowed). Gzip or plain text. Every error names the file and the line.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from adapters.files.text import read_text
from application.ports.errors import MarketDataUnavailable

DAY_MS = 86_400_000
_EPOCH = date(1970, 1, 1)
_HEADER = ("date", "fng_value")
BUNDLED_FILE = "fear_greed_daily.csv.gz"


class SentimentUnavailable(MarketDataUnavailable):
    """The sentiment file is missing or malformed; the message names the file and the line."""


def read_fear_greed(path: Path) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """``(days, values)``: days since 1970-01-01 (UTC), strictly increasing, and the index values."""
    text = read_text(path, SentimentUnavailable)
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if header is None:
        raise SentimentUnavailable(f"{path}: the file is empty")
    names = [h.strip().lower() for h in header]
    if tuple(names[:2]) != _HEADER:
        raise SentimentUnavailable(f"{path}, line 1: expected the header date,fng_value,fng_classification")
    days: list[int] = []
    values: list[float] = []
    try:
        _read_rows(path, rows, days, values)
    except csv.Error as e:  # a lone CR or a NUL in a field: the csv module's own complaint, with its line
        raise SentimentUnavailable(f"{path}, line {rows.line_num}: {e}") from None
    if not days:
        raise SentimentUnavailable(f"{path}: no rows after the header")
    return np.asarray(days, dtype=np.int64), np.asarray(values, dtype=np.float64)


def _read_rows(path: Path, rows: Any, days: list[int], values: list[float]) -> None:
    for row in rows:
        line = rows.line_num
        if not row or not "".join(row).strip():
            continue
        if len(row) < 2:
            raise SentimentUnavailable(f"{path}, line {line}: {len(row)} field(s), expected at least 2")
        try:
            day = (date.fromisoformat(row[0].strip()) - _EPOCH).days
        except ValueError:
            raise SentimentUnavailable(f"{path}, line {line}: {row[0]!r} is not a date (YYYY-MM-DD)") from None
        try:
            value = float(row[1])
        except ValueError:
            raise SentimentUnavailable(f"{path}, line {line}: fng_value {row[1]!r} is not a number") from None
        if not 0.0 <= value <= 100.0:
            raise SentimentUnavailable(f"{path}, line {line}: fng_value {value:g} is outside 0..100")
        if days and day <= days[-1]:
            raise SentimentUnavailable(f"{path}, line {line}: {row[0].strip()} does not follow the previous day")
        days.append(day)
        values.append(value)


class CsvSentiment:
    """The ``Sentiment`` port over a daily Fear & Greed CSV (default: the bundled file, 2018-02-01 onwards).

    A day's index is published after the day: a bar opening on UTC day ``d`` sees the value of the latest
    day strictly before ``d`` (a missing day leaves the previous value in force), NaN before the first day.
    """

    def __init__(self, path: Path | None = None) -> None:
        if path is None:
            ref = resources.files("adapters.files").joinpath("bundled").joinpath(BUNDLED_FILE)
            with resources.as_file(ref) as bundled:
                self._days, self._values = read_fear_greed(Path(bundled))
            self._source = f"bundled:{BUNDLED_FILE}"
        else:
            self._days, self._values = read_fear_greed(Path(path))
            self._source = str(path)

    @property
    def source(self) -> str:
        return self._source

    @property
    def first_day_ms(self) -> int:
        """Start (UTC ms) of the first day with a value."""
        return int(self._days[0]) * DAY_MS

    @property
    def last_day_ms(self) -> int:
        """Start (UTC ms) of the last day with a value (bars up to the end of the next day can use it)."""
        return int(self._days[-1]) * DAY_MS

    def values_at(self, open_times: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        times = np.asarray(open_times, dtype=np.int64)
        bar_days = np.floor_divide(times, DAY_MS)
        idx = np.searchsorted(self._days, bar_days, side="left") - 1
        out = np.full(times.shape, np.nan)
        known = idx >= 0
        out[known] = self._values[idx[known]]
        return out
