"""Small builders for hand-made market data in tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from domain.model.candles import CandleSeries
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe
from domain.strategies.api import Context

HOUR_MS = 3_600_000
T0 = 1_600_000_000_000 - (1_600_000_000_000 % HOUR_MS)  # 2020-09-13 12:00 UTC, on an hour boundary


def series_from_rows(
    rows: list[tuple[float, float, float, float]],
    symbol: str = "BTCUSDT",
    volume: float = 1.0,
    start_ms: int = T0,
) -> CandleSeries:
    """Hourly candles from (open, high, low, close) rows."""
    arr = np.array(rows, dtype=np.float64)
    times = start_ms + HOUR_MS * np.arange(len(rows), dtype=np.int64)
    return CandleSeries.from_arrays(
        Symbol.parse(symbol),
        Timeframe.H1,
        times,
        arr[:, 0],
        arr[:, 1],
        arr[:, 2],
        arr[:, 3],
        np.full(len(rows), volume),
    )


def random_walk(n: int, seed: int = 7, start: float = 100.0, symbol: str = "BTCUSDT") -> CandleSeries:
    """A seeded geometric random walk with consistent OHLC."""
    rng = np.random.default_rng(seed)
    close = start * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate(([start], close[:-1]))
    spread = np.abs(rng.normal(0, 0.004, n)) * close
    high = np.maximum(open_, close) + spread
    low = np.minimum(open_, close) - spread
    times = T0 + HOUR_MS * np.arange(n, dtype=np.int64)
    return CandleSeries.from_arrays(
        Symbol.parse(symbol), Timeframe.H1, times, open_, high, low, close, rng.uniform(1, 10, n)
    )


def stand_in_context(strategy: Any, candles: CandleSeries) -> Context:
    """The context a strategy gets in engine tests: nothing for a strategy without a model; else a causal
    stand-in for a model (the last four bars' return, scaled, plus seeded noise) and a slow sentiment wave."""
    if strategy.model_type is None:
        return Context()
    close = candles.close
    past = np.full(len(close), np.nan)
    past[4:] = close[4:] / close[:-4] - 1.0
    noise = np.random.default_rng(sum(map(ord, strategy.model_type))).normal(0.0, 0.004, len(close))
    sentiment = 50.0 + 40.0 * np.sin(np.arange(len(close)) / 90.0)
    return Context(predictions=0.5 * past + noise, sentiment=sentiment)
