"""Momentum oscillators: RSI, MACD, stochastic, rate of change and CCI, whole series and bar by bar."""

from __future__ import annotations

import math

import numpy as np

from domain.indicators._scan import SeededScan, seeded_scan
from domain.indicators._windows import (
    Window,
    WindowMoments,
    window_abs_deviation_sum,
    window_max,
    window_mean,
    window_min,
)
from domain.indicators.averages import EMA, SMA, ema, sma_from
from domain.indicators.base import MACDLines, StochasticLines, as_columns, as_series, check_period, decay_bars
from domain.model.candles import FloatArray
from domain.model.errors import InvalidParameter

NAN = float("nan")


def rsi(close: FloatArray, period: int = 14) -> FloatArray:
    """Relative strength index (Wilder): ``100 * G / (G + L)`` where ``G`` and ``L`` are Wilder averages of the
    gains and losses of the close, seeded with their means over bars ``1..period`` (as TA-Lib). Where there
    was no movement at all (``G + L == 0``) it is 50, neutral (TA-Lib says 0 there).

    Warm-up ``period`` bars; convergence: warm-up + bars until ``(1 - 1/period) ** m < tol / SEED_MARGIN``.
    Incremental twin: :class:`RSI`."""
    period = check_period(period)
    x = as_series(close)
    out = np.full(x.shape[0], np.nan)
    if x.shape[0] <= period:
        return out
    change = x[1:] - x[:-1]
    alpha = 1.0 / period
    gain = seeded_scan(np.where(change > 0.0, change, 0.0), period, alpha)
    loss = seeded_scan(np.where(change < 0.0, -change, 0.0), period, alpha)
    total = gain + loss
    with np.errstate(invalid="ignore", divide="ignore"):
        out[1:] = np.where(total == 0.0, 50.0, 100.0 * gain / total)
    return out


class RSI:
    """Incremental :func:`rsi`: ``update(close)``."""

    __slots__ = ("_gain", "_loss", "_prev", "period", "warmup")

    def __init__(self, period: int = 14) -> None:
        self.period = check_period(period)
        self.warmup = self.period
        self._gain = SeededScan(self.period, 1.0 / self.period)
        self._loss = SeededScan(self.period, 1.0 / self.period)
        self._prev = NAN

    def update(self, close: float) -> float:
        prev = self._prev
        self._prev = close
        if math.isnan(prev):
            return NAN
        change = close - prev
        gain = self._gain.update(change if change > 0.0 else 0.0)
        loss = self._loss.update(-change if change < 0.0 else 0.0)
        total = gain + loss
        if math.isnan(total):
            return NAN
        return 50.0 if total == 0.0 else 100.0 * gain / total

    def convergence(self, tol: float = 1e-9) -> int:
        return self.warmup + decay_bars(1.0 - 1.0 / self.period, tol)


def _check_macd(fast: int, slow: int, signal: int) -> tuple[int, int, int]:
    fast = check_period(fast, "fast period")
    slow = check_period(slow, "slow period")
    signal = check_period(signal, "signal period")
    if fast >= slow:
        raise InvalidParameter(f"MACD fast period must be below the slow period, got {fast} and {slow}")
    return fast, slow, signal


def macd(close: FloatArray, fast: int = 12, slow: int = 26, signal: int = 9) -> MACDLines[FloatArray]:
    """MACD: ``EMA(fast) - EMA(slow)`` of the close (each seeded with its own SMA, as :func:`ema`), the
    signal line ``EMA(signal)`` of the MACD line (seeded with the mean of its first ``signal`` values) and
    the histogram (MACD - signal).

    TA-Lib differs in one convention: it seeds the fast EMA at the slow one's first bar, from the last
    ``fast`` values there; the difference fades like the fast EMA's seed, well before convergence.

    Warm-up: MACD line ``slow - 1`` bars, signal and histogram ``slow + signal - 2`` (:attr:`MACD.warmups`).
    Convergence (relative to the price level, MACD being a difference of prices): from bar ``slow - 1``,
    bars until ``(1 + m) * beta ** m < tol / SEED_MARGIN`` for the slowest decay ``beta`` of the three EMAs
    (two chained recursions). Incremental twin: :class:`MACD`."""
    fast, slow, signal = _check_macd(fast, slow, signal)
    x = as_series(close)
    line = ema(x, fast) - ema(x, slow)
    signal_line = seeded_scan(line, signal, 2.0 / (signal + 1), first=slow - 1, centred=True)
    return MACDLines(line, signal_line, line - signal_line)


class MACD:
    """Incremental :func:`macd`: ``update(close) -> MACDLines[float]``."""

    __slots__ = ("_fast", "_signal", "_slow", "periods", "warmup", "warmups")

    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9) -> None:
        self.periods = _check_macd(fast, slow, signal)
        fast, slow, signal = self.periods
        self._fast = EMA(fast)
        self._slow = EMA(slow)
        self._signal = EMA(signal)
        self.warmups = MACDLines(slow - 1, slow + signal - 2, slow + signal - 2)
        self.warmup = max(self.warmups)

    def update(self, close: float) -> MACDLines[float]:
        line = self._fast.update(close) - self._slow.update(close)
        if math.isnan(line):
            return MACDLines(NAN, NAN, NAN)
        signal = self._signal.update(line)
        return MACDLines(line, signal, line - signal)

    def convergence(self, tol: float = 1e-9) -> int:
        betas = [1.0 - 2.0 / (p + 1) for p in self.periods]
        return max(self.warmup, self.periods[1] - 1 + decay_bars(max(betas), tol, order=2))


def _check_stochastic(k_period: int, k_smooth: int, d_period: int) -> tuple[int, int, int]:
    return (
        check_period(k_period, "%K period"),
        check_period(k_smooth, "%K smoothing"),
        check_period(d_period, "%D period"),
    )


def _raw_k(close: FloatArray, highest: FloatArray, lowest: FloatArray) -> FloatArray:
    span = highest - lowest
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(span == 0.0, 50.0, 100.0 * (close - lowest) / span)


def stochastic(
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    k_period: int = 14,
    k_smooth: int = 3,
    d_period: int = 3,
) -> StochasticLines[FloatArray]:
    """Slow stochastic: raw %K ``100 * (close - LL) / (HH - LL)`` over the ``k_period`` bars ending at each
    bar, %K its SMA over ``k_smooth`` bars (1: the fast stochastic), %D the SMA of %K over ``d_period`` bars
    (TA-Lib's STOCH with SMA smoothing). A bar range of zero (HH == LL) gives a raw %K of 50 (TA-Lib: 0).

    Warm-up: %K ``k_period + k_smooth - 2`` bars, %D ``k_period + k_smooth + d_period - 3`` (TA-Lib starts
    both at the latter). Convergence = warm-up. Incremental twin: :class:`Stochastic`."""
    k_period, k_smooth, d_period = _check_stochastic(k_period, k_smooth, d_period)
    h, lo, c = as_columns(high, low, close)
    raw = _raw_k(c, window_max(h, k_period), window_min(lo, k_period))
    k = sma_from(raw, k_smooth, k_period - 1)
    d = sma_from(k, d_period, k_period + k_smooth - 2)
    return StochasticLines(k, d)


class Stochastic:
    """Incremental :func:`stochastic`: ``update(high, low, close) -> StochasticLines[float]``."""

    __slots__ = ("_d", "_highs", "_k", "_lows", "warmup", "warmups")

    def __init__(self, k_period: int = 14, k_smooth: int = 3, d_period: int = 3) -> None:
        k_period, k_smooth, d_period = _check_stochastic(k_period, k_smooth, d_period)
        self._highs = Window(k_period)
        self._lows = Window(k_period)
        self._k = SMA(k_smooth)
        self._d = SMA(d_period)
        self.warmups = StochasticLines(k_period + k_smooth - 2, k_period + k_smooth + d_period - 3)
        self.warmup = self.warmups.d

    def update(self, high: float, low: float, close: float) -> StochasticLines[float]:
        full = self._highs.push(high)
        self._lows.push(low)
        if not full:
            return StochasticLines(NAN, NAN)
        highest = self._highs.max()
        lowest = self._lows.min()
        span = highest - lowest
        k = self._k.update(50.0 if span == 0.0 else 100.0 * (close - lowest) / span)
        if math.isnan(k):
            return StochasticLines(NAN, NAN)
        return StochasticLines(k, self._d.update(k))

    def convergence(self, tol: float = 1e-9) -> int:
        return self.warmup


def roc(close: FloatArray, period: int = 10) -> FloatArray:
    """Rate of change in percent: ``(close[t] / close[t - period] - 1) * 100``; 0 where the old close is 0
    (as TA-Lib). Warm-up ``period`` bars; convergence = warm-up (exact). Incremental twin: :class:`ROC`."""
    period = check_period(period)
    x = as_series(close)
    out = np.full(x.shape[0], np.nan)
    if x.shape[0] <= period:
        return out
    old = x[:-period]
    with np.errstate(invalid="ignore", divide="ignore"):
        out[period:] = np.where(old == 0.0, 0.0, (x[period:] / old - 1.0) * 100.0)
    return out


class ROC:
    """Incremental :func:`roc`: ``update(close)``."""

    __slots__ = ("_window", "period", "warmup")

    def __init__(self, period: int = 10) -> None:
        self.period = check_period(period)
        self.warmup = self.period
        self._window = Window(self.period + 1)

    def update(self, close: float) -> float:
        if not self._window.push(close):
            return NAN
        old = self._window.oldest()
        return 0.0 if old == 0.0 else (close / old - 1.0) * 100.0

    def convergence(self, tol: float = 1e-9) -> int:
        return self.warmup


def typical_price(high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
    """``(high + low + close) / 3``."""
    h, lo, c = as_columns(high, low, close)
    return (h + lo + c) / 3.0


def cci(high: FloatArray, low: FloatArray, close: FloatArray, period: int = 20) -> FloatArray:
    """Commodity channel index: ``(TP - SMA(TP)) / (0.015 * MD)`` with ``TP`` the typical price and ``MD``
    the mean absolute deviation of ``TP`` from its SMA over the same ``period`` bars (as TA-Lib); 0 where
    ``MD`` is 0 (all typical prices equal). Warm-up ``period - 1`` bars; convergence = warm-up. The mean
    deviation costs ``period`` vector passes (it does not decompose into running sums). Twin: :class:`CCI`."""
    period = check_period(period)
    tp = typical_price(high, low, close)
    mean = window_mean(tp, period)
    deviation = window_abs_deviation_sum(tp, mean, period) / period
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(deviation == 0.0, 0.0, (tp - mean) / (0.015 * deviation))


class CCI:
    """Incremental :func:`cci`: ``update(high, low, close)``."""

    __slots__ = ("_moments", "_window", "period", "warmup")

    def __init__(self, period: int = 20) -> None:
        self.period = check_period(period)
        self.warmup = self.period - 1
        self._moments = WindowMoments(self.period)
        self._window = Window(self.period)

    def update(self, high: float, low: float, close: float) -> float:
        tp = (high + low + close) / 3.0
        centre, s1, _ = self._moments.update(tp)
        mean = centre + s1 / self.period
        if not self._window.push(tp):
            return NAN
        deviation = self._window.abs_deviation_sum(mean) / self.period
        return 0.0 if deviation == 0.0 else (tp - mean) / (0.015 * deviation)

    def convergence(self, tol: float = 1e-9) -> int:
        return self.warmup
