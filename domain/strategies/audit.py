"""Look-ahead audit: a strategy's decision at bar t must not change when bars after t are removed.

A predictive strategy (one with a ``model_type``) is audited with predictions aligned to the candles:
given ones, else seeded synthetic ones (:func:`domain.strategies.ml.synthetic_predictions`). Each prefix
gets the predictions of its own bars only, so a strategy that read ``predictions[t + 1]`` at bar ``t`` is
caught like one that read ``close[t + 1]``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from domain.model.candles import CandleSeries, FloatArray
from domain.strategies.base import Signals, Strategy
from domain.strategies.ml import model_type_of, synthetic_predictions


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


def _signals(strategy: Strategy, candles: CandleSeries, predictions: FloatArray | None) -> Signals:
    if predictions is None:
        return strategy.signals(candles)
    return strategy.signals(candles, predictions[: len(candles)])  # type: ignore[call-arg]


def lookahead_bars(
    strategy: Strategy, candles: CandleSeries, ends: Iterable[int], predictions: FloatArray | None = None
) -> list[int]:
    """Bars ``t = end - 1`` whose decision computed on ``candles[:end]`` differs from the one computed on the
    whole history. An honest (causal) strategy returns ``[]``.

    ``predictions`` (one per candle) feed a predictive strategy; without them it gets synthetic ones.
    """
    if predictions is None and model_type_of(strategy) is not None:
        predictions = synthetic_predictions(len(candles))
    full = _signals(strategy, candles, predictions)
    leaks = []
    for end in ends:
        t = end - 1
        prefix = _signals(strategy, candles.slice(0, end), predictions)
        if not _same(_row(prefix, t), _row(full, t)):
            leaks.append(t)
    return leaks
