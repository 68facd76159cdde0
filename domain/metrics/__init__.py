"""Performance metrics as pure functions over an equity curve and a trade ledger, and the tracker that
accumulates both for backtest and live.

Conventions (those of empyrical / quantstats, the oracles in tests): returns are simple per-bar returns of
the equity curve; the risk-free rate is 0; annualisation uses the timeframe's bars per 365-day year;
drawdowns are negative fractions; Sharpe and volatility use the sample standard deviation (ddof=1).
Undefined figures are NaN, never an exception. See :func:`compute_metrics` for the units of each metric.
"""

from __future__ import annotations

from domain.metrics.errors import InvalidMetricsInput
from domain.metrics.performance import METRICS, MetricSpec, compute_metrics
from domain.metrics.returns import (
    alpha_beta,
    annual_volatility,
    annualized_return,
    buy_and_hold_return,
    cagr,
    calmar_ratio,
    conditional_value_at_risk,
    current_drawdown,
    downside_deviation,
    drawdown_series,
    excess_kurtosis,
    max_drawdown,
    max_drawdown_duration,
    recovery_factor,
    returns_of,
    sharpe_ratio,
    skewness,
    sortino_ratio,
    tail_ratio,
    total_return,
    ulcer_index,
    value_at_risk,
)
from domain.metrics.tracker import PerformanceTracker
from domain.metrics.trade_stats import longest_run, trade_metrics

__all__ = [
    "METRICS",
    "InvalidMetricsInput",
    "MetricSpec",
    "PerformanceTracker",
    "alpha_beta",
    "annual_volatility",
    "annualized_return",
    "buy_and_hold_return",
    "cagr",
    "calmar_ratio",
    "compute_metrics",
    "conditional_value_at_risk",
    "current_drawdown",
    "downside_deviation",
    "drawdown_series",
    "excess_kurtosis",
    "longest_run",
    "max_drawdown",
    "max_drawdown_duration",
    "recovery_factor",
    "returns_of",
    "sharpe_ratio",
    "skewness",
    "sortino_ratio",
    "tail_ratio",
    "total_return",
    "trade_metrics",
    "ulcer_index",
    "value_at_risk",
]
