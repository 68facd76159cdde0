"""Why a backtest made no trade: the note built from the run's bars, signals and denials."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

import numpy as np

from application.engine import Denial
from application.use_cases.run_backtest import _why_no_trade
from domain.model.candles import CandleSeries
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe
from domain.strategies.base import Signals

HOUR = 3_600_000
T0 = 1_600_000_000_000 // HOUR * HOUR


def series(n: int, symbol: str = "ABCUSDT") -> CandleSeries:
    close = np.linspace(10.0, 11.0, n)
    times = T0 + HOUR * np.arange(n)
    return CandleSeries.from_arrays(Symbol.parse(symbol), Timeframe.parse("1h"), times, close, close, close, close,
                                    np.ones(n))  # fmt: skip


def signals(n: int, entries: list[int], warmup: int = 0) -> Signals:
    entry = np.zeros(n, dtype=bool)
    entry[entries] = True
    none = np.zeros(n, dtype=bool)
    return Signals(entry, none, none.copy(), none.copy(), np.full(n, np.nan), np.ones(n), warmup)


@dataclass(frozen=True)
class Scripted:
    """A strategy whose signals over any history are the given entry bars (by open time)."""

    entry_times: tuple[int, ...]
    name: ClassVar[str] = "scripted"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = ""
    warmup: int = 0

    def signals(self, candles: CandleSeries, context: object = None) -> Signals:
        idx = [int(i) for i in np.flatnonzero(np.isin(candles.open_time, self.entry_times))]
        return signals(len(candles), idx)


def test_the_only_signal_on_the_last_bar_would_fill_after_the_range() -> None:
    h = series(50)
    note = _why_no_trade(Scripted(()), [h], [signals(50, [49])], T0, [], None)
    assert note.startswith("no trade: ABCUSDT: its only entry signal, at the close of the last bar")
    assert "would fill after the range" in note


def test_denials_are_counted_by_rule_and_reductions_are_not_refusals() -> None:
    h = series(50)
    denials = [
        Denial(T0, "ABCUSDT", "max_drawdown: drawdown 30% reached the 25% limit"),
        Denial(T0 + HOUR, "ABCUSDT", "max_drawdown: drawdown 31% reached the 25% limit"),
        Denial(T0 + 2 * HOUR, "ABCUSDT", "entry rejected: notional 3.10 below the minimum 10"),
        Denial(T0 + 3 * HOUR, "ABCUSDT", "entry skipped: exposure caps leave 3.00 USDT, below the minimum order"),
        Denial(T0 + 2 * HOUR, "ABCUSDT", "max_position: holds 10%, cap 50%: size 100% -> 40%", "reduced"),
        Denial(T0, "OTHERUSDT", "correlation: no room"),
    ]
    note = _why_no_trade(Scripted(()), [h], [signals(50, [3, 10, 20, 30])], T0, denials, None)
    assert "every one of its 4 entry signals was refused (max_drawdown x2, " in note
    assert "refused by the venue x1" in note and "below the exchange minimum order x1" in note
    assert "max_position" not in note and "correlation" not in note


def test_the_last_signal_before_the_range_is_found_in_the_whole_history() -> None:
    full = series(300)
    kept = full.slice(200, 300)  # the backtest keeps a warm-up's worth of bars before the start
    start = int(full.open_time[250])
    strategy = Scripted((int(full.open_time[120]),), warmup=50)
    note = _why_no_trade(strategy, [kept], [signals(100, [], warmup=50)], start, [], [full])
    assert "no entry signal from" in note
    expected = datetime.fromtimestamp(int(full.open_time[120]) / 1000, UTC).strftime("%Y-%m-%d %H:%M")
    assert f"the last one came at {expected} UTC" in note


def test_a_portfolio_explains_each_symbol() -> None:
    a, b = series(20, "AAAUSDT"), series(300, "BBBUSDT")
    note = _why_no_trade(Scripted(()), [a, b], [signals(20, [], warmup=100), signals(300, [], warmup=100)], T0, [],
                         None)  # fmt: skip
    assert "AAAUSDT has 20 bars, fewer than the 100 bars" in note
    assert "BBBUSDT: scripted gave no entry signal after its 100-bar warm-up" in note
