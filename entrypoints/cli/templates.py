"""What ``atb strategies new NAME`` writes: a commented, complete strategy on the public API and a pytest file
that loads it and checks it on bundled candles (docs/user-strategies.md). Standard library only."""

from __future__ import annotations

STRATEGY = '''"""{name}: a strategy of your own for atb (written by `atb strategies new {name}`; edit it freely).

atb loads every *.py file of your strategies directory (ATB_STRATEGIES_DIR, default <data dir>/strategies),
or this file wherever it is with `atb backtest --strategy path/to/{name}.py:{cls}`.
Everything a strategy needs comes from one import path, domain.strategies.api (docs/strategy-api.md).
The rule that matters: the decision at bar t may read bars <= t only. test_{name}.py beside this file checks it.
"""

from __future__ import annotations

import numpy as np

from domain.strategies.api import (
    CandleSeries,
    Context,
    ExitRules,
    Extras,
    InvalidParameter,
    Param,
    Signals,
    Strategy,
    atr,
    crossings,
    ema,
)

ATR_BARS = 14  # the average true range the stop is measured in
STOP_ATRS = 2.5  # the protective stop: this many ATRs below the close that decided the entry
TRAILING = 0.08  # exit rule: once in, the stop trails 8 % below the highest high since entry


class {cls}(Strategy):
    """Long when EMA(fast) crosses above EMA(slow), out when it crosses back below or at the stop."""

    # The name you run it by (`atb backtest --strategy {name}`): lowercase letters, digits and _, unique among
    # the built-in strategies and yours.
    name = "{name}"
    # Semantic version: raise the major number when the parameters change meaning.
    version = "0.1.0"
    description = "EMA crossover, long only, ATR stop and a trailing stop"

    # Parameters: a default (required), inclusive bounds (what an optimiser searches) and a line of help.
    # `--param fast=20` sets one; text is converted to the default's type and checked against the bounds.
    fast = Param(12, low=2, high=200, help="bars of the fast EMA")
    slow = Param(48, low=3, high=1000, help="bars of the slow EMA")

    def validate(self) -> None:
        # Rules between parameters: raise InvalidParameter with a clear message.
        if not self.fast < self.slow:
            raise InvalidParameter(f"fast ({{self.fast}}) must be below slow ({{self.slow}})")

    @property
    def warmup(self) -> int:
        # Bars of history before the first decision: the slow EMA (and the ATR) need that many.
        return max(int(self.slow), ATR_BARS + 1)

    @property
    def history_bars(self) -> int:
        # The trailing window that gives, at the newest bar, the decision the whole history gives (what a live
        # session keeps). An EMA forgets its start: after 20 x slow bars its seed weighs less than 1e-16.
        return 20 * self.warmup

    def extras(self) -> Extras:
        # What the engine runs it with by default (`atb strategies show {name}` prints the merged result):
        # a sizer by name (None: the default one), risk limits of its own, the account leverage (None: spot).
        return Extras(risk={{"max_drawdown": 0.3}})

    def signals(self, candles: CandleSeries, context: Context) -> Signals:
        # Computed for the whole history at once (numpy arrays, one value per bar). `context` carries what the
        # application supplies (model predictions, sentiment, regimes); this strategy needs none of it.
        close = candles.close
        n = close.shape[0]
        up, down = crossings(ema(close, self.fast), ema(close, self.slow), self.warmup)
        stop = STOP_ATRS * atr(candles.high, candles.low, close, ATR_BARS)  # a price distance below the close
        no = np.zeros(n, dtype=np.bool_)
        return Signals(
            long_entry=up,  # buy at the next bar's open
            long_exit=down,  # sell at the next bar's open
            short_entry=no,
            short_exit=no.copy(),
            stop_distance=stop,
            size=np.full(n, 1.0),  # fraction of equity an entry asks for (the sizer and risk limits decide)
            warmup=self.warmup,
            exits=ExitRules(trailing_pct=TRAILING),
        )
'''

TEST = '''"""Tests of {name}.py (written by `atb strategies new {name}`): run them with `pytest {test_file}`.

The strategy is loaded the way atb loads it, and run on bundled candles through the research-free path:
`signals(candles, Context())`, no model, no engine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.files import BundledMarketData
from adapters.strategies import classes_in_file
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe
from domain.strategies.api import CandleSeries, Context, Strategy
from domain.strategies.audit import lookahead_bars

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def candles() -> CandleSeries:
    btc = BundledMarketData().candles(Symbol("BTC", "USDT"), Timeframe.parse("1h"))
    return btc.slice(len(btc) - 3000, len(btc))  # the latest 3,000 hours


def strategy() -> Strategy:
    classes, _digest = classes_in_file(HERE / "{name}.py", "{cls}")  # one line naming file:line if it is broken
    return classes[0]()


def test_it_loads_with_its_defaults() -> None:
    made = strategy()
    assert made.name == "{name}"
    assert 0 <= made.warmup < made.history_bars


def test_one_decision_per_bar(candles: CandleSeries) -> None:
    signals = strategy().signals(candles, Context())
    for series in (signals.long_entry, signals.long_exit, signals.short_entry, signals.short_exit,
                   signals.stop_distance, signals.size):
        assert len(series) == len(candles)
    assert signals.long_entry.any(), "no entry on 3,000 bars: check the rules"


def test_it_never_looks_ahead(candles: CandleSeries) -> None:
    made = strategy()
    ends = range(made.warmup + 2, len(candles) + 1, 37)  # the decision at each prefix's last bar
    assert lookahead_bars(made, candles, ends) == []


def test_the_trailing_window_decides_as_the_whole_history(candles: CandleSeries) -> None:
    made = strategy()
    window = made.history_bars
    full = made.signals(candles, Context())
    for end in range(window, len(candles) + 1, 211):
        part = made.signals(candles.slice(end - window, end), Context())
        assert part.at(window - 1) == full.at(end - 1), f"bar {{end - 1}}"
'''


def class_name(name: str) -> str:
    """``my_cross`` -> ``MyCross`` (a strategy's name is a lowercase identifier)."""
    return "".join(part.capitalize() for part in name.split("_") if part) or "Strategy"


def render(name: str) -> tuple[str, str]:
    """The strategy file and its test file for strategy ``name``."""
    cls = class_name(name)
    return STRATEGY.format(name=name, cls=cls), TEST.format(name=name, cls=cls, test_file=f"test_{name}.py")
