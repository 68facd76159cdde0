"""``ensemble_weighted``: several signal generators vote, weighted; the ensemble trades the consensus.

Members are the registered signal generators (``ema_crossover``, ``momentum``) and ``ml``, the model's
prediction signal (:class:`domain.strategies.ml.PredictionSignal`, default settings): an ensemble with an
``ml`` member needs predictions of the ``model_type`` model, which the application supplies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from domain.model.candles import CandleSeries, FloatArray
from domain.model.errors import InvalidParameter
from domain.strategies.base import Signals
from domain.strategies.components import GENERATORS, SignalFrame, SignalGenerator, StopRule, compose, weighted_vote
from domain.strategies.ml import PredictionSignal, check_model_type, require_predictions

ML_MEMBER = PredictionSignal.name
MAX_WEIGHT = 1000.0
"""The largest |weight| of a member (negative: a contrarian vote): weights are relative, so a bound costs
nothing and keeps the vote finite."""


def parse_members(text: str) -> list[tuple[str, float]]:
    """``"ema_crossover:2,momentum:1"`` -> [("ema_crossover", 2.0), ("momentum", 1.0)]; weight 1 if omitted."""
    members = []
    known = sorted([*GENERATORS, ML_MEMBER])
    for item in text.split(","):
        name, _, weight = item.strip().partition(":")
        if name not in GENERATORS and name != ML_MEMBER:
            raise InvalidParameter(f"unknown signal generator {name!r}; available: {', '.join(known)}")
        try:
            value = float(weight) if weight else 1.0
        except ValueError:
            raise InvalidParameter(f"weight of {name} is not a number: {weight!r}") from None
        if not (math.isfinite(value) and abs(value) <= MAX_WEIGHT):
            raise InvalidParameter(
                f"weight of {name} must be a finite number in [-{MAX_WEIGHT:g}, {MAX_WEIGHT:g}], got {weight!r}"
            )
        members.append((name, value))
    if not members:
        raise InvalidParameter("an ensemble needs at least one member")
    return members


@dataclass(frozen=True, slots=True)
class EnsembleWeightedParams:
    members: str = "ema_crossover:1,momentum:1"  # generator:weight, comma separated (default parameters each)
    threshold: float = 0.5  # consensus score needed to hold a position (0..1)
    atr_period: int = 14
    atr_stop: float = 3.0
    size: float = 1.0
    short: bool = False
    model_type: str = "basic"  # the model whose predictions an `ml` member reads

    def __post_init__(self) -> None:
        parse_members(self.members)
        if not 0 < self.threshold <= 1:
            raise InvalidParameter("threshold must be in (0, 1]")
        if not 0 < self.size <= 1:
            raise InvalidParameter("size must be in (0, 1]")
        StopRule(self.atr_period, self.atr_stop)
        check_model_type(self.model_type)


@dataclass(frozen=True, slots=True)
class EnsembleWeighted:
    """Long (or short) while the weighted vote of its members reaches ``threshold``; each member votes
    its direction times its confidence. The ensemble's confidence (|score|) goes to confidence sizers."""

    name: ClassVar[str] = "ensemble_weighted"
    version: ClassVar[str] = "1.1.0"
    description: ClassVar[str] = "weighted vote of signal generators (any registered, the ML model's included)"
    params: EnsembleWeightedParams = EnsembleWeightedParams()

    def generators(self) -> list[tuple[SignalGenerator, float]]:
        """The candle-only members (the ``ml`` member is :meth:`ml_member`)."""
        return [
            (GENERATORS[name](short=self.params.short), w)  # type: ignore[call-arg]
            for name, w in parse_members(self.params.members)
            if name != ML_MEMBER
        ]

    def ml_member(self) -> tuple[PredictionSignal, float] | None:
        weights = [w for name, w in parse_members(self.params.members) if name == ML_MEMBER]
        return (PredictionSignal(short=self.params.short), sum(weights)) if weights else None

    @property
    def model_type(self) -> str | None:
        """The model this ensemble needs predictions from (None without an ``ml`` member)."""
        return self.params.model_type if self.ml_member() is not None else None

    @property
    def warmup(self) -> int:
        return max([g.warmup for g, _ in self.generators()] + [self.params.atr_period + 1])

    def signals(self, candles: CandleSeries, predictions: FloatArray | None = None) -> Signals:
        p = self.params
        frames: list[SignalFrame] = []
        weights: list[float] = []
        for generator, weight in self.generators():
            frames.append(generator.generate(candles))
            weights.append(weight)
        ml = self.ml_member()
        if ml is not None:
            values = require_predictions(f"{self.name} with an {ML_MEMBER} member", candles, predictions)
            frames.append(ml[0].generate(candles, values))
            weights.append(ml[1])
        frame = weighted_vote(frames, weights, p.threshold)
        return compose(frame, candles, StopRule(p.atr_period, p.atr_stop), p.size, warmup=self.warmup)
