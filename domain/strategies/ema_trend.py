"""``ema_trend``: a slow trend follower. Long while a fast EMA is above a slow one, with an ATR stop."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from domain.indicators import atr, ema
from domain.model.candles import CandleSeries
from domain.model.errors import InvalidParameter
from domain.strategies.base import Signals, crossings


@dataclass(frozen=True, slots=True)
class EmaTrendParams:
    fast: int = 50  # bars of the fast EMA
    slow: int = 200  # bars of the slow EMA
    atr_period: int = 14
    atr_stop: float = 3.0  # stop distance in ATRs below the entry decision's close (0 disables it)
    size: float = 1.0  # fraction of equity committed by an entry

    def __post_init__(self) -> None:
        if not 1 <= self.fast < self.slow:
            raise InvalidParameter(f"fast ({self.fast}) must be at least 1 and below slow ({self.slow})")
        if self.atr_period < 1:
            raise InvalidParameter("atr_period must be at least 1")
        if not self.atr_stop >= 0 or self.atr_stop == float("inf"):  # also refuses NaN
            raise InvalidParameter("atr_stop must be a finite number >= 0")
        if not 0 < self.size <= 1:
            raise InvalidParameter("size must be in (0, 1]")


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
        close = candles.close
        n = close.shape[0]
        cross_up, cross_down = crossings(ema(close, p.fast), ema(close, p.slow), self.warmup)
        if p.atr_stop > 0:
            stop_distance = atr(candles.high, candles.low, close, p.atr_period) * p.atr_stop
        else:
            stop_distance = np.full(n, np.nan)
        no = np.zeros(n, dtype=np.bool_)
        return Signals(cross_up, cross_down, no, no.copy(), stop_distance, np.full(n, p.size), self.warmup)
