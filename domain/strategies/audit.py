"""Look-ahead audit: a strategy's decision at bar t must not change when bars after t are removed."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from domain.model.candles import CandleSeries
from domain.strategies.base import Signals, Strategy


def _row(signals: Signals, t: int) -> tuple[object, ...]:
    """Everything a strategy decides at bar ``t`` (NaN-safe for comparisons)."""
    confidence = 1.0 if signals.confidence is None else float(signals.confidence[t])
    atr = np.nan if signals.atr is None else float(signals.atr[t])
    return (
        *signals.at(t),
        float(signals.stop_distance[t]),
        float(signals.size[t]),
        confidence,
        atr,
    )


def _same(a: tuple[object, ...], b: tuple[object, ...]) -> bool:
    for x, y in zip(a, b, strict=True):
        if isinstance(x, float) and isinstance(y, float):
            if not (x == y or (np.isnan(x) and np.isnan(y))):
                return False
        elif x != y:
            return False
    return True


def lookahead_bars(strategy: Strategy, candles: CandleSeries, ends: Iterable[int]) -> list[int]:
    """Bars ``t = end - 1`` whose decision computed on ``candles[:end]`` differs from the one computed on the
    whole history. An honest (causal) strategy returns ``[]``."""
    full = strategy.signals(candles)
    leaks = []
    for end in ends:
        t = end - 1
        prefix = strategy.signals(candles.slice(0, end))
        if not _same(_row(prefix, t), _row(full, t)):
            leaks.append(t)
    return leaks
