"""Model-driven strategies: what they are, and the signal generator they share.

A predictive strategy trades on a model's predictions of the next bar's return. It stays pure: the
application resolves the model, builds the features, predicts every window in one batch and hands the
strategy one prediction per bar (``predictions[t]`` is the prediction made at bar ``t``'s close from the
window ending at ``t``; NaN where the model has no window yet). The strategy turns them into signals with
the same causal rules as any other: the decision at bar ``t`` reads ``predictions[: t + 1]`` only.

:class:`PredictionSignal` is the generator: long while the (optionally smoothed) prediction is above an
entry threshold, flat again once it falls below an exit threshold (hysteresis, so a prediction hovering
around one level does not flip the position every bar); confidence grows with the size of the prediction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from domain.indicators import ema
from domain.model.candles import CandleSeries, FloatArray
from domain.model.errors import InvalidParameter
from domain.strategies.components import Int8Array, SignalFrame

ML_MODEL_TYPES = ("basic", "sentiment")
"""The model types a predictive strategy can ask for (the registry's ``{SYMBOL}/{TYPE}`` level)."""


def model_type_of(strategy: object) -> str | None:
    """The model type ``strategy`` needs predictions from, or None for a strategy that needs none (a
    strategy declares it as its ``model_type``; see :class:`domain.strategies.strategy.Strategy`)."""
    value = getattr(strategy, "model_type", None)
    return value if isinstance(value, str) else None


def check_model_type(model_type: str) -> None:
    if model_type not in ML_MODEL_TYPES:
        raise InvalidParameter(f"model_type must be one of {', '.join(ML_MODEL_TYPES)}, got {model_type!r}")


def require_predictions(name: str, candles: CandleSeries, predictions: FloatArray | None) -> FloatArray:
    """``predictions`` as float64, checked to hold one value per candle."""
    if predictions is None:
        raise InvalidParameter(
            f"{name} trades on model predictions; run it through a backtest, which supplies them from the model "
            "registry"
        )
    values = np.asarray(predictions, dtype=np.float64)
    if values.shape != (len(candles),):
        raise InvalidParameter(
            f"{name} needs one prediction per bar: got shape {values.shape} for {len(candles)} bars"
        )
    return values


def smooth_predictions(predictions: FloatArray, span: int) -> FloatArray:
    """An EMA of ``span`` bars over the predictions (``span`` 1: unchanged), causal.

    The EMA starts at the first prediction and runs over the contiguous stretch of predictions after it; a
    NaN inside (no prediction that bar) restarts it, so a hole never leaks a stale value forward.
    """
    if span <= 1:
        return predictions.copy()
    out = np.full(predictions.shape[0], np.nan)
    valid = ~np.isnan(predictions)
    edges = np.flatnonzero(np.diff(np.concatenate(([False], valid, [False])).astype(np.int8)))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        out[start:stop] = _ema_from_first(predictions[start:stop], span)
    return out


def _ema_from_first(values: FloatArray, span: int) -> FloatArray:
    """An EMA seeded with the first value (not a warm-up mean), so it exists from the first bar on:
    :func:`domain.indicators.ema` seeds with the mean of the first ``span`` values, so prepend ``span - 1``
    copies of the first value (their mean with it is that value)."""
    padded = np.concatenate((np.full(span - 1, values[0]), values))
    return ema(padded, span)[span - 1 :]


def hysteresis(
    score: FloatArray, entry: FloatArray | float, exit_: FloatArray | float, short: bool = False
) -> Int8Array:
    """Direction from a score with two thresholds per bar (vectorised, causal).

    Long (+1) from a bar where ``score >= entry`` until a bar where ``score < exit_`` (or NaN); with
    ``short``, short (-1) from ``score <= -entry`` until ``score > -exit_``. Needs ``-entry < exit_ <= entry``
    so that long and short never hold at once.
    """
    n = score.shape[0]
    with np.errstate(invalid="ignore"):
        missing = np.isnan(score)
        long_state = _latch(score >= entry, (score < exit_) | missing, n)
        if not short:
            return long_state.astype(np.int8)
        short_state = _latch(score <= -np.asarray(entry), (score > -np.asarray(exit_)) | missing, n)
    return (long_state.astype(np.int8) - short_state.astype(np.int8)).astype(np.int8)


def _latch(on: np.ndarray, off: np.ndarray, n: int) -> np.ndarray:
    """A set/reset latch: on at ``on`` bars, off at ``off`` bars (``on`` wins a tie), else the last state."""
    decided = on | off
    last = np.where(decided, np.arange(n), -1)
    np.maximum.accumulate(last, out=last)
    state = np.zeros(n, dtype=np.bool_)
    seen = last >= 0
    state[seen] = on[last[seen]]
    return state


@dataclass(frozen=True, slots=True)
class PredictionSignal:
    """Direction from next-bar return predictions: long from ``prediction >= entry`` until
    ``prediction < exit`` (mirror for shorts with ``short``); ``smooth`` > 1 averages the predictions
    with an EMA of that many bars first. Confidence is ``|prediction| / scale`` clipped to [0, 1].

    Thresholds and ``scale`` are in the model's target units (a next-bar return: 0.001 = 0.1%).
    """

    name: ClassVar[str] = "ml"
    entry: float = 0.0015
    exit: float = 0.0
    scale: float = 0.003
    smooth: int = 1
    short: bool = False

    def __post_init__(self) -> None:
        check_thresholds(self.entry, self.exit, self.scale, self.smooth)

    @property
    def warmup(self) -> int:
        return 1

    def score(self, predictions: FloatArray) -> FloatArray:
        """The predictions as the generator reads them (smoothed when ``smooth`` > 1)."""
        return smooth_predictions(predictions, self.smooth)

    def confidence(self, score: FloatArray) -> FloatArray:
        return np.clip(np.nan_to_num(np.abs(score)) / self.scale, 0.0, 1.0)

    def generate(self, candles: CandleSeries, predictions: FloatArray) -> SignalFrame:
        values = require_predictions(self.name, candles, predictions)
        score = self.score(values)
        direction = hysteresis(score, self.entry, self.exit, self.short)
        return SignalFrame(direction, self.confidence(score), self.warmup)


def check_thresholds(entry: float, exit_: float, scale: float, smooth: int) -> None:
    """Validate a prediction generator's settings (shared by the ML strategies' parameters)."""
    for name, value in (("entry", entry), ("exit", exit_), ("scale", scale)):
        if not np.isfinite(value):
            raise InvalidParameter(f"{name} must be a finite number")
    if not entry > 0:
        raise InvalidParameter("entry must be above 0 (a predicted next-bar return)")
    if not -entry < exit_ <= entry:
        raise InvalidParameter(f"exit must be in (-entry, entry], got exit={exit_:g} with entry={entry:g}")
    if not scale > 0:
        raise InvalidParameter("scale must be above 0")
    if smooth < 1:
        raise InvalidParameter("smooth must be at least 1 bar")


def synthetic_predictions(n: int, seed: int = 0, spread: float = 0.003, warmup: int | None = None) -> FloatArray:
    """Seeded stand-in predictions for checks that need some (the look-ahead audit): a slowly wandering
    normal series of standard deviation ``spread``, NaN on the first ``warmup`` bars (default n // 10)."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, spread, n)
    drift = np.convolve(rng.normal(0.0, spread, n + 23), np.ones(24) / np.sqrt(24), mode="valid")[:n]
    values = 0.5 * noise + 0.5 * drift
    values[: n // 10 if warmup is None else warmup] = np.nan
    return values
