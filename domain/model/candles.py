"""Candles: one bar as a value object, and many bars as numpy arrays (the bulk form every computation uses)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from domain.model.errors import DomainError, InvalidCandles
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Candle:
    """One bar. ``open_time`` is the bar's open in UTC milliseconds; volume is in the base asset."""

    open_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class GapReport:
    """Missing bars in a series: how many holes, how many bars are missing, and the largest hole."""

    gaps: int
    missing_bars: int
    largest_missing_bars: int
    largest_gap_start: int | None  # open time (UTC ms) of the last bar before the largest hole

    @property
    def has_gaps(self) -> bool:
        return self.gaps > 0


@dataclass(frozen=True, slots=True, eq=False)
class CandleSeries:
    """Bars of one symbol and timeframe, ascending, as parallel float64 arrays (int64 UTC-ms open times).

    Build it with :meth:`from_arrays`, which validates. Ranges are half-open: ``[start, end)``.
    """

    symbol: Symbol
    timeframe: Timeframe
    open_time: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    @classmethod
    def from_arrays(
        cls,
        symbol: Symbol,
        timeframe: Timeframe,
        open_time: npt.ArrayLike,
        open_: npt.ArrayLike,
        high: npt.ArrayLike,
        low: npt.ArrayLike,
        close: npt.ArrayLike,
        volume: npt.ArrayLike,
    ) -> CandleSeries:
        """Validate and build a series. Raises :class:`InvalidCandles` naming the first bad row and rule."""
        # Copies: the series must not change if the caller later writes to its own arrays.
        arrays = [np.array(a, dtype=np.float64, copy=True, order="C") for a in (open_, high, low, close, volume)]
        times = np.array(open_time, dtype=np.int64, copy=True, order="C")
        if any(a.shape != times.shape for a in arrays) or times.ndim != 1:
            raise DomainError("candle columns must be one-dimensional and of equal length")
        validate_ohlcv(times, *arrays)
        for a in (times, *arrays):
            a.setflags(write=False)
        return cls(symbol, timeframe, times, *arrays)

    def __len__(self) -> int:
        return int(self.open_time.shape[0])

    def candle(self, i: int) -> Candle:
        """The bar at index ``i`` as a value object."""
        return Candle(
            int(self.open_time[i]),
            float(self.open[i]),
            float(self.high[i]),
            float(self.low[i]),
            float(self.close[i]),
            float(self.volume[i]),
        )

    def slice(self, start: int, stop: int) -> CandleSeries:
        """Bars ``[start, stop)`` by index (views, no copy; already validated)."""
        return CandleSeries(
            self.symbol,
            self.timeframe,
            self.open_time[start:stop],
            self.open[start:stop],
            self.high[start:stop],
            self.low[start:stop],
            self.close[start:stop],
            self.volume[start:stop],
        )

    def between(self, start_ms: int | None, end_ms: int | None) -> CandleSeries:
        """Bars whose open time is in ``[start_ms, end_ms)`` (UTC ms); ``None`` leaves that side open."""
        lo = 0 if start_ms is None else int(np.searchsorted(self.open_time, start_ms, side="left"))
        hi = len(self) if end_ms is None else int(np.searchsorted(self.open_time, end_ms, side="left"))
        return self.slice(lo, max(lo, hi))

    def gaps(self) -> GapReport:
        """Holes in the series: steps longer than one bar. Reported, never filled."""
        return find_gaps(self.open_time, self.timeframe.milliseconds)

    @property
    def start_ms(self) -> int:
        return int(self.open_time[0])

    @property
    def end_ms(self) -> int:
        """Close time of the last bar (exclusive end of the covered range), UTC ms."""
        return int(self.open_time[-1]) + self.timeframe.milliseconds


def validate_ohlcv(
    open_time: IntArray,
    open_: FloatArray,
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    volume: FloatArray,
) -> None:
    """Check the data rules on whole arrays at once; raise :class:`InvalidCandles` for the first bad row.

    Rules: no NaN or infinity; positive prices; non-negative volume; high >= max(open, close);
    low <= min(open, close); open times strictly increasing (no duplicates, no reordering).
    """
    n = open_time.shape[0]
    if n == 0:
        raise DomainError("the candle series is empty")
    # (row mask, rule) in the order a person would fix them.
    checks: list[tuple[BoolArray, str]] = []
    for name, col in (("open", open_), ("high", high), ("low", low), ("close", close), ("volume", volume)):
        checks.append((~np.isfinite(col), f"{name} is NaN or infinite"))
    for name, col in (("open", open_), ("high", high), ("low", low), ("close", close)):
        checks.append((col <= 0, f"{name} is not positive"))
    checks.append((volume < 0, "volume is negative"))
    with np.errstate(invalid="ignore"):
        checks.append((high < np.maximum(open_, close), "high is below max(open, close)"))
        checks.append((low > np.minimum(open_, close), "low is above min(open, close)"))
    step = np.diff(open_time)
    dup = np.zeros(n, dtype=np.bool_)
    dup[1:] = step == 0
    back = np.zeros(n, dtype=np.bool_)
    back[1:] = step < 0
    checks.append((dup, "duplicate timestamp (same open time as the row before)"))
    checks.append((back, "timestamp goes backwards (rows out of order)"))

    first_row = n
    first_rule = ""
    for mask, rule in checks:
        idx = int(np.argmax(mask))
        if mask[idx] and idx < first_row:
            first_row, first_rule = idx, rule
    if first_row < n:
        raise InvalidCandles(first_row, first_rule)


def find_gaps(open_time: IntArray, bar_ms: int) -> GapReport:
    """Count the holes where consecutive open times are more than one bar apart."""
    if open_time.shape[0] < 2:
        return GapReport(0, 0, 0, None)
    missing = np.diff(open_time) // bar_ms - 1
    holes = np.flatnonzero(missing > 0)
    if holes.size == 0:
        return GapReport(0, 0, 0, None)
    largest = int(holes[np.argmax(missing[holes])])
    return GapReport(int(holes.size), int(missing[holes].sum()), int(missing[largest]), int(open_time[largest]))


def infer_timeframe(open_time: IntArray) -> Timeframe:
    """The timeframe whose length is the most common step between bars."""
    if open_time.shape[0] < 2:
        raise DomainError("need at least two bars to infer the timeframe")
    steps, counts = np.unique(np.diff(open_time), return_counts=True)
    step_ms = int(steps[np.argmax(counts)])
    for tf in Timeframe:
        if tf.milliseconds == step_ms:
            return tf
    raise DomainError(f"bars are {step_ms / 1000:g} s apart, which is no supported timeframe")
