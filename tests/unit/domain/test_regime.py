"""The regime detector: its documented rules against a plain-Python reference, causality on prefixes,
hand-made markets whose regime is obvious, warm-up masking, and a sanity look at bundled BTCUSDT."""

from __future__ import annotations

import math
import statistics
from functools import lru_cache

import numpy as np
import pytest

from adapters.files import BundledMarketData
from domain.model.candles import CandleSeries
from domain.model.errors import InvalidParameter
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe
from domain.regime import REGIMES, UNDEFINED, Regime, RegimeParams, RegimeSeries, Trend, Volatility, detect
from tests.unit.domain.helpers import BTCUSDT, HOUR_MS, T0, ref_ema

# Small windows keep hand-made series short and make states change often.
SMALL = RegimeParams(trend_ema=20, slope_bars=8, vol_bars=10, vol_baseline_bars=60)


def series_from_closes(close: np.ndarray) -> CandleSeries:
    n = close.shape[0]
    open_ = np.concatenate(([close[0]], close[:-1]))
    high = np.maximum(open_, close) * 1.001
    low = np.minimum(open_, close) * 0.999
    times = T0 + HOUR_MS * np.arange(n, dtype=np.int64)
    return CandleSeries.from_arrays(BTCUSDT, Timeframe.H1, times, open_, high, low, close, np.ones(n))


def walk(n: int, sigma: float | np.ndarray, drift: float | np.ndarray = 0.0, seed: int = 1) -> CandleSeries:
    """Geometric random walk: per-bar log returns ~ N(drift, sigma) (scalars or per-bar arrays)."""
    rng = np.random.default_rng(seed)
    steps = drift + sigma * rng.standard_normal(n)
    return series_from_closes(100.0 * np.exp(np.cumsum(steps)))


def regime_walk(n: int, seed: int) -> CandleSeries:
    """Blocks of 150 bars with random drift and volatility: every regime shows up."""
    rng = np.random.default_rng(seed)
    blocks = -(-n // 150)
    drift = np.repeat(rng.choice([-0.004, 0.0, 0.004], blocks), 150)[:n]
    sigma = np.repeat(rng.choice([0.004, 0.012], blocks), 150)[:n]
    return walk(n, sigma, drift, seed)


def share(series: RegimeSeries, regime: Regime, bars: slice = slice(None)) -> float:
    codes = series.codes()[bars]
    codes = codes[codes >= 0]
    return float(np.mean(codes == REGIMES.index(regime)))


# ---------------------------------------------------------------------------------------------------------------
# Parameters


@pytest.mark.parametrize(
    "bad",
    [
        {"trend_ema": 0},
        {"slope_bars": 0},
        {"vol_bars": 1},
        {"vol_baseline_bars": 0},
        {"trend_ema": 20.5},
        {"trend_enter": 0.0, "trend_exit": 0.0},
        {"trend_exit": -0.1},
        {"trend_enter": 0.5, "trend_exit": 0.6},
        {"vol_exit": 0.0},
        {"vol_enter": 1.0, "vol_exit": 1.1},
        {"vol_enter": math.nan},
        {"trend_enter": math.inf},
        {"vol_bars": True},
    ],
)
def test_invalid_parameters_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(InvalidParameter):
        RegimeParams(**bad)  # type: ignore[arg-type]


def test_equal_thresholds_are_allowed_and_the_defaults_are_valid() -> None:
    RegimeParams(trend_enter=0.8, trend_exit=0.8, vol_enter=1.1, vol_exit=1.1)
    defaults = RegimeParams()
    assert defaults.trend_exit < defaults.trend_enter and defaults.vol_exit < defaults.vol_enter


# ---------------------------------------------------------------------------------------------------------------
# The documented rules, against a plain-Python reference


def reference_inputs(closes: list[float], p: RegimeParams) -> tuple[list[float], list[float]]:
    """Trend score and volatility ratio as the module docstring defines them, bar by bar (NaN: not yet)."""
    n = len(closes)
    r = [math.nan] + [math.log(closes[t] / closes[t - 1]) for t in range(1, n)]
    sigma = [math.nan] * n
    for t in range(p.vol_bars, n):
        sigma[t] = statistics.stdev(r[t - p.vol_bars + 1 : t + 1])
    base = [math.nan] * n
    for t in range(p.vol_bars + p.vol_baseline_bars - 1, n):
        base[t] = statistics.median(sigma[t - p.vol_baseline_bars + 1 : t + 1])
    e = ref_ema(closes, p.trend_ema)
    score, ratio = [math.nan] * n, [math.nan] * n
    for t in range(n):
        if t >= p.slope_bars and not math.isnan(e[t - p.slope_bars]) and not math.isnan(base[t]):
            score[t] = math.log(e[t] / e[t - p.slope_bars]) / (base[t] * math.sqrt(p.slope_bars))
            ratio[t] = sigma[t] / base[t]
    return score, ratio


def test_scores_and_ratios_follow_the_documented_formulas() -> None:
    candles = regime_walk(700, seed=3)
    got = detect(candles, SMALL)
    score, ratio = reference_inputs(candles.close.tolist(), SMALL)
    defined = [not math.isnan(s) for s in score]
    assert defined.index(True) == got.warmup == SMALL.warmup
    np.testing.assert_allclose(got.trend_score, score, rtol=1e-9, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(got.vol_ratio, ratio, rtol=1e-9, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("seed", [3, 4])
def test_states_follow_the_thresholds_with_hysteresis(seed: int) -> None:
    p = SMALL
    got = detect(regime_walk(900, seed=seed), p)
    trend, vol = 0, 0  # sideways / low: the states the machine starts from at the end of the warm-up
    kept_in_band = 0
    for t in range(got.warmup, len(got)):
        z, ratio = float(got.trend_score[t]), float(got.vol_ratio[t])
        if z >= p.trend_enter:
            trend = 1
        elif z <= -p.trend_enter:
            trend = -1
        elif abs(z) < p.trend_exit:
            trend = 0
        else:
            kept_in_band += 1
        if ratio > p.vol_enter:
            vol = 1
        elif ratio < p.vol_exit:
            vol = 0
        assert (int(got.trend[t]), int(got.volatility[t])) == (trend, vol), t
    assert kept_in_band > 0  # the hysteresis band was exercised
    assert set(got.trend[got.valid].tolist()) == {-1, 0, 1}
    assert set(got.volatility[got.valid].tolist()) == {0, 1}


# ---------------------------------------------------------------------------------------------------------------
# Causality: the look-ahead proof


@pytest.mark.parametrize("seed", [5, 6])
def test_the_regime_of_a_bar_is_the_same_on_every_prefix_that_contains_it(seed: int) -> None:
    candles = regime_walk(800, seed=seed)
    full = detect(candles, SMALL)
    assert len(set(full.labels())) >= 5  # not a vacuous check: many regimes and transitions
    for t in range(SMALL.warmup - 3, len(candles), 7):
        prefix = detect(candles.slice(0, t + 1), SMALL)
        assert prefix.at(t) == full.at(t), t
        np.testing.assert_array_equal(prefix.trend, full.trend[: t + 1])
        np.testing.assert_array_equal(prefix.volatility, full.volatility[: t + 1])


def test_changing_future_bars_changes_no_past_regime() -> None:
    candles = regime_walk(700, seed=8)
    cut = 400
    close = candles.close.copy()
    close[cut:] *= np.exp(np.linspace(0.0, -2.0, len(close) - cut))  # a crash after the cut
    changed = detect(series_from_closes(close), SMALL)
    original = detect(candles, SMALL)
    np.testing.assert_array_equal(changed.trend[:cut], original.trend[:cut])
    np.testing.assert_array_equal(changed.volatility[:cut], original.volatility[:cut])
    assert not np.array_equal(changed.trend[cut:], original.trend[cut:])


# ---------------------------------------------------------------------------------------------------------------
# Warm-up


def test_warm_up_bars_have_no_regime() -> None:
    got = detect(regime_walk(300, seed=2), SMALL)
    w = SMALL.warmup
    assert got.warmup == w and 0 < w < 300
    np.testing.assert_array_equal(got.valid, np.arange(300) >= w)
    assert np.all(got.trend[:w] == UNDEFINED) and np.all(got.volatility[:w] == UNDEFINED)
    assert np.all(np.isnan(got.trend_score[:w])) and np.all(np.isnan(got.vol_ratio[:w]))
    assert got.at(w - 1) is None and got.at(w) is not None
    labels = got.labels()
    assert labels[:w] == ["warmup"] * w and "warmup" not in labels[w:]
    assert np.all(got.codes()[:w] == -1)


def test_warm_up_is_the_longest_chain_of_windows() -> None:
    trend_bound = RegimeParams(trend_ema=300, slope_bars=100, vol_bars=10, vol_baseline_bars=20)
    vol_bound = RegimeParams(trend_ema=10, slope_bars=5, vol_bars=30, vol_baseline_bars=200)
    candles = regime_walk(600, seed=2)
    for p in (trend_bound, vol_bound):
        got = detect(candles, p)
        first = int(np.argmax(got.valid))
        assert first == p.warmup
        assert not np.isnan(got.trend_score[first]) and not np.isnan(got.vol_ratio[first])
        assert np.isnan(got.trend_score[first - 1]) or np.isnan(got.vol_ratio[first - 1])


def test_a_series_shorter_than_the_warm_up_has_no_regime() -> None:
    got = detect(regime_walk(SMALL.warmup, seed=2), SMALL)
    assert not got.valid.any() and got.labels() == ["warmup"] * SMALL.warmup
    assert got.at(-1) is None


def test_labels_codes_and_at_agree() -> None:
    got = detect(regime_walk(500, seed=9), SMALL)
    labels = got.labels()
    for i in range(len(got)):
        regime = got.at(i)
        assert labels[i] == ("warmup" if regime is None else str(regime))
        if regime is not None:
            assert REGIMES[int(got.codes()[i])] == regime
            assert Regime.parse(labels[i]) == regime
    assert len(set(REGIMES)) == 6


def test_the_arrays_are_read_only() -> None:
    got = detect(regime_walk(300, seed=2), SMALL)
    with pytest.raises(ValueError):
        got.trend[-1] = 1


# ---------------------------------------------------------------------------------------------------------------
# Hand-made markets (default parameters)

WARM = RegimeParams().warmup
AFTER = slice(WARM, None)


def test_a_steady_uptrend_with_low_noise_is_up_and_low() -> None:
    got = detect(walk(WARM + 800, sigma=0.002, drift=0.001), RegimeParams())
    trends = got.trend[AFTER]
    assert np.all(trends == 1)
    assert share(got, Regime(Trend.UP, Volatility.LOW), AFTER) > 0.9


def test_a_falling_market_is_down() -> None:
    got = detect(walk(WARM + 800, sigma=0.004, drift=-0.002), RegimeParams())
    assert np.all(got.trend[AFTER] == -1)


def test_a_flat_noisy_market_is_sideways() -> None:
    rng = np.random.default_rng(4)
    close = 100.0 * np.exp(0.01 * rng.standard_normal(WARM + 800))  # noise around a level, no drift
    got = detect(series_from_closes(close), RegimeParams())
    assert np.all(got.trend[AFTER] == 0)
    assert share(got, Regime(Trend.SIDEWAYS, Volatility.LOW), AFTER) > 0.9


def test_a_constant_price_is_sideways_and_low() -> None:
    got = detect(series_from_closes(np.full(WARM + 50, 100.0)), RegimeParams())
    assert {str(got.at(i)) for i in range(WARM, WARM + 50)} == {"sideways/low"}


def test_a_violent_period_after_a_calm_one_is_high_volatility() -> None:
    p = RegimeParams()
    calm, violent = WARM + 500, 400
    sigma = np.concatenate((np.full(calm, 0.004), np.full(violent, 0.02)))
    got = detect(walk(calm + violent, sigma=sigma, seed=3), p)
    assert share(got, Regime(Trend.SIDEWAYS, Volatility.HIGH), slice(WARM, calm)) == 0.0
    assert np.mean(got.volatility[WARM:calm] == 0) > 0.9
    # Once the realised-volatility window lies inside the violent part, every bar reads high.
    assert np.all(got.volatility[calm + p.vol_bars :] == 1)


def test_a_crash_after_a_calm_market_is_down_and_high() -> None:
    p = RegimeParams()
    calm, crash = WARM + 300, 300
    sigma = np.concatenate((np.full(calm, 0.004), np.full(crash, 0.02)))
    drift = np.concatenate((np.zeros(calm), np.full(crash, -0.006)))
    got = detect(walk(calm + crash, sigma=sigma, drift=drift, seed=5), p)
    assert share(got, Regime(Trend.DOWN, Volatility.HIGH), slice(calm + p.slope_bars + p.vol_bars, None)) > 0.9


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_driftless_random_walk_is_mostly_sideways_and_low(seed: int) -> None:
    """The convention behind the default thresholds: noise alone is no trend and no volatility regime."""
    got = detect(walk(WARM + 3000, sigma=0.01, seed=seed), RegimeParams())
    assert share(got, Regime(Trend.SIDEWAYS, Volatility.LOW)) > 0.5
    assert np.mean(got.volatility[AFTER] == 1) < 0.1


# ---------------------------------------------------------------------------------------------------------------
# Bundled BTCUSDT 1h: a sanity look, not a fit


@lru_cache(maxsize=1)
def btc() -> tuple[CandleSeries, RegimeSeries]:
    candles = BundledMarketData().candles(Symbol.parse("BTCUSDT"), Timeframe.H1)
    return candles, detect(candles)


def test_bundled_btc_2018_is_mostly_down_or_sideways() -> None:
    candles, got = btc()
    year = candles.open_time.astype("datetime64[ms]").astype("datetime64[Y]").astype(np.int64) + 1970
    in_2018 = (year == 2018) & got.valid
    assert in_2018.sum() > 8000
    trend = got.trend[in_2018]
    assert np.mean(trend <= 0) > 0.75
    assert np.mean(trend == -1) > np.mean(trend == 1)


def test_bundled_btc_shows_all_six_regimes() -> None:
    _, got = btc()
    assert set(got.labels()) - {"warmup"} == {str(r) for r in REGIMES}
