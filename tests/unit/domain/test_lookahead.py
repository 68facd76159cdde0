"""The look-ahead proof: every registered strategy decides at bar t from bars <= t only.

For each strategy, signals on the full history and on many truncated prefixes must agree at each prefix's
last bar (entries, exits, stop distance, size, confidence, ATR). A deliberately leaky strategy fails it,
which shows the check can fail.
"""

from __future__ import annotations

import numpy as np
import pytest

from adapters.files import BundledMarketData
from domain.model.candles import CandleSeries
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe
from domain.strategies.api import Context, Signals, Strategy, no_signals
from domain.strategies.audit import lookahead_bars
from domain.strategies.registry import create_strategy, strategy_names
from tests.builders import random_walk


def _ends(n: int, warmup: int, count: int = 60, seed: int = 0) -> list[int]:
    rng = np.random.default_rng(seed)
    picks = rng.choice(np.arange(warmup + 2, n + 1), size=min(count, n - warmup - 1), replace=False)
    return sorted({*picks.tolist(), n, warmup + 2})


@pytest.fixture(scope="module")
def bundled_slice() -> CandleSeries:
    btc = BundledMarketData().candles(Symbol("BTC", "USDT"), Timeframe.H1)
    return btc.slice(8000, 11000)  # includes a strong trend and a crash-like fall (2018)


@pytest.mark.parametrize("name", strategy_names())
def test_no_registered_strategy_looks_ahead_on_a_random_walk(name: str) -> None:
    strategy = create_strategy(name)
    candles = random_walk(2500, seed=17)
    assert lookahead_bars(strategy, candles, _ends(len(candles), strategy.warmup)) == []


@pytest.mark.parametrize("name", strategy_names())
def test_no_registered_strategy_looks_ahead_on_real_candles(name: str, bundled_slice: CandleSeries) -> None:
    strategy = create_strategy(name)
    assert lookahead_bars(strategy, bundled_slice, _ends(len(bundled_slice), strategy.warmup, seed=1)) == []


class PeeksAtTomorrow(Strategy):
    """Buys when the NEXT close is higher: the classic look-ahead bug."""

    name = "leaky"
    description = "uses close[t + 1] at bar t"

    def signals(self, candles: CandleSeries, context: Context) -> Signals:
        s = no_signals(len(candles), 1)
        up = np.zeros(len(candles), dtype=bool)
        up[:-1] = candles.close[1:] > candles.close[:-1]
        s.long_entry[:] = up
        return s


class CentredSmoothing(Strategy):
    """A subtler leak: a centred moving average (uses bars on both sides)."""

    name = "centred"
    description = "centred window"

    @property
    def warmup(self) -> int:
        return 5

    def signals(self, candles: CandleSeries, context: Context) -> Signals:
        s = no_signals(len(candles), 5)
        smooth = np.convolve(candles.close, np.ones(5) / 5, mode="same")
        s.stop_distance[:] = np.abs(candles.close - smooth)
        return s


@pytest.mark.parametrize("leaky", [PeeksAtTomorrow(), CentredSmoothing()])
def test_a_leaky_strategy_is_caught(leaky: Strategy) -> None:
    candles = random_walk(600, seed=3)
    leaks = lookahead_bars(leaky, candles, _ends(len(candles), 5))
    assert len(leaks) > 10
