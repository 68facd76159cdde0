"""Kill and restore: an engine stopped after any bar and restored from its snapshot (through JSON) into a new
engine over a new simulated venue restored from the venue's snapshot continues exactly as the run that was never
stopped: the same fills, trades, denials, risk events, equity, exposure and cash (docs/adr/0023-one-engine.md,
point 2; the experiment of ../shared/reviews/live-readiness.md 3.3 turned into a test).

Every built-in strategy runs on the last bars of the bundled BTCUSDT 1h candles, with zero-volume bars put just
after some entry decisions (entries then wait for a tradable bar), a trailing stop and a take-profit ladder on
every strategy, the Kelly sizer and limits tight enough that every rule binds: the drawdown breaker (with a
cool-down, so it trips and resets), the daily loss limit, drawdown steps, the risk per trade. The ML strategies
get causal synthetic predictions through ``Context(predictions=...)`` (the engine is what is tested here).
The reference is ``Engine.run`` (event skipping); the cut run steps bar by bar with ``process_bar`` and its
continuation is ``run`` again, so both drivers meet at every cut.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from adapters.files import BundledMarketData
from adapters.simulation import SimulatedBroker, SimulatedClock
from application.engine import Engine, EngineResult
from application.ports.errors import ConfigurationError
from application.ports.repositories import Checkpoint, SessionRecord
from domain.model.candles import CandleSeries
from domain.model.market import MarketFrame
from domain.model.symbols import Instrument, Symbol
from domain.model.timeframe import Timeframe
from domain.risk import KellyCapped, RiskLimits, RiskManager, merge
from domain.strategies.base import Signals
from domain.strategies.registry import create_strategy, strategy_names
from tests.builders import stand_in_context
from tests.integration.persistence.fixtures import make_database, postgres_url, sqlite_template

__all__ = ["postgres_url", "sqlite_template"]

BARS = 3_000
CASH = Decimal(10_000)
RANDOM_CUTS = 40
LIMITS = merge(
    RiskLimits.unlimited(),
    {
        "max_drawdown": 0.025,
        "max_drawdown_cooldown": 0.5,
        "daily_loss_limit": 0.005,
        "drawdown_steps": "0.01:0.8,0.02:0.6",
        "max_risk_per_trade": 0.01,
    },
)
LADDER = ((0.02, 0.3), (0.05, 0.3))
TRAILING = 0.03


@cache
def _real(symbol: str = "BTCUSDT") -> CandleSeries:
    full = BundledMarketData().candles(Symbol.parse(symbol), Timeframe.H1)
    return full.slice(len(full) - BARS, len(full))


def _with_quiet_bars(candles: CandleSeries, after: np.ndarray) -> CandleSeries:
    """``candles`` with zero volume on the bar after each of ``after`` (nobody traded there)."""
    volume = candles.volume.copy()
    rows = after[after + 1 < len(candles)] + 1
    volume[rows] = 0.0
    return CandleSeries.from_arrays(
        candles.symbol, candles.timeframe, candles.open_time, candles.open, candles.high, candles.low, candles.close,
        volume,
    )  # fmt: skip




@cache
def _setup(name: str, symbol: str = "BTCUSDT") -> tuple[CandleSeries, Signals]:
    """The candles (with quiet bars after every third entry decision) and the strategy's signals on them, with
    a trailing stop and a take-profit ladder added to its exits."""
    strategy = create_strategy(name)
    real = _real(symbol)
    first = strategy.signals(real, stand_in_context(strategy, real))
    entries = np.flatnonzero(first.long_entry)[::3]
    candles = _with_quiet_bars(real, entries)
    signals = strategy.signals(candles, stand_in_context(strategy, candles))
    exits = dataclasses.replace(signals.exits, take_profits=LADDER, trailing_pct=TRAILING)
    return candles, dataclasses.replace(signals, exits=exits)


def _build(
    candles: list[CandleSeries], signals: list[Signals], limits: RiskLimits = LIMITS, correlation_window: int = 0
) -> Engine:
    frame = MarketFrame.align(candles)
    clock = SimulatedClock(int(frame.open_time[0]))
    broker = SimulatedBroker(
        frame, [Instrument(c.symbol) for c in candles], CASH, clock, taker_fee_bps=Decimal(10),
        slippage_bps=Decimal(2),
    )  # fmt: skip
    return Engine(
        frame, signals, broker, clock, CASH, sizer=KellyCapped(cap=0.9, min_trades=4, fallback=0.5),
        risk=RiskManager(limits), correlation_window=correlation_window,
    )  # fmt: skip


Build = Callable[[], Engine]


def _single(name: str) -> Build:
    candles, signals = _setup(name)
    return lambda: _build([candles], [signals])


def _venue(engine: Engine) -> SimulatedBroker:
    assert isinstance(engine.broker, SimulatedBroker)
    return engine.broker


def _texts(items: list[Any]) -> list[str]:
    return [repr(x) for x in items]  # repr: floats exactly, and NaN equal to NaN


@dataclasses.dataclass
class Cut:
    bar: int
    engine: str  # the snapshots, as JSON text
    venue: str
    fills: int  # how much of the record the run had produced at the cut
    trades: int
    denials: int
    events: int


def _cut_run(build: Build, cuts: set[int]) -> tuple[EngineResult, list[Cut]]:
    engine = build()
    taken = []
    for i in range(len(engine.frame)):
        engine.process_bar(i)
        if i in cuts:
            taken.append(
                Cut(i, json.dumps(engine.snapshot(), allow_nan=False), json.dumps(_venue(engine).snapshot(),
                    allow_nan=False), len(engine.fills), len(engine.trades), len(engine.denials),
                    len(engine.risk_events))
            )  # fmt: skip
    return engine.result(), taken


Edit = Callable[[dict[str, Any]], None]


def _restored(
    build: Build, cut: Cut, edit: Edit | None = None, stored: Mapping[str, Any] | None = None
) -> EngineResult:
    """A new engine over a new venue, both restored from the cut's snapshots (or from ``stored``, the two as a
    checkpoint read back from a database), run to the end."""
    engine = build()
    _venue(engine).restore(json.loads(cut.venue) if stored is None else stored["venue"])
    state = json.loads(cut.engine) if stored is None else dict(stored["engine"])
    if edit is not None:
        edit(state)
    engine.restore(state)
    return engine.run(start=cut.bar + 1)


def _by_bar(items: list[Any], time: str) -> list[Any]:
    """Fills or trades in bar order, those of one bar by symbol (each symbol's own order kept)."""
    return sorted(items, key=lambda x: (getattr(x, time), str(x.symbol)))


def _same(whole: EngineResult, cut: Cut, rest: EngineResult, *, per_symbol: bool = False) -> list[str]:
    """What differs between the uninterrupted run and the run restored at ``cut`` (empty when nothing).
    ``per_symbol``: the fills of different symbols within one bar may come in another order."""
    after = cut.bar + 1
    diffs = []
    fills, trades = whole.fills[cut.fills :], whole.trades[cut.trades :]
    rest_fills, rest_trades = rest.fills, rest.trades
    if per_symbol:
        fills, rest_fills = _by_bar(fills, "timestamp"), _by_bar(rest_fills, "timestamp")
        trades, rest_trades = _by_bar(trades, "exit_time"), _by_bar(rest_trades, "exit_time")
    if _texts(rest_fills) != _texts(fills):
        diffs.append("fills")
    if _texts(rest_trades) != _texts(trades):
        diffs.append("trades")
    if rest.denials != whole.denials[cut.denials :]:
        diffs.append("denials")
    if _texts(rest.risk_events) != _texts(whole.risk_events[cut.events :]):
        diffs.append("risk events")
    if not np.array_equal(rest.equity[after:], whole.equity[after:], equal_nan=True):
        diffs.append("equity")
    if not np.array_equal(rest.exposure[after:], whole.exposure[after:], equal_nan=True):
        diffs.append("exposure")
    if not np.array_equal(rest.cash[max(cut.bar, 0) :], whole.cash[max(cut.bar, 0) :]):
        diffs.append("cash")
    if rest.portfolio != whole.portfolio or rest.fees_paid != whole.fees_paid:
        diffs.append("account")
    return diffs


def _cuts(name: str, engine: Engine, whole: EngineResult) -> set[int]:
    """Random bars, and the bars where a cut is hardest: an entry decided before a quiet bar (it waits through
    it), and the breaker tripped (until just after its reset, which the next proposal makes from past closes)."""
    frame = engine.frame
    n = len(frame)
    rng = np.random.default_rng(sum(map(ord, name)))
    cuts = {int(x) for x in rng.choice(np.arange(1, n - 1), RANDOM_CUTS, replace=False)}
    quiet = np.flatnonzero((frame.volume == 0).any(axis=1))
    for q in quiet[:: max(len(quiet) // 6, 1)].tolist():
        cuts |= {q - 1, q}
    events = [int(np.searchsorted(frame.open_time, e.time_ms)) for e in whole.risk_events]  # the bars after
    for trip, reset in zip(events[::2], events[1::2], strict=False):
        cuts |= {int(x) for x in np.linspace(trip - 1, reset + 1, 8).astype(int)}
    return {c for c in cuts if 0 <= c < n - 1}


Runs = tuple[Build, EngineResult, EngineResult, list[Cut]]


def _runs_of(name: str, build: Build) -> Runs:
    """The uninterrupted run, the run stepped bar by bar, and its snapshots at the cuts."""
    whole = build().run()
    stepped, cuts = _cut_run(build, _cuts(name, build(), whole))
    return build, whole, stepped, cuts


@cache
def _runs(name: str) -> Runs:
    return _runs_of(name, _single(name))


def _check_restores(runs: Runs, *, per_symbol: bool = False) -> None:
    build, whole, stepped, cuts = runs
    assert whole.trades, "the strategy must trade for the test to mean anything"
    start = Cut(-1, "", "", 0, 0, 0, 0)
    assert _same(whole, start, stepped, per_symbol=per_symbol) == [], "stepping bar by bar differs from run()"
    diverged = {cut.bar: d for cut in cuts if (d := _same(whole, cut, _restored(build, cut), per_symbol=per_symbol))}
    assert diverged == {}
    assert len(cuts) >= RANDOM_CUTS


@pytest.mark.slow
@pytest.mark.parametrize("name", strategy_names())
def test_a_run_restored_at_any_bar_continues_exactly(name: str) -> None:
    _check_restores(_runs(name))


@pytest.mark.slow
def test_a_two_symbol_run_restored_at_any_bar_continues_exactly() -> None:
    """Two symbols on one account: the books are per symbol, the marked symbols keep their order (equity is a
    float sum), and the correlation budget decides too."""
    pairs = [_setup("ema_cross", symbol) for symbol in ("BTCUSDT", "ETHUSDT")]
    candles, signals = [c for c, _ in pairs], [s for _, s in pairs]
    limits = merge(LIMITS, {"correlation_threshold": 0.5, "correlation_window": 240, "max_position": 0.4})
    runs = _runs_of("two", lambda: _build(candles, signals, limits, correlation_window=240))
    # run() moves each symbol's trailing stop at its own visits, stepping moves both at every bar: the venue
    # then holds the two stops in another order, and when both trigger in one bar their fills come in that order.
    _check_restores(runs, per_symbol=True)
    whole, cuts = runs[1], runs[3]
    assert {"correlation", "max_position"} & {d.rule for d in whole.denials}
    assert any(len(json.loads(cut.engine)["held"]) == 2 for cut in cuts)


@pytest.mark.slow
def test_every_rule_binds_and_every_kind_of_state_is_cut_through() -> None:
    """The runs above mean something only if the state they carry matters: every risk rule decides somewhere,
    the breaker trips and resets, stops trail and targets fill, and cuts fall with entries waiting, the breaker
    tripped, managed stops in force and positions open."""
    rules: Counter[str] = Counter()
    events: Counter[str] = Counter()
    tags: Counter[str] = Counter()
    cut_kinds: Counter[str] = Counter()
    total = 0
    for name in strategy_names():
        _, whole, _, cuts = _runs(name)
        rules.update(d.rule for d in whole.denials)
        events.update(e.kind for e in whole.risk_events)
        tags.update(f.tag for f in whole.fills)
        total += len(cuts)
        for cut in cuts:
            state = json.loads(cut.engine)
            cut_kinds["waiting"] += bool(state["waiting"])
            cut_kinds["tripped"] += state["breaker"]["tripped_ms"] is not None
            cut_kinds["held"] += bool(state["held"])
            cut_kinds["trailing"] += any(b["stop_level"] is not None for b in state["books"].values())
            cut_kinds["open orders"] += bool(json.loads(cut.venue)["open_orders"])
    assert {"max_drawdown", "daily_loss_limit", "drawdown_steps", "max_risk_per_trade", "sizer"} <= set(rules)
    assert events["trip"] and events["reset"]
    assert tags["trailing_stop"] and tags["take_profit"] and tags["stop_loss"]
    assert all(cut_kinds[k] for k in ("waiting", "tripped", "held", "trailing", "open orders")), cut_kinds
    assert total >= 300


def _forget_books_stops(state: dict[str, Any]) -> None:
    for book in state["books"].values():
        book["stop_level"] = None


# What a restore lost before the state was complete (../shared/reviews/live-readiness.md 3.3): each part set back
# to what a new engine starts with.
FORGOTTEN: dict[str, Edit] = {
    "peak equity": lambda s: s.update(peak=float(CASH)),
    "Kelly statistics": lambda s: s.update(sizer={"wins": 0, "losses": 0, "win_sum": 0.0, "loss_sum": 0.0}),
    "waiting entries": lambda s: s.update(waiting={}),
    "stops not yet placed": lambda s: s.update(attached_stops={}),
    "day-start equity": lambda s: s.update(equity={"from": None, "values": []}),
    "breaker": lambda s: s.update(breaker={"tripped_ms": None, "peak": None, "seen": None}),
    "managed stop": _forget_books_stops,
}


@pytest.mark.slow
@pytest.mark.parametrize("part", list(FORGOTTEN))
def test_a_restore_without_any_part_of_the_state_diverges(part: str) -> None:
    """The test above can fail: restoring without any one part of the state changes some run."""
    forget = FORGOTTEN[part]
    for name in ("ema_cross", "momentum_leverage", "ml_basic"):
        build, whole, _, cuts = _runs(name)
        for cut in cuts:
            state = json.loads(cut.engine)
            forget(state)
            if state == json.loads(cut.engine):
                continue  # nothing to forget at this cut
            if _same(whole, cut, _restored(build, cut, forget)):
                return
    pytest.fail(f"no restore without the {part} diverged")


def test_a_snapshot_is_refused_by_an_engine_it_does_not_fit() -> None:
    build, _, _, cuts = _runs("ema_cross")
    state = json.loads(cuts[0].engine)
    used = build()
    used.process_bar(0)
    with pytest.raises(ConfigurationError, match="before it processes a bar"):
        used.restore(state)
    with pytest.raises(ConfigurationError, match="schema 99"):
        build().restore({**state, "schema": 99})
    with pytest.raises(ConfigurationError, match="kind 'engine'"):
        build().restore(json.loads(cuts[0].venue))
    with pytest.raises(ConfigurationError, match="ETHUSDT"):
        build().restore({**state, "symbols": ["ETHUSDT"]})


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_checkpoint_through_the_database_restores_exactly(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Every cut of every strategy saved as the session's checkpoint and read back in another unit of work comes
    back equal to what was saved; every sixth is restored from what was read and continues exactly."""
    db = make_database(backend, request, tmp_path)
    try:
        with db.unit_of_work() as u:
            sid = u.sessions.add(SessionRecord("paper", "simulated", "all", "1", {}, ("BTCUSDT",), "1h", 0))
            u.commit()
        restored = 0
        for name in strategy_names():
            build, whole, _, cuts = _runs(name)
            for k, cut in enumerate(cuts):
                state = {"engine": json.loads(cut.engine), "venue": json.loads(cut.venue)}
                with db.unit_of_work() as u:
                    u.checkpoints.save(sid, Checkpoint(state["engine"]["last_time"], state))
                    u.commit()
                with db.unit_of_work() as u:
                    got = u.checkpoints.latest(sid)
                assert got is not None and got.time_ms == state["engine"]["last_time"] and got.state == state
                if k % 6 == 0:
                    assert _same(whole, cut, _restored(build, cut, stored=got.state)) == [], (name, cut.bar)
                    restored += 1
        assert restored >= 60
    finally:
        db.dispose()
