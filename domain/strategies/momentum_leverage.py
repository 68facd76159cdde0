"""``momentum_leverage``: momentum with leverage, filtered by the market regime (experimental).

Long while the rate of change over ``period`` bars is above ``threshold`` and the regime is not a down
trend (short on the mirror condition when ``short``); the position is ``leverage`` x equity on a margin
account, protected by an ATR stop that trails. The regime filter keeps it out of falling markets, and the
risk manager's regime caps cut its exposure further in high volatility.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from domain.model.candles import CandleSeries
from domain.model.errors import InvalidParameter
from domain.regime.detector import DOWN, UP, detect
from domain.strategies.base import ExitRules, Signals
from domain.strategies.components import Momentum, SignalFrame, StopRule, compose


@dataclass(frozen=True, slots=True)
class MomentumLeverageParams:
    period: int = 72  # bars of the rate of change (3 days of hourly bars)
    threshold: float = 0.03  # momentum needed to hold a position
    leverage: float = 2.0  # notional per unit of equity (the account must allow it)
    atr_period: int = 14
    atr_stop: float = 3.0
    trailing_atr: float = 4.0
    regime_filter: bool = True
    short: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.leverage <= 10:
            raise InvalidParameter("leverage must be in (0, 10]")
        Momentum(self.period, self.threshold)
        StopRule(self.atr_period, self.atr_stop)
        ExitRules(trailing_atr=self.trailing_atr)


@dataclass(frozen=True, slots=True)
class MomentumLeverage:
    name: ClassVar[str] = "momentum_leverage"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = "momentum with leverage and a regime filter (experimental)"
    params: MomentumLeverageParams = MomentumLeverageParams()

    @property
    def warmup(self) -> int:
        return max(self.params.period, self.params.atr_period + 1)

    @property
    def account_leverage(self) -> float:
        """The leverage this strategy is designed for: a backtest's default account leverage."""
        return max(1.0, self.params.leverage)

    @property
    def risk_overrides(self) -> dict[str, object]:
        """Leverage needs room in the exposure caps; the per-trade risk cap keeps the stop honest."""
        lev = self.params.leverage
        return {"max_position": lev, "max_gross_exposure": lev, "max_risk_per_trade": 0.04}

    def signals(self, candles: CandleSeries) -> Signals:
        p = self.params
        frame = Momentum(p.period, p.threshold, p.short).generate(candles)
        direction = frame.direction
        if p.regime_filter:
            trend = detect(candles).trend
            direction = direction.copy()
            direction[(direction == 1) & (trend == DOWN)] = 0
            direction[(direction == -1) & (trend == UP)] = 0
            direction = direction.astype(np.int8)
        filtered = SignalFrame(direction, frame.confidence, frame.warmup)
        exits = ExitRules(trailing_atr=p.trailing_atr)
        return compose(filtered, candles, StopRule(p.atr_period, p.atr_stop), p.leverage, exits, warmup=self.warmup)
