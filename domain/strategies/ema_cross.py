"""``ema_cross``: the textbook EMA crossover, long only, with a fixed percentage stop-loss.

Kept deliberately plain: it is the strategy atb is checked against backtesting.py with, trade by trade.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from domain.indicators import ema
from domain.model.candles import CandleSeries
from domain.model.errors import InvalidParameter
from domain.strategies.base import ExitRules, Signals, crossings


@dataclass(frozen=True, slots=True)
class EmaCrossParams:
    fast: int = 12
    slow: int = 26
    stop_loss: float = 0.02  # fraction below the deciding close (0 disables the stop)
    size: float = 1.0  # fraction of equity committed by an entry
    trailing_stop: float = 0.0  # trail the stop this fraction below the highest high since entry (0: fixed)

    def __post_init__(self) -> None:
        if not 1 <= self.fast < self.slow:
            raise InvalidParameter(f"fast ({self.fast}) must be at least 1 and below slow ({self.slow})")
        if not (math.isfinite(self.stop_loss) and 0 <= self.stop_loss < 1):
            raise InvalidParameter("stop_loss must be a fraction in [0, 1)")
        if not 0 < self.size <= 1:
            raise InvalidParameter("size must be in (0, 1]")
        ExitRules(trailing_pct=self.trailing_stop)  # validates it


@dataclass(frozen=True, slots=True)
class EmaCross:
    """Buy when EMA(fast) crosses above EMA(slow), sell when it crosses below; stop ``stop_loss`` below."""

    name: ClassVar[str] = "ema_cross"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = "EMA(12)/EMA(26) crossover, long only, fixed percentage stop-loss"
    params: EmaCrossParams = EmaCrossParams()

    @property
    def warmup(self) -> int:
        return self.params.slow

    def signals(self, candles: CandleSeries) -> Signals:
        p = self.params
        close = candles.close
        up, down = crossings(ema(close, p.fast), ema(close, p.slow), self.warmup)
        n = close.shape[0]
        stop = close * p.stop_loss if p.stop_loss > 0 else np.full(n, np.nan)
        no = np.zeros(n, dtype=np.bool_)
        exits = ExitRules(trailing_pct=p.trailing_stop)
        return Signals(up, down, no, no.copy(), stop, np.full(n, p.size), self.warmup, exits=exits)
