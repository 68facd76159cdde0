"""Performance metrics against independent formulas (statistics module, hand calculations, empyrical)."""

from __future__ import annotations

import math
import statistics
import warnings

import empyrical
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.metrics import (
    METRICS,
    InvalidMetricsInput,
    annual_volatility,
    buy_and_hold_return,
    cagr,
    calmar_ratio,
    compute_metrics,
    max_drawdown,
    max_drawdown_duration,
    returns_of,
    sharpe_ratio,
    sortino_ratio,
    total_return,
)
from domain.metrics.returns import percentiles
from domain.model.errors import DomainError
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
    assert math.isnan(annual_volatility(np.array([0.05]), 365))  # one return has no sample deviation
    assert math.isnan(sharpe_ratio(np.full(5, 0.01), 365))  # constant returns: no dispersion


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
    assert math.isnan(cagr(np.array([100.0]), 365.0))  # no period to annualise over
    assert cagr(np.array([100.0, 0.0]), 365.0) == -1.0
    assert cagr(np.array([100.0, 50.0, 0.0, 0.0]), 365.0) == -1.0


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


# ---------------------------------------------------------------------------------------------------------------
# The catalogue and compute_metrics over hand-made curves

REQUIRED_KEYS = (
    "total_return",
    "annualized_return",
    "cagr",
    "annual_volatility",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "max_drawdown_duration",
    "current_drawdown",
    "var_95",
    "cvar_95",
    "trades",
    "win_rate",
    "profit_factor",
    "expectancy",
    "avg_win",
    "avg_loss",
    "payoff_ratio",
    "largest_win",
    "largest_loss",
    "max_consecutive_wins",
    "max_consecutive_losses",
    "avg_trade_duration",
    "exposure_time",
    "trades_per_day",
    "total_fees",
    "total_slippage",
    "kelly_fraction",
    "ulcer_index",
    "recovery_factor",
    "tail_ratio",
    "skew",
    "kurtosis",
    "alpha",
    "beta",
    "buy_and_hold_return",
    "avg_mfe",
    "avg_mae",
    "final_equity",
)
DAY_MS = 86_400_000
HOUR_MS = 3_600_000


def quietly(fn, *args, **kwargs):
    """Call ``fn`` turning every warning (divide by zero, mean of empty slice...) into a failure."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*args, **kwargs)


def test_catalogue_lists_every_metric_once_with_a_known_kind():
    keys = [spec.key for spec in METRICS]
    assert len(keys) == len(set(keys))
    assert set(REQUIRED_KEYS) <= set(keys)
    assert len(keys) >= 40
    assert {spec.kind for spec in METRICS} <= {"pct", "ratio", "money", "count"}
    assert all(spec.label and spec.key == spec.key.lower() for spec in METRICS)
    m = compute_metrics(np.array([100.0, 101.0, 99.0]), [], 365.0, 0.0)
    assert list(m) == keys
    assert all(isinstance(v, float) for v in m.values())


# peak 120 at bar 1, back to 120 at bar 4; peak 130 at bar 5, still under it at the end (bar 7)
CURVE = np.array([100.0, 120.0, 90.0, 100.0, 120.0, 130.0, 110.0, 125.0])


def test_drawdown_figures_of_a_hand_made_curve():
    m = compute_metrics(CURVE, [], 365.0, 0.0)
    assert m["max_drawdown"] == pytest.approx(-0.25)
    assert m["current_drawdown"] == pytest.approx(125 / 130 - 1)
    assert m["max_drawdown_duration"] == pytest.approx(3.0)  # bars 1 -> 4, a day each
    dd = [0, 0, -30 / 120, -20 / 120, 0, 0, -20 / 130, -5 / 130]
    assert m["ulcer_index"] == pytest.approx(math.sqrt(sum(d * d for d in dd) / len(dd)))
    assert m["recovery_factor"] == pytest.approx(25 / 30)  # net profit 25 over the 30 lost from 120 to 90
    assert m["net_profit"] == pytest.approx(25.0)
    assert m["final_equity"] == 125.0
    assert m["calmar"] == pytest.approx(m["cagr"] / 0.25)


def test_drawdown_duration_follows_open_time_and_the_bar_length():
    hours = np.array([0, 1, 2, 3, 10, 11, 12, 40], dtype=np.int64)
    m = compute_metrics(CURVE, [], 8760.0, 0.0, open_time=hours * HOUR_MS)
    # first episode 1 h -> 10 h (9 h), second 11 h -> 40 h still open (29 h): the gap makes the second longer
    assert m["max_drawdown_duration"] == pytest.approx(29 / 24)
    # without times an hourly bar lasts 365 / 8760 days: the first episode (3 bars) is the longest
    assert compute_metrics(CURVE, [], 8760.0, 0.0)["max_drawdown_duration"] == pytest.approx(3 / 24)


def test_drawdown_duration_of_simple_curves():
    assert max_drawdown_duration(np.array([1.0, 2.0, 3.0]), 365.0) == 0.0
    assert max_drawdown_duration(np.array([5.0]), 365.0) == 0.0
    assert math.isnan(max_drawdown_duration(np.array([]), 365.0))
    # never recovers: from the first mark to the last
    assert max_drawdown_duration(np.array([10.0, 9.0, 8.0, 9.5]), 365.0) == pytest.approx(3.0)
    # equal to the peak is a recovery, a new high after it starts the clock again
    assert max_drawdown_duration(np.array([10.0, 9.0, 10.0, 11.0, 10.5, 11.0]), 365.0) == pytest.approx(2.0)
    assert max_drawdown_duration(np.array([10.0, 9.0, 10.0, 11.0, 10.5, 11.0]), 52.0) == pytest.approx(2 * 365 / 52)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=40))
def test_drawdown_duration_matches_a_loop(values):
    equity = np.array(values, dtype=np.float64)
    longest, peak, peak_at, under = 0, equity[0], 0, False
    for i, x in enumerate(equity):
        if x >= peak:
            if under:  # back at the peak: the drawdown lasted until now
                longest, under = max(longest, i - peak_at), False
            peak, peak_at = x, i
        else:
            under = True
            longest = max(longest, i - peak_at)
    assert max_drawdown_duration(equity, 365.0) == pytest.approx(float(longest))


def test_exposure_and_trade_frequency():
    equity = np.linspace(100.0, 110.0, 49)  # 48 hourly bars: two days
    exposure = np.zeros(49)
    exposure[10:20] = 1.0
    exposure[30:36] = -0.5  # a short: gross exposure counts its size
    trades = [trade(1.0), trade(-1.0), trade(2.0)]
    times = HOUR_MS * np.arange(49, dtype=np.int64)
    m = compute_metrics(equity, trades, 8760.0, 0.0, open_time=times, exposure=exposure, slippage_paid=1.25)
    assert m["exposure_time"] == pytest.approx(16 / 49)
    assert m["avg_exposure"] == pytest.approx((10 * 1.0 + 6 * 0.5) / 49)
    assert m["trades_per_day"] == pytest.approx(3 / 2)
    assert m["total_slippage"] == 1.25
    without_times = compute_metrics(equity, trades, 8760.0, 0.0)
    assert without_times["trades_per_day"] == pytest.approx(3 / 2)
    assert math.isnan(without_times["exposure_time"])  # unknown without the exposure series
    assert math.isnan(without_times["avg_exposure"])
    assert without_times["total_slippage"] == 0.0


def test_alpha_and_beta_of_a_leveraged_copy_of_the_benchmark():
    rng = np.random.default_rng(5)
    bench_returns = rng.normal(0.0, 0.01, 200)
    close = 50.0 * np.concatenate(([1.0], np.cumprod(1.0 + bench_returns)))
    equity = 1000.0 * np.concatenate(([1.0], np.cumprod(1.0 + 2.0 * bench_returns)))
    m = compute_metrics(equity, [], 365.0, 0.0, close)
    assert m["beta"] == pytest.approx(2.0, rel=1e-9)
    assert m["alpha"] == pytest.approx(0.0, abs=1e-9)
    shifted = 1000.0 * np.concatenate(([1.0], np.cumprod(1.0 + 0.5 * bench_returns + 0.001)))
    m = compute_metrics(shifted, [], 365.0, 0.0, close)
    assert m["beta"] == pytest.approx(0.5, rel=1e-9)
    assert m["alpha"] == pytest.approx(1.001**365 - 1, rel=1e-9)
    # a benchmark that does not line up with the marks still gives buy-and-hold, not alpha/beta
    m = compute_metrics(equity, [], 365.0, 0.0, close[:-1])
    assert m["buy_and_hold_return"] == pytest.approx(close[-2] / close[0] - 1)
    assert math.isnan(m["alpha"])
    assert math.isnan(m["beta"])
    flat = compute_metrics(equity, [], 365.0, 0.0, np.full(201, 50.0))
    assert math.isnan(flat["beta"])  # no benchmark variance
    assert flat["buy_and_hold_return"] == 0.0


def test_annualized_return_is_arithmetic_and_cagr_geometric():
    equity = np.array([100.0, 150.0, 75.0])  # +50 %, -50 %
    m = compute_metrics(equity, [], 2.0, 0.0)
    assert m["annualized_return"] == pytest.approx(0.0)  # mean per-bar return 0 x 2 bars a year
    assert m["cagr"] == pytest.approx(-0.25)  # two bars are one year: 100 -> 75
    assert m["total_return"] == pytest.approx(-0.25)


def test_mismatched_series_are_rejected():
    with pytest.raises(InvalidMetricsInput):
        compute_metrics(CURVE, [], 365.0, 0.0, exposure=np.zeros(3))
    with pytest.raises(InvalidMetricsInput):
        compute_metrics(CURVE, [], 365.0, 0.0, open_time=np.arange(3, dtype=np.int64))
    assert issubclass(InvalidMetricsInput, DomainError)


# ---------------------------------------------------------------------------------------------------------------
# Edge cases: NaN where undefined, never an exception or a numpy warning


def test_no_trades():
    m = quietly(compute_metrics, CURVE, [], 365.0, 0.0)
    assert m["trades"] == 0.0
    assert m["trades_per_day"] == 0.0
    assert m["max_consecutive_wins"] == m["max_consecutive_losses"] == 0.0
    for key in (
        "win_rate", "profit_factor", "expectancy", "avg_win", "avg_loss", "payoff_ratio", "largest_win",
        "largest_loss", "kelly_fraction", "avg_trade_duration", "avg_trade_return", "avg_mfe", "avg_mae",
    ):  # fmt: skip
        assert math.isnan(m[key]), key


def test_one_bar():
    m = quietly(compute_metrics, np.array([100.0]), [], 365.0, 0.0, np.array([10.0]), exposure=np.array([0.0]))
    assert m["total_return"] == 0.0
    assert m["net_profit"] == 0.0
    assert m["max_drawdown"] == 0.0
    assert m["current_drawdown"] == 0.0
    assert m["max_drawdown_duration"] == 0.0
    assert m["ulcer_index"] == 0.0
    assert m["final_equity"] == 100.0
    assert m["buy_and_hold_return"] == 0.0
    assert m["exposure_time"] == 0.0
    for key in (
        "annualized_return", "cagr", "annual_volatility", "sharpe", "sortino", "calmar", "var_95", "cvar_95",
        "tail_ratio", "skew", "kurtosis", "alpha", "beta", "recovery_factor", "trades_per_day",
    ):  # fmt: skip
        assert math.isnan(m[key]), key


def test_empty_curve():
    m = quietly(compute_metrics, np.array([]), [trade(1.0)], 365.0, 0.5)
    assert m["trades"] == 1.0
    assert m["total_fees"] == 0.5
    for key in ("total_return", "cagr", "max_drawdown", "current_drawdown", "final_equity", "sharpe"):
        assert math.isnan(m[key]), key


def test_flat_equity():
    m = quietly(compute_metrics, np.full(10, 100.0), [], 365.0, 0.0)
    assert m["annual_volatility"] == 0.0
    assert m["max_drawdown"] == 0.0
    assert m["ulcer_index"] == 0.0
    assert m["var_95"] == 0.0
    assert m["cvar_95"] == 0.0
    assert m["cagr"] == 0.0
    for key in ("sharpe", "sortino", "calmar", "tail_ratio", "skew", "kurtosis", "recovery_factor"):
        assert math.isnan(m[key]), key


def test_all_losses():
    losers = [trade(-1.0), trade(-2.0), trade(-3.0)]
    m = quietly(compute_metrics, np.array([100.0, 99.0, 97.0, 94.0]), losers, 365.0, 0.0)
    assert m["win_rate"] == 0.0
    assert m["profit_factor"] == 0.0
    assert m["expectancy"] == pytest.approx(-2.0)
    assert m["avg_loss"] == pytest.approx(-2.0)
    assert m["largest_loss"] == -3.0
    assert m["max_consecutive_losses"] == 3.0
    assert m["max_consecutive_wins"] == 0.0
    assert math.isnan(m["avg_win"])
    assert math.isnan(m["largest_win"])
    assert math.isnan(m["payoff_ratio"])  # no average win
    assert math.isnan(m["kelly_fraction"])
    assert math.isnan(m["sortino"]) is False and m["sortino"] < 0
    assert m["max_drawdown_duration"] == pytest.approx(3.0)
    assert m["current_drawdown"] == pytest.approx(-0.06)


def test_equity_touching_zero():
    equity = np.array([100.0, 50.0, 0.0, 0.0])
    np.testing.assert_array_equal(quietly(returns_of, equity), [-0.5, -1.0, 0.0])
    m = quietly(compute_metrics, equity, [trade(-100.0)], 365.0, 0.0, np.array([10.0, 5.0, 1.0, 1.0]))
    assert m["total_return"] == -1.0
    assert m["cagr"] == -1.0
    assert m["max_drawdown"] == -1.0
    assert m["current_drawdown"] == -1.0
    assert m["calmar"] == -1.0
    assert m["recovery_factor"] == -1.0
    assert m["max_drawdown_duration"] == pytest.approx(3.0)
    assert m["final_equity"] == 0.0
    assert math.isfinite(m["sharpe"])
    assert math.isfinite(m["beta"])
    # no division by a zero mark even if a curve came back from it
    np.testing.assert_array_equal(quietly(returns_of, np.array([100.0, 0.0, 10.0])), [-1.0, 0.0])


def test_cagr_overflow_is_infinite_not_an_error():
    # +900 % over 3 one-minute bars, annualised
    assert quietly(cagr, np.array([1.0, 2.0, 5.0, 10.0]), 525_600.0) == math.inf
    assert math.isnan(quietly(calmar_ratio, np.array([1.0, 2.0, 1.5, 10.0]), 525_600.0))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(-1.0, 1.0, allow_nan=False), st.sampled_from([0.0, 0.1, -0.1, math.inf, -math.inf, math.nan])
        ),
        min_size=1,
        max_size=300,
    ),
    st.lists(st.floats(0.0, 100.0), min_size=1, max_size=4),
)
def test_percentiles_are_numpys_float_for_float(values: list[float], percents: list[float]) -> None:
    """VaR and the tail ratio read percentiles from one partial sort: the same floats as np.percentile."""
    x = np.array(values)
    with np.errstate(invalid="ignore"):
        want = np.percentile(x, percents).tolist()
    got = percentiles(x, tuple(percents))
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g == w or (math.isnan(g) and math.isnan(w)), (g, w)
