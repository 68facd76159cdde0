"""The metric catalogue (:data:`METRICS`) and :func:`compute_metrics`, which fills it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from domain.metrics.errors import InvalidMetricsInput
from domain.metrics.returns import (
    DAY_MS,
    alpha_beta,
    annual_volatility,
    annualized_return,
    buy_and_hold_return,
    cagr,
    calmar_ratio,
    conditional_value_at_risk,
    current_drawdown,
    drawdown_series,
    max_drawdown,
    max_drawdown_duration,
    recovery_factor,
    returns_of,
    running_peak,
    shape_of,
    sharpe_ratio,
    sortino_ratio,
    tail_ratio_of,
    tails,
    total_return,
    ulcer_index,
)
from domain.metrics.trade_stats import trade_metrics
from domain.model.candles import FloatArray, IntArray
from domain.model.trades import Trade

NAN = math.nan


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """How to present a metric: its label and its kind (``pct``, ``ratio``, ``money``, ``count``).

    ``pct`` values are fractions (0.05 is 5 %), ``money`` is in the quote currency; a ``ratio`` with a unit
    names it in its label (days, hours).
    """

    key: str
    label: str
    kind: str


METRICS: tuple[MetricSpec, ...] = (
    # returns
    MetricSpec("total_return", "Total return", "pct"),
    MetricSpec("net_profit", "Net profit", "money"),
    MetricSpec("annualized_return", "Annualized return (arithmetic)", "pct"),
    MetricSpec("cagr", "CAGR", "pct"),
    MetricSpec("buy_and_hold_return", "Buy & hold return", "pct"),
    MetricSpec("alpha", "Alpha (annualized)", "pct"),
    MetricSpec("beta", "Beta", "ratio"),
    # risk
    MetricSpec("annual_volatility", "Annual volatility", "pct"),
    MetricSpec("sharpe", "Sharpe", "ratio"),
    MetricSpec("sortino", "Sortino", "ratio"),
    MetricSpec("calmar", "Calmar", "ratio"),
    MetricSpec("max_drawdown", "Max drawdown", "pct"),
    MetricSpec("max_drawdown_duration", "Max drawdown duration (days)", "ratio"),
    MetricSpec("current_drawdown", "Current drawdown", "pct"),
    MetricSpec("ulcer_index", "Ulcer index", "pct"),
    MetricSpec("recovery_factor", "Recovery factor", "ratio"),
    MetricSpec("var_95", "VaR 95% (per bar)", "pct"),
    MetricSpec("cvar_95", "CVaR 95% (per bar)", "pct"),
    MetricSpec("tail_ratio", "Tail ratio", "ratio"),
    MetricSpec("skew", "Skew", "ratio"),
    MetricSpec("kurtosis", "Excess kurtosis", "ratio"),
    # trades
    MetricSpec("trades", "Trades", "count"),
    MetricSpec("trades_per_day", "Trades per day", "ratio"),
    MetricSpec("win_rate", "Win rate", "pct"),
    MetricSpec("profit_factor", "Profit factor", "ratio"),
    MetricSpec("expectancy", "Expectancy (per trade)", "money"),
    MetricSpec("avg_trade_return", "Avg trade return", "pct"),
    MetricSpec("avg_win", "Avg win", "money"),
    MetricSpec("avg_loss", "Avg loss", "money"),
    MetricSpec("payoff_ratio", "Payoff ratio", "ratio"),
    MetricSpec("largest_win", "Largest win", "money"),
    MetricSpec("largest_loss", "Largest loss", "money"),
    MetricSpec("max_consecutive_wins", "Max consecutive wins", "count"),
    MetricSpec("max_consecutive_losses", "Max consecutive losses", "count"),
    MetricSpec("kelly_fraction", "Kelly fraction", "pct"),
    MetricSpec("avg_trade_duration", "Avg trade duration (hours)", "ratio"),
    MetricSpec("avg_mfe", "Avg MFE", "pct"),
    MetricSpec("avg_mae", "Avg MAE", "pct"),
    # exposure and costs
    MetricSpec("exposure_time", "Time in market", "pct"),
    MetricSpec("avg_exposure", "Avg exposure", "pct"),
    MetricSpec("total_fees", "Fees paid", "money"),
    MetricSpec("total_slippage", "Slippage paid", "money"),
    MetricSpec("final_equity", "Final equity", "money"),
)


def _same_length(name: str, values: IntArray | FloatArray, n: int) -> None:
    if values.shape != (n,):
        raise InvalidMetricsInput(f"{name} has shape {values.shape}, the equity curve {n} marks")


def compute_metrics(
    equity: FloatArray,
    trades: Sequence[Trade],
    periods_per_year: float,
    fees_paid: float,
    benchmark_close: FloatArray | None = None,
    *,
    open_time: IntArray | None = None,
    exposure: FloatArray | None = None,
    slippage_paid: float = 0.0,
) -> dict[str, float]:
    """Every metric of :data:`METRICS`, by key and in its order. Undefined figures are NaN.

    ``equity`` is marked at each bar's close, the first mark being the equity before anything filled;
    ``open_time`` (UTC ms, one per mark) dates the marks for the per-day figures and the drawdown duration
    (without it a bar lasts ``365 / periods_per_year`` days); ``exposure`` is each mark's gross exposure as
    a fraction of equity (0 when flat; without it the exposure figures are NaN). ``fees_paid`` and
    ``slippage_paid`` count every fill, including those of a position still open at the end.
    ``benchmark_close`` gives buy-and-hold and, when it has one close per mark, alpha and beta against
    its per-bar returns.

    Conventions: ``annualized_return`` is the arithmetic mean per-bar return x ``periods_per_year``,
    ``cagr`` the geometric one (empyrical's ``annual_return``); ``var_95``/``cvar_95`` are historical, on
    per-bar returns, as (usually negative) fractions; ``ulcer_index`` is a fraction (x100 for Martin's
    percent points); ``max_drawdown_duration`` is in days and ``avg_trade_duration`` in hours.

    Raises :class:`InvalidMetricsInput` when ``open_time`` or ``exposure`` do not have one value per mark.
    """
    e = np.asarray(equity, dtype=np.float64)
    n = e.size
    t: IntArray | None = None
    if open_time is not None:
        t = np.asarray(open_time, dtype=np.int64)
        _same_length("open_time", t, n)
    x: FloatArray | None = None
    if exposure is not None:
        x = np.asarray(exposure, dtype=np.float64)
        _same_length("exposure", x, n)
        if bool(np.any(x < 0)):  # gross exposure is never negative; a signed one counts by its size
            x = np.abs(x)
    ppy = float(periods_per_year)
    r = returns_of(e)

    bench = None if benchmark_close is None else np.asarray(benchmark_close, dtype=np.float64)
    alpha, beta = NAN, NAN
    if bench is not None and bench.shape == e.shape:
        alpha, beta = alpha_beta(r, returns_of(bench), ppy)

    if n < 2:
        span_days = NAN
    elif t is not None:
        span_days = float(t[-1] - t[0]) / DAY_MS
    else:
        span_days = (n - 1) * 365.0 / ppy
    ledger = trade_metrics(trades)
    peak = running_peak(e)  # shared by the drawdown figures (one pass over the curve, not four)
    dd = drawdown_series(e, peak)
    p5, p95 = tails(r)  # VaR 95 is the 5th percentile (value_at_risk(r, 0.05)); the tail ratio uses both
    skew, kurtosis = shape_of(r)
    trades_per_day = ledger["trades"] / span_days if span_days > 0 else NAN

    by_key = {
        "total_return": total_return(e),
        "net_profit": float(e[-1] - e[0]) if n else NAN,
        "annualized_return": annualized_return(r, ppy),
        "cagr": cagr(e, ppy),
        "buy_and_hold_return": buy_and_hold_return(bench) if bench is not None else NAN,
        "alpha": alpha,
        "beta": beta,
        "annual_volatility": annual_volatility(r, ppy),
        "sharpe": sharpe_ratio(r, ppy),
        "sortino": sortino_ratio(r, ppy),
        "calmar": calmar_ratio(e, ppy, dd),
        "max_drawdown": max_drawdown(e, dd),
        "max_drawdown_duration": max_drawdown_duration(e, ppy, t, peak),
        "current_drawdown": current_drawdown(e),
        "ulcer_index": ulcer_index(e, dd),
        "recovery_factor": recovery_factor(e, peak),
        "var_95": p5,
        "cvar_95": conditional_value_at_risk(r, 0.05),
        "tail_ratio": tail_ratio_of(p5, p95),
        "skew": skew,
        "kurtosis": kurtosis,
        **ledger,
        "trades_per_day": trades_per_day,
        "exposure_time": float(np.mean(x > 0)) if x is not None and n else NAN,
        "avg_exposure": float(np.mean(x)) if x is not None and n else NAN,
        "total_fees": float(fees_paid),
        "total_slippage": float(slippage_paid),
        "final_equity": float(e[-1]) if n else NAN,
    }
    return {spec.key: by_key[spec.key] for spec in METRICS}
