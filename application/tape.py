"""The tape: the bars and the strategy's decision rows the engine steps over, on rows that can grow.

A backtest fills it once from a :class:`MarketFrame` and the strategy's :class:`Signals` (no copy: the columns
are the frame's and the signals' own arrays, or the signals scattered on the frame's rows as the engine always
did); a live driver appends one closed candle per symbol and the decision row the strategy computed for it
(docs/adr/0023-one-engine.md, point 1). Rows are absolute bar numbers: they never renumber.

Growth is amortised: every column has a capacity and doubles when full (the first append after a fill from a
frame copies it once into writable buffers). The engine reads the tape through views of its first ``n`` rows
(:meth:`Engine.append` binds them again after each append).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from application.ports.errors import ConfigurationError
from domain.model.candles import BoolArray, FloatArray, IntArray
from domain.model.market import MarketFrame, scatter
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe
from domain.strategies.base import ExitRules, Signals

_MIN_CAPACITY = 64


@dataclass(frozen=True, slots=True)
class Bar:
    """One closed candle of one symbol (its open time is the row's)."""

    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class DecisionRow:
    """The strategy's decision at one bar's close: the four events and what an entry decided there carries."""

    long_entry: bool = False
    long_exit: bool = False
    short_entry: bool = False
    short_exit: bool = False
    stop_distance: float = math.nan
    size: float = math.nan
    atr: float = math.nan
    confidence: float = math.nan

    @classmethod
    def of(cls, signals: Signals, t: int) -> DecisionRow:
        """Row ``t`` of ``signals`` (``-1``: the newest, what a live driver takes from a trailing window)."""
        atr, confidence = signals.atr, signals.confidence
        return cls(
            bool(signals.long_entry[t]), bool(signals.long_exit[t]), bool(signals.short_entry[t]),
            bool(signals.short_exit[t]), float(signals.stop_distance[t]), float(signals.size[t]),
            math.nan if atr is None else float(atr[t]), math.nan if confidence is None else float(confidence[t]),
        )  # fmt: skip

    @property
    def any(self) -> bool:
        return self.long_entry or self.long_exit or self.short_entry or self.short_exit


def _grown(values: np.ndarray, capacity: int, fill: float | bool) -> np.ndarray:
    """A writable copy of ``values`` (1-d, or 2-d with rows first) with room for ``capacity`` rows."""
    shape = (capacity, *values.shape[1:])
    out = np.full(shape, fill, dtype=values.dtype, order="F")
    out[: values.shape[0]] = values
    return out


class Tape:
    """Bars of ``k`` symbols on shared rows (their open times) and each symbol's decision rows on them.

    Price matrices are ``(capacity, k)``, column-major (one symbol's column contiguous), as in
    :class:`MarketFrame`: ``present`` says whether the symbol has a bar at a row, ``mark`` is the close carried
    forward over holes. ``rows[j]`` maps symbol ``j``'s own bar number to its tape row. Only the first ``n``
    rows are meaningful; read them through :meth:`times` and the other accessors.
    """

    def __init__(self, frame: MarketFrame, signals: Sequence[Signals]) -> None:
        n, k = len(frame), frame.width
        if len(signals) != k:
            raise ConfigurationError(f"{len(signals)} signal sets for {k} symbols")
        self.symbols: tuple[Symbol, ...] = frame.symbols
        self.timeframe: Timeframe = frame.timeframe
        self.n = n
        self.exits: list[ExitRules] = [s.exits for s in signals]
        # Whether the symbol's own rows are the tape's (one symbol, every row present): its signal arrays are
        # then used as they are.
        self.identity = k == 1 and frame.rows[0].shape[0] == n
        self._capacity = n
        self._times: IntArray = frame.open_time
        self._open, self._high, self._low = frame.open, frame.high, frame.low
        self._close, self._volume, self._mark, self._present = frame.close, frame.volume, frame.mark, frame.present
        self._rows: list[IntArray] = list(frame.rows)
        self._counts = [int(r.shape[0]) for r in frame.rows]
        self._le: list[BoolArray] = []
        self._lx: list[BoolArray] = []
        self._se: list[BoolArray] = []
        self._sx: list[BoolArray] = []
        self._stop: list[FloatArray] = []
        self._size: list[FloatArray] = []
        self._atr: list[FloatArray | None] = []
        self._confidence: list[FloatArray | None] = []
        for j, s in enumerate(signals):
            rows = frame.rows[j]
            if s.long_entry.shape[0] != rows.shape[0]:
                raise ConfigurationError(f"signals of {frame.symbols[j]} do not match its candles")

            def place(values: np.ndarray, fill: float | bool, rows: np.ndarray = rows) -> np.ndarray:
                return values if self.identity else scatter(values, rows, n, fill)

            self._le.append(place(s.long_entry, False))
            self._lx.append(place(s.long_exit, False))
            self._se.append(place(s.short_entry, False))
            self._sx.append(place(s.short_exit, False))
            self._stop.append(place(s.stop_distance, np.nan))
            self._size.append(place(s.size, np.nan))
            self._atr.append(None if s.atr is None else place(s.atr, np.nan))
            self._confidence.append(None if s.confidence is None else place(s.confidence, np.nan))
        any_signal = np.zeros(n, dtype=np.bool_)
        for arrays in (self._le, self._lx, self._se, self._sx):
            for a in arrays:
                any_signal |= a
        self._any: BoolArray = any_signal

    @property
    def width(self) -> int:
        return len(self.symbols)

    def __len__(self) -> int:
        return self.n

    # -- reading (views of the first n rows) ------------------------------------------------------------------
    def times(self) -> IntArray:
        return self._times[: self.n]

    def column(self, name: str, j: int) -> FloatArray:
        """Symbol ``j``'s ``open``, ``high``, ``low``, ``close``, ``volume`` or ``mark`` column."""
        matrix: FloatArray = getattr(self, "_" + name)
        return matrix[: self.n, j]

    def matrix(self, name: str) -> FloatArray:
        """All symbols' ``open`` .. ``mark`` (``(n, k)``), or ``present`` (bool)."""
        matrix: FloatArray = getattr(self, "_" + name)
        return matrix[: self.n]

    def rows(self, j: int) -> IntArray:
        """Symbol ``j``'s own bars' tape rows."""
        return self._rows[j][: self._counts[j]]

    def decisions(self, j: int) -> tuple[BoolArray, BoolArray, BoolArray, BoolArray]:
        n = self.n
        return self._le[j][:n], self._lx[j][:n], self._se[j][:n], self._sx[j][:n]

    def stop_distance(self, j: int) -> FloatArray:
        return self._stop[j][: self.n]

    def size(self, j: int) -> FloatArray:
        return self._size[j][: self.n]

    def atr(self, j: int) -> FloatArray | None:
        atr = self._atr[j]
        return None if atr is None else atr[: self.n]

    def confidence(self, j: int) -> FloatArray | None:
        confidence = self._confidence[j]
        return None if confidence is None else confidence[: self.n]

    def any_signal(self) -> BoolArray:
        return self._any[: self.n]

    # -- growing ----------------------------------------------------------------------------------------------
    def append(self, open_time: int, bars: Sequence[Bar | None], decisions: Sequence[DecisionRow | None]) -> int:
        """Add the row of bars that opened at ``open_time`` (None: the symbol has no bar there) and each symbol's
        decision at its close (None: no decision; a symbol without a bar takes none); returns the new row."""
        k = self.width
        if len(bars) != k or len(decisions) != k:
            raise ConfigurationError(f"a tape row needs {k} bars and {k} decision rows")
        n = self.n
        if n and open_time <= int(self._times[n - 1]):
            raise ConfigurationError(f"bar {open_time} does not follow the tape's last bar {int(self._times[n - 1])}")
        if n and (open_time - int(self._times[0])) % self.timeframe.milliseconds:
            raise ConfigurationError(f"bar {open_time} is off the tape's {self.timeframe} grid")
        if n == self._capacity or not self._times.flags.writeable:
            self._grow(max(2 * self._capacity, _MIN_CAPACITY))
        self._times[n] = open_time
        signal = False
        for j in range(k):
            bar, row = bars[j], decisions[j]
            if bar is None:
                self._mark[n, j] = self._mark[n - 1, j] if n else math.nan
                self._present[n, j] = False
                row = None
            else:
                self._open[n, j], self._high[n, j], self._low[n, j] = bar.open, bar.high, bar.low
                self._close[n, j], self._volume[n, j], self._mark[n, j] = bar.close, bar.volume, bar.close
                self._present[n, j] = True
                count = self._counts[j]
                self._rows[j][count] = n
                self._counts[j] = count + 1
            row = row if row is not None else DecisionRow()
            self._le[j][n], self._lx[j][n] = row.long_entry, row.long_exit
            self._se[j][n], self._sx[j][n] = row.short_entry, row.short_exit
            self._stop[j][n], self._size[j][n] = row.stop_distance, row.size
            atr, confidence = self._atr[j], self._confidence[j]
            if atr is not None:
                atr[n] = row.atr
            if confidence is not None:
                confidence[n] = row.confidence
            signal = signal or row.any
        self._any[n] = signal
        self.n = n + 1
        if self.identity and not self._present[n, 0]:
            self.identity = False
        return n

    def _grow(self, capacity: int) -> None:
        n = self.n
        self._capacity = capacity
        self._times = _grown(self._times[:n], capacity, 0)
        self._open = _grown(self._open[:n], capacity, math.nan)
        self._high = _grown(self._high[:n], capacity, math.nan)
        self._low = _grown(self._low[:n], capacity, math.nan)
        self._close = _grown(self._close[:n], capacity, math.nan)
        self._volume = _grown(self._volume[:n], capacity, math.nan)
        self._mark = _grown(self._mark[:n], capacity, math.nan)
        self._present = _grown(self._present[:n], capacity, False)
        self._rows = [_grown(r[:c], capacity, 0) for r, c in zip(self._rows, self._counts, strict=True)]
        for arrays, fill in ((self._le, False), (self._lx, False), (self._se, False), (self._sx, False)):
            arrays[:] = [_grown(a[:n], capacity, fill) for a in arrays]
        self._stop = [_grown(a[:n], capacity, math.nan) for a in self._stop]
        self._size = [_grown(a[:n], capacity, math.nan) for a in self._size]
        self._atr = [None if a is None else _grown(a[:n], capacity, math.nan) for a in self._atr]
        self._confidence = [None if a is None else _grown(a[:n], capacity, math.nan) for a in self._confidence]
        self._any = _grown(self._any[:n], capacity, False)


__all__ = ["Bar", "DecisionRow", "Tape"]
