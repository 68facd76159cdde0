"""``ml_basic``: trade a price-only model's next-bar return predictions.

Long from the bar where the predicted next-bar return reaches ``entry`` until it falls below ``exit``
(hysteresis; while it holds, a stopped-out position is re-entered); the entry commits ``size`` x the
prediction's confidence (``|prediction| / scale``, at least ``min_size``); an ATR stop protects each entry,
as in ``ema_trend``. The predictions come from the model registry's ``{SYMBOL}/basic`` model, supplied by the
application (the strategy itself stays pure).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from domain.model.candles import CandleSeries, FloatArray
from domain.model.errors import InvalidParameter
from domain.strategies.api import (
    Context,
    Param,
    PredictionSignal,
    SignalFrame,
    Signals,
    StopRule,
    Strategy,
    compose,
    hysteresis,
    require_predictions,
)
from domain.strategies.ml import check_thresholds


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


class MlBasic(Strategy):
    """Long while the price-only model predicts a high enough next-bar return; size by confidence."""

    name = "ml_basic"
    version = "1.0.0"
    description = "price-only model: long above a predicted next-bar return, size by confidence"

    entry = Param(0.0015, low=1e-9, high=1.0, help="enter long when the prediction reaches this")
    exit = Param(0.0, low=-1.0, high=1.0, help="leave when it falls below this (in (-entry, entry])")
    scale = Param(0.003, low=1e-9, high=1.0, help="the prediction at which confidence reaches 1")
    smooth = Param(1, low=1, high=500, help="EMA span over the predictions before thresholds apply (1: raw)")
    size = Param(1.0, low=0.01, high=1.0, help="fraction of equity at full confidence")
    min_size = Param(0.25, low=0.0, high=1.0, help="fraction of `size` committed however low the confidence")
    atr_period = Param(14, low=1, high=500, help="bars of the ATR")
    atr_stop = Param(3.0, low=0.0, high=50.0, help="protective stop in ATRs below the entry decision's close (0: none)")

    def validate(self) -> None:
        self.base  # noqa: B018  (validates the shared parameters)

    @property
    def base(self) -> MlParams:
        """The parameters as the shared ML rules (:func:`ml_signals`) read them."""
        return MlParams(
            self.entry, self.exit, self.scale, self.smooth, self.size, self.min_size, self.atr_period, self.atr_stop
        )

    @property
    def model_type(self) -> str | None:
        return "basic"

    @property
    def warmup(self) -> int:
        return self.base.warmup

    @property
    def history_bars(self) -> int:
        # The ATR's seed weighs (1 - 1/atr_period)^k: ~280 bars to 1e-9 at 14 (what the check tolerates on the
        # stop distance). The hysteresis latch decides from the last bar beyond a threshold: no finite window is
        # right for predictions that stay between exit and entry longer than it. Measured (synthetic predictions,
        # every bar of the bundled BTC, ETH, XRP 1h): no disagreement from 400 bars on (300: 2 bars differ).
        return max(1000, 40 * int(self.atr_period), 40 * int(self.smooth))

    def signals(self, candles: CandleSeries, context: Context) -> Signals:
        p = self.base
        score = p.generator.score(require_predictions(self.name, candles, context.predictions))
        return ml_signals(p, candles, score, p.entry, p.exit)
