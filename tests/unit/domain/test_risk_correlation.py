"""Rolling correlation: against numpy.corrcoef window by window, causality, NaN and constant windows."""

from __future__ import annotations

import numpy as np
import pytest

from domain.model.errors import InvalidParameter
from domain.risk import pairwise_rolling_correlations, rolling_correlation, simple_returns


def correlated_returns(n: int, rho: float, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.normal(0.0005, 0.01, n)
    b = rho * a + np.sqrt(1 - rho**2) * rng.normal(0.0, 0.01, n)
    return a, b


@pytest.mark.parametrize("window", [2, 5, 30, 200])
def test_matches_numpy_corrcoef_on_every_window(window: int) -> None:
    a, b = correlated_returns(600, 0.7)
    got = rolling_correlation(a, b, window)
    assert np.isnan(got[: window - 1]).all()
    expected = [np.corrcoef(a[t - window + 1 : t + 1], b[t - window + 1 : t + 1])[0, 1] for t in range(window - 1, 600)]
    # two-bar windows are always +-1 and badly conditioned (the variance of two close values)
    atol = 1e-7 if window == 2 else 1e-10
    np.testing.assert_allclose(got[window - 1 :], expected, rtol=0, atol=atol)


def test_long_series_keeps_its_precision() -> None:
    a, b = correlated_returns(50_000, 0.9, seed=8)
    a = a + 0.05  # a large common drift, the worst case for running sums
    got = rolling_correlation(a, b, 720)
    for t in (719, 25_000, 49_999):
        expected = np.corrcoef(a[t - 719 : t + 1], b[t - 719 : t + 1])[0, 1]
        assert got[t] == pytest.approx(expected, abs=1e-9)


def test_causal_the_value_at_t_ignores_later_bars() -> None:
    a, b = correlated_returns(300, 0.5)
    full = rolling_correlation(a, b, 40)
    for t in (39, 120, 299):
        prefix = rolling_correlation(a[: t + 1], b[: t + 1], 40)
        assert prefix[t] == pytest.approx(full[t], abs=1e-12)


def test_nan_and_constant_windows_give_nan() -> None:
    a, b = correlated_returns(100, 0.5)
    a[50] = np.nan
    got = rolling_correlation(a, b, 10)
    assert np.isnan(got[50:60]).all()
    assert np.isfinite(got[60])
    assert np.isfinite(got[49])
    b[70:85] = 0.002  # constant: correlation undefined
    got = rolling_correlation(a, b, 10)
    assert np.isnan(got[79:85]).all()
    assert np.isfinite(got[78])
    assert np.isnan(rolling_correlation(a[:5], b[:5], 10)).all()


def test_perfect_and_inverse_correlation() -> None:
    a, _ = correlated_returns(50, 0.0)
    assert rolling_correlation(a, 2 * a + 0.01, 10)[9:] == pytest.approx(np.ones(41))
    assert rolling_correlation(a, -a, 10)[9:] == pytest.approx(-np.ones(41))


def test_bad_arguments() -> None:
    with pytest.raises(InvalidParameter, match="window must be at least 2"):
        rolling_correlation(np.zeros(5), np.zeros(5), 1)
    with pytest.raises(InvalidParameter, match="one length"):
        rolling_correlation(np.zeros(5), np.zeros(4), 2)


def test_simple_returns_and_pairs() -> None:
    r = simple_returns(np.array([100.0, 110.0, 99.0]))
    assert np.isnan(r[0])
    assert r[1:] == pytest.approx([0.1, -0.1])
    a, b = correlated_returns(100, 0.8)
    pairs = pairwise_rolling_correlations({"BTC": a, "ETH": b, "SOL": a}, 20)
    names = ("BTC", "ETH", "SOL")
    assert set(pairs) == {(x, y) for x in names for y in names if x != y}
    np.testing.assert_allclose(pairs["ETH", "BTC"], rolling_correlation(a, b, 20), equal_nan=True)
