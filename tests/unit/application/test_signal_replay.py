"""The signal replay (adapters/simulation/replay.py) against the engine's bar-by-bar path.

``Engine.run`` hands a long-only, one-symbol run to the simulated broker's signal replay; visiting every
bar with ``process_bar`` is the reference. Fills, the exact decimal ledger, trades and denials must be the
same, and so are equity, exposure and the cash curve, float for float: both paths keep money in decimals
(``docs/adr/0003-backtest-speed.md``, fifth and sixth steps).
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest

from adapters.simulation import SimulatedBroker, SimulatedClock
from application.engine import Engine, EngineConfig
from application.order_ids import is_venue_safe
from domain.model.candles import CandleSeries
from domain.model.market import MarketFrame
from domain.model.symbols import Instrument, Symbol
from domain.model.timeframe import Timeframe
from domain.risk import FixedFraction, RiskLimits, RiskManager, merge
from domain.strategies.base import ExitRules, Signals, no_signals
from tests.builders import HOUR_MS, T0, random_walk


def _signals(n: int, seed: int, stop: float, shorts: bool = False, exits: ExitRules | None = None) -> Signals:
    rng = np.random.default_rng(seed)
    s = no_signals(n, 0)
    s.long_entry[rng.choice(np.arange(3, n - 1), n // 25, replace=False)] = True
    s.long_exit[rng.choice(np.arange(3, n - 1), n // 25, replace=False)] = True
    if shorts:
        s.short_entry[rng.choice(np.arange(3, n - 1), n // 60, replace=False)] = True
    s.stop_distance[:] = stop
    if exits is not None:
        s = Signals(s.long_entry, s.long_exit, s.short_entry, s.short_exit, s.stop_distance, s.size, 0, exits)
    return s


def _gapped(candles: CandleSeries, seed: int) -> CandleSeries:
    """The same closes, with opens that gap away from the previous close (by up to about 3%), so that some
    bars open below a long's stop."""
    rng = np.random.default_rng(seed)
    open_ = candles.open * np.exp(rng.normal(0, 0.012, len(candles)))
    high = np.maximum(candles.high, open_)
    low = np.minimum(candles.low, open_)
    return CandleSeries.from_arrays(
        candles.symbol, candles.timeframe, candles.open_time, open_, high, low, candles.close, candles.volume
    )


def _engine(
    candles: CandleSeries, signals: Signals, cash: str, *, risk: bool, signal_replay: bool, slippage: str = "5",
    volatility: float = 0.0, config: EngineConfig | None = None,
) -> tuple[Engine, SimulatedBroker]:  # fmt: skip
    clock = SimulatedClock(candles.start_ms)
    broker = SimulatedBroker(
        candles, Instrument(candles.symbol, Decimal("0.01"), Decimal("0.00001"), Decimal("10")), Decimal(cash), clock,
        taker_fee_bps=Decimal(10), slippage_bps=Decimal(slippage), volatility_slippage_k=volatility,
    )  # fmt: skip
    limits = merge(RiskLimits.unlimited(), {"max_drawdown": 0.3, "daily_loss_limit": 0.04}) if risk else None
    engine = Engine(
        candles, signals, broker, clock, Decimal(cash), config=config,
        sizer=FixedFraction(0.9) if risk else None, risk=RiskManager(limits) if limits else None,
        signal_replay=signal_replay,
    )  # fmt: skip
    return engine, broker


def _bar_by_bar(engine: Engine, start: int = 0) -> None:
    for i in range(start, len(engine.frame)):
        engine.process_bar(i)


@pytest.mark.parametrize(
    ("seed", "stop", "cash", "risk", "slippage", "volatility", "start", "gaps"),
    [
        (1, 1.5, "10000", False, "5", 0.0, 0, False),
        (2, 0.4, "10000", True, "5", 0.0, 0, False),  # tight stops: many stop-outs, some inside the entry bar
        (3, float("nan"), "10000", False, "0", 0.0, 0, False),  # no stop
        (4, 2.0, "10000", True, "5", 0.5, 0, False),  # volatility slippage
        (5, 1.0, "60", False, "5", 0.0, 0, False),  # a small account: minimum-notional rejections and denials
        (6, 1.0, "10000", True, "5", 0.0, 700, False),  # a run that starts late
        (7, 1.0, "10000", False, "5", 0.0, 0, True),  # opens that gap through the stop
    ],
)
def test_the_signal_replay_equals_visiting_every_bar(
    seed: int, stop: float, cash: str, risk: bool, slippage: str, volatility: float, start: int, gaps: bool
) -> None:
    candles = random_walk(2500, seed=seed)
    if gaps:
        candles = _gapped(candles, seed)
    signals = _signals(2500, seed, stop, shorts=True)
    fast, fast_broker = _engine(candles, signals, cash, risk=risk, signal_replay=True, slippage=slippage,
                                volatility=volatility)  # fmt: skip
    assert fast._replayable(start)
    got = fast.run(start)
    slow, slow_broker = _engine(candles, signals, cash, risk=risk, signal_replay=False, slippage=slippage,
                                volatility=volatility)  # fmt: skip
    _bar_by_bar(slow, start)
    want = slow.result()

    assert len(got.trades) > 10
    if gaps:  # some stops filled at the bar's open, which gapped below the stop level
        opens = dict(zip(candles.open_time.tolist(), candles.open.tolist(), strict=True))
        references = [(float(f.price + f.slippage / f.quantity), opens[f.timestamp]) for f in got.fills
                      if f.tag == "stop_loss"]  # fmt: skip
        assert sum(abs(ref - open_) < 1e-9 * open_ for ref, open_ in references) >= 3
    assert got.fills == want.fills  # ids, sides, exact decimal quantities, prices, fees, slippage, tags
    assert got.trades == want.trades
    assert got.denials == want.denials
    assert got.portfolio == want.portfolio  # the exact decimal ledger
    assert (got.fees_paid, got.slippage_paid) == (want.fees_paid, want.slippage_paid)
    assert got.fees_paid == float(sum((f.fee for f in got.fills), Decimal(0)))
    assert fast_broker.portfolio() == slow_broker.portfolio()
    assert [o.request for o in fast_broker.open_orders()] == [o.request for o in slow_broker.open_orders()]
    assert all(is_venue_safe(f.client_order_id) for f in got.fills)  # decision-derived ids, the same on both paths
    # Money is decimal in both paths, so the floats marked from it are the same floats.
    np.testing.assert_array_equal(got.equity, want.equity)
    np.testing.assert_array_equal(got.exposure, want.exposure)
    np.testing.assert_array_equal(got.cash, want.cash)


def test_rejections_and_short_signals_are_reported_as_the_bar_by_bar_path_does() -> None:
    candles = random_walk(1500, seed=9)
    signals = _signals(1500, 9, 1.0, shorts=True)
    got = _engine(candles, signals, "40", risk=False, signal_replay=True)[0].run()
    slow = _engine(candles, signals, "40", risk=False, signal_replay=False)[0]
    _bar_by_bar(slow)
    want = slow.result()
    reasons = {d.reason.split(":")[0] for d in got.denials}
    assert any("short entry signal ignored" in r for r in reasons)
    assert got.denials == want.denials


def test_a_live_session_can_carry_on_after_a_signal_replay() -> None:
    """process_bar after run() continues from the replay's state: the same as one bar-by-bar run."""
    candles = random_walk(1200, seed=12)
    signals = _signals(1200, 12, 1.2)
    head = candles.slice(0, 800)
    arrays = (signals.long_entry, signals.long_exit, signals.short_entry, signals.short_exit)
    head_signals = Signals(*(a[:800] for a in arrays), signals.stop_distance[:800], signals.size[:800], 0)
    fast, _ = _engine(head, head_signals, "10000", risk=True, signal_replay=True)
    fast.run()
    slow, _ = _engine(head, head_signals, "10000", risk=True, signal_replay=False)
    _bar_by_bar(slow)
    assert fast.state.portfolio == slow.state.portfolio
    assert fast.state.books == slow.state.books
    assert fast.result().trades == slow.result().trades


@pytest.mark.parametrize(
    "case",
    ["trailing", "ladder", "short", "scale_in", "two_symbols", "zero_volume", "disabled"],
)
def test_what_the_signal_replay_does_not_model_takes_the_bar_by_bar_path(case: str) -> None:
    candles = random_walk(300, seed=4)
    exits = {"trailing": ExitRules(trailing_pct=0.02), "ladder": ExitRules(take_profits=((0.02, 0.5),))}.get(case)
    signals = _signals(300, 4, 1.0, exits=exits)
    config = {"short": EngineConfig(allow_short=True), "scale_in": EngineConfig(max_entries=2)}.get(case)
    if case == "zero_volume":
        volume = candles.volume.copy()
        volume[150] = 0.0
        candles = CandleSeries.from_arrays(
            candles.symbol, candles.timeframe, candles.open_time, candles.open, candles.high, candles.low,
            candles.close, volume,
        )  # fmt: skip
    engine, _ = _engine(candles, signals, "10000", risk=False, signal_replay=case != "disabled", config=config)
    if case == "two_symbols":
        other = random_walk(300, seed=5, symbol="ETHUSDT")
        frame = MarketFrame.align([candles, other])
        clock = SimulatedClock(candles.start_ms)
        broker = SimulatedBroker(frame, [Instrument(s) for s in frame.symbols], Decimal(10000), clock)
        engine = Engine(frame, [signals, _signals(300, 5, 1.0)], broker, clock, Decimal(10000))
    assert not engine._replayable(0)
    assert engine.run().fills  # and it still trades, through process_bar


def test_a_long_replay_reports_its_progress() -> None:
    n = 120_000  # progress is reported every max(n / 100, 50,000) bars
    candles = random_walk(n, seed=8)
    engine, _ = _engine(candles, _signals(n, 8, 1.0), "10000", risk=False, signal_replay=True)
    assert engine._replayable(0)
    seen: list[tuple[int, int]] = []
    engine.run(progress=lambda i, total: seen.append((i, total)))
    bars = [i for i, _ in seen]
    assert len(seen) >= 3 and bars == sorted(bars) and seen[-1] == (n, n)
    assert all(total == n for _, total in seen) and bars[0] >= 50_000


@pytest.mark.parametrize("entries", [[], [0], [498, 499]])  # none; at the first bar; at the last two bars
def test_edge_signals_replay_as_the_bar_by_bar_path(entries: list[int]) -> None:
    candles = random_walk(500, seed=13)
    signals = no_signals(500, 0)
    signals.long_entry[entries] = True
    signals.stop_distance[:] = 1.0
    fast, fast_broker = _engine(candles, signals, "10000", risk=True, signal_replay=True)
    assert fast._replayable(0)
    got = fast.run()
    slow, slow_broker = _engine(candles, signals, "10000", risk=True, signal_replay=False)
    _bar_by_bar(slow)
    want = slow.result()
    assert got.fills == want.fills and got.trades == want.trades and got.portfolio == want.portfolio
    assert [o.request for o in fast_broker.open_orders()] == [o.request for o in slow_broker.open_orders()]
    np.testing.assert_array_equal(got.equity, want.equity)
    np.testing.assert_array_equal(got.cash, want.cash)


def test_a_low_exactly_at_the_stop_triggers_it_in_both_paths() -> None:
    """The bar-by-bar broker fills a sell stop when the low reaches the level (low <= stop): so must the
    replay, including when the span's lowest low equals the stop to the last digit."""
    closes = np.array([100.0, 100.0, 100.0, 99.5, 99.0, 99.2, 99.4, 99.6, 99.8, 100.0, 100.0, 100.0])
    open_ = np.concatenate(([100.0], closes[:-1]))
    low = np.minimum(open_, closes) - 0.25
    low[6] = 98.0  # the stop below: 100.00 - 2.0
    high = np.maximum(open_, closes) + 0.25
    candles = CandleSeries.from_arrays(
        Symbol.parse("BTCUSDT"), Timeframe.H1, T0 + HOUR_MS * np.arange(12, dtype=np.int64), open_, high, low,
        closes, np.ones(12),
    )  # fmt: skip
    signals = no_signals(12, 0)
    signals.long_entry[1] = True
    signals.long_exit[10] = True
    signals.stop_distance[:] = 2.0
    fast, _ = _engine(candles, signals, "10000", risk=False, signal_replay=True, slippage="0")
    assert fast._replayable(0)
    got = fast.run()
    slow, _ = _engine(candles, signals, "10000", risk=False, signal_replay=False, slippage="0")
    _bar_by_bar(slow)
    want = slow.result()
    assert [f.tag for f in want.fills] == ["entry", "stop_loss"]
    assert want.fills[1].price == Decimal("98.00")
    assert got.fills == want.fills


@pytest.mark.parametrize("seed", [2, 4, 6])
def test_the_drawdown_breaker_trips_and_resets_alike_in_both_paths(seed: int) -> None:
    # A tight breaker with a 2-day cool-down: it trips and resets many times, and after each reset it measures
    # from its own peak (the highest close since the reset, which the replay finds between decisions).
    candles = random_walk(2500, seed=seed)
    signals = _signals(2500, seed, 1.0)
    limits = merge(RiskLimits.unlimited(), {"max_drawdown": 0.04, "max_drawdown_cooldown": 2})

    def build(replay: bool) -> Engine:
        clock = SimulatedClock(candles.start_ms)
        broker = SimulatedBroker(
            candles, Instrument(candles.symbol, Decimal("0.01"), Decimal("0.00001"), Decimal("10")),
            Decimal(10_000), clock, taker_fee_bps=Decimal(10), slippage_bps=Decimal(5),
        )  # fmt: skip
        return Engine(candles, signals, broker, clock, Decimal(10_000), sizer=FixedFraction(0.9),
                      risk=RiskManager(limits), signal_replay=replay)  # fmt: skip

    fast = build(True)
    assert fast._replayable(0)
    got = fast.run()
    deferred = build(False).run()  # run() visiting only the bars that need it, marks deferred
    slow = build(False)
    _bar_by_bar(slow)
    want = slow.result()
    kinds = [e.kind for e in want.risk_events]
    assert kinds.count("reset") >= 2 and kinds[:2] == ["trip", "reset"]
    for other in (got, deferred):
        assert other.risk_events == want.risk_events
        assert other.denials == want.denials
        assert other.fills == want.fills
        np.testing.assert_array_equal(other.equity, want.equity)
    assert fast.state.breaker == slow.state.breaker
    # No entry is decided while the breaker is tripped: every max_drawdown denial lies inside a trip.
    spans = list(zip(want.risk_events[0::2], [*want.risk_events[1::2], None], strict=False))
    for d in (d for d in want.denials if d.rule == "max_drawdown"):
        assert any(t.time_ms <= d.time_ms and (r is None or d.time_ms < r.time_ms) for t, r in spans)


def test_the_replays_highest_equity_over_a_range_is_the_highest_it_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    from adapters.simulation import replay

    seen: list[replay.SignalReplayer] = []
    write = replay.SignalReplayer._write_marks

    def keep(self: replay.SignalReplayer, n: int) -> None:
        seen.append(self)
        write(self, n)

    monkeypatch.setattr(replay.SignalReplayer, "_write_marks", keep)
    candles = random_walk(1500, seed=12)
    fast, _ = _engine(candles, _signals(1500, 12, 0.4), "10000", risk=True, signal_replay=True)  # tight stops
    result = fast.run(100)
    (replayer,) = seen
    rows = replayer.rows
    assert len(rows) > 20 and len(set(rows)) < len(rows)  # some entries stopped out in their own bar
    rng = np.random.default_rng(0)
    pairs = [(a, b) for a, b in rng.integers(0, 1500, (300, 2)) if a <= b]
    pairs += [(r, r) for r in rows[:10]] + [(r - 1, r + 1) for r in rows[:10]] + [(0, 1499), (100, 100)]
    for a, b in pairs:
        want = float(np.max(result.equity[max(a, 100) : b + 1])) if b >= 100 else math.nan
        got = replayer.equity_max(int(a), int(b))
        assert got == want or (math.isnan(got) and math.isnan(want)), (a, b)
