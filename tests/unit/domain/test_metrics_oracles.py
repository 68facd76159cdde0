"""Return and risk metrics against empyrical and scipy.stats on seeded random series.

Tolerance rel=1e-9 throughout: both sides compute the same closed forms in float64, and the only
differences are the order of summation and that our returns are recovered from the equity curve (ratios
of cumulative products, off by a few ulps). Alpha compounds the mean over ``periods_per_year`` bars, which
multiplies that relative error by at most ~1e4: still far below 1e-9.
"""

from __future__ import annotations

import empyrical
import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.metrics import (
    alpha_beta,
    compute_metrics,
    conditional_value_at_risk,
    downside_deviation,
    excess_kurtosis,
    returns_of,
    skewness,
    tail_ratio,
    value_at_risk,
)

REL = 1e-9
CASES = [
    # seed, periods per year, mean, volatility, fat tails
    (1, 365.0, 0.0005, 0.02, False),
    (2, 8760.0, 0.00002, 0.006, True),
    (3, 52.0, -0.002, 0.05, False),
    (4, 2190.0, 0.0001, 0.01, True),
]


def series(seed: int, mean: float, vol: float, fat: bool, n: int = 750):
    rng = np.random.default_rng(seed)
    shocks = rng.standard_t(3, n) / np.sqrt(3.0) if fat else rng.standard_normal(n)
    returns = mean + vol * shocks
    bench_returns = 0.6 * returns + rng.normal(0.0, vol, n)  # correlated, beta ~ 0.6 the other way round
    equity = 1000.0 * np.concatenate(([1.0], np.cumprod(1.0 + returns)))
    close = 20_000.0 * np.concatenate(([1.0], np.cumprod(1.0 + bench_returns)))
    return returns, bench_returns, equity, close


@pytest.fixture(params=CASES, ids=lambda c: f"seed{c[0]}-ppy{int(c[1])}")
def case(request):
    seed, ppy, mean, vol, fat = request.param
    returns, bench_returns, equity, close = series(seed, mean, vol, fat)
    metrics = compute_metrics(equity, [], ppy, 0.0, close)
    return ppy, returns, bench_returns, metrics


def test_returns_recovered_from_the_curve(case):
    _, returns, _, _ = case
    equity = 1000.0 * np.concatenate(([1.0], np.cumprod(1.0 + returns)))
    np.testing.assert_allclose(returns_of(equity), returns, rtol=1e-12, atol=1e-15)


def test_ratios_match_empyrical(case):
    ppy, r, _, m = case
    assert m["sharpe"] == pytest.approx(empyrical.sharpe_ratio(r, annualization=ppy), rel=REL)
    assert m["sortino"] == pytest.approx(empyrical.sortino_ratio(r, annualization=ppy), rel=REL)
    assert m["calmar"] == pytest.approx(empyrical.calmar_ratio(r, annualization=ppy), rel=REL)
    assert m["annual_volatility"] == pytest.approx(empyrical.annual_volatility(r, annualization=ppy), rel=REL)
    assert downside_deviation(r, ppy) == pytest.approx(empyrical.downside_risk(r, annualization=ppy), rel=REL)


def test_growth_and_drawdown_match_empyrical(case):
    ppy, r, _, m = case
    assert m["cagr"] == pytest.approx(empyrical.annual_return(r, annualization=ppy), rel=REL)
    assert m["cagr"] == pytest.approx(empyrical.cagr(r, annualization=ppy), rel=REL)
    assert m["total_return"] == pytest.approx(empyrical.cum_returns_final(r), rel=REL)
    assert m["max_drawdown"] == pytest.approx(empyrical.max_drawdown(r), rel=REL)
    # the arithmetic annualised return is the Sortino numerator: mean x ppy
    assert m["annualized_return"] == pytest.approx(
        empyrical.sortino_ratio(r, annualization=ppy) * empyrical.downside_risk(r, annualization=ppy), rel=REL
    )


def test_tail_risk_matches_empyrical(case):
    _, r, _, m = case
    assert m["var_95"] == pytest.approx(empyrical.value_at_risk(r, cutoff=0.05), rel=REL)
    assert m["cvar_95"] == pytest.approx(empyrical.conditional_value_at_risk(r, cutoff=0.05), rel=REL)
    assert m["cvar_95"] <= m["var_95"] < 0
    assert m["tail_ratio"] == pytest.approx(empyrical.tail_ratio(r), rel=REL)


def test_alpha_beta_match_empyrical(case):
    ppy, r, b, m = case
    alpha, beta = empyrical.alpha_beta(r, b, annualization=ppy)
    assert m["alpha"] == pytest.approx(alpha, rel=REL)
    assert m["beta"] == pytest.approx(beta, rel=REL)
    assert m["beta"] == pytest.approx(empyrical.beta(r, b), rel=REL)
    assert m["alpha"] == pytest.approx(empyrical.alpha(r, b, annualization=ppy), rel=REL)


def test_moments_match_scipy(case):
    _, r, _, m = case
    assert m["skew"] == pytest.approx(scipy.stats.skew(r, bias=True), rel=REL)
    assert m["kurtosis"] == pytest.approx(scipy.stats.kurtosis(r, fisher=True, bias=True), rel=REL)


def test_moments_of_small_samples_match_scipy():
    for values in ([1.0, 2.0], [0.1, -0.2, 0.05], [3.0, 3.0, 3.0, 4.0], [-1.0, 0.0, 0.0, 0.0, 7.0]):
        r = np.array(values)
        assert skewness(r) == pytest.approx(scipy.stats.skew(r), rel=REL, abs=1e-15)
        assert excess_kurtosis(r) == pytest.approx(scipy.stats.kurtosis(r), rel=REL)
    assert np.isnan(skewness(np.full(4, 0.01)))
    assert np.isnan(excess_kurtosis(np.full(4, 0.01)))
    with pytest.warns(RuntimeWarning, match="catastrophic cancellation"):  # scipy: NaN too, with a warning
        assert np.isnan(scipy.stats.skew(np.full(4, 0.01)))


small_returns = st.lists(st.floats(-0.5, 0.5, allow_nan=False), min_size=1, max_size=50)


@settings(max_examples=200, deadline=None)
@given(small_returns)
def test_var_and_cvar_match_empyrical_at_every_size(values):
    r = np.array(values)
    for cutoff in (0.05, 0.25):
        assert value_at_risk(r, cutoff) == pytest.approx(empyrical.value_at_risk(r, cutoff), rel=REL, abs=1e-15)
        assert conditional_value_at_risk(r, cutoff) == pytest.approx(
            empyrical.conditional_value_at_risk(r, cutoff), rel=REL, abs=1e-15
        )


@settings(max_examples=100, deadline=None)
@given(small_returns.filter(lambda v: abs(float(np.percentile(v, 5))) > 1e-9))
def test_tail_ratio_matches_empyrical(values):
    r = np.array(values)
    assert tail_ratio(r) == pytest.approx(empyrical.tail_ratio(r), rel=REL)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.floats(-0.1, 0.1), st.floats(-0.1, 0.1)), min_size=3, max_size=40).filter(
        lambda pairs: np.var([b for _, b in pairs]) > 1e-8
    ),
    st.sampled_from([365.0, 52.0, 12.0]),
)
def test_alpha_beta_match_empyrical_on_any_pairs(pairs, ppy):
    r = np.array([a for a, _ in pairs])
    b = np.array([b for _, b in pairs])
    alpha, beta = alpha_beta(r, b, ppy)
    e_alpha, e_beta = empyrical.alpha_beta(r, b, annualization=ppy)
    assert beta == pytest.approx(e_beta, rel=REL, abs=1e-12)
    assert alpha == pytest.approx(e_alpha, rel=REL, abs=1e-12)
