"""The drawdown circuit breaker in the engine: latched or reset after a cool-down, each trip and reset an event,
and denials labelled by the rule that decided them. Synthetic candles, with the expected bars worked out by
hand from the construction (fees 0, no slippage, fully invested)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from adapters.simulation import SimulatedBroker, SimulatedClock
from application.engine import Engine, EngineResult
from domain.model.candles import CandleSeries
from domain.model.market import MarketFrame
from domain.model.symbols import Instrument, Symbol
from domain.model.timeframe import Timeframe
from domain.risk import BreakerState, FixedFraction, RiskLimits, RiskManager, merge
from domain.risk.breaker import DAY_MS
from domain.strategies.base import Signals, no_signals
from tests.builders import HOUR_MS

START = 1_600_041_600_000  # 2020-09-14 00:00 UTC


def _series(closes: np.ndarray, symbol: str = "BTCUSDT") -> CandleSeries:
    """Hourly candles whose every open is the previous close (fills at the open are at known prices)."""
    open_ = np.concatenate(([closes[0]], closes[:-1]))
    times = START + HOUR_MS * np.arange(len(closes), dtype=np.int64)
    return CandleSeries.from_arrays(
        Symbol.parse(symbol), Timeframe.H1, times, open_, np.maximum(open_, closes), np.minimum(open_, closes),
        closes, np.ones(len(closes)),
    )  # fmt: skip


def _close(i: int) -> int:
    return START + (i + 1) * HOUR_MS


# A crash while fully invested, a flat stretch with an entry signal at every bar, a recovery of the re-entry,
# then a second fall: bars are hourly.
#   bar 1: entry signal (fills at bar 2, price 100)      bar 10: exit signal at 70 (equity 7,000: -30%)
#   bars 12..: an entry signal at every bar while flat   (the breaker trips at the first, bar 12)
#   with a 1-day cool-down it resets at the close of bar 36 (24 bars after the trip's close); the entry decided
#   there fills at bar 37 at 70, the price rises to 84 (equity 8,400) and falls to 62 where the exit signal is
#   (equity 6,200: 26.2% below 8,400, 38% below the account's peak of 10,000).
N = 120
CRASH_EXIT, FIRST_PROPOSAL, RALLY_TOP, SECOND_EXIT = 10, 12, 50, 60


def _scenario() -> tuple[CandleSeries, Signals]:
    closes = np.full(N, 100.0)
    closes[3 : CRASH_EXIT + 1] = np.linspace(95.0, 70.0, CRASH_EXIT - 2)
    closes[CRASH_EXIT + 1 :] = 70.0
    closes[38 : RALLY_TOP + 1] = np.linspace(71.0, 84.0, RALLY_TOP - 37)
    closes[RALLY_TOP + 1 : SECOND_EXIT + 1] = np.linspace(82.0, 62.0, SECOND_EXIT - RALLY_TOP)
    closes[SECOND_EXIT + 1 :] = 62.0
    signals = no_signals(N, 0)
    signals.long_entry[1] = True
    signals.long_entry[FIRST_PROPOSAL:] = True
    signals.long_exit[[CRASH_EXIT, SECOND_EXIT]] = True
    return _series(closes), signals


def _engine(candles: CandleSeries, signals: Signals, limits: RiskLimits, *, replay: bool = True) -> Engine:
    frame = MarketFrame.align([candles])
    clock = SimulatedClock(candles.start_ms)
    instrument = Instrument(candles.symbol, Decimal("0.01"), Decimal("0.00001"), Decimal("10"))
    broker = SimulatedBroker(frame, [instrument], Decimal(10_000), clock, taker_fee_bps=Decimal(0))
    return Engine(
        frame, signals, broker, clock, Decimal(10_000), sizer=FixedFraction(1.0), risk=RiskManager(limits),
        signal_replay=replay,
    )  # fmt: skip


def _limits(cooldown_days: float) -> RiskLimits:
    return merge(RiskLimits.unlimited(), {"max_drawdown": 0.25, "max_drawdown_cooldown": cooldown_days})


def _run(limits: RiskLimits, path: str) -> tuple[Engine, EngineResult]:
    candles, signals = _scenario()
    engine = _engine(candles, signals, limits, replay=path == "replay")
    if path == "bars":
        for i in range(N):
            engine.process_bar(i)
        return engine, engine.result()
    return engine, engine.run()


PATHS = ("replay", "run", "bars")  # the venue's signal replay, run() bar path, process_bar at every bar


@pytest.mark.parametrize("path", PATHS)
def test_a_latched_breaker_stays_tripped_and_no_trade_opens_after_it(path: str) -> None:
    engine, result = _run(_limits(0), path)
    (trip,) = result.risk_events
    assert (trip.kind, trip.rule, trip.time_ms) == ("trip", "max_drawdown", _close(FIRST_PROPOSAL))
    assert trip.equity == pytest.approx(7_000) and trip.peak == pytest.approx(10_000)
    assert trip.drawdown == pytest.approx(0.3)
    entries = [f for f in result.fills if f.tag == "entry"]
    assert [f.timestamp for f in entries] == [START + 2 * HOUR_MS]  # only the first entry, before the crash
    denied = [d for d in result.denials if d.action == "denied"]
    assert len(denied) == N - FIRST_PROPOSAL  # every later proposal, to the last bar
    assert {d.rule for d in denied} == {"max_drawdown"}
    assert engine.state.breaker.tripped_ms == trip.time_ms  # still tripped at the end


@pytest.mark.parametrize("path", PATHS)
def test_a_cooldown_resets_after_exactly_n_days_and_measures_from_the_reset(path: str) -> None:
    engine, result = _run(_limits(1), path)
    trip, reset, second = result.risk_events[:3]
    kinds = [e.kind for e in result.risk_events]
    assert kinds == ["trip", "reset"] * (len(kinds) // 2) + ["trip"] * (len(kinds) % 2)  # they alternate
    assert trip.time_ms == _close(FIRST_PROPOSAL)
    assert reset.time_ms == trip.time_ms + DAY_MS  # hourly bars: exactly 24 bars later
    reset_bar = FIRST_PROPOSAL + 24
    # While tripped every proposal is denied by max_drawdown; the one at the reset bar enters.
    denied = [d.time_ms for d in result.denials if d.rule == "max_drawdown"]
    assert denied[: reset_bar - FIRST_PROPOSAL] == [_close(i) for i in range(FIRST_PROPOSAL, reset_bar)]
    entries = [f.timestamp for f in result.fills if f.tag == "entry"]
    assert entries[:2] == [START + 2 * HOUR_MS, START + (reset_bar + 1) * HOUR_MS]  # trading resumes
    # Nothing opens while tripped (an entry decided at a close fills at that instant, the next bar's open).
    assert not any(trip.time_ms < t < reset.time_ms for t in entries)
    # The account is still 30% below its peak at the reset: the breaker measures from the equity at the reset.
    assert reset.equity == pytest.approx(7_000) and result.equity[reset_bar] == reset.equity
    # Its next trip is against the highest close since the reset (the rally's top, between two proposals),
    # found here independently from the equity curve.
    assert second.time_ms == _close(SECOND_EXIT)  # the exit bar also asks for an entry, marked at 62
    assert second.peak == float(np.max(result.equity[reset_bar : SECOND_EXIT + 1]))
    assert second.peak == pytest.approx(8_400)
    assert second.drawdown == pytest.approx(1 - 6_200 / 8_400)
    assert second.peak < float(np.max(result.equity))  # not the account's peak
    state = engine.state.breaker
    last = result.risk_events[-1]
    assert state.tripped_ms == (last.time_ms if last.kind == "trip" else None)
    assert BreakerState.from_dict(state.to_dict()) == state  # what live trading persists


def test_every_path_gives_the_same_events_denials_and_fills() -> None:
    runs = [_run(_limits(1), path)[1] for path in PATHS]
    for other in runs[1:]:
        assert other.risk_events == runs[0].risk_events
        assert other.denials == runs[0].denials
        assert other.fills == runs[0].fills
        np.testing.assert_array_equal(other.equity, runs[0].equity)


def test_a_longer_cooldown_in_days_counts_bars_of_the_timeframe() -> None:
    # 0.5 days on hourly bars: 12 bars.
    _, result = _run(_limits(0.5), "replay")
    trip, reset = result.risk_events[:2]
    assert reset.time_ms - trip.time_ms == 12 * HOUR_MS


def test_without_a_breaker_there_are_no_events() -> None:
    _, result = _run(merge(RiskLimits.unlimited(), {"max_drawdown": 0}), "replay")
    assert result.risk_events == []


def _correlated() -> tuple[MarketFrame, list[Signals]]:
    rng = np.random.default_rng(4)
    closes = 100 * np.exp(np.cumsum(rng.normal(0.0005, 0.004, 200)))
    btc = _series(closes)
    eth = _series(closes * 0.05, "ETHUSDT")  # the same returns: correlation 1
    frame = MarketFrame.align([btc, eth])
    first, second = no_signals(200, 0), no_signals(200, 0)
    first.long_entry[100] = True
    second.long_entry[150] = True
    second.stop_distance[:] = eth.close * 0.1  # a 10% stop: 50% of equity risks 5%
    return frame, [first, second]


def test_a_denial_is_labelled_by_the_rule_that_denied_and_cuts_before_it_are_not_reported() -> None:
    frame, signals = _correlated()
    limits = merge(
        RiskLimits.unlimited(), {"max_position": 0.5, "correlation_threshold": 0.8, "max_risk_per_trade": 0.02}
    )
    clock = SimulatedClock(int(frame.open_time[0]))
    instruments = [Instrument(s, Decimal("0.01"), Decimal("0.00001"), Decimal("10")) for s in frame.symbols]
    broker = SimulatedBroker(frame, instruments, Decimal(10_000), clock, taker_fee_bps=Decimal(0))
    engine = Engine(
        frame, signals, broker, clock, Decimal(10_000), sizer=FixedFraction(0.5), risk=RiskManager(limits),
        correlation_window=48,
    )  # fmt: skip
    result = engine.run()
    # BTC holds half the equity and has risen since (drift up): ETH shares its 50% budget and finds no room.
    # max_risk_per_trade would have cut ETH first (5% > 2%), but the entry was denied: one denial, by the rule
    # that denied it, and no reduction.
    btc_value = float(engine.state.positions[frame.symbols[0]].quantity) * float(frame.close[150, 0])
    assert btc_value / result.equity[150] > 0.5  # the premise: no room left in the shared budget
    eth = [d for d in result.denials if d.symbol == "ETHUSDT"]
    assert [(d.action, d.rule) for d in eth] == [("denied", "correlation")]
    assert eth[0].reason.startswith("correlation:")


def test_a_reduction_stays_a_reduction_labelled_by_its_rule() -> None:
    frame, signals = _correlated()
    limits = merge(RiskLimits.unlimited(), {"max_risk_per_trade": 0.02})
    clock = SimulatedClock(int(frame.open_time[0]))
    instruments = [Instrument(s, Decimal("0.01"), Decimal("0.00001"), Decimal("10")) for s in frame.symbols]
    broker = SimulatedBroker(frame, instruments, Decimal(10_000), clock, taker_fee_bps=Decimal(0))
    engine = Engine(frame, signals, broker, clock, Decimal(10_000), sizer=FixedFraction(0.5), risk=RiskManager(limits))
    result = engine.run()
    (cut,) = result.denials
    assert (cut.symbol, cut.action, cut.rule) == ("ETHUSDT", "reduced", "max_risk_per_trade")
    eth_fill = next(f for f in result.fills if f.symbol.base == "ETH")
    assert float(eth_fill.quantity * eth_fill.price) / result.equity[150] == pytest.approx(0.2, rel=0.01)


@pytest.mark.parametrize("replay", [True, False])
def test_venue_refusals_are_labelled_venue(replay: bool) -> None:
    # 10.005 USDT: the budget (10.00) passes the engine's minimum check, but the quantity rounded down to the
    # step at the fill is worth a little under the exchange minimum of 10, so the venue refuses the order.
    _, signals = _scenario()
    closes = np.round(100.0 + 3.0 * np.sin(np.arange(N)), 2)  # prices whose steps do not divide 10.00
    candles = _series(closes)
    frame = MarketFrame.align([candles])
    clock = SimulatedClock(candles.start_ms)
    instrument = Instrument(candles.symbol, Decimal("0.01"), Decimal("0.001"), Decimal("10"))
    broker = SimulatedBroker(frame, [instrument], Decimal("10.005"), clock, taker_fee_bps=Decimal(0))
    result = Engine(frame, signals, broker, clock, Decimal("10.005"), signal_replay=replay).run()
    refused = [d for d in result.denials if d.rule == "venue"]
    assert refused and all(d.action == "denied" and "rejected" in d.reason for d in refused)


def test_a_person_resets_a_latched_breaker_and_trading_resumes_from_there() -> None:
    candles, signals = _scenario()
    engine = _engine(candles, signals, _limits(0), replay=False)
    resume = FIRST_PROPOSAL + 5
    for i in range(resume):  # a live session: one closed bar at a time
        engine.process_bar(i)
    assert engine.state.breaker.tripped
    assert engine.reset_breaker()
    assert not engine.reset_breaker()  # nothing left to reset
    for i in range(resume, N):
        engine.process_bar(i)
    result = engine.result()
    trip, reset, *_ = result.risk_events
    assert (trip.kind, reset.kind, reset.time_ms) == ("trip", "reset", _close(resume - 1))
    assert reset.equity == result.equity[resume - 1]
    entries = [f.timestamp for f in result.fills if f.tag == "entry"]
    assert entries[1] == START + (resume + 1) * HOUR_MS  # the next proposal, at bar `resume`, enters
