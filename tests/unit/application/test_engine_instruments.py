"""The engine under each symbol's exchange rules: stops and targets rounded in the protective direction, and
an entry refused (a denial, no fill) when its rounded stop lies at or through the price it protects."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from adapters.simulation import SimulatedBroker, SimulatedClock
from application.engine import Engine, EngineConfig
from domain.model.market import MarketFrame
from domain.model.symbols import Instrument
from domain.strategies.base import ExitRules
from tests.builders import series_from_rows
from tests.unit.application.test_engine_features import signals


def run(rows, sigs, tick: str, *, short: bool = False, replay: bool = True):  # type: ignore[no-untyped-def]
    candles = series_from_rows(rows)
    frame = MarketFrame.align([candles])
    clock = SimulatedClock(int(frame.open_time[0]))
    instrument = Instrument(candles.symbol, Decimal(tick), Decimal("0.00000001"), Decimal(0))
    broker = SimulatedBroker(frame, instrument, Decimal(10_000), clock, taker_fee_bps=Decimal(0), allow_short=short)
    engine = Engine(
        frame, sigs, broker, clock, Decimal(10_000), config=EngineConfig(allow_short=short), signal_replay=replay
    )
    return engine, broker


SUB_TICK = [(0.0040, 0.00401, 0.00399, 0.0040)] * 6  # prices below one tick of 0.01; no stop is reached


@pytest.mark.parametrize("replay", [True, False], ids=["signal_replay", "bar_by_bar"])
def test_a_stop_that_rounds_to_zero_is_refused_with_a_reason_and_nothing_fills(replay: bool) -> None:
    engine, _ = run(SUB_TICK, signals(6, long_entries=[1], stop=0.0040 * 0.02), "0.01", replay=replay)
    result = engine.run()
    assert result.fills == [] and result.trades == []
    (denial,) = result.denials
    assert denial.action == "denied"
    assert "stop refused" in denial.reason and "at or through the price it protects" in denial.reason


def test_the_same_entry_on_a_fine_enough_tick_fills_with_its_stop_rounded_down() -> None:
    engine, broker = run(SUB_TICK, signals(6, long_entries=[1], stop=0.0040 * 0.02), "0.00001")
    result = engine.run()
    assert result.denials == [] and result.fills[0].tag == "entry"
    (stop,) = [o for o in broker.open_orders() if o.request.tag == "stop_loss"]
    assert stop.request.stop_price == Decimal("0.00392")  # 0.004 - 2% = 0.00392 exactly, on the grid


def test_a_long_stop_rounds_down_a_short_stop_up() -> None:
    rows = [(100.0, 100.1, 99.9, 100.0)] * 6  # neither a stop nor a target is reached
    # 100 - 0.333 = 99.667: half-even would give 99.67 (tighter); protective rounding gives 99.66.
    engine, broker = run(rows, signals(6, long_entries=[1], stop=0.333), "0.01")
    engine.run()
    (long_stop,) = [o for o in broker.open_orders() if o.request.tag == "stop_loss"]
    assert long_stop.request.stop_price == Decimal("99.66")
    engine, broker = run(rows, signals(6, short_entries=[1], stop=0.333), "0.01", short=True)
    engine.run()
    (short_stop,) = [o for o in broker.open_orders() if o.request.tag == "stop_loss"]
    assert short_stop.request.stop_price == Decimal("100.34")


def test_a_long_target_rounds_up_so_it_is_not_easier_to_reach() -> None:
    rows = [(100.0, 100.1, 99.9, 100.0)] * 6  # neither a stop nor a target is reached
    exits = ExitRules(take_profits=((0.00333, 1.0),))
    engine, broker = run(rows, signals(6, long_entries=[1], exits=exits), "0.01")
    engine.run()
    (target,) = [o for o in broker.open_orders() if o.request.tag == "take_profit"]
    assert target.request.price == Decimal("100.34")  # 100.333 up, not 100.33


def test_the_refusal_is_the_same_in_both_paths_on_a_longer_walk() -> None:
    rng = np.random.default_rng(2)
    close = 0.004 * np.exp(np.cumsum(rng.normal(0, 0.01, 400)))
    rows = [(c, c * 1.002, c * 0.998, c) for c in close]
    sigs = signals(400, long_entries=list(range(5, 400, 40)), long_exits=list(range(25, 400, 40)), stop=0.0001)
    a, _ = run(rows, sigs, "0.01", replay=True)
    b, _ = run(rows, sigs, "0.01", replay=False)
    ra, rb = a.run(), b.run()
    assert [d.reason for d in ra.denials] == [d.reason for d in rb.denials]
    assert len(ra.denials) == 10 and ra.fills == rb.fills == []


def test_a_trailing_stop_floored_to_zero_is_not_placed() -> None:
    """A trailing level below one tick floors to 0: no stop order (it used to stop the run with "a stop order
    needs a positive stop price")."""
    engine, broker = run(SUB_TICK, signals(6, long_entries=[1], exits=ExitRules(trailing_pct=0.02)), "0.01")
    result = engine.run()
    assert result.fills and result.fills[0].tag == "entry"
    assert not [o for o in broker.open_orders() if o.request.tag == "trailing_stop"]
