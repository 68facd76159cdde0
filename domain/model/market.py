"""Several symbols' candles aligned on one timeline: the frame a portfolio backtest walks through."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from domain.model.candles import BoolArray, CandleSeries, FloatArray, IntArray
from domain.model.errors import DomainError
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe

Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True, eq=False)
class MarketFrame:
    """Bars of ``k`` symbols on the union of their open times (``n`` rows, UTC ms, ascending).

    Price matrices are ``(n, k)``, column-major so that one symbol's column is contiguous; a symbol
    without a bar at a row (a gap, or before its history starts) has NaN there and ``present`` False.
    ``mark`` is the close carried forward over such holes (NaN before the symbol's first bar): the price
    positions are valued at. ``rows[j]`` maps symbol ``j``'s own bar index to its frame row.
    """

    symbols: tuple[Symbol, ...]
    timeframe: Timeframe
    open_time: IntArray
    open: Matrix
    high: Matrix
    low: Matrix
    close: Matrix
    volume: Matrix
    present: npt.NDArray[np.bool_]
    mark: Matrix
    rows: tuple[IntArray, ...]
    series: tuple[CandleSeries, ...]

    @classmethod
    def align(cls, series: Sequence[CandleSeries]) -> MarketFrame:
        """Align validated series of one timeframe and distinct symbols."""
        if not series:
            raise DomainError("no candles to align")
        timeframe = series[0].timeframe
        symbols = tuple(s.symbol for s in series)
        if any(s.timeframe is not timeframe for s in series):
            raise DomainError("all symbols of a portfolio must share one timeframe")
        if len(set(symbols)) != len(symbols):
            raise DomainError("a symbol appears twice in the portfolio")
        if len(series) == 1:
            return cls._single(series[0])
        times = np.unique(np.concatenate([s.open_time for s in series]))
        n, k = times.shape[0], len(series)
        rows = tuple(np.searchsorted(times, s.open_time).astype(np.int64) for s in series)
        mats = {name: np.full((n, k), np.nan, order="F") for name in ("open", "high", "low", "close", "volume")}
        present = np.zeros((n, k), dtype=np.bool_, order="F")
        for j, (s, r) in enumerate(zip(series, rows, strict=True)):
            for name, m in mats.items():
                m[r, j] = getattr(s, name)
            present[r, j] = True
        mark = _forward_fill(mats["close"], present)
        for m in (*mats.values(), present, mark):
            m.setflags(write=False)
        return cls(
            symbols, timeframe, times, mats["open"], mats["high"], mats["low"], mats["close"], mats["volume"],
            present, mark, rows, tuple(series),
        )  # fmt: skip

    @classmethod
    def _single(cls, s: CandleSeries) -> MarketFrame:
        """One symbol: every row is present, so the matrices are ``(n, 1)`` views of the series' own
        (read-only) columns and ``mark`` is the close itself: no copy of a long history."""
        n = len(s)

        def column(values: FloatArray) -> Matrix:
            view = values.reshape(n, 1)
            view.setflags(write=False)
            return view

        present = np.ones((n, 1), dtype=np.bool_, order="F")
        present.setflags(write=False)
        close = column(s.close)
        return cls(
            (s.symbol,), s.timeframe, s.open_time, column(s.open), column(s.high), column(s.low), close,
            column(s.volume), present, close, (np.arange(n, dtype=np.int64),), (s,),
        )  # fmt: skip

    def __len__(self) -> int:
        return int(self.open_time.shape[0])

    @property
    def width(self) -> int:
        return len(self.symbols)

    def column(self, symbol: Symbol) -> int:
        try:
            return self.symbols.index(symbol)
        except ValueError:
            raise DomainError(f"{symbol} is not in this portfolio") from None

    def start_row(self, start_ms: int) -> int:
        return int(np.searchsorted(self.open_time, start_ms, side="left"))


def _forward_fill(values: Matrix, present: BoolArray) -> Matrix:
    """Carry each column's last present value forward (vectorised: index of last valid row)."""
    n = values.shape[0]
    idx = np.where(present, np.arange(n)[:, None], -1)
    np.maximum.accumulate(idx, axis=0, out=idx)
    out = np.where(idx >= 0, np.take_along_axis(values, np.maximum(idx, 0), axis=0), np.nan)
    return np.asfortranarray(out)


def scatter(values: npt.NDArray[np.generic], rows: IntArray, n: int, fill: float | bool) -> npt.NDArray[np.generic]:
    """Place a symbol's per-bar values at its frame rows; other rows get ``fill``."""
    out = np.full(n, fill, dtype=values.dtype)
    out[rows] = values
    return out


def reduce_spans(ufunc: np.ufunc, values: FloatArray, first: IntArray, last: IntArray) -> FloatArray:
    """``ufunc.reduce(values[first[k] : last[k] + 1])`` for every ``k`` (inclusive spans, ``first <= last <
    len(values)``), in one ``reduceat``: e.g. ``np.fmax`` gives each span's highest value."""
    end = values.shape[0] - 1
    bounds = np.empty(2 * first.size, dtype=np.int64)
    bounds[0::2] = first
    # [a, b + 1) as reduceat pairs; b + 1 past the end is read as [a, end) and the last value folded in.
    ends = last + 1
    bounds[1::2] = np.minimum(ends, end)
    out: FloatArray = ufunc.reduceat(values, bounds)[0::2]
    tail = ends > end
    if tail.any():
        out[tail] = ufunc(out[tail], values[end])
    return out


__all__ = ["FloatArray", "MarketFrame", "reduce_spans", "scatter"]
