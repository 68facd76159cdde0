"""The regime vocabulary shared by the detector, the risk manager and the reports."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Trend(Enum):
    UP = "up"
    DOWN = "down"
    SIDEWAYS = "sideways"


class Volatility(Enum):
    LOW = "low"
    HIGH = "high"


@dataclass(frozen=True, slots=True)
class Regime:
    """One bar's regime, e.g. ``Regime(Trend.DOWN, Volatility.HIGH)``; ``str`` gives ``down/high``."""

    trend: Trend
    volatility: Volatility

    def __str__(self) -> str:
        return f"{self.trend.value}/{self.volatility.value}"

    @classmethod
    def parse(cls, text: str) -> Regime:
        trend, _, vol = text.partition("/")
        return cls(Trend(trend), Volatility(vol))
