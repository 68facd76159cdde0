"""``ml_sentiment``: ``ml_basic``'s rules on the predictions of the price + sentiment model.

The ``{SYMBOL}/sentiment`` model reads the Fear & Greed index beside the price features; the application
supplies its predictions. Same parameters and rules as ``ml_basic``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from domain.model.candles import CandleSeries, FloatArray
from domain.strategies.base import Signals
from domain.strategies.ml import require_predictions
from domain.strategies.ml_basic import MlParams, ml_signals


@dataclass(frozen=True, slots=True)
class MlSentiment:
    """Long while the price + sentiment model predicts a high enough next-bar return; size by confidence."""

    name: ClassVar[str] = "ml_sentiment"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = "price + Fear & Greed model: ml_basic's rules on the sentiment model"
    params: MlParams = field(default_factory=MlParams)

    @property
    def model_type(self) -> str:
        return "sentiment"

    @property
    def warmup(self) -> int:
        return self.params.warmup

    def signals(self, candles: CandleSeries, predictions: FloatArray | None = None) -> Signals:
        p = self.params
        score = p.generator.score(require_predictions(self.name, candles, predictions))
        return ml_signals(p, candles, score, p.entry, p.exit)
