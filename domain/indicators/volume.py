"""Volume indicators: on-balance volume and a rolling VWAP, whole series and bar by bar."""

from __future__ import annotations

import math

import numpy as np

from domain.indicators._windows import WindowSum, window_sum
from domain.indicators.base import as_columns, check_period
from domain.model.candles import FloatArray

NAN = float("nan")


def obv(close: FloatArray, volume: FloatArray) -> FloatArray:
    """On-balance volume: a running total that adds the bar's volume when the close rises, subtracts it when
    the close falls, and starts with the first bar's volume (as TA-Lib). Warm-up 0 bars.

    Its level depends on where the series starts: only changes ``OBV[t] - OBV[s]`` are comparable between
    series that start at different bars (they do not depend on earlier history). Twin: :class:`OBV`."""
    c, v = as_columns(close, volume)
    n = c.shape[0]
    if n == 0:
        return np.empty(0)
    signed = np.empty(n)
    signed[0] = v[0]
    rise = c[1:] > c[:-1]
    fall = c[1:] < c[:-1]
    signed[1:] = np.where(rise, v[1:], np.where(fall, -v[1:], 0.0))
    return np.cumsum(signed)


class OBV:
    """Incremental :func:`obv`: ``update(close, volume)``."""

    __slots__ = ("_prev", "_total", "warmup")

    def __init__(self) -> None:
        self.warmup = 0
        self._prev = NAN
        self._total = 0.0

    def update(self, close: float, volume: float) -> float:
        prev = self._prev
        self._prev = close
        if math.isnan(prev):
            self._total = volume
        elif close > prev:
            self._total = self._total + volume
        elif close < prev:
            self._total = self._total + -volume
        else:
            self._total = self._total + 0.0
        return self._total

    def convergence(self, tol: float = 1e-9) -> int:
        """0: differences of OBV never depend on earlier history (its level always does)."""
        return self.warmup


def vwap(high: FloatArray, low: FloatArray, close: FloatArray, volume: FloatArray, period: int = 14) -> FloatArray:
    """Rolling volume-weighted average price: ``sum(TP * volume) / sum(volume)`` over the ``period`` bars
    ending at each bar, ``TP = (high + low + close) / 3`` (as ``ta``'s ``VolumeWeightedAveragePrice``).
    Rolling rather than anchored to a session, so it needs no calendar and a live feed of any length agrees
    with the backtest (for a daily VWAP on hourly bars, use ``period=24``). NaN where the window traded no
    volume. Warm-up ``period - 1`` bars; convergence = warm-up. Incremental twin: :class:`VWAP`."""
    period = check_period(period)
    h, lo, c, v = as_columns(high, low, close, volume)
    tp = (h + lo + c) / 3.0
    weighted = window_sum(tp * v, period)
    total = window_sum(v, period)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total == 0.0, np.nan, weighted / total)


class VWAP:
    """Incremental :func:`vwap`: ``update(high, low, close, volume)``."""

    __slots__ = ("_total", "_weighted", "period", "warmup")

    def __init__(self, period: int = 14) -> None:
        self.period = check_period(period)
        self.warmup = self.period - 1
        self._weighted = WindowSum(self.period)
        self._total = WindowSum(self.period)

    def update(self, high: float, low: float, close: float, volume: float) -> float:
        tp = (high + low + close) / 3.0
        weighted = self._weighted.update(tp * volume)
        total = self._total.update(volume)
        return NAN if total == 0.0 else weighted / total

    def convergence(self, tol: float = 1e-9) -> int:
        return self.warmup
