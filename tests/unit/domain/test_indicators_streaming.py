"""Every indicator three ways: whole series, bar by bar, and on series that start at different bars.

- bar by bar: the incremental class fed one bar at a time returns exactly (``==``, NaN for NaN) the floats
  the whole-series function computes, on the bundled BTCUSDT hours and on random walks;
- warm-up: the whole-series output is NaN exactly before the documented ``warmup`` and finite from it on;
- causality: the function on a prefix equals the function on the full series over that prefix, exactly;
- prepend: from an indicator's documented convergence bar on, values computed on ``series[k:]`` equal those
  computed on the full series at the same bars within 1e-9 relative, so a live warm-up of any length agrees
  with a backtest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import domain.indicators as ind
from adapters.files import BundledMarketData
from domain.model.candles import CandleSeries
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe
from tests.unit.domain.helpers import random_walk_series

TOL = 1e-9


@dataclass(frozen=True)
class Bars:
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    @classmethod
    def of(cls, series: CandleSeries) -> Bars:
        return cls(series.high, series.low, series.close, series.volume)

    def __getitem__(self, s: slice) -> Bars:
        return Bars(self.high[s], self.low[s], self.close[s], self.volume[s])

    def __len__(self) -> int:
        return int(self.close.shape[0])

    def column(self, letter: str) -> np.ndarray:
        return {"h": self.high, "l": self.low, "c": self.close, "v": self.volume}[letter]


@dataclass(frozen=True)
class Case:
    """An indicator: its whole-series function, a factory for its incremental twin, the columns its
    ``update`` takes (h, l, c, v) and how its prepend tolerance scales: ``relative`` (to the value),
    ``unit`` (to max(|value|, 1), for oscillators crossing zero) or ``price`` (to the close, for MACD, a
    difference of prices)."""

    name: str
    whole: Callable[[Bars], Any]
    make: Callable[[], Any]
    inputs: str
    scale: str = "relative"

    def __str__(self) -> str:
        return self.name


CASES = [
    Case("sma", lambda b: ind.sma(b.close, 20), lambda: ind.SMA(20), "c"),
    Case("sma_1", lambda b: ind.sma(b.close, 1), lambda: ind.SMA(1), "c"),
    Case("sma_7", lambda b: ind.sma(b.close, 7), lambda: ind.SMA(7), "c"),
    Case("ema", lambda b: ind.ema(b.close, 20), lambda: ind.EMA(20), "c"),
    Case("ema_1", lambda b: ind.ema(b.close, 1), lambda: ind.EMA(1), "c"),
    Case("ema_200", lambda b: ind.ema(b.close, 200), lambda: ind.EMA(200), "c"),
    Case("wma", lambda b: ind.wma(b.close, 20), lambda: ind.WMA(20), "c"),
    Case("wma_2", lambda b: ind.wma(b.close, 2), lambda: ind.WMA(2), "c"),
    Case("wilder", lambda b: ind.wilder(b.close, 14), lambda: ind.Wilder(14), "c"),
    Case("rsi", lambda b: ind.rsi(b.close, 14), lambda: ind.RSI(14), "c"),
    Case("rsi_2", lambda b: ind.rsi(b.close, 2), lambda: ind.RSI(2), "c"),
    Case("macd", lambda b: ind.macd(b.close), ind.MACD, "c", "price"),
    Case("macd_5_35_5", lambda b: ind.macd(b.close, 5, 35, 5), lambda: ind.MACD(5, 35, 5), "c", "price"),
    Case("true_range", lambda b: ind.true_range(b.high, b.low, b.close), ind.TrueRange, "hlc"),
    Case("atr", lambda b: ind.atr(b.high, b.low, b.close, 14), lambda: ind.ATR(14), "hlc"),
    Case("bollinger", lambda b: ind.bollinger(b.close, 20, 2.0), lambda: ind.BollingerBands(20, 2.0), "c"),
    Case("bollinger_3", lambda b: ind.bollinger(b.close, 3, 1.5), lambda: ind.BollingerBands(3, 1.5), "c"),
    Case(
        "keltner",
        lambda b: ind.keltner(b.high, b.low, b.close, 20, 10, 2.0),
        lambda: ind.KeltnerChannels(20, 10, 2.0),
        "hlc",
    ),
    Case("adx", lambda b: ind.adx(b.high, b.low, b.close, 14), lambda: ind.ADX(14), "hlc"),
    Case("adx_1", lambda b: ind.adx(b.high, b.low, b.close, 1), lambda: ind.ADX(1), "hlc"),
    Case("adx_5", lambda b: ind.adx(b.high, b.low, b.close, 5), lambda: ind.ADX(5), "hlc"),
    Case("stochastic", lambda b: ind.stochastic(b.high, b.low, b.close), ind.Stochastic, "hlc"),
    Case(
        "stochastic_fast",
        lambda b: ind.stochastic(b.high, b.low, b.close, 5, 1, 3),
        lambda: ind.Stochastic(5, 1, 3),
        "hlc",
    ),
    Case("obv", lambda b: ind.obv(b.close, b.volume), ind.OBV, "cv"),
    Case("vwap", lambda b: ind.vwap(b.high, b.low, b.close, b.volume, 14), lambda: ind.VWAP(14), "hlcv"),
    Case("roc", lambda b: ind.roc(b.close, 10), lambda: ind.ROC(10), "c", "unit"),
    Case("cci", lambda b: ind.cci(b.high, b.low, b.close, 20), lambda: ind.CCI(20), "hlc", "unit"),
    Case("donchian", lambda b: ind.donchian(b.high, b.low, 20), lambda: ind.DonchianChannels(20), "hl"),
    Case(
        "realised_volatility",
        lambda b: ind.realised_volatility(b.close, 20, 8760.0),
        lambda: ind.RealisedVolatility(20, 8760.0),
        "c",
    ),
    Case(
        "realised_volatility_300",
        lambda b: ind.realised_volatility(b.close, 300),
        lambda: ind.RealisedVolatility(300),
        "c",
    ),
]


def outputs(value: Any) -> list[np.ndarray]:
    """The output arrays of a whole-series result (one array, or a named tuple of them)."""
    return list(value) if isinstance(value, tuple) else [value]


def stream(case: Case, bars: Bars) -> list[np.ndarray]:
    """Feed the incremental twin bar by bar; one array per output."""
    indicator = case.make()
    columns = [bars.column(letter).tolist() for letter in case.inputs]
    values = [indicator.update(*row) for row in zip(*columns, strict=True)]
    if values and isinstance(values[0], tuple):
        return [np.array(col, dtype=np.float64) for col in zip(*values, strict=True)]
    return [np.array(values, dtype=np.float64)]


def output_warmups(case: Case) -> list[int]:
    indicator = case.make()
    warmups = getattr(indicator, "warmups", None)
    if warmups is not None:
        return list(warmups)
    n_outputs = len(outputs(case.whole(Bars.of(random_walk_series(5, seed=1)))))
    return [indicator.warmup] * n_outputs


@pytest.fixture(scope="module")
def btc() -> Bars:
    return Bars.of(BundledMarketData().candles(Symbol("BTC", "USDT"), Timeframe.H1))


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bar_by_bar_equals_the_whole_series_on_bundled_data(case: Case, btc: Bars) -> None:
    bars = btc[:6000]  # many blocks of every block size in play, including a flat stretch of the feed
    for got, expected in zip(stream(case, bars), outputs(case.whole(bars)), strict=True):
        np.testing.assert_array_equal(got, expected, err_msg=case.name)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bar_by_bar_equals_the_whole_series_on_random_walks(case: Case) -> None:
    for seed, n in ((11, 1100), (12, 37), (13, 3)):
        bars = Bars.of(random_walk_series(n, seed=seed))
        for got, expected in zip(stream(case, bars), outputs(case.whole(bars)), strict=True):
            np.testing.assert_array_equal(got, expected, err_msg=f"{case.name}, seed {seed}")


@pytest.mark.parametrize("case", CASES, ids=str)
def test_warm_up_is_nan_and_then_every_value_is_defined(case: Case) -> None:
    bars = Bars.of(random_walk_series(700, seed=21))
    for out, warmup in zip(outputs(case.whole(bars)), output_warmups(case), strict=True):
        assert np.isnan(out[:warmup]).all(), case.name
        assert np.isfinite(out[warmup:]).all(), case.name
    assert case.make().warmup == max(output_warmups(case))


@pytest.mark.parametrize("case", CASES, ids=str)
def test_values_on_a_prefix_equal_the_full_series_values(case: Case) -> None:
    bars = Bars.of(random_walk_series(600, seed=4))
    full = outputs(case.whole(bars))
    for k in (0, 1, 2, 19, 20, 21, 255, 256, 257, 599):
        for part, whole in zip(outputs(case.whole(bars[:k])), full, strict=True):
            np.testing.assert_array_equal(part, whole[:k], err_msg=f"{case.name} at k={k}")


def prepend_tolerance(case: Case, expected: np.ndarray, close: np.ndarray) -> np.ndarray:
    if case.scale == "price":
        return TOL * np.maximum(np.abs(expected), close)
    if case.scale == "unit":
        return TOL * np.maximum(np.abs(expected), 1.0)
    return TOL * np.abs(expected)


@pytest.mark.parametrize("case", [c for c in CASES if c.name != "obv"], ids=str)
def test_more_history_does_not_change_values_after_convergence(case: Case, btc: Bars) -> None:
    conv = case.make().convergence(TOL)
    assert conv >= case.make().warmup
    full = outputs(case.whole(btc))
    for k in (1, 17, 256, 1001, 9999):
        part = outputs(case.whole(btc[k:]))
        assert len(btc) - k > conv + 1000
        for got, whole in zip(part, full, strict=True):
            got_c = got[conv:]
            expected = whole[k + conv :]
            defined = ~np.isnan(expected)  # a rolling VWAP is undefined over windows without volume
            np.testing.assert_array_equal(np.isnan(got_c), ~defined, err_msg=f"{case.name} at k={k}")
            error = np.abs(got_c[defined] - expected[defined])
            limit = prepend_tolerance(case, expected, btc.close[k + conv :])[defined]
            worst = int(np.argmax(error - limit))
            assert (error <= limit).all(), f"{case.name} k={k}: bar {k + conv + worst} off by {error[worst]:.3g}"


def test_recursive_values_do_depend_on_history_before_convergence(btc: Bars) -> None:
    """The prepend check can fail: at the seed the two EMAs differ by far more than the tolerance."""
    full = ind.ema(btc.close, 20)
    part = ind.ema(btc.close[1001:], 20)
    seed_bar = ind.EMA(20).warmup
    assert abs(part[seed_bar] - full[1001 + seed_bar]) > 1e3 * TOL * abs(full[1001 + seed_bar])


def test_obv_changes_do_not_depend_on_earlier_history(btc: Bars) -> None:
    """OBV's level is a running total from the first bar given; only its changes are comparable."""
    full = ind.obv(btc.close, btc.volume)
    scale = np.cumsum(np.abs(btc.volume))
    for k in (1, 17, 1001, 9999):
        part = ind.obv(btc.close[k:], btc.volume[k:])
        np.testing.assert_array_less(
            np.abs((part - part[0]) - (full[k:] - full[k])), TOL * scale[k:] + 1e-300, err_msg=f"k={k}"
        )


def test_convergence_grows_with_the_memory_of_the_smoothing() -> None:
    assert ind.SMA(50).convergence() == ind.SMA(50).warmup
    assert ind.EMA(50).convergence() > ind.EMA(20).convergence() > ind.EMA(20).warmup
    assert ind.EMA(20).convergence(1e-6) < ind.EMA(20).convergence(1e-9) < ind.EMA(20).convergence(1e-12)
    assert ind.ADX(14).convergence() > ind.ATR(14).convergence()  # ADX smooths an input still converging
    assert ind.KeltnerChannels(20, 10).convergence() == max(ind.EMA(20).convergence(), ind.ATR(10).convergence())
