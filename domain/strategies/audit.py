"""Look-ahead audit: a strategy's decision at bar t must not change when bars after t are removed.

A predictive strategy (one with a ``model_type``) is audited with predictions aligned to the candles:
given ones, else seeded synthetic ones (:func:`domain.strategies.ml.synthetic_predictions`). Each prefix
gets the predictions of its own bars only, so a strategy that read ``predictions[t + 1]`` at bar ``t`` is
caught like one that read ``close[t + 1]``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from domain.model.candles import CandleSeries
from domain.strategies.base import Signals
from domain.strategies.ml import synthetic_predictions
from domain.strategies.strategy import Context, Strategy


def row(signals: Signals, t: int) -> tuple[object, ...]:
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


def same(a: tuple[object, ...], b: tuple[object, ...]) -> bool:
    for x, y in zip(a, b, strict=True):
        if isinstance(x, float) and isinstance(y, float):
            if not (x == y or (np.isnan(x) and np.isnan(y))):
                return False
        elif x != y:
            return False
    return True


def audit_context(strategy: Strategy, candles: CandleSeries, context: Context | None = None) -> Context:
    """The context an audit runs ``strategy`` with: the one given, else synthetic predictions for a strategy
    that reads a model's (seeded, so an audit is repeatable)."""
    if context is None:
        context = Context()
    if context.predictions is None and strategy.model_type is not None:
        context = Context(synthetic_predictions(len(candles)), context.sentiment, context.regime)
    return context


def lookahead_bars(
    strategy: Strategy, candles: CandleSeries, ends: Iterable[int], context: Context | None = None
) -> list[int]:
    """Bars ``t = end - 1`` whose decision computed on ``candles[:end]`` differs from the one computed on the
    whole history. An honest (causal) strategy returns ``[]``.

    ``context`` (aligned with the candles) is cut like them; a predictive strategy without predictions in it
    gets synthetic ones.
    """
    context = audit_context(strategy, candles, context)
    full = strategy.signals(candles, context)
    leaks = []
    for end in ends:
        t = end - 1
        prefix = strategy.signals(candles.slice(0, end), context.window(0, end))
        if not same(row(prefix, t), row(full, t)):
            leaks.append(t)
    return leaks
