"""Volatility and channels: true range, ATR, Bollinger bands, Keltner channels, Donchian channels and
realised volatility, whole series and bar by bar."""

from __future__ import annotations

import math

import numpy as np

from domain.indicators._windows import (
    Window,
    WindowMoments,
    window_max,
    window_min,
    window_moments,
)
from domain.indicators.averages import EMA, Wilder, ema, wilder
from domain.indicators.base import Bands, as_columns, as_series, check_period
from domain.model.candles import FloatArray
from domain.model.errors import InvalidParameter

NAN = float("nan")


def true_range(high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
    """True range ``max(high, previous close) - min(low, previous close)``; bar 0 has no previous close and
    is NaN (as TA-Lib). Warm-up 1 bar. Incremental twin: :class:`TrueRange`."""
    h, lo, c = as_columns(high, low, close)
    tr = np.empty(h.shape[0])
    if h.shape[0] == 0:
        return tr
    tr[0] = np.nan
    prev = c[:-1]
    tr[1:] = np.maximum(h[1:], prev) - np.minimum(lo[1:], prev)
    return tr


class TrueRange:
    """Incremental :func:`true_range`: ``update(high, low, close)``."""

    __slots__ = ("_prev_close", "warmup")

    def __init__(self) -> None:
        self.warmup = 1
        self._prev_close = NAN

    def update(self, high: float, low: float, close: float) -> float:
        prev = self._prev_close
        self._prev_close = close
        if math.isnan(prev):  # no previous close yet
            return NAN
        return max(high, prev) - min(low, prev)

    def convergence(self, tol: float = 1e-9) -> int:
        return self.warmup


def atr(high: FloatArray, low: FloatArray, close: FloatArray, period: int = 14) -> FloatArray:
    """Average true range: Wilder's smoothing of the true range, seeded with the mean of the true ranges of
    bars ``1..period`` (as TA-Lib). Warm-up ``period`` bars (the first value is at bar ``period``);
    convergence: warm-up + bars until ``(1 - 1/period) ** m < tol / SEED_MARGIN``. Twin: :class:`ATR`."""
    return wilder(true_range(high, low, close), period, first=1)


class ATR:
    """Incremental :func:`atr`: ``update(high, low, close)``."""

    __slots__ = ("_smooth", "_tr", "period", "warmup")

    def __init__(self, period: int = 14) -> None:
        self.period = check_period(period)
        self.warmup = self.period
        self._tr = TrueRange()
        self._smooth = Wilder(self.period)

    def update(self, high: float, low: float, close: float) -> float:
        tr = self._tr.update(high, low, close)
        if math.isnan(tr):
            return NAN
        return self._smooth.update(tr)

    def convergence(self, tol: float = 1e-9) -> int:
        return 1 + self._smooth.convergence(tol)


def _clip_positive(var: FloatArray) -> FloatArray:
    """Rounding can make a zero variance slightly negative; NaN stays NaN."""
    return np.where(var < 0.0, 0.0, var)


def bollinger(values: FloatArray, period: int = 20, num_std: float = 2.0) -> Bands[FloatArray]:
    """Bollinger bands: the SMA of ``period`` values ± ``num_std`` population standard deviations (ddof 0)
    of the same values (as TA-Lib's BBANDS with an SMA). Warm-up ``period - 1`` bars; convergence =
    warm-up. Incremental twin: :class:`BollingerBands`."""
    period = check_period(period)
    x = as_series(values)
    centre, s1, s2 = window_moments(x, period)
    middle = centre + s1 / period
    width = num_std * np.sqrt(_clip_positive((s2 - s1 * s1 / period) / period))
    return Bands(middle + width, middle, middle - width)


class BollingerBands:
    """Incremental :func:`bollinger`: ``update(x) -> Bands[float]``."""

    __slots__ = ("_moments", "num_std", "period", "warmup")

    def __init__(self, period: int = 20, num_std: float = 2.0) -> None:
        self.period = check_period(period)
        self.num_std = num_std
        self.warmup = self.period - 1
        self._moments = WindowMoments(self.period)

    def update(self, x: float) -> Bands[float]:
        period = self.period
        centre, s1, s2 = self._moments.update(x)
        middle = centre + s1 / period
        var = (s2 - s1 * s1 / period) / period
        width = self.num_std * math.sqrt(0.0 if var < 0.0 else var) if not math.isnan(var) else NAN
        return Bands(middle + width, middle, middle - width)

    def convergence(self, tol: float = 1e-9) -> int:
        return self.warmup


def keltner(
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    period: int = 20,
    atr_period: int = 10,
    multiplier: float = 2.0,
) -> Bands[FloatArray]:
    """Keltner channels (the modern form): the EMA of the close over ``period`` bars ± ``multiplier`` times
    the ATR over ``atr_period`` bars (``ta``'s ``KeltnerChannel(original_version=False)`` up to seeding: here
    the EMA and ATR are seeded like TA-Lib's, with simple means).

    Warm-up ``max(period - 1, atr_period)`` bars; convergence: the later of the EMA's and the ATR's
    (:meth:`KeltnerChannels.convergence`). Incremental twin: :class:`KeltnerChannels`."""
    middle = ema(close, period)
    width = multiplier * atr(high, low, close, atr_period)
    return Bands(middle + width, middle, middle - width)


class KeltnerChannels:
    """Incremental :func:`keltner`: ``update(high, low, close) -> Bands[float]``."""

    __slots__ = ("_atr", "_ema", "multiplier", "warmup")

    def __init__(self, period: int = 20, atr_period: int = 10, multiplier: float = 2.0) -> None:
        self._ema = EMA(period)
        self._atr = ATR(atr_period)
        self.multiplier = multiplier
        self.warmup = max(self._ema.warmup, self._atr.warmup)

    def update(self, high: float, low: float, close: float) -> Bands[float]:
        middle = self._ema.update(close)
        width = self.multiplier * self._atr.update(high, low, close)
        return Bands(middle + width, middle, middle - width)

    def convergence(self, tol: float = 1e-9) -> int:
        return max(self._ema.convergence(tol), self._atr.convergence(tol))


def donchian(high: FloatArray, low: FloatArray, period: int = 20) -> Bands[FloatArray]:
    """Donchian channels: the highest high and the lowest low of the ``period`` bars ending at (and
    including) each bar, and their midpoint. A breakout rule compares the close with the previous bar's
    channel. Warm-up ``period - 1`` bars; convergence = warm-up (exact). Twin: :class:`DonchianChannels`."""
    period = check_period(period)
    h, lo = as_columns(high, low)
    upper = window_max(h, period)
    lower = window_min(lo, period)
    return Bands(upper, (upper + lower) / 2.0, lower)


class DonchianChannels:
    """Incremental :func:`donchian`: ``update(high, low) -> Bands[float]``."""

    __slots__ = ("_highs", "_lows", "period", "warmup")

    def __init__(self, period: int = 20) -> None:
        self.period = check_period(period)
        self.warmup = self.period - 1
        self._highs = Window(self.period)
        self._lows = Window(self.period)

    def update(self, high: float, low: float) -> Bands[float]:
        full = self._highs.push(high)
        self._lows.push(low)
        if not full:
            return Bands(NAN, NAN, NAN)
        upper = self._highs.max()
        lower = self._lows.min()
        return Bands(upper, (upper + lower) / 2.0, lower)

    def convergence(self, tol: float = 1e-9) -> int:
        return self.warmup


def _check_annualisation(periods_per_year: float) -> float:
    if not periods_per_year > 0.0 or math.isinf(periods_per_year):
        raise InvalidParameter(f"periods_per_year must be a positive number, got {periods_per_year}")
    return math.sqrt(periods_per_year)


def realised_volatility(close: FloatArray, period: int = 20, periods_per_year: float = 1.0) -> FloatArray:
    """Realised volatility: the sample standard deviation (ddof 1) of the last ``period`` log returns
    ``log(close[t] / close[t-1])``, times ``sqrt(periods_per_year)`` (1.0: per bar; pass
    ``Timeframe.periods_per_year`` for an annual figure, e.g. 8760 for hourly bars). ``period >= 2``.

    Warm-up ``period`` bars (bar 0 has no return); convergence = warm-up. Incremental twin:
    :class:`RealisedVolatility`."""
    period = check_period(period, minimum=2)
    scale = _check_annualisation(periods_per_year)
    x = as_series(close)
    n = x.shape[0]
    out = np.full(n, np.nan)
    if n <= period:
        return out
    returns = np.log(x[1:] / x[:-1])
    _, s1, s2 = window_moments(returns, period)
    var = (s2 - s1 * s1 / period) / (period - 1)
    out[1:] = np.sqrt(_clip_positive(var)) * scale
    return out


class RealisedVolatility:
    """Incremental :func:`realised_volatility`: ``update(close)``."""

    __slots__ = ("_moments", "_prev", "_scale", "period", "warmup")

    def __init__(self, period: int = 20, periods_per_year: float = 1.0) -> None:
        self.period = check_period(period, minimum=2)
        self._scale = _check_annualisation(periods_per_year)
        self.warmup = self.period
        self._moments = WindowMoments(self.period)
        self._prev = NAN

    def update(self, close: float) -> float:
        prev = self._prev
        self._prev = close
        if math.isnan(prev):
            return NAN
        # numpy's log, not math.log: the two may differ in the last bit, and the whole series uses numpy's
        r = float(np.log(close / prev))
        _, s1, s2 = self._moments.update(r)
        if math.isnan(s1):
            return NAN
        period = self.period
        var = (s2 - s1 * s1 / period) / (period - 1)
        return math.sqrt(0.0 if var < 0.0 else var) * self._scale

    def convergence(self, tol: float = 1e-9) -> int:
        return self.warmup
