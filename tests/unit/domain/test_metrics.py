"""Performance metrics against independent formulas (statistics module, hand calculations, empyrical)."""

from __future__ import annotations

import math
import statistics

import empyrical
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.metrics import (
    METRICS,
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
from domain.model.trades import Direction, Trade
from tests.unit.domain.helpers import BTCUSDT

returns_lists = st.lists(st.floats(-0.2, 0.2, allow_nan=False), min_size=2, max_size=60).filter(
    lambda r: statistics.stdev(r) > 1e-6
)
ppys = st.sampled_from([365.0, 8760.0, 2190.0, 52.0])


def trade(pnl: float) -> Trade:
    return Trade(BTCUSDT, Direction.LONG, 0, 1, 100.0, 100.0 + pnl, 1.0, 0.0, pnl)


def test_returns_of_and_total_return():
    equity = np.array([100.0, 110.0, 99.0, 198.0])
    np.testing.assert_allclose(returns_of(equity), [0.1, -0.1, 1.0])
    assert total_return(equity) == pytest.approx(0.98)


@settings(max_examples=200, deadline=None)
@given(returns_lists, ppys)
def test_sharpe_is_mean_over_sample_std_annualised(returns, ppy):
    expected = statistics.fmean(returns) / statistics.stdev(returns) * math.sqrt(ppy)
    assert sharpe_ratio(np.array(returns), ppy) == pytest.approx(expected, rel=1e-9, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(returns_lists, ppys)
def test_annual_volatility_is_sample_std_annualised(returns, ppy):
    expected = statistics.stdev(returns) * math.sqrt(ppy)
    assert annual_volatility(np.array(returns), ppy) == pytest.approx(expected, rel=1e-9)


@settings(max_examples=200, deadline=None)
@given(returns_lists.filter(lambda r: min(r) < -1e-6), ppys)
def test_sortino_uses_downside_deviation_over_all_periods(returns, ppy):
    downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in returns) / len(returns))
    expected = statistics.fmean(returns) / downside * math.sqrt(ppy)
    assert sortino_ratio(np.array(returns), ppy) == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_sortino_hand_made():
    r = np.array([0.1, -0.1, 0.05, -0.05])
    downside = math.sqrt((0.01 + 0.0025) / 4)
    assert sortino_ratio(r, 4.0) == pytest.approx(0.0 / downside)
    r = np.array([0.2, -0.1])
    assert sortino_ratio(r, 1.0) == pytest.approx(0.05 / math.sqrt(0.01 / 2))


def test_undefined_ratios():
    assert math.isnan(sharpe_ratio(np.array([0.0, 0.0, 0.0]), 365))  # no dispersion
    assert math.isnan(sharpe_ratio(np.array([0.01]), 365))
    assert math.isnan(sortino_ratio(np.array([0.01, 0.02]), 365))  # no downside
    assert annual_volatility(np.array([0.05]), 365) == 0.0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(1.0, 1e6, allow_nan=False), min_size=1, max_size=60))
def test_max_drawdown_matches_a_loop(equity):
    peak, worst = equity[0], 0.0
    for x in equity:
        peak = max(peak, x)
        worst = min(worst, x / peak - 1.0)
    assert max_drawdown(np.array(equity)) == pytest.approx(worst, abs=1e-12)
    assert -1.0 < max_drawdown(np.array(equity)) <= 0.0


def test_max_drawdown_hand_made():
    assert max_drawdown(np.array([100.0, 120.0, 90.0, 130.0, 65.0])) == -0.5
    assert max_drawdown(np.array([100.0, 120.0, 90.0, 130.0])) == pytest.approx(-0.25)
    assert max_drawdown(np.array([1.0, 2.0, 3.0])) == 0.0


def test_cagr_of_a_curve_doubling_in_one_year_of_daily_bars():
    days = np.arange(366, dtype=np.float64)
    equity = 100.0 * 2.0 ** (days / 365.0)
    assert cagr(equity, 365.0) == pytest.approx(1.0, rel=1e-12)
    # only the end points matter
    bumpy = equity.copy()
    bumpy[100:200] *= 0.5
    assert cagr(bumpy, 365.0) == pytest.approx(1.0, rel=1e-12)


def test_cagr_over_two_years_and_half_a_year():
    two_years = np.linspace(100.0, 400.0, 731)  # x4 in two years -> x2 a year
    assert cagr(two_years, 365.0) == pytest.approx(1.0)
    half = np.linspace(100.0, 110.0, 183)  # +10 % in 182 days
    assert cagr(half, 365.0) == pytest.approx(1.1 ** (365 / 182) - 1.0)
    assert cagr(np.array([100.0]), 365.0) == 0.0
    assert cagr(np.array([100.0, 0.0]), 365.0) == -1.0


def test_buy_and_hold():
    assert buy_and_hold_return(np.array([50.0, 10.0, 75.0])) == pytest.approx(0.5)


def test_compute_metrics_with_trades():
    equity = np.array([100.0, 110.0, 104.5, 114.95])
    pnls = [10.0, -5.0, 20.0, 0.0, -15.0]
    m = compute_metrics(equity, [trade(p) for p in pnls], 365.0, 3.25, np.array([10.0, 12.0, 9.0]))
    assert list(m) == [spec.key for spec in METRICS]
    assert m["trades"] == 5
    assert m["win_rate"] == pytest.approx(2 / 5)  # a break-even trade is not a win
    assert m["profit_factor"] == pytest.approx(30 / 20)
    assert m["total_fees"] == 3.25
    assert m["final_equity"] == 114.95
    assert m["total_return"] == pytest.approx(0.1495)
    assert m["buy_and_hold_return"] == pytest.approx(-0.1)
    r = [0.1, -0.05, 0.1]
    assert m["sharpe"] == pytest.approx(statistics.fmean(r) / statistics.stdev(r) * math.sqrt(365))
    assert m["annual_volatility"] == pytest.approx(statistics.stdev(r) * math.sqrt(365))
    assert m["max_drawdown"] == pytest.approx(-0.05)
    assert m["cagr"] == pytest.approx(1.1495 ** (365 / 3) - 1.0)


def test_compute_metrics_edge_cases():
    equity = np.array([100.0, 101.0, 102.0])
    only_wins = compute_metrics(equity, [trade(1.0), trade(2.0)], 365.0, 0.0)
    assert only_wins["profit_factor"] == math.inf
    assert only_wins["win_rate"] == 1.0
    assert math.isnan(only_wins["buy_and_hold_return"])
    none = compute_metrics(equity, [], 365.0, 0.0)
    assert none["trades"] == 0
    assert math.isnan(none["win_rate"])
    assert math.isnan(none["profit_factor"])
    only_losses = compute_metrics(equity, [trade(-1.0)], 365.0, 0.0)
    assert only_losses["profit_factor"] == 0.0
    assert only_losses["win_rate"] == 0.0


def test_trade_properties():
    t = Trade(BTCUSDT, Direction.SHORT, 1_000, 4_000, 100.0, 90.0, 2.0, 1.0, 19.0)
    assert t.gross_pnl == pytest.approx(20.0)
    assert t.return_pct == pytest.approx(19.0 / 200.0)
    assert t.duration_ms == 3_000
    assert t.is_win


def test_against_empyrical():
    rng = np.random.default_rng(11)
    returns = rng.normal(0.0005, 0.02, 500)
    equity = 1000.0 * np.concatenate(([1.0], np.cumprod(1.0 + returns)))
    ppy = 365.0
    assert sharpe_ratio(returns, ppy) == pytest.approx(empyrical.sharpe_ratio(returns, annualization=ppy), rel=1e-9)
    assert sortino_ratio(returns, ppy) == pytest.approx(empyrical.sortino_ratio(returns, annualization=ppy), rel=1e-9)
    assert annual_volatility(returns, ppy) == pytest.approx(
        empyrical.annual_volatility(returns, annualization=ppy), rel=1e-9
    )
    assert max_drawdown(equity) == pytest.approx(empyrical.max_drawdown(returns), rel=1e-9)
