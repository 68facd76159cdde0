"""``ml_basic``: trade a price-only model's next-bar return predictions.

Long from the bar where the predicted next-bar return reaches ``entry`` until it falls below ``exit``
(hysteresis; while it holds, a stopped-out position is re-entered); the entry commits ``size`` x the
prediction's confidence (``|prediction| / scale``, at least ``min_size``); an ATR stop protects each entry,
as in ``ema_trend``. The predictions come from the model registry's ``{SYMBOL}/basic`` model, supplied by the
application (the strategy itself stays pure).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from domain.model.candles import CandleSeries, FloatArray
from domain.model.errors import InvalidParameter
from domain.strategies.base import Signals
from domain.strategies.components import SignalFrame, StopRule, compose
from domain.strategies.ml import PredictionSignal, check_thresholds, hysteresis, require_predictions


@dataclass(frozen=True, slots=True)
class MlParams:
    """Parameters shared by the ML strategies. Thresholds are predicted next-bar returns (0.001 = 0.1%)."""

    entry: float = 0.0015  # enter long when the prediction reaches this (the one-way cost: 10 bps fee + 5 slippage)
    exit: float = 0.0  # leave when it falls below this (in (-entry, entry])
    scale: float = 0.003  # the prediction at which confidence reaches 1 (a round trip's cost)
    smooth: int = 1  # EMA span over the predictions before thresholds apply (1: raw)
    size: float = 1.0  # fraction of equity at full confidence
    min_size: float = 0.25  # fraction of `size` committed however low the confidence (0..1)
    atr_period: int = 14
    atr_stop: float = 3.0  # protective stop in ATRs below the entry decision's close (0: none)

    def __post_init__(self) -> None:
        check_thresholds(self.entry, self.exit, self.scale, self.smooth)
        if not 0 < self.size <= 1:
            raise InvalidParameter("size must be in (0, 1]")
        if not 0 <= self.min_size <= 1:
            raise InvalidParameter("min_size must be in [0, 1]")
        StopRule(self.atr_period, self.atr_stop)

    @property
    def generator(self) -> PredictionSignal:
        return PredictionSignal(self.entry, self.exit, self.scale, self.smooth)

    @property
    def warmup(self) -> int:
        return self.atr_period + 1


def ml_signals(
    p: MlParams,
    candles: CandleSeries,
    score: FloatArray,
    entry: FloatArray | float,
    exit_: FloatArray | float,
    size_factor: FloatArray | float = 1.0,
    warmup: int | None = None,
) -> Signals:
    """Signals from a (smoothed) prediction score and per-bar thresholds: hysteresis direction, confidence,
    sizes ``size x max(confidence, min_size) x size_factor``, the ATR stop.

    Entries are level-triggered: every bar in the long state asks for a long position (the engine acts on it
    only when flat), so a position stopped out while the model still expects a rise is re-entered, and a
    backtest starting while the model is already bullish enters at its first bar. Exits are the bars where the
    long state ends.
    """
    generator = p.generator
    direction = hysteresis(score, entry, exit_)
    frame = SignalFrame(direction, generator.confidence(score), generator.warmup)
    signals = compose(frame, candles, StopRule(p.atr_period, p.atr_stop), p.size, warmup=warmup or p.warmup)
    long_entry = direction == 1
    long_entry[: signals.warmup] = False
    confidence = frame.confidence
    sizes = p.size * np.clip(confidence, p.min_size, 1.0) * size_factor
    return Signals(
        long_entry, signals.long_exit, signals.short_entry, signals.short_exit, signals.stop_distance,
        sizes, signals.warmup, exits=signals.exits, atr=signals.atr, confidence=confidence,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class MlBasic:
    """Long while the price-only model predicts a high enough next-bar return; size by confidence."""

    name: ClassVar[str] = "ml_basic"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = "price-only model: long above a predicted next-bar return, size by confidence"
    params: MlParams = field(default_factory=MlParams)

    @property
    def model_type(self) -> str:
        return "basic"

    @property
    def warmup(self) -> int:
        return self.params.warmup

    def signals(self, candles: CandleSeries, predictions: FloatArray | None = None) -> Signals:
        p = self.params
        score = p.generator.score(require_predictions(self.name, candles, predictions))
        return ml_signals(p, candles, score, p.entry, p.exit)
