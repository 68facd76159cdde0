"""Return, risk and trade metrics."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from domain.model.candles import FloatArray
from domain.model.trades import Trade


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """How to present a metric: its label and its kind (``pct``, ``ratio``, ``money``, ``count``)."""

    key: str
    label: str
    kind: str


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("total_return", "Total return", "pct"),
    MetricSpec("cagr", "CAGR", "pct"),
    MetricSpec("annual_volatility", "Annual volatility", "pct"),
    MetricSpec("max_drawdown", "Max drawdown", "pct"),
    MetricSpec("sharpe", "Sharpe", "ratio"),
    MetricSpec("sortino", "Sortino", "ratio"),
    MetricSpec("trades", "Trades", "count"),
    MetricSpec("win_rate", "Win rate", "pct"),
    MetricSpec("profit_factor", "Profit factor", "ratio"),
    MetricSpec("total_fees", "Fees paid", "money"),
    MetricSpec("final_equity", "Final equity", "money"),
    MetricSpec("buy_and_hold_return", "Buy & hold return", "pct"),
)


def returns_of(equity: FloatArray) -> FloatArray:
    """Simple per-bar returns of an equity curve (length ``len(equity) - 1``)."""
    return np.asarray(equity[1:] / equity[:-1] - 1.0, dtype=np.float64)


def total_return(equity: FloatArray) -> float:
    return float(equity[-1] / equity[0] - 1.0)


def cagr(equity: FloatArray, periods_per_year: float) -> float:
    """Compound annual growth over ``len(equity) - 1`` periods."""
    periods = equity.shape[0] - 1
    if periods <= 0 or equity[0] <= 0:
        return 0.0
    ratio = equity[-1] / equity[0]
    if ratio <= 0:
        return -1.0
    return float(ratio ** (periods_per_year / periods) - 1.0)


def annual_volatility(returns: FloatArray, periods_per_year: float) -> float:
    if returns.shape[0] < 2:
        return 0.0
    return float(np.std(returns, ddof=1) * math.sqrt(periods_per_year))


def sharpe_ratio(returns: FloatArray, periods_per_year: float) -> float:
    """Mean over sample standard deviation of returns, annualised (risk-free rate 0); NaN if undefined."""
    if returns.shape[0] < 2:
        return math.nan
    sd = float(np.std(returns, ddof=1))
    return float(np.mean(returns) / sd * math.sqrt(periods_per_year)) if sd > 0 else math.nan


def sortino_ratio(returns: FloatArray, periods_per_year: float) -> float:
    """Annualised mean return over annualised downside deviation (target 0, over all periods)."""
    if returns.shape[0] < 2:
        return math.nan
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
    if downside == 0:
        return math.nan
    return float(np.mean(returns) * periods_per_year / (downside * math.sqrt(periods_per_year)))


def max_drawdown(equity: FloatArray) -> float:
    """Deepest fall from a running peak, as a negative fraction (0 when equity never fell)."""
    peaks = np.maximum.accumulate(equity)
    return float(np.min(equity / peaks - 1.0))


def buy_and_hold_return(close: FloatArray) -> float:
    """Return of holding the asset from the first close to the last (no fees)."""
    return float(close[-1] / close[0] - 1.0)


def compute_metrics(
    equity: FloatArray,
    trades: Sequence[Trade],
    periods_per_year: float,
    fees_paid: float,
    benchmark_close: FloatArray | None = None,
) -> dict[str, float]:
    """Every metric of :data:`METRICS`, by key. ``equity`` is marked at each bar's close; ``fees_paid``
    counts every fill, including those of a position still open at the end."""
    returns = returns_of(equity)
    pnls = np.array([t.pnl for t in trades], dtype=np.float64)
    wins = pnls[pnls > 0]
    losses = pnls[pnls < 0]
    gross_loss = float(-losses.sum())
    if gross_loss > 0:
        profit_factor = float(wins.sum()) / gross_loss
    else:
        profit_factor = math.inf if wins.size else math.nan
    return {
        "total_return": total_return(equity),
        "cagr": cagr(equity, periods_per_year),
        "annual_volatility": annual_volatility(returns, periods_per_year),
        "max_drawdown": max_drawdown(equity),
        "sharpe": sharpe_ratio(returns, periods_per_year),
        "sortino": sortino_ratio(returns, periods_per_year),
        "trades": float(len(trades)),
        "win_rate": float(wins.size / pnls.size) if pnls.size else math.nan,
        "profit_factor": profit_factor,
        "total_fees": float(fees_paid),
        "final_equity": float(equity[-1]),
        "buy_and_hold_return": buy_and_hold_return(benchmark_close) if benchmark_close is not None else math.nan,
    }
