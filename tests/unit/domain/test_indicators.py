"""Indicators against plain-Python references (TA-Lib conventions), warm-up lengths and causality."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.indicators import atr, ema, sma, true_range, wilder
from domain.model.errors import InvalidParameter
from tests.unit.domain.helpers import (
    random_walk_series,
    ref_atr,
    ref_ema,
    ref_sma,
    ref_smooth,
    ref_true_range,
)

prices = st.lists(st.floats(1.0, 1000.0, allow_nan=False, allow_infinity=False), min_size=1, max_size=80)
periods = st.integers(1, 30)


def assert_close_nan_aware(got: np.ndarray, expected: list[float], rtol: float = 1e-9) -> None:
    exp = np.array(expected, dtype=np.float64)
    assert got.shape == exp.shape
    assert np.array_equal(np.isnan(got), np.isnan(exp))
    np.testing.assert_allclose(got[~np.isnan(exp)], exp[~np.isnan(exp)], rtol=rtol, atol=1e-9)


def ohlc(values: list[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Consistent high/low/close from a list of closes (bars spread around each close)."""
    close = np.array(values)
    return close * 1.02, close * 0.97, close


@settings(max_examples=200, deadline=None)
@given(prices, periods)
def test_sma_matches_reference(values, period):
    got = sma(np.array(values), period)
    assert_close_nan_aware(got, ref_sma(values, period))
    assert np.isnan(got[: period - 1]).all()
    assert not np.isnan(got[period - 1 :]).any()


@settings(max_examples=200, deadline=None)
@given(prices, periods)
def test_ema_matches_reference(values, period):
    got = ema(np.array(values), period)
    assert_close_nan_aware(got, ref_ema(values, period), rtol=1e-12)
    assert np.isnan(got[: period - 1]).all()
    assert not np.isnan(got[period - 1 :]).any()


@settings(max_examples=200, deadline=None)
@given(prices, periods, st.integers(0, 3))
def test_wilder_matches_reference(values, period, first):
    got = wilder(np.array(values), period, first=first)
    assert_close_nan_aware(got, ref_smooth(values, period, 1.0 / period, first), rtol=1e-12)
    assert np.isnan(got[: first + period - 1]).all()


@settings(max_examples=200, deadline=None)
@given(prices)
def test_true_range_matches_reference(values):
    high, low, close = ohlc(values)
    got = true_range(high, low, close)
    assert_close_nan_aware(got, ref_true_range(high.tolist(), low.tolist(), close.tolist()), rtol=1e-15)
    assert math.isnan(got[0])


@settings(max_examples=200, deadline=None)
@given(prices, st.integers(1, 20))
def test_atr_matches_reference(values, period):
    high, low, close = ohlc(values)
    got = atr(high, low, close, period)
    assert_close_nan_aware(got, ref_atr(high.tolist(), low.tolist(), close.tolist(), period), rtol=1e-12)
    # the first value is at bar ``period``: the mean of true ranges 1..period
    assert np.isnan(got[: min(period, len(values))]).all()
    if len(values) > period:
        assert not np.isnan(got[period:]).any()


def test_hand_made_values():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    np.testing.assert_allclose(sma(x, 3)[2:], [2.0, 3.0, 4.0, 5.0])
    # EMA(3): alpha 0.5, seeded with mean(1, 2, 3) = 2
    np.testing.assert_allclose(ema(x, 3)[2:], [2.0, 3.0, 4.0, 5.0])
    y = np.array([2.0, 4.0, 8.0, 0.0])
    # EMA(2): alpha 2/3, seeded with mean(2, 4) = 3; then 8*2/3 + 3/3 = 19/3; then 0*2/3 + (19/3)/3 = 19/9
    np.testing.assert_allclose(ema(y, 2)[1:], [3.0, 19 / 3, 19 / 9])
    # ATR(2): TR = [nan, 2.5, 4, 4]; seeded with (2.5 + 4) / 2 at bar 2, then Wilder: (prev + 4) / 2
    high = np.array([10.0, 12.0, 15.0, 13.0])
    low = np.array([9.0, 10.0, 11.0, 9.0])
    close = np.array([9.5, 11.0, 12.0, 10.0])
    tr = true_range(high, low, close)
    np.testing.assert_allclose(tr[1:], [2.5, 4.0, 4.0])
    got = atr(high, low, close, 2)
    assert np.isnan(got[:2]).all()
    np.testing.assert_allclose(got[2:], [(2.5 + 4.0) / 2, ((2.5 + 4.0) / 2 + 4.0) / 2])


def test_ema_of_period_one_is_the_input():
    x = np.array([3.0, 1.0, 4.0, 1.5])
    np.testing.assert_array_equal(ema(x, 1), x)
    np.testing.assert_array_equal(sma(x, 1), x)


def test_short_input_is_all_nan():
    x = np.array([1.0, 2.0])
    for out in (sma(x, 3), ema(x, 3), wilder(x, 3), atr(x, x, x, 2)):
        assert out.shape == (2,)
        assert np.isnan(out).all()


@pytest.mark.parametrize("fn", [sma, ema, wilder])
def test_period_below_one_is_refused(fn):
    with pytest.raises(InvalidParameter):
        fn(np.array([1.0, 2.0]), 0)


def test_indicators_are_causal_on_a_random_walk():
    series = random_walk_series(300, seed=3)
    full = {
        "sma": sma(series.close, 20),
        "ema": ema(series.close, 20),
        "wilder": wilder(series.close, 14, first=2),
        "tr": true_range(series.high, series.low, series.close),
        "atr": atr(series.high, series.low, series.close, 14),
    }
    for k in (1, 2, 13, 14, 15, 16, 19, 20, 21, 50, 137, 299, 300):
        part = series.slice(0, k)
        prefix = {
            "sma": sma(part.close, 20),
            "ema": ema(part.close, 20),
            "wilder": wilder(part.close, 14, first=2),
            "tr": true_range(part.high, part.low, part.close),
            "atr": atr(part.high, part.low, part.close, 14),
        }
        for name, values in prefix.items():
            np.testing.assert_array_equal(values, full[name][:k], err_msg=f"{name} at k={k}")
