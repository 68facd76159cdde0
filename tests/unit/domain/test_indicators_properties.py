"""Indicator conventions on hand-made bars, edge cases, parameter checks, and the building blocks (sliding
windows and the blocked linear recursion) against plain definitions."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import domain.indicators as ind
from domain.indicators._scan import BLOCK, LinearScan, linear_scan
from domain.indicators._windows import (
    Window,
    WindowMoments,
    WindowSum,
    WindowWeightedSum,
    window_abs_deviation_sum,
    window_max,
    window_mean,
    window_min,
    window_moments,
    window_sum,
    window_weighted_sum,
)
from domain.indicators.base import SEED_MARGIN, decay_bars
from domain.model.errors import InvalidParameter

finite = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)
prices = st.floats(1.0, 1e5, allow_nan=False, allow_infinity=False)


# ---------------------------------------------------------------- building blocks


@settings(max_examples=120, deadline=None)
@given(st.lists(finite, min_size=0, max_size=160), st.integers(1, 40))
def test_window_aggregates_follow_their_definitions(values: list[float], period: int) -> None:
    x = np.array(values, dtype=np.float64)
    sums, means = window_sum(x, period), window_mean(x, period)
    weighted, highs, lows = window_weighted_sum(x, period), window_max(x, period), window_min(x, period)
    centre, s1, s2 = window_moments(x, period)
    deviation = window_abs_deviation_sum(x, means, period)
    for out in (sums, means, weighted, highs, lows, s1, s2, deviation):
        assert out.shape == x.shape
        assert np.isnan(out[: period - 1]).all()
    weights = list(range(1, period + 1))
    for t in range(period - 1, len(values)):
        window = values[t - period + 1 : t + 1]
        scale = math.fsum(abs(v) for v in window) + 1.0
        assert math.isclose(sums[t], math.fsum(window), rel_tol=0, abs_tol=1e-12 * scale)
        assert math.isclose(means[t], math.fsum(window) / period, rel_tol=0, abs_tol=1e-12 * scale)
        assert math.isclose(
            weighted[t], math.fsum(w * v for w, v in zip(weights, window, strict=True)), abs_tol=1e-11 * scale * period
        )
        assert highs[t] == max(window)
        assert lows[t] == min(window)
        assert centre[t] in window  # the shift is a value inside the window
        variance = (s2[t] - s1[t] * s1[t] / period) / period
        assert math.isclose(variance, statistics.pvariance(window), rel_tol=1e-9, abs_tol=1e-9 * scale)
        mean = math.fsum(window) / period
        assert math.isclose(deviation[t], math.fsum(abs(v - mean) for v in window), abs_tol=1e-10 * scale)


@settings(max_examples=120, deadline=None)
@given(st.lists(finite, min_size=0, max_size=160), st.integers(1, 40))
def test_incremental_windows_repeat_the_vectorised_arithmetic_exactly(values: list[float], period: int) -> None:
    x = np.array(values, dtype=np.float64)
    sums, moments, weighted, window = (
        WindowSum(period),
        WindowMoments(period),
        WindowWeightedSum(period),
        Window(period),
    )
    centre, s1, s2 = window_moments(x, period)
    got_sums, got_weighted, got_moments, got_max, got_min = [], [], [], [], []
    for v in values:
        got_sums.append(sums.update(v))
        got_weighted.append(weighted.update(v))
        got_moments.append(moments.update(v))
        full = window.push(v)
        got_max.append(window.max() if full else math.nan)
        got_min.append(window.min() if full else math.nan)
    np.testing.assert_array_equal(np.array(got_sums, dtype=float), window_sum(x, period))
    np.testing.assert_array_equal(np.array(got_weighted, dtype=float), window_weighted_sum(x, period))
    np.testing.assert_array_equal(np.array(got_max, dtype=float), window_max(x, period))
    np.testing.assert_array_equal(np.array(got_min, dtype=float), window_min(x, period))
    if values:
        got_c, got_s1, got_s2 = (np.array(col) for col in zip(*got_moments, strict=True))
        np.testing.assert_array_equal(got_s1, s1)
        np.testing.assert_array_equal(got_s2, s2)
        np.testing.assert_array_equal(got_c[period - 1 :], centre[period - 1 :])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(finite, min_size=0, max_size=3 * BLOCK + 7),
    st.floats(0.0, 1.0),
    st.floats(-1e4, 1e4),
    st.sampled_from([0.0, 1.0, -2500.5]),
)
def test_blocked_recursion_is_the_recursion_and_steps_identically(
    values: list[float], alpha: float, start: float, centre: float
) -> None:
    x = np.array(values, dtype=np.float64)
    got = linear_scan(x, alpha, 1.0 - alpha, start, centre)
    assert got.shape == x.shape
    scan = LinearScan(alpha, 1.0 - alpha, start, centre)
    np.testing.assert_array_equal(np.array([scan.step(v) for v in values], dtype=float), got)
    y = start
    scale = abs(start) + abs(centre) + max((abs(v) for v in values), default=0.0) + 1.0
    for t, v in enumerate(values):
        y = alpha * v + (1.0 - alpha) * y
        assert math.isclose(got[t], y, rel_tol=0, abs_tol=1e-12 * scale)


@settings(max_examples=50, deadline=None)
@given(st.lists(finite, min_size=1, max_size=BLOCK + 50))
def test_a_period_of_one_has_no_memory(values: list[float]) -> None:
    x = np.array(values, dtype=np.float64)
    for out in (ind.sma(x, 1), ind.ema(x, 1), ind.wilder(x, 1), ind.wma(x, 1)):
        np.testing.assert_array_equal(out, x)
    stream = ind.EMA(1)
    assert [stream.update(v) for v in values] == values


@pytest.mark.parametrize(("beta", "order"), [(0.5, 1), (0.9, 1), (0.999, 1), (13 / 14, 2), (0.99, 2)])
@pytest.mark.parametrize("tol", [1e-6, 1e-9, 1e-12])
def test_decay_bars_is_the_first_bar_where_the_seed_weight_is_small_enough(beta: float, order: int, tol: float) -> None:
    m = decay_bars(beta, tol, order)

    def weight(k: int) -> float:
        return (1 + k) ** (order - 1) * beta**k

    assert weight(m) <= tol / SEED_MARGIN < weight(m - 1)
    assert all(weight(k) <= tol / SEED_MARGIN for k in range(m, m + 200))
    assert decay_bars(0.0, tol) == 0


# ---------------------------------------------------------------- conventions on hand-made bars


def test_weighted_moving_average_by_hand() -> None:
    got = ind.wma(np.array([1.0, 2.0, 3.0, 4.0]), 3)
    assert np.isnan(got[:2]).all()
    np.testing.assert_allclose(got[2:], [(1 + 4 + 9) / 6, (2 + 6 + 12) / 6])


@pytest.mark.parametrize("level", [43_210.57, 0.1, 1e-7, -3.3])
def test_averages_and_bands_of_a_constant_are_exactly_the_constant(level: float) -> None:
    x = np.full(700, level)  # long enough to cross many blocks
    for period in (1, 3, 20, 64):
        np.testing.assert_array_equal(ind.sma(x, period)[period - 1 :], x[period - 1 :])
        np.testing.assert_array_equal(ind.ema(x, period)[period - 1 :], x[period - 1 :])
        stream = ind.EMA(period)
        np.testing.assert_array_equal([stream.update(v) for v in x.tolist()][period - 1 :], x[period - 1 :])
        bands = ind.bollinger(x, period)
        for line in bands:
            np.testing.assert_array_equal(line[period - 1 :], x[period - 1 :])
        np.testing.assert_array_equal(ind.cci(x, x, x, period)[period - 1 :], 0.0)


def test_rsi_is_100_in_a_rise_0_in_a_fall_and_50_without_movement() -> None:
    rise = np.arange(1.0, 40.0)
    np.testing.assert_array_equal(ind.rsi(rise, 14)[14:], 100.0)
    np.testing.assert_array_equal(ind.rsi(rise[::-1].copy(), 14)[14:], 0.0)
    np.testing.assert_array_equal(ind.rsi(np.full(40, 7.0), 14)[14:], 50.0)


def test_rsi_by_hand() -> None:
    # RSI(2): changes +1, -1 seed average gain and loss 0.5 each (RSI 50); then +2: gain 0.5*2 + 0.5*0.5 = 1.25,
    # loss 0.5*0 + 0.5*0.5 = 0.25, RSI = 100 * 1.25 / 1.5
    got = ind.rsi(np.array([1.0, 2.0, 1.0, 3.0]), 2)
    assert np.isnan(got[:2]).all()
    np.testing.assert_allclose(got[2:], [50.0, 100 * 1.25 / 1.5])


def test_stochastic_conventions() -> None:
    high = np.array([10.0, 12.0, 11.0, 11.0, 11.0, 11.0])
    low = np.array([9.0, 10.0, 8.0, 11.0, 11.0, 11.0])
    close = np.array([9.5, 12.0, 8.0, 11.0, 11.0, 11.0])
    k, d = ind.stochastic(high, low, close, 1, 1, 2)
    # raw %K over one bar: close at the high -> 100, at the low -> 0, a flat bar -> 50
    np.testing.assert_allclose(k, [50.0, 100.0, 0.0, 50.0, 50.0, 50.0])
    np.testing.assert_allclose(d[1:], [75.0, 50.0, 25.0, 50.0, 50.0])
    k3, _ = ind.stochastic(high, low, close, 3, 1, 1)
    # bars 0-2: highest 12, lowest 8, close 8 -> 0; bars 1-3: 12 / 8, close 11 -> 75
    np.testing.assert_allclose(k3[2:4], [0.0, 75.0])


def test_cci_by_hand() -> None:
    tp = np.array([1.0, 2.0, 3.0])  # mean 2, mean deviation 2/3: CCI = (3 - 2) / (0.015 * 2/3) = 100
    np.testing.assert_allclose(ind.cci(tp, tp, tp, 3)[2], 100.0)


def test_adx_of_a_steady_rise_and_of_a_flat_market() -> None:
    t = np.arange(60, dtype=np.float64)
    lines = ind.adx(t + 1.0, t, t + 0.5, 5)  # +DM 1 and TR 1.5 on every bar
    np.testing.assert_allclose(lines.plus_di[5:], 100.0 / 1.5)
    np.testing.assert_array_equal(lines.minus_di[5:], 0.0)
    np.testing.assert_allclose(lines.adx[9:], 100.0)
    flat = np.full(30, 5.0)
    for line in ind.adx(flat, flat, flat, 5):
        np.testing.assert_array_equal(line[~np.isnan(line)], 0.0)


def test_obv_by_hand() -> None:
    close = np.array([10.0, 11.0, 11.0, 9.0, 12.0])
    volume = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    np.testing.assert_array_equal(ind.obv(close, volume), [1.0, 3.0, 3.0, -1.0, 4.0])


def test_roc_by_hand() -> None:
    np.testing.assert_allclose(ind.roc(np.array([100.0, 110.0, 99.0]), 1)[1:], [10.0, -10.0])
    assert ind.roc(np.array([0.0, 5.0]), 1)[1] == 0.0  # no base to compare with: 0, as TA-Lib


def test_vwap_by_hand_and_without_volume() -> None:
    tp = np.array([1.0, 2.0, 4.0, 5.0, 6.0])
    volume = np.array([1.0, 1.0, 3.0, 0.0, 0.0])
    got = ind.vwap(tp, tp, tp, volume, 2)
    assert math.isnan(got[0])
    np.testing.assert_allclose(got[1:4], [1.5, (2 + 12) / 4, 4.0])
    assert math.isnan(got[4])  # no volume in the window: no price to weight


def test_donchian_by_hand() -> None:
    high = np.array([5.0, 7.0, 6.0, 4.0])
    low = np.array([4.0, 3.0, 5.0, 2.0])
    upper, middle, lower = ind.donchian(high, low, 2)
    np.testing.assert_array_equal(upper[1:], [7.0, 7.0, 6.0])
    np.testing.assert_array_equal(lower[1:], [3.0, 3.0, 2.0])
    np.testing.assert_array_equal(middle[1:], [5.0, 5.0, 4.0])


def test_bands_are_ordered(btc_like: np.ndarray) -> None:
    c = btc_like
    h, lo = c * 1.01, c * 0.99
    for upper, middle, lower in (ind.bollinger(c), ind.keltner(h, lo, c), ind.donchian(h, lo)):
        ok = ~np.isnan(middle)
        assert (upper[ok] >= middle[ok]).all()
        assert (middle[ok] >= lower[ok]).all()


def test_keltner_is_the_ema_plus_and_minus_the_atr(btc_like: np.ndarray) -> None:
    c = btc_like
    h, lo = c * 1.01, c * 0.985
    upper, middle, lower = ind.keltner(h, lo, c, 20, 10, 1.5)
    np.testing.assert_array_equal(middle, ind.ema(c, 20))
    width = 1.5 * ind.atr(h, lo, c, 10)
    assert ind.KeltnerChannels(20, 10).warmup == 19
    np.testing.assert_allclose((upper - middle)[19:], width[19:], rtol=1e-9)
    np.testing.assert_allclose((middle - lower)[19:], width[19:], rtol=1e-9)


def test_realised_volatility_scales_with_the_square_root_of_the_annualisation(btc_like: np.ndarray) -> None:
    per_bar = ind.realised_volatility(btc_like, 24)
    np.testing.assert_array_equal(ind.realised_volatility(btc_like, 24, 8760.0), per_bar * math.sqrt(8760.0))
    np.testing.assert_array_equal(ind.realised_volatility(np.full(50, 3.0), 10)[10:], 0.0)


@pytest.fixture
def btc_like() -> np.ndarray:
    rng = np.random.default_rng(5)
    return 30_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, 800)))


# ---------------------------------------------------------------- edge cases and parameters

ALL = [
    lambda x: ind.sma(x, 3),
    lambda x: ind.ema(x, 3),
    lambda x: ind.wma(x, 3),
    lambda x: ind.wilder(x, 3),
    lambda x: ind.rsi(x, 3),
    lambda x: ind.macd(x, 2, 3, 2),
    lambda x: ind.true_range(x, x, x),
    lambda x: ind.atr(x, x, x, 3),
    lambda x: ind.bollinger(x, 3),
    lambda x: ind.keltner(x, x, x, 3, 3),
    lambda x: ind.donchian(x, x, 3),
    lambda x: ind.realised_volatility(x, 3),
    lambda x: ind.adx(x, x, x, 3),
    lambda x: ind.stochastic(x, x, x, 3, 2, 2),
    lambda x: ind.obv(x, x),
    lambda x: ind.vwap(x, x, x, x, 3),
    lambda x: ind.roc(x, 3),
    lambda x: ind.cci(x, x, x, 3),
]


@pytest.mark.parametrize("fn", ALL)
@pytest.mark.parametrize("n", [0, 1, 2])
def test_short_and_empty_inputs_give_arrays_of_the_same_length(fn, n: int) -> None:
    x = np.arange(1.0, n + 1.0)
    result = fn(x)
    for out in result if isinstance(result, tuple) else [result]:
        assert out.shape == (n,)


@pytest.mark.parametrize(
    "call",
    [
        lambda: ind.sma(np.ones(5), 0),
        lambda: ind.ema(np.ones(5), -3),
        lambda: ind.wma(np.ones(5), 2.5),
        lambda: ind.SMA(0),
        lambda: ind.RSI(0),
        lambda: ind.macd(np.ones(5), 26, 12),
        lambda: ind.MACD(12, 12),
        lambda: ind.realised_volatility(np.ones(5), 1),
        lambda: ind.realised_volatility(np.ones(5), 5, 0.0),
        lambda: ind.RealisedVolatility(5, math.inf),
        lambda: ind.RealisedVolatility(5, math.nan),
        lambda: ind.stochastic(np.ones(5), np.ones(5), np.ones(5), 3, 0),
        lambda: ind.atr(np.ones(5), np.ones(4), np.ones(5)),
        lambda: ind.sma(np.ones((2, 3)), 2),
        lambda: ind.EMA(20).convergence(0.0),
    ],
)
def test_bad_parameters_are_refused(call) -> None:
    with pytest.raises(InvalidParameter):
        call()
