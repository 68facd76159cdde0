"""``ensemble_weighted``: several signal generators vote, weighted; the ensemble trades the consensus."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from domain.model.candles import CandleSeries
from domain.model.errors import InvalidParameter
from domain.strategies.base import Signals
from domain.strategies.components import GENERATORS, SignalGenerator, StopRule, compose, weighted_vote


def parse_members(text: str) -> list[tuple[str, float]]:
    """``"ema_crossover:2,momentum:1"`` -> [("ema_crossover", 2.0), ("momentum", 1.0)]; weight 1 if omitted."""
    members = []
    for item in text.split(","):
        name, _, weight = item.strip().partition(":")
        if name not in GENERATORS:
            raise InvalidParameter(f"unknown signal generator {name!r}; available: {', '.join(sorted(GENERATORS))}")
        try:
            members.append((name, float(weight) if weight else 1.0))
        except ValueError:
            raise InvalidParameter(f"weight of {name} is not a number: {weight!r}") from None
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

    def __post_init__(self) -> None:
        parse_members(self.members)
        if not 0 < self.threshold <= 1:
            raise InvalidParameter("threshold must be in (0, 1]")
        if not 0 < self.size <= 1:
            raise InvalidParameter("size must be in (0, 1]")
        StopRule(self.atr_period, self.atr_stop)


@dataclass(frozen=True, slots=True)
class EnsembleWeighted:
    """Long (or short) while the weighted vote of its members reaches ``threshold``; each member votes
    its direction times its confidence. The ensemble's confidence (|score|) goes to confidence sizers."""

    name: ClassVar[str] = "ensemble_weighted"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = "weighted vote of signal generators (any registered, ML ones included)"
    params: EnsembleWeightedParams = EnsembleWeightedParams()

    def generators(self) -> list[tuple[SignalGenerator, float]]:
        return [(GENERATORS[name](short=self.params.short), w) for name, w in parse_members(self.params.members)]  # type: ignore[call-arg]

    @property
    def warmup(self) -> int:
        return max([g.warmup for g, _ in self.generators()] + [self.params.atr_period + 1])

    def signals(self, candles: CandleSeries) -> Signals:
        p = self.params
        members = self.generators()
        frame = weighted_vote([g.generate(candles) for g, _ in members], [w for _, w in members], p.threshold)
        return compose(frame, candles, StopRule(p.atr_period, p.atr_stop), p.size, warmup=self.warmup)
