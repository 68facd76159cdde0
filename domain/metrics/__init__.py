"""Performance metrics as pure functions over an equity curve and a trade ledger.

Conventions (those of empyrical / quantstats, the oracles in tests): returns are simple per-bar returns of
the equity curve; the risk-free rate is 0; annualisation uses the timeframe's bars per 365-day year;
drawdowns are negative fractions; Sharpe and volatility use the sample standard deviation (ddof=1).
"""

from __future__ import annotations

from domain.metrics.performance import (
    METRICS,
    MetricSpec,
    annual_volatility,
    buy_and_hold_return,
    cagr,
    compute_metrics,
    max_drawdown,
    returns_of,
    sharpe_ratio,
    sortino_ratio,
    total_return,
)

__all__ = [
    "METRICS",
    "MetricSpec",
    "annual_volatility",
    "buy_and_hold_return",
    "cagr",
    "compute_metrics",
    "max_drawdown",
    "returns_of",
    "sharpe_ratio",
    "sortino_ratio",
    "total_return",
]
