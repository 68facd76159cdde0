"""``ml_adaptive``: ``ml_basic`` with thresholds and sizes set by the market regime.

The regime detector (``domain/regime``, causal) gives each bar a trend (up, sideways, down) and a
volatility (low, high). The entry and exit thresholds are multiplied by the trend's factor: below 1 in an
up trend (the model needs less conviction to ride a rising market), above 1 in a down trend (it needs
more); sizes are multiplied by ``high_vol_size`` in high volatility. Before the detector has warmed up,
bars count as sideways and low volatility.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from domain.model.candles import CandleSeries, FloatArray
from domain.model.errors import InvalidParameter
from domain.regime.detector import DOWN, HIGH, UP, RegimeParams, detect
from domain.strategies.base import Signals
from domain.strategies.ml import check_thresholds, require_predictions
from domain.strategies.ml_basic import MlParams, ml_signals


@dataclass(frozen=True, slots=True)
class MlAdaptiveParams:
    entry: float = 0.0015  # base entry threshold (predicted next-bar return; see MlParams)
    exit: float = 0.0  # base exit threshold
    scale: float = 0.003  # the prediction at which confidence reaches 1 (a round trip's cost)
    smooth: int = 1
    size: float = 1.0
    min_size: float = 0.25
    atr_period: int = 14
    atr_stop: float = 3.0
    up_factor: float = 0.5  # thresholds x this in an up trend
    sideways_factor: float = 1.0  # ... in a sideways market (and before the detector warms up)
    down_factor: float = 2.0  # ... in a down trend
    high_vol_size: float = 0.5  # sizes x this in high volatility

    def __post_init__(self) -> None:
        self.base  # noqa: B018  (validates the shared parameters)
        for name in ("up_factor", "sideways_factor", "down_factor"):
            value = getattr(self, name)
            if not (value > 0 and np.isfinite(value)):
                raise InvalidParameter(f"{name} must be a finite number above 0")
            check_thresholds(self.entry * value, self.exit * value, self.scale, self.smooth)
        if not 0 < self.high_vol_size <= 1:
            raise InvalidParameter("high_vol_size must be in (0, 1]")

    @property
    def base(self) -> MlParams:
        return MlParams(
            self.entry, self.exit, self.scale, self.smooth, self.size, self.min_size, self.atr_period, self.atr_stop
        )


@dataclass(frozen=True, slots=True)
class MlAdaptive:
    """``ml_basic`` whose thresholds follow the trend regime and whose sizes shrink in high volatility."""

    name: ClassVar[str] = "ml_adaptive"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = "price-only model with regime-dependent thresholds and sizes"
    params: MlAdaptiveParams = MlAdaptiveParams()

    @property
    def model_type(self) -> str:
        return "basic"

    @property
    def warmup(self) -> int:
        # the regime's warm-up too, so a backtest keeps enough bars before its start for the detector
        return max(self.params.base.warmup, RegimeParams().warmup)

    def factors(self, candles: CandleSeries) -> tuple[FloatArray, FloatArray]:
        """Per bar: the threshold multiplier (by trend) and the size multiplier (by volatility)."""
        p = self.params
        regime = detect(candles)
        threshold = np.where(
            regime.trend == UP, p.up_factor, np.where(regime.trend == DOWN, p.down_factor, p.sideways_factor)
        )
        size = np.where(regime.volatility == HIGH, p.high_vol_size, 1.0)
        return threshold.astype(np.float64), size.astype(np.float64)

    def signals(self, candles: CandleSeries, predictions: FloatArray | None = None) -> Signals:
        base = self.params.base
        score = base.generator.score(require_predictions(self.name, candles, predictions))
        threshold, size = self.factors(candles)
        return ml_signals(base, candles, score, base.entry * threshold, base.exit * threshold, size, self.warmup)
