"""Market regimes: trend (up, down, sideways) x volatility (low, high), per bar and causal."""

from domain.regime.types import Regime, Trend, Volatility

__all__ = ["Regime", "Trend", "Volatility"]
