"""The engine asks the sizer and the risk manager at each entry, and records every denial and reduction."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from adapters.simulation import SimulatedBroker, SimulatedClock
from application.engine import Engine
from domain.model.candles import CandleSeries
from domain.model.market import MarketFrame
from domain.model.symbols import Instrument, Symbol
from domain.model.timeframe import Timeframe
from domain.risk import FixedFraction, RiskLimits, RiskManager, merge
from domain.strategies.base import Signals, no_signals
from tests.builders import HOUR_MS, random_walk

DAY_BARS = 24


def series(closes: np.ndarray, symbol: str = "BTCUSDT", start_ms: int = 1_600_041_600_000) -> CandleSeries:
    """Hourly candles from closes; the start (2020-09-14 00:00 UTC) is a day boundary."""
    open_ = np.concatenate(([closes[0]], closes[:-1]))
    times = start_ms + HOUR_MS * np.arange(len(closes), dtype=np.int64)
    return CandleSeries.from_arrays(
        Symbol.parse(symbol), Timeframe.H1, times, open_, np.maximum(open_, closes) * 1.001,
        np.minimum(open_, closes) * 0.999, closes, np.ones(len(closes)),
    )  # fmt: skip


def entries_at(n: int, bars: list[int], exits: list[int] = ()) -> Signals:
    s = no_signals(n, 0)
    s.long_entry[bars] = True
    s.long_exit[list(exits)] = True
    return s


def engine(frame: MarketFrame, sigs: list[Signals], limits: RiskLimits, fraction: float = 0.5) -> Engine:
    clock = SimulatedClock(int(frame.open_time[0]))
    instruments = [Instrument(s, Decimal("0.01"), Decimal("0.00001"), Decimal("10")) for s in frame.symbols]
    broker = SimulatedBroker(frame, instruments, Decimal(10_000), clock, taker_fee_bps=Decimal(0))
    return Engine(
        frame, sigs, broker, clock, Decimal(10_000), sizer=FixedFraction(fraction), risk=RiskManager(limits),
        correlation_window=48,
    )  # fmt: skip


def test_a_losing_day_stops_new_entries_until_the_next_utc_day() -> None:
    # Day 1: long from bar 2, the price falls 12% by bar 10 (position 50% -> equity -6%); exit at bar 10.
    closes = np.full(3 * DAY_BARS, 100.0)
    closes[3:11] = np.linspace(99, 88, 8)
    closes[11:] = 88.0
    candles = series(closes)
    limits = merge(RiskLimits.unlimited(), {"daily_loss_limit": 0.05})
    sig = entries_at(len(closes), [1, 15, DAY_BARS + 2], exits=[10, DAY_BARS + 10])
    result = engine(MarketFrame.align([candles]), [sig], limits).run()
    entries = [f for f in result.fills if f.tag == "entry"]
    assert [f.timestamp for f in entries] == [candles.open_time[2], candles.open_time[DAY_BARS + 3]]
    (denial,) = result.denials
    assert denial.action == "denied" and denial.reason.startswith("daily_loss_limit")
    assert denial.time_ms == candles.open_time[15] + HOUR_MS


def test_a_second_correlated_symbol_gets_a_reduced_size() -> None:
    btc = random_walk(300, seed=9)
    twin = CandleSeries.from_arrays(
        Symbol.parse("ETHUSDT"), btc.timeframe, btc.open_time, btc.open * 0.05, btc.high * 0.05, btc.low * 0.05,
        btc.close * 0.05, btc.volume,
    )  # fmt: skip
    other = random_walk(300, seed=10, symbol="SOLUSDT")
    frame = MarketFrame.align([btc, twin, other])
    limits = merge(RiskLimits.unlimited(), {"max_position": 0.5, "correlation_threshold": 0.8})
    sigs = [entries_at(300, [100]), entries_at(300, [150]), entries_at(300, [150])]
    result = engine(frame, sigs, limits, fraction=0.3).run()
    notional = {f.symbol.base: float(f.quantity * f.price) for f in result.fills}
    equity_at_150 = result.equity[150]
    btc_value = notional["BTC"] / float(result.fills[0].price) * btc.close[150]
    # ETH moves exactly with BTC: they share one 50% budget, so ETH gets what BTC leaves.
    assert notional["ETH"] == pytest.approx(0.5 * equity_at_150 - btc_value, rel=1e-3)
    assert notional["SOL"] == pytest.approx(0.3 * equity_at_150, rel=1e-3)  # uncorrelated: full size
    (reduced,) = [d for d in result.denials if d.symbol == "ETHUSDT"]
    assert reduced.action == "reduced" and reduced.reason.startswith("correlation")
    assert not [d for d in result.denials if d.symbol == "SOLUSDT"]


def test_the_drawdown_circuit_breaker_denies_entries_with_a_reason() -> None:
    closes = np.concatenate((np.full(5, 100.0), np.linspace(100, 40, 20), np.full(20, 40.0)))
    candles = series(closes)
    limits = merge(RiskLimits.unlimited(), {"max_drawdown": 0.2})
    sig = entries_at(len(closes), [1, 30], exits=[24])
    result = engine(MarketFrame.align([candles]), [sig], limits, fraction=1.0).run()
    assert len([f for f in result.fills if f.tag == "entry"]) == 1
    (denial,) = result.denials
    assert denial.reason.startswith("max_drawdown")


@pytest.mark.parametrize("offset_ms", [0, 20 * 60_000])  # bars on the hour, and bars at hh:20
def test_the_day_start_equity_is_the_last_close_before_midnight_across_gaps(offset_ms: int) -> None:
    """The daily loss limit compares with the equity at the close of the day's last bar before midnight,
    found without a search when no bar is missing since midnight and by one when some are."""
    rng = np.random.default_rng(3)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 24 * 8)))
    full = series(closes, start_ms=1_600_041_600_000 + offset_ms)
    keep = np.ones(len(closes), dtype=bool)
    keep[[30, 31, 50, 70, 71, 72, 95, 96, 97, 140]] = False  # gaps, some across midnight
    candles = CandleSeries.from_arrays(
        full.symbol, full.timeframe, full.open_time[keep], full.open[keep], full.high[keep], full.low[keep],
        full.close[keep], full.volume[keep],
    )  # fmt: skip
    limits = merge(RiskLimits.unlimited(), {"daily_loss_limit": 0.5})
    run = engine(MarketFrame.align([candles]), [entries_at(len(candles), [1])], limits, fraction=0.9)
    result = run.run()
    times = candles.open_time
    day_ms = 86_400_000
    for i in range(len(candles)):
        midnight = times[i] - times[i] % day_ms
        first = int(np.searchsorted(times, midnight))
        want = result.equity[first - 1] if first > 0 else 10_000.0
        view = run._account_view(0, i, float(result.equity[i]), 0.0)
        assert view.day_start_equity == want, i
