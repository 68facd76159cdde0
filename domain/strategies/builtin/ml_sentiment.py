"""``ml_sentiment``: ``ml_basic``'s rules on the predictions of the price + sentiment model.

The ``{SYMBOL}/sentiment`` model reads the Fear & Greed index beside the price features; the application
supplies its predictions. Same parameters and rules as ``ml_basic``: only the model differs.
"""

from __future__ import annotations

from domain.strategies.builtin.ml_basic import MlBasic


class MlSentiment(MlBasic):
    """Long while the price + sentiment model predicts a high enough next-bar return; size by confidence."""

    name = "ml_sentiment"
    version = "1.0.0"
    description = "price + Fear & Greed model: ml_basic's rules on the sentiment model"

    @property
    def model_type(self) -> str | None:
        return "sentiment"
