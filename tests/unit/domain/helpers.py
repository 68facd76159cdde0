"""Builders and plain-Python reference implementations shared by the domain tests."""

from __future__ import annotations

import math

import numpy as np

from domain.model.candles import CandleSeries
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe

HOUR_MS = 3_600_000
T0 = 1_600_000_000_000 - (1_600_000_000_000 % HOUR_MS)  # on an hour boundary
BTCUSDT = Symbol("BTC", "USDT")


def random_walk_series(n: int, seed: int = 1, start: float = 100.0) -> CandleSeries:
    """Hourly geometric random walk with consistent OHLC (high >= max(open, close), low <= min)."""
    rng = np.random.default_rng(seed)
    close = start * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = np.concatenate(([start], close[:-1]))
    spread = np.abs(rng.normal(0.0, 0.004, n)) * close
    high = np.maximum(open_, close) + spread
    low = np.minimum(open_, close) - spread
    times = T0 + HOUR_MS * np.arange(n, dtype=np.int64)
    return CandleSeries.from_arrays(BTCUSDT, Timeframe.H1, times, open_, high, low, close, rng.uniform(1, 10, n))


def ref_sma(values: list[float], period: int) -> list[float]:
    out = [math.nan] * len(values)
    for t in range(period - 1, len(values)):
        out[t] = sum(values[t - period + 1 : t + 1]) / period
    return out


def ref_smooth(values: list[float], period: int, alpha: float, first: int = 0) -> list[float]:
    """TA-Lib style recursive smoothing: seeded at ``first + period - 1`` with the simple mean."""
    out = [math.nan] * len(values)
    seed_at = first + period - 1
    if len(values) <= seed_at:
        return out
    prev = sum(values[first : seed_at + 1]) / period
    out[seed_at] = prev
    for t in range(seed_at + 1, len(values)):
        prev = alpha * values[t] + (1.0 - alpha) * prev
        out[t] = prev
    return out


def ref_ema(values: list[float], period: int) -> list[float]:
    return ref_smooth(values, period, 2.0 / (period + 1))


def ref_true_range(high: list[float], low: list[float], close: list[float]) -> list[float]:
    out = [math.nan]
    for t in range(1, len(high)):
        out.append(max(high[t] - low[t], abs(high[t] - close[t - 1]), abs(low[t] - close[t - 1])))
    return out


def ref_atr(high: list[float], low: list[float], close: list[float], period: int) -> list[float]:
    return ref_smooth(ref_true_range(high, low, close), period, 1.0 / period, first=1)
