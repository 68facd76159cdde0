"""Moving averages and volatility: the building blocks of the trend strategies."""

from __future__ import annotations

import numpy as np

from domain.model.candles import FloatArray
from domain.model.errors import InvalidParameter


def _check_period(period: int) -> None:
    if period < 1:
        raise InvalidParameter(f"indicator period must be >= 1, got {period}")


def sma(values: FloatArray, period: int) -> FloatArray:
    """Simple moving average; the first ``period - 1`` values are NaN."""
    _check_period(period)
    out = np.full(values.shape[0], np.nan)
    if values.shape[0] >= period:
        csum = np.cumsum(np.insert(values, 0, 0.0))
        out[period - 1 :] = (csum[period:] - csum[:-period]) / period
    return out


def _recursive_smooth(values: FloatArray, period: int, alpha: float, first: int) -> FloatArray:
    """y[t] = alpha * x[t] + (1 - alpha) * y[t-1], seeded at ``first + period - 1`` with the mean of
    ``values[first : first + period]``. The recursion is path-dependent, so it runs as one lean loop over
    Python floats (no numpy scalar churn)."""
    n = values.shape[0]
    out = np.full(n, np.nan)
    seed_end = first + period
    if n < seed_end:
        return out
    acc = float(values[first:seed_end].mean())
    out_list = [acc]
    beta = 1.0 - alpha
    for x in values[seed_end:].tolist():
        acc = alpha * x + beta * acc
        out_list.append(acc)
    out[seed_end - 1 :] = out_list
    return out


def ema(values: FloatArray, period: int) -> FloatArray:
    """Exponential moving average with ``alpha = 2 / (period + 1)``, seeded with the SMA (as TA-Lib)."""
    _check_period(period)
    return _recursive_smooth(values, period, 2.0 / (period + 1), 0)


def wilder(values: FloatArray, period: int, first: int = 0) -> FloatArray:
    """Wilder's smoothing (``alpha = 1 / period``), seeded with the mean of ``period`` values from ``first``."""
    _check_period(period)
    return _recursive_smooth(values, period, 1.0 / period, first)


def true_range(high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
    """True range; bar 0 has no previous close and is NaN (as TA-Lib)."""
    tr = np.empty(high.shape[0])
    tr[0] = np.nan
    prev = close[:-1]
    tr[1:] = np.maximum(high[1:], prev) - np.minimum(low[1:], prev)
    return tr


def atr(high: FloatArray, low: FloatArray, close: FloatArray, period: int = 14) -> FloatArray:
    """Average true range (Wilder). The first value is at bar ``period``."""
    return wilder(true_range(high, low, close), period, first=1)
