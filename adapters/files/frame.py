"""Candles held in memory as pandas DataFrames: the ``MarketData`` source of a backtest run from a notebook.

A frame has its bar open times either as a ``DatetimeIndex`` or as an ``open_time`` column (datetimes, or
integer UTC milliseconds; ``open_time_ms``, ``timestamp`` and ``time`` are accepted as its name, as in the CSV
reader), and the columns ``open``, ``high``, ``low``, ``close``, ``volume`` (any case). Naive datetimes are
UTC. The rows obey the rules every candle file obeys (``domain.model.candles.validate_ohlcv``): finite
numbers, positive prices, non-negative volume, high and low around open and close, open times strictly
increasing; an error names the row (its position and its time) and the rule, in one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from adapters.files.csv_market_data import DEFAULT_MAX_ROWS, _info, _slice, checked_timeframe
from application.ports.errors import MarketDataUnavailable, UnknownSymbolError
from application.ports.market_data import DatasetInfo
from domain.model.candles import CandleSeries
from domain.model.errors import DomainError, InvalidCandles
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe

PRICE_COLUMNS = ("open", "high", "low", "close", "volume")
_TIME_NAMES = ("open_time", "open_time_ms", "timestamp", "time")


class InvalidFrame(MarketDataUnavailable, ValueError):
    """A DataFrame that is not a valid candle series (one line naming the row and the rule). A ``ValueError``
    too, as pandas users expect of bad input."""


def _open_times(frame: pd.DataFrame, where: str) -> np.ndarray[Any, np.dtype[np.int64]]:
    """The open times as int64 UTC ms, from the index or the ``open_time`` column."""
    columns = {str(c).strip().lower(): c for c in frame.columns}
    name = next((columns[n] for n in _TIME_NAMES if n in columns), None)
    if name is not None:
        raw: Any = frame[name]
    elif isinstance(frame.index, pd.DatetimeIndex):
        raw = frame.index
    else:
        raise InvalidFrame(
            f"{where}: no bar times; give the frame a DatetimeIndex or an open_time column "
            "(datetimes, or integer UTC milliseconds)"
        )
    values = pd.Series(raw)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        if values.isna().any():
            row = int(np.argmax(values.isna().to_numpy()))
            raise InvalidFrame(f"{where}, row {row}: open time is missing (NaT)")
        stamps = pd.DatetimeIndex(values)
        stamps = stamps.tz_localize("UTC") if stamps.tz is None else stamps.tz_convert("UTC")
        return np.asarray(stamps.as_unit("ms").asi8, dtype=np.int64)
    if pd.api.types.is_integer_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return values.to_numpy(dtype=np.int64)
    if pd.api.types.is_float_dtype(values.dtype):
        numbers = values.to_numpy(dtype=np.float64)
        bad = ~np.isfinite(numbers) | (numbers != np.floor(numbers))
        if bad.any():
            row = int(np.argmax(bad))
            raise InvalidFrame(f"{where}, row {row}: open time {numbers[row]!r} is not a whole number of ms")
        return numbers.astype(np.int64)
    raise InvalidFrame(f"{where}: open times of type {values.dtype} are neither datetimes nor integer UTC milliseconds")


def frame_to_series(
    frame: pd.DataFrame,
    symbol: Symbol,
    timeframe: Timeframe | None = None,
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    name: str = "DataFrame",
) -> CandleSeries:
    """A validated :class:`CandleSeries` from a DataFrame of candles (see the module's docstring).

    ``timeframe``: what the bars must be (None: inferred from the most common step between them). Raises
    :class:`InvalidFrame` naming the first bad row and the rule it breaks.
    """
    where = f"{name} ({symbol})"
    if not isinstance(frame, pd.DataFrame):
        raise InvalidFrame(f"{where}: expected a pandas DataFrame, got {type(frame).__name__}")
    if len(frame) == 0:
        raise InvalidFrame(f"{where}: no rows")
    if len(frame) > max_rows:
        raise InvalidFrame(f"{where}: {len(frame):,} rows, more than the {max_rows:,} allowed (ATB_MAX_DATA_ROWS)")
    columns = {str(c).strip().lower(): c for c in frame.columns}
    missing = [c for c in PRICE_COLUMNS if c not in columns]
    if missing:
        raise InvalidFrame(f"{where}: missing column(s) {', '.join(missing)}; need open, high, low, close, volume")
    times = _open_times(frame, where)
    arrays = []
    for column in PRICE_COLUMNS:
        values = frame[columns[column]]
        if not (pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype)):
            try:
                values = pd.to_numeric(values, errors="raise")
            except (TypeError, ValueError):
                converted = pd.to_numeric(values, errors="coerce")
                row = int(np.argmax((converted.isna() & values.notna()).to_numpy()))
                raise InvalidFrame(f"{where}, row {row}: {column} {values.iloc[row]!r} is not a number") from None
        arrays.append(values.to_numpy(dtype=np.float64, na_value=np.nan))
    try:
        series = CandleSeries.from_arrays(symbol, timeframe or Timeframe.H1, times, *arrays)
    except InvalidCandles as e:
        at = pd.Timestamp(int(times[e.row]), unit="ms", tz="UTC").strftime("%Y-%m-%d %H:%M")
        raise InvalidFrame(f"{where}, row {e.row} ({at} UTC): {e.rule}") from None
    except DomainError as e:
        raise InvalidFrame(f"{where}: {e}") from None
    inferred = checked_timeframe(series.open_time, timeframe, where, InvalidFrame)
    if inferred is not series.timeframe:
        series = CandleSeries(symbol, inferred, series.open_time, series.open, series.high, series.low,
                              series.close, series.volume)  # fmt: skip
    return series


class DataFrameMarketData:
    """Candles from pandas DataFrames, one per symbol, validated when the source is built (``MarketData``)."""

    def __init__(
        self,
        frames: Mapping[Symbol, pd.DataFrame],
        timeframe: Timeframe | None = None,
        *,
        max_rows: int = DEFAULT_MAX_ROWS,
    ) -> None:
        if not frames:
            raise InvalidFrame("no DataFrame given")
        self._series = {
            symbol: frame_to_series(frame, symbol, timeframe, max_rows=max_rows) for symbol, frame in frames.items()
        }

    def candles(
        self, symbol: Symbol, timeframe: Timeframe, start_ms: int | None = None, end_ms: int | None = None
    ) -> CandleSeries:
        series = self._series.get(symbol)
        if series is None:
            raise UnknownSymbolError(str(symbol), [str(s) for s in self._series])
        if timeframe != series.timeframe:
            raise MarketDataUnavailable(f"the DataFrame of {symbol} holds {series.timeframe.value} bars, "
                                        f"not {timeframe.value}")  # fmt: skip
        return _slice(series, start_ms, end_ms, "the DataFrame")

    def datasets(self) -> list[DatasetInfo]:
        return [_info(series, f"DataFrame:{symbol}") for symbol, series in self._series.items()]
