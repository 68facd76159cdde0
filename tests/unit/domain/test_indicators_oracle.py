"""Indicators against reference libraries on the bundled BTCUSDT hours: TA-Lib where it has the indicator,
``ta`` for Keltner channels, Donchian channels and the rolling VWAP, and a plain-Python reference for
realised volatility.

Tolerance: ``|ours - reference| <= 1e-8 * max(1, |reference|)``, i.e. relative for values above 1 and
absolute below (MACD, ROC and CCI cross zero). Comparisons start at the first bar where both define a
value, except where a reference seeds its recursion differently (TA-Lib's MACD seeds the fast EMA at the
slow one's first bar; ``ta`` seeds its EMA with the first close and its ATR with bar 0's high - low): there
they start at our documented convergence bar, after which seeds no longer matter.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import ta
import talib

import domain.indicators as ind
from adapters.files import BundledMarketData
from domain.model.candles import CandleSeries
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe

TOL = 1e-8


@pytest.fixture(scope="module")
def btc() -> CandleSeries:
    return BundledMarketData().candles(Symbol("BTC", "USDT"), Timeframe.H1)


def first_valid(values: np.ndarray) -> int:
    return int(np.argmax(~np.isnan(values)))


def assert_matches(
    ours: np.ndarray, reference: np.ndarray, start: int, name: str, mask: np.ndarray | None = None
) -> None:
    ours = np.asarray(ours, dtype=np.float64)[start:]
    reference = np.asarray(reference, dtype=np.float64)[start:]
    if mask is not None:
        ours, reference = ours[mask[start:]], reference[mask[start:]]
    assert reference.size > 1000, name
    assert np.isfinite(reference).all(), f"{name}: the reference is not defined from bar {start}"
    assert np.isfinite(ours).all(), f"{name}: ours is not defined from bar {start}"
    error = np.abs(ours - reference) / np.maximum(1.0, np.abs(reference))
    worst = int(np.argmax(error))
    assert error[worst] <= TOL, f"{name}: bar {start + worst}: {ours[worst]!r} vs {reference[worst]!r}"


def assert_same_warmup(ours: np.ndarray, reference: np.ndarray, warmup: int, name: str) -> None:
    """Both NaN before ``warmup`` and defined at it: the same first valid bar."""
    assert first_valid(reference) == warmup, name
    assert first_valid(ours) == warmup, name
    assert np.isnan(ours[:warmup]).all(), name


@pytest.mark.parametrize("period", [2, 20, 200])
def test_moving_averages_match_ta_lib(btc: CandleSeries, period: int) -> None:
    c = btc.close
    for name, ours, reference in [
        ("SMA", ind.sma(c, period), talib.SMA(c, period)),
        ("EMA", ind.ema(c, period), talib.EMA(c, period)),
        ("WMA", ind.wma(c, period), talib.WMA(c, period)),
    ]:
        assert_same_warmup(ours, reference, period - 1, name)
        assert_matches(ours, reference, period - 1, f"{name}({period})")


@pytest.mark.parametrize("period", [2, 14, 30])
def test_rsi_atr_and_directional_movement_match_ta_lib(btc: CandleSeries, period: int) -> None:
    h, lo, c = btc.high, btc.low, btc.close
    ours_rsi = ind.rsi(c, period)
    assert_same_warmup(ours_rsi, talib.RSI(c, period), ind.RSI(period).warmup, "RSI")
    assert_matches(ours_rsi, talib.RSI(c, period), period, f"RSI({period})")
    ours_atr = ind.atr(h, lo, c, period)
    assert_same_warmup(ours_atr, talib.ATR(h, lo, c, period), ind.ATR(period).warmup, "ATR")
    assert_matches(ours_atr, talib.ATR(h, lo, c, period), period, f"ATR({period})")
    lines = ind.adx(h, lo, c, period)
    warmups = ind.ADX(period).warmups
    for name, ours, reference, warmup in [
        ("ADX", lines.adx, talib.ADX(h, lo, c, period), warmups.adx),
        ("+DI", lines.plus_di, talib.PLUS_DI(h, lo, c, period), warmups.plus_di),
        ("-DI", lines.minus_di, talib.MINUS_DI(h, lo, c, period), warmups.minus_di),
    ]:
        assert_same_warmup(ours, reference, warmup, name)
        assert_matches(ours, reference, warmup, f"{name}({period})")


def test_true_range_matches_ta_lib(btc: CandleSeries) -> None:
    ours = ind.true_range(btc.high, btc.low, btc.close)
    reference = talib.TRANGE(btc.high, btc.low, btc.close)
    assert_same_warmup(ours, reference, 1, "TRANGE")
    assert_matches(ours, reference, 1, "TRANGE")


@pytest.mark.parametrize(("period", "num_std"), [(20, 2.0), (5, 1.5), (100, 3.0)])
def test_bollinger_bands_match_ta_lib(btc: CandleSeries, period: int, num_std: float) -> None:
    ours = ind.bollinger(btc.close, period, num_std)
    reference = talib.BBANDS(btc.close, period, num_std, num_std, 0)
    for name, mine, theirs in zip(("upper", "middle", "lower"), ours, reference, strict=True):
        assert_same_warmup(mine, theirs, period - 1, name)
        assert_matches(mine, theirs, period - 1, f"Bollinger {name}")


@pytest.mark.parametrize(("fast", "slow", "signal"), [(12, 26, 9), (5, 35, 5)])
def test_macd_matches_ta_lib_once_seeds_are_forgotten(btc: CandleSeries, fast: int, slow: int, signal: int) -> None:
    ours = ind.macd(btc.close, fast, slow, signal)
    reference = talib.MACD(btc.close, fast, slow, signal)
    indicator = ind.MACD(fast, slow, signal)
    # the same first bars: the MACD line exists from the slow EMA's seed, signal and histogram later
    assert first_valid(ours.macd) == slow - 1 == indicator.warmups.macd
    assert first_valid(reference[1]) == indicator.warmups.signal == first_valid(ours.signal)
    for name, mine, theirs in zip(("macd", "signal", "histogram"), ours, reference, strict=True):
        assert_matches(mine, theirs, indicator.convergence(), f"MACD {name}")
    # the line is exactly the difference of the two EMAs
    np.testing.assert_array_equal(ours.macd, ind.ema(btc.close, fast) - ind.ema(btc.close, slow))


def test_stochastic_matches_ta_lib_where_the_range_is_not_flat(btc: CandleSeries) -> None:
    h, lo, c = btc.high, btc.low, btc.close
    k_period, k_smooth, d_period = 14, 3, 3
    ours = ind.stochastic(h, lo, c, k_period, k_smooth, d_period)
    reference = talib.STOCH(h, lo, c, k_period, k_smooth, 0, d_period, 0)
    # A flat range (HH == LL) gives a raw %K of 50 here and 0 in TA-Lib; the bundled feed has flat
    # stretches, so leave out the bars whose %K or %D averages any raw value from a flat range.
    flat = (talib.MAX(h, k_period) == talib.MIN(lo, k_period)).astype(float)
    touched = np.convolve(flat, np.ones(k_smooth + d_period - 1))[: len(c)] > 0
    assert touched.any()
    warmups = ind.Stochastic(k_period, k_smooth, d_period).warmups
    assert first_valid(ours.k) == warmups.k == k_period + k_smooth - 2
    assert first_valid(ours.d) == warmups.d == first_valid(reference[1])
    for name, mine, theirs in zip(("%K", "%D"), ours, reference, strict=True):
        assert_matches(mine, theirs, warmups.d, f"stochastic {name}", mask=~touched)


def test_obv_roc_and_cci_match_ta_lib(btc: CandleSeries) -> None:
    h, lo, c, v = btc.high, btc.low, btc.close, btc.volume
    assert_matches(ind.obv(c, v), talib.OBV(c, v), 0, "OBV")
    for period in (1, 10, 50):
        ours = ind.roc(c, period)
        assert_same_warmup(ours, talib.ROC(c, period), period, "ROC")
        assert_matches(ours, talib.ROC(c, period), period, f"ROC({period})")
    for period in (5, 20):
        ours = ind.cci(h, lo, c, period)
        assert_same_warmup(ours, talib.CCI(h, lo, c, period), period - 1, "CCI")
        assert_matches(ours, talib.CCI(h, lo, c, period), period - 1, f"CCI({period})")


def frame(series: CandleSeries) -> pd.DataFrame:
    return pd.DataFrame({"high": series.high, "low": series.low, "close": series.close, "volume": series.volume})


def test_keltner_channels_match_ta_once_seeds_are_forgotten(btc: CandleSeries) -> None:
    df = frame(btc)
    reference = ta.volatility.KeltnerChannel(
        df["high"], df["low"], df["close"], window=20, window_atr=10, original_version=False, multiplier=2
    )
    ours = ind.keltner(btc.high, btc.low, btc.close, 20, 10, 2.0)
    start = ind.KeltnerChannels(20, 10, 2.0).convergence()
    assert_matches(ours.upper, reference.keltner_channel_hband().to_numpy(), start, "Keltner upper")
    assert_matches(ours.middle, reference.keltner_channel_mband().to_numpy(), start, "Keltner middle")
    assert_matches(ours.lower, reference.keltner_channel_lband().to_numpy(), start, "Keltner lower")
    np.testing.assert_array_equal(ours.middle, ind.ema(btc.close, 20))


@pytest.mark.parametrize("period", [1, 20, 55])
def test_donchian_channels_match_ta(btc: CandleSeries, period: int) -> None:
    df = frame(btc)
    reference = ta.volatility.DonchianChannel(df["high"], df["low"], df["close"], window=period)
    ours = ind.donchian(btc.high, btc.low, period)
    for name, mine, theirs in [
        ("upper", ours.upper, reference.donchian_channel_hband()),
        ("middle", ours.middle, reference.donchian_channel_mband()),
        ("lower", ours.lower, reference.donchian_channel_lband()),
    ]:
        assert_same_warmup(mine, theirs.to_numpy(), period - 1, name)
        assert_matches(mine, theirs.to_numpy(), period - 1, f"Donchian {name}")


@pytest.mark.parametrize("period", [1, 14, 24])
def test_rolling_vwap_matches_ta(btc: CandleSeries, period: int) -> None:
    df = frame(btc)
    reference = ta.volume.VolumeWeightedAveragePrice(
        df["high"], df["low"], df["close"], df["volume"], window=period
    ).volume_weighted_average_price()
    ours = ind.vwap(btc.high, btc.low, btc.close, btc.volume, period)
    traded = np.isfinite(reference.to_numpy())  # both leave windows without volume undefined
    np.testing.assert_array_equal(np.isfinite(ours), traded)
    assert_matches(ours, reference.to_numpy(), period - 1, f"VWAP({period})", mask=traded)


def reference_realised_volatility(close: list[float], period: int, periods_per_year: float) -> list[float]:
    """Sample standard deviation of the last ``period`` log returns, straight from the definition."""
    out = [math.nan] * len(close)
    returns = [math.log(close[i] / close[i - 1]) for i in range(1, len(close))]
    for t in range(period, len(close)):
        window = returns[t - period : t]
        mean = math.fsum(window) / period
        variance = math.fsum((r - mean) ** 2 for r in window) / (period - 1)
        out[t] = math.sqrt(variance * periods_per_year)
    return out


@pytest.mark.parametrize(("period", "periods_per_year"), [(2, 1.0), (20, 8760.0), (168, 8760.0)])
def test_realised_volatility_matches_a_plain_reference(btc: CandleSeries, period: int, periods_per_year: float) -> None:
    close = btc.close[:6000]
    ours = ind.realised_volatility(close, period, periods_per_year)
    reference = np.array(reference_realised_volatility(close.tolist(), period, periods_per_year))
    assert_same_warmup(ours, reference, period, "realised volatility")
    assert_matches(ours, reference, period, f"realised volatility({period})")
    # cross-check with pandas' rolling standard deviation
    rolling = pd.Series(np.log(close[1:] / close[:-1])).rolling(period).std().to_numpy() * math.sqrt(periods_per_year)
    assert_matches(ours[1:], rolling, period - 1, "realised volatility vs pandas")
