"""Moving averages: SMA, EMA, WMA and Wilder's smoothing (RMA), whole series and bar by bar."""

from __future__ import annotations

import numpy as np

from domain.indicators._scan import SeededScan, seeded_scan
from domain.indicators._windows import WindowMoments, WindowWeightedSum, window_mean, window_weighted_sum
from domain.indicators.base import as_series, check_period, decay_bars
from domain.model.candles import FloatArray


def sma(values: FloatArray, period: int) -> FloatArray:
    """Simple moving average: the mean of the ``period`` values ending at each bar, computed as a nearby
    value inside the window plus the mean deviation from it (a constant window gives exactly the constant).

    Warm-up ``period - 1`` bars (NaN); convergence = warm-up. Incremental twin: :class:`SMA`.
    """
    period = check_period(period)
    return window_mean(as_series(values), period)


def sma_from(values: FloatArray, period: int, first: int) -> FloatArray:
    """:func:`sma` of ``values[first:]`` placed back at its bars (NaN before ``first + period - 1``); for inputs
    that are themselves NaN during their own warm-up. Blocks are counted from ``first``, as an incremental
    :class:`SMA` fed from that bar counts them."""
    x = as_series(values)
    out = np.full(x.shape[0], np.nan)
    out[first:] = sma(x[first:], period)
    return out


class SMA:
    """Incremental :func:`sma`: ``update(x)`` returns exactly what ``sma(series, period)`` holds at that bar."""

    __slots__ = ("_moments", "period", "warmup")

    def __init__(self, period: int) -> None:
        self.period = check_period(period)
        self.warmup = self.period - 1
        self._moments = WindowMoments(self.period)

    def update(self, x: float) -> float:
        centre, s1, _ = self._moments.update(x)
        return centre + s1 / self.period

    def convergence(self, tol: float = 1e-9) -> int:
        return self.warmup


def ema(values: FloatArray, period: int) -> FloatArray:
    """Exponential moving average with ``alpha = 2 / (period + 1)``, seeded with the SMA of the first
    ``period`` values (as TA-Lib with its default unstable period 0). The EMA of a constant is exactly that
    constant.

    Warm-up ``period - 1`` bars; convergence: warm-up + bars until ``(1 - alpha) ** m < tol / SEED_MARGIN``
    (:meth:`EMA.convergence`). Incremental twin: :class:`EMA`.
    """
    period = check_period(period)
    return seeded_scan(as_series(values), period, 2.0 / (period + 1), centred=True)


class EMA:
    """Incremental :func:`ema` (bit-identical to the whole-series values)."""

    __slots__ = ("_scan", "period", "warmup")

    def __init__(self, period: int) -> None:
        self.period = check_period(period)
        self.warmup = self.period - 1
        self._scan = SeededScan(self.period, 2.0 / (self.period + 1), centred=True)

    def update(self, x: float) -> float:
        return self._scan.update(x)

    def convergence(self, tol: float = 1e-9) -> int:
        return self.warmup + decay_bars(1.0 - 2.0 / (self.period + 1), tol)


def wilder(values: FloatArray, period: int, first: int = 0) -> FloatArray:
    """Wilder's smoothing (RMA, ``alpha = 1 / period``), seeded with the mean of ``period`` values from
    ``first`` (for inputs that are NaN before ``first``, like the true range at bar 0). Meant for magnitudes
    (true ranges, gains, DX): it keeps its relative precision as they decay towards zero.

    Warm-up ``first + period - 1`` bars; convergence: warm-up + bars until ``(1 - 1/period) ** m`` is below
    ``tol / SEED_MARGIN``. Incremental twin: :class:`Wilder` (fed from bar ``first``).
    """
    period = check_period(period)
    first = check_period(first, "first bar", minimum=0)
    return seeded_scan(as_series(values), period, 1.0 / period, first)


class Wilder:
    """Incremental :func:`wilder` with ``first = 0`` (feed it from the first defined input)."""

    __slots__ = ("_scan", "period", "warmup")

    def __init__(self, period: int) -> None:
        self.period = check_period(period)
        self.warmup = self.period - 1
        self._scan = SeededScan(self.period, 1.0 / self.period)

    def update(self, x: float) -> float:
        return self._scan.update(x)

    def convergence(self, tol: float = 1e-9) -> int:
        return self.warmup + decay_bars(1.0 - 1.0 / self.period, tol)


def wma(values: FloatArray, period: int) -> FloatArray:
    """Linearly weighted moving average: weights ``1, 2, ..., period`` (newest heaviest) over the sum of the
    weights ``period * (period + 1) / 2`` (as TA-Lib's WMA).

    Warm-up ``period - 1`` bars; convergence = warm-up. Incremental twin: :class:`WMA`.
    """
    period = check_period(period)
    return window_weighted_sum(as_series(values), period) / (period * (period + 1) / 2.0)


class WMA:
    """Incremental :func:`wma` (bit-identical to the whole-series values)."""

    __slots__ = ("_denominator", "_sum", "period", "warmup")

    def __init__(self, period: int) -> None:
        self.period = check_period(period)
        self.warmup = self.period - 1
        self._denominator = self.period * (self.period + 1) / 2.0
        self._sum = WindowWeightedSum(self.period)

    def update(self, x: float) -> float:
        return self._sum.update(x) / self._denominator

    def convergence(self, tol: float = 1e-9) -> int:
        return self.warmup
