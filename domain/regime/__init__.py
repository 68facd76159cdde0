"""Market regimes: trend (up, down, sideways) x volatility (low, high), per bar and causal."""

from domain.regime.detector import REGIMES, UNDEFINED, RegimeParams, RegimeSeries, detect
from domain.regime.types import Regime, Trend, Volatility

__all__ = ["REGIMES", "UNDEFINED", "Regime", "RegimeParams", "RegimeSeries", "Trend", "Volatility", "detect"]
