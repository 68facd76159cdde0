"""The engine loop on hand-made bars: decisions at a close fill at the next open, never earlier."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from adapters.simulation import SimulatedBroker, SimulatedClock
from application.engine import Engine, EngineConfig
from domain.model.candles import CandleSeries
from domain.model.symbols import Instrument, Symbol
from domain.model.timeframe import Timeframe
from domain.strategies.base import Signals, no_signals
from tests.builders import HOUR_MS, T0, random_walk, series_from_rows

FIVE_BARS = [
    # open, high, low, close: every bar's prices are distinct so a fill price tells which bar it used
    (100.0, 101.0, 99.0, 100.5),
    (101.0, 103.0, 100.0, 102.0),  # bar 1: the entry is decided at this close
    (105.0, 107.0, 104.0, 106.0),  # bar 2: ... and fills at this open
    (108.0, 109.0, 107.0, 108.5),  # bar 3: the exit is decided at this close
    (110.0, 111.0, 109.0, 110.5),  # bar 4: ... and fills at this open
]


def make_engine(
    candles: CandleSeries,
    signals: Signals,
    cash: str = "10000",
    fee_bps: str = "10",
    slippage_bps: str = "0",
    instrument: Instrument | None = None,
) -> tuple[Engine, SimulatedBroker]:
    clock = SimulatedClock(candles.start_ms)
    broker = SimulatedBroker(
        candles,
        instrument or Instrument(candles.symbol, Decimal("0.01"), Decimal("0.00001"), Decimal("10")),
        Decimal(cash),
        clock,
        taker_fee_bps=Decimal(fee_bps),
        slippage_bps=Decimal(slippage_bps),
    )
    return Engine(candles, signals, broker, clock, Decimal(cash)), broker


def signals_for(n: int, entries: list[int] = (), exits: list[int] = (), stop_distance: float = np.nan) -> Signals:
    s = no_signals(n, 0)
    s.long_entry[list(entries)] = True
    s.long_exit[list(exits)] = True
    s.stop_distance[:] = stop_distance
    return s


def test_an_order_decided_on_a_bar_fills_at_the_next_bars_open() -> None:
    candles = series_from_rows(FIVE_BARS)
    engine, _ = make_engine(candles, signals_for(5, entries=[1], exits=[3]))
    result = engine.run()
    entry, exit_ = result.fills
    assert entry.timestamp == T0 + 2 * HOUR_MS and entry.price == Decimal("105.0")
    assert exit_.timestamp == T0 + 4 * HOUR_MS and exit_.price == Decimal("110.0")
    # Never at the deciding bar's prices.
    assert entry.price not in {Decimal(str(x)) for x in FIVE_BARS[1]}
    assert exit_.price not in {Decimal(str(x)) for x in FIVE_BARS[3]}
    (trade,) = result.trades
    assert trade.entry_time == entry.timestamp and trade.exit_time == exit_.timestamp
    assert trade.exit_reason == "exit"


def test_fees_are_charged_per_side_and_equity_adds_up() -> None:
    candles = series_from_rows(FIVE_BARS)
    engine, broker = make_engine(candles, signals_for(5, entries=[1], exits=[3]), fee_bps="10")
    result = engine.run()
    entry, exit_ = result.fills
    rate = Decimal("0.001")
    assert entry.fee == entry.quantity * entry.price * rate
    assert exit_.fee == exit_.quantity * exit_.price * rate
    # The whole starting cash (fee included) buys the position, rounded down to the step.
    assert entry.quantity * entry.price * (1 + rate) <= Decimal(10000)
    assert Decimal(10000) - entry.quantity * entry.price * (1 + rate) < Decimal("0.00001") * entry.price * 2
    expected_cash = Decimal(10000) + (exit_.price - entry.price) * entry.quantity - entry.fee - exit_.fee
    assert result.portfolio.cash == expected_cash == broker.cash()
    assert result.equity[-1] == pytest.approx(float(expected_cash), rel=1e-12)
    (trade,) = result.trades
    assert trade.pnl == pytest.approx(float(expected_cash) - 10000, rel=1e-12)
    assert trade.fees == pytest.approx(float(entry.fee + exit_.fee), rel=1e-12)


def test_equity_is_marked_at_every_close_between_events() -> None:
    candles = series_from_rows(FIVE_BARS)
    engine, _ = make_engine(candles, signals_for(5, entries=[1], exits=[3]), fee_bps="0")
    result = engine.run()
    qty = float(result.fills[0].quantity)
    cash_after_entry = 10000 - qty * 105.0
    assert result.equity[0] == 10000 and result.equity[1] == 10000
    assert result.equity[2] == pytest.approx(cash_after_entry + qty * 106.0)
    assert result.equity[3] == pytest.approx(cash_after_entry + qty * 108.5)
    assert result.equity[4] == pytest.approx(cash_after_entry + qty * 110.0)


def test_slippage_moves_market_fills_against_us() -> None:
    candles = series_from_rows(FIVE_BARS)
    engine, _ = make_engine(candles, signals_for(5, entries=[1], exits=[3]), slippage_bps="10")
    entry, exit_ = engine.run().fills
    assert entry.price == Decimal("105.0") * Decimal("1.001")
    assert exit_.price == Decimal("110.0") * Decimal("0.999")
    assert entry.slippage == (entry.price - Decimal("105.0")) * entry.quantity


def test_attached_stop_fills_at_the_stop_inside_a_later_bar() -> None:
    rows = [*FIVE_BARS[:3], (105.5, 106.0, 95.0, 96.0), (96.0, 97.0, 95.0, 96.5)]
    candles = series_from_rows(rows)
    # Stop 4.0 below the deciding close (102.0): 98.0, inside bar 3's range.
    engine, _ = make_engine(candles, signals_for(5, entries=[1], stop_distance=4.0))
    result = engine.run()
    entry, stop = result.fills
    assert stop.timestamp == T0 + 3 * HOUR_MS and stop.price == Decimal("98.00")
    assert stop.quantity == entry.quantity
    assert result.trades[0].exit_reason == "stop_loss"
    assert result.portfolio.position(candles.symbol).is_flat


def test_a_gap_through_the_stop_fills_at_the_worse_open() -> None:
    rows = [*FIVE_BARS[:3], (90.0, 91.0, 89.0, 90.5), (90.0, 91.0, 89.0, 90.5)]
    candles = series_from_rows(rows)
    engine, _ = make_engine(candles, signals_for(5, entries=[1], stop_distance=4.0))
    stop = engine.run().fills[1]
    assert stop.price == Decimal("90.0")


def test_the_stop_can_trigger_in_the_entry_bar_itself() -> None:
    rows = [*FIVE_BARS[:2], (103.0, 103.5, 97.0, 99.0), *FIVE_BARS[3:]]
    candles = series_from_rows(rows)
    engine, _ = make_engine(candles, signals_for(5, entries=[1], stop_distance=4.0))
    entry, stop = engine.run().fills
    assert entry.timestamp == stop.timestamp == T0 + 2 * HOUR_MS
    assert stop.price == Decimal("98.00")


def test_an_exit_cancels_the_protective_stop() -> None:
    # Exit decided at bar 3, filled at bar 4's open; bar 4 then trades through the old stop.
    rows = [*FIVE_BARS[:4], (108.0, 109.0, 50.0, 60.0), (60.0, 61.0, 59.0, 60.5)]
    candles = series_from_rows(rows)
    engine, broker = make_engine(candles, signals_for(6, entries=[1], exits=[3], stop_distance=4.0))
    result = engine.run()
    assert len(result.fills) == 2 and result.fills[1].price == Decimal("108.0")
    assert broker.open_orders() == []
    assert result.portfolio.position(candles.symbol).is_flat


def test_entry_below_the_minimum_notional_is_denied_with_a_reason() -> None:
    candles = series_from_rows(FIVE_BARS)
    engine, _ = make_engine(candles, signals_for(5, entries=[1]), cash="5")
    result = engine.run()
    assert result.fills == []
    assert result.equity[-1] == 5.0
    (denial,) = result.denials
    assert "minimum order" in denial.reason
    assert denial.time_ms == T0 + 2 * HOUR_MS  # denied when decided, at bar 1's close, before any order


def test_skipping_quiet_bars_gives_the_same_result_as_visiting_every_bar() -> None:
    candles = random_walk(3000, seed=3)
    rng = np.random.default_rng(1)
    entries = sorted(rng.choice(np.arange(10, 2990), 40, replace=False).tolist())
    exits = sorted(rng.choice(np.arange(10, 2990), 40, replace=False).tolist())
    signals = signals_for(3000, entries=entries, exits=exits, stop_distance=1.5)

    fast, _ = make_engine(candles, signals, slippage_bps="5")
    fast._signal_replay = False  # the engine's own skipping (the venue's signal replay: test_signal_replay.py)
    fast_result = fast.run()

    slow, _ = make_engine(candles, signals, slippage_bps="5")
    for i in range(len(candles)):
        slow.process_bar(i)
    slow_result = slow.result()

    assert fast_result.fills == slow_result.fills
    assert len(fast_result.trades) > 5
    np.testing.assert_array_equal(fast_result.equity, slow_result.equity)


def test_no_fill_uses_a_later_bar() -> None:
    """Truncating the data after bar k changes nothing that happened up to bar k."""
    candles = random_walk(1500, seed=11)
    rng = np.random.default_rng(5)
    entries = sorted(rng.choice(np.arange(5, 1490), 30, replace=False).tolist())
    exits = sorted(rng.choice(np.arange(5, 1490), 30, replace=False).tolist())
    full_signals = signals_for(1500, entries=entries, exits=exits, stop_distance=1.0)
    full = make_engine(candles, full_signals)[0].run()
    for k in (200, 601, 1013):
        part = candles.slice(0, k)
        s = full_signals
        part_signals = Signals(
            s.long_entry[:k], s.long_exit[:k], s.short_entry[:k], s.short_exit[:k], s.stop_distance[:k], s.size[:k], 0
        )
        result = make_engine(part, part_signals)[0].run()
        cutoff = int(candles.open_time[k - 1])
        assert result.fills == [f for f in full.fills if f.timestamp <= cutoff]
        np.testing.assert_array_equal(result.equity, full.equity[:k])


def _flat_candles(n: int, zero_volume: list[int]) -> CandleSeries:
    closes = np.full(n, 100.0)
    volume = np.ones(n)
    volume[zero_volume] = 0.0  # nothing traded there: market orders wait for the next bar with volume
    return CandleSeries.from_arrays(
        Symbol.parse("BTCUSDT"), Timeframe.H1, T0 + HOUR_MS * np.arange(n, dtype=np.int64), closes, closes + 1,
        closes - 1, closes, volume,
    )  # fmt: skip


@pytest.mark.parametrize("max_entries", [1, 2])
def test_an_entry_waiting_through_a_zero_volume_bar_counts_as_an_entry(max_entries: int) -> None:
    """An entry decided at bar 3 cannot fill in the zero-volume bar 4: it waits for bar 5. A second entry
    signal at bar 4 must count it (one entry per position by default; with scale-ins, its exposure too)."""
    candles = _flat_candles(12, [4])
    signals = signals_for(12, entries=[3, 4])
    signals.size[:] = 0.4
    clock = SimulatedClock(candles.start_ms)
    broker = SimulatedBroker(candles, Instrument(candles.symbol), Decimal(10000), clock)
    config = EngineConfig(max_entries=max_entries, max_gross_exposure=0.5)
    result = Engine(candles, signals, broker, clock, Decimal(10000), config=config).run()
    entries = [f for f in result.fills if f.tag == "entry"]
    assert all(f.timestamp == candles.open_time[5] for f in entries)
    assert len(entries) == max_entries
    committed = sum(float(f.quantity * f.price + f.fee) for f in entries)
    assert committed <= 0.5 * 10000 + 1e-6  # the waiting entry's 40% counts against the 50% gross cap
    if max_entries == 2:
        assert committed == pytest.approx(0.5 * 10000, rel=1e-3)  # the second one gets what is left: 10%


def test_a_waiting_entry_the_venue_refuses_no_longer_counts() -> None:
    """10.005 USDT buys 9.995 of notional after the 0.1% fee: the venue refuses it (minimum 10) when it
    would fill. The refused entry must not block the next signal."""
    candles = _flat_candles(12, [4])
    signals = signals_for(12, entries=[3, 4, 7])
    clock = SimulatedClock(candles.start_ms)
    broker = SimulatedBroker(candles, Instrument(candles.symbol), Decimal("10.005"), clock, taker_fee_bps=Decimal(10))
    result = Engine(candles, signals, broker, clock, Decimal("10.005")).run()
    refused = [d for d in result.denials if d.reason.startswith("entry rejected: order notional")]
    # bar 3's entry is refused at bar 5 (bar 4's signal counted it and sent nothing); bar 7's at bar 8
    assert [d.time_ms for d in refused] == [candles.open_time[5] + HOUR_MS, candles.open_time[8] + HOUR_MS]
    assert not result.fills
