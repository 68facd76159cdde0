"""``ema_trend``: a slow trend follower. Long while a fast EMA is above a slow one, with an ATR stop."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from domain.model.candles import CandleSeries
from domain.model.errors import InvalidParameter
from domain.strategies.base import ExitRules, Signals
from domain.strategies.components import EmaCrossover, StopRule, compose


@dataclass(frozen=True, slots=True)
class EmaTrendParams:
    fast: int = 50  # bars of the fast EMA
    slow: int = 200  # bars of the slow EMA
    atr_period: int = 14
    atr_stop: float = 3.0  # stop distance in ATRs below the entry decision's close (0 disables it)
    size: float = 1.0  # fraction of equity committed by an entry
    trailing_atr: float = 0.0  # trail the stop this many ATRs below each bar's high (0: fixed stop)
    break_even: float = 0.0  # move the stop to the entry once price is this fraction above it (0: never)
    take_profit: float = 0.0  # take part of the position this fraction above the entry decision (0: never)
    take_profit_size: float = 0.5  # the part taken at take_profit

    def __post_init__(self) -> None:
        if not 1 <= self.fast < self.slow:
            raise InvalidParameter(f"fast ({self.fast}) must be at least 1 and below slow ({self.slow})")
        if self.atr_period < 1:
            raise InvalidParameter("atr_period must be at least 1")
        if not self.atr_stop >= 0 or self.atr_stop == float("inf"):  # also refuses NaN
            raise InvalidParameter("atr_stop must be a finite number >= 0")
        if not 0 < self.size <= 1:
            raise InvalidParameter("size must be in (0, 1]")
        if not 0 < self.take_profit_size <= 1:
            raise InvalidParameter("take_profit_size must be in (0, 1]")

    @property
    def exits(self) -> ExitRules:
        """Exit management built from the parameters (validated by ExitRules)."""
        take_profits = ((self.take_profit, self.take_profit_size),) if self.take_profit > 0 else ()
        return ExitRules(take_profits=take_profits, trailing_atr=self.trailing_atr, break_even=self.break_even)


@dataclass(frozen=True, slots=True)
class EmaTrend:
    """Enter long when EMA(fast) crosses above EMA(slow); leave when it crosses back below or the
    ATR stop is hit. After a stop-out it waits for the next upward cross."""

    name: ClassVar[str] = "ema_trend"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = "EMA fast/slow trend following, long only, with an ATR stop"
    params: EmaTrendParams = EmaTrendParams()

    @property
    def warmup(self) -> int:
        return max(self.params.slow, self.params.atr_period + 1)

    def signals(self, candles: CandleSeries) -> Signals:
        p = self.params
        frame = EmaCrossover(p.fast, p.slow).generate(candles)
        stop = StopRule(atr_period=p.atr_period, atr_stop=p.atr_stop)
        return compose(frame, candles, stop, p.size, p.exits, warmup=self.warmup)
