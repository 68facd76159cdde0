"""The tape (application/tape.py): rows appended one by one hold what a tape filled from the whole frame holds, and
an engine and a simulated venue both stepped over appended rows trade exactly as the backtest over the whole frame
(several symbols, gaps, holes, shorts, a trailing stop and a take-profit, the Kelly sizer and risk limits binding,
volatility slippage). docs/adr/0023-one-engine.md, point 1."""

from __future__ import annotations

import json
import math
from decimal import Decimal

import numpy as np
import pytest

from adapters.simulation import SimulatedBroker, SimulatedClock
from application.engine import Engine, EngineResult
from application.ports.errors import ConfigurationError
from application.tape import Bar, DecisionRow, Tape
from domain.model.candles import CandleSeries
from domain.model.market import MarketFrame
from domain.model.symbols import Instrument
from domain.regime.detector import RegimeSeries, detect
from domain.risk import KellyCapped, RiskLimits, RiskManager, merge, rolling_correlation, simple_returns
from domain.strategies.base import ExitRules, Signals
from tests.builders import random_walk

CASH = Decimal(10_000)
N = 900
FIRST = 300  # rows the engine starts with; the rest are appended


def _with_holes(candles: CandleSeries, keep: np.ndarray) -> CandleSeries:
    return CandleSeries.from_arrays(
        candles.symbol, candles.timeframe, candles.open_time[keep], candles.open[keep], candles.high[keep],
        candles.low[keep], candles.close[keep], candles.volume[keep],
    )  # fmt: skip


def _market() -> list[CandleSeries]:
    """Two symbols: BTC every hour, ETH from bar 40 with holes (rows where only BTC has a bar)."""
    btc = random_walk(N, seed=3)
    eth = random_walk(N, seed=5, start=20.0, symbol="ETHUSDT")
    keep = np.arange(N) >= 40
    keep[np.random.default_rng(1).choice(N, 60, replace=False)] = False
    return [btc, _with_holes(eth, keep)]


def _signals(candles: CandleSeries, seed: int) -> Signals:
    rng = np.random.default_rng(seed)
    n = len(candles)
    entry = rng.random(n) < 0.04
    exit_ = rng.random(n) < 0.03
    short = rng.random(n) < 0.02
    cover = rng.random(n) < 0.03
    stop = candles.close * 0.02
    atr = candles.close * 0.01
    size = np.full(n, 0.45)
    exits = ExitRules(trailing_pct=0.03, take_profits=((0.02, 0.5),))
    return Signals(entry, exit_, short, cover, stop, size, 0, exits, atr=atr, confidence=rng.random(n))


def _prefix(series: list[CandleSeries], signals: list[Signals], stop_time: int) -> tuple[MarketFrame, list[Signals]]:
    """The frame and signals of the bars that opened before ``stop_time``."""
    parts, sigs = [], []
    for s, sig in zip(series, signals, strict=True):
        m = int(np.searchsorted(s.open_time, stop_time))
        parts.append(s.slice(0, m))
        sigs.append(
            Signals(
                sig.long_entry[:m], sig.long_exit[:m], sig.short_entry[:m], sig.short_exit[:m],
                sig.stop_distance[:m], sig.size[:m], sig.warmup, sig.exits,
                None if sig.atr is None else sig.atr[:m], None if sig.confidence is None else sig.confidence[:m],
            )
        )  # fmt: skip
    return MarketFrame.align(parts), sigs


def _row(frame: MarketFrame, signals: list[Signals], i: int) -> tuple[int, list[Bar | None], list[DecisionRow | None]]:
    """Row ``i`` of the whole frame as a live driver would append it."""
    bars: list[Bar | None] = []
    rows: list[DecisionRow | None] = []
    for j in range(frame.width):
        if not frame.present[i, j]:
            bars.append(None)
            rows.append(None)
            continue
        own = int(np.searchsorted(frame.rows[j], i))
        bars.append(Bar(*(float(m[i, j]) for m in (frame.open, frame.high, frame.low, frame.close, frame.volume))))
        rows.append(DecisionRow.of(signals[j], own))
    return int(frame.open_time[i]), bars, rows


def test_a_tape_grown_row_by_row_holds_what_the_filled_one_holds() -> None:
    series = _market()
    signals = [_signals(s, seed) for s, seed in zip(series, (11, 12), strict=True)]
    frame = MarketFrame.align(series)
    full = Tape(frame, signals)
    first_frame, first_signals = _prefix(series, signals, int(frame.open_time[FIRST]))
    grown = Tape(first_frame, first_signals)
    for i in range(FIRST, len(frame)):
        assert grown.append(*_row(frame, signals, i)) == i
    assert len(grown) == len(full) == len(frame)
    np.testing.assert_array_equal(grown.times(), full.times())
    for name in ("open", "high", "low", "close", "volume", "mark", "present"):
        np.testing.assert_array_equal(grown.matrix(name), full.matrix(name), err_msg=name)
    np.testing.assert_array_equal(grown.any_signal(), full.any_signal())
    for j in range(frame.width):
        np.testing.assert_array_equal(grown.rows(j), full.rows(j))
        for a, b in zip(grown.decisions(j), full.decisions(j), strict=True):
            np.testing.assert_array_equal(a, b)
        for getter in (Tape.stop_distance, Tape.size, Tape.atr, Tape.confidence):
            np.testing.assert_array_equal(getter(grown, j), getter(full, j))


def test_rows_only_move_forward_on_the_timeframe_grid() -> None:
    candles = random_walk(50)
    tape = Tape(MarketFrame.align([candles]), [_signals(candles, 1)])
    bar = Bar(1.0, 1.0, 1.0, 1.0, 1.0)
    last = int(candles.open_time[-1])
    with pytest.raises(ConfigurationError, match="does not follow"):
        tape.append(last, [bar], [None])
    with pytest.raises(ConfigurationError, match="grid"):
        tape.append(last + 1, [bar], [None])
    with pytest.raises(ConfigurationError, match="1 bars"):
        tape.append(last + 3_600_000, [bar, bar], [None, None])
    assert tape.append(last + 3_600_000, [bar], [None]) == 50


def _engine(frame: MarketFrame, signals: list[Signals], correlation_window: int = 0, vol_k: float = 0.0) -> Engine:
    clock = SimulatedClock(int(frame.open_time[0]))
    broker = SimulatedBroker(
        frame, [Instrument(s) for s in frame.symbols], CASH, clock, taker_fee_bps=Decimal(10),
        slippage_bps=Decimal(2), allow_short=True, volatility_slippage_k=vol_k,
    )  # fmt: skip
    limits = merge(
        RiskLimits.unlimited(),
        {"max_drawdown": 0.04, "max_drawdown_cooldown": 0.5, "daily_loss_limit": 0.01, "max_risk_per_trade": 0.02},
    )
    return Engine(
        frame, signals, broker, clock, CASH, allow_short=True, sizer=KellyCapped(cap=0.9, min_trades=80, fallback=0.5),
        risk=RiskManager(limits), correlation_window=correlation_window,
    )  # fmt: skip


def _same(a: EngineResult, b: EngineResult) -> None:
    assert [repr(f) for f in a.fills] == [repr(f) for f in b.fills]
    assert [repr(t) for t in a.trades] == [repr(t) for t in b.trades]
    assert [repr(d) for d in a.denials] == [repr(d) for d in b.denials]
    assert [repr(e) for e in a.risk_events] == [repr(e) for e in b.risk_events]
    np.testing.assert_array_equal(a.equity, b.equity)
    np.testing.assert_array_equal(a.exposure, b.exposure)
    np.testing.assert_array_equal(a.cash, b.cash)
    assert a.portfolio == b.portfolio


@pytest.mark.parametrize("vol_k", [0.0, 0.5])
def test_an_engine_and_venue_stepped_over_appended_rows_trade_as_the_backtest(vol_k: float) -> None:
    series = _market()
    signals = [_signals(s, seed) for s, seed in zip(series, (21, 22), strict=True)]
    frame = MarketFrame.align(series)
    backtest = _engine(frame, signals, vol_k=vol_k).run()
    assert len(backtest.trades) > 10 and backtest.risk_events
    rules = {d.rule for d in backtest.denials}
    assert {"daily_loss_limit", "max_drawdown"} <= rules and (vol_k or "sizer" in rules)

    first_frame, first_signals = _prefix(series, signals, int(frame.open_time[FIRST]))
    live = _engine(first_frame, first_signals, vol_k=vol_k)
    live.run()  # the history the session starts with, with event skipping
    venue = live.broker
    assert isinstance(venue, SimulatedBroker)
    for i in range(FIRST, len(frame)):
        time, bars, rows = _row(frame, signals, i)
        assert venue.append(time, bars) == i  # a paper session's venue gets the candles too
        live.append(time, bars, rows)
        live.process_bar(i)
    result = live.result()
    assert sum(f.timestamp >= int(frame.open_time[FIRST]) for f in result.fills) > 10
    _same(result, backtest)


def test_appended_rows_get_correlations_from_their_trailing_window() -> None:
    series = _market()
    signals = [_signals(s, seed) for s, seed in zip(series, (31, 32), strict=True)]
    frame = MarketFrame.align(series)
    window = 48
    first_frame, first_signals = _prefix(series, signals, int(frame.open_time[FIRST]))
    live = _engine(first_frame, first_signals, correlation_window=window)
    for i in range(FIRST, len(frame)):
        live.append(*_row(frame, signals, i))
    whole = rolling_correlation(simple_returns(frame.mark[:, 0]), simple_returns(frame.mark[:, 1]), window)
    checked = 0
    for i in range(FIRST, len(frame)):
        got = live._correlation(0, 1, i)
        if math.isnan(whole[i]):
            assert math.isnan(got)
            continue
        assert got == pytest.approx(float(whole[i]), abs=1e-9)
        checked += 1
    assert checked > 400


def test_regimes_appended_with_the_bars_cap_exposure_as_in_the_backtest() -> None:
    """With regime caps the engine takes each appended bar's regime from the driver (here ``detect`` on the candles
    so far, what a session holding its history computes) and decides as the backtest over the whole lookup."""
    n, first = 3_000, 2_400  # the regime detector's warm-up is 2,231 bars
    candles = random_walk(n, seed=9)
    signals = _signals(candles, 41)
    limits = merge(RiskLimits.unlimited(), {"regime_caps": "sideways/*:0.1,*/high:0.2"})

    def engine(frame: MarketFrame, sig: Signals, regimes: RegimeSeries) -> Engine:
        clock = SimulatedClock(int(frame.open_time[0]))
        broker = SimulatedBroker(frame, [Instrument(candles.symbol)], CASH, clock, allow_short=True)
        return Engine(
            frame, [sig], broker, clock, CASH, allow_short=True, risk=RiskManager(limits), regimes=[regimes]
        )  # fmt: skip

    backtest = engine(MarketFrame.align([candles]), signals, detect(candles)).run()
    assert "regime_caps" in {d.rule for d in backtest.denials}

    first_frame, (first_signals,) = _prefix([candles], [signals], int(candles.open_time[first]))
    live = engine(first_frame, first_signals, detect(candles.slice(0, first)))
    live.run()
    venue = live.broker
    assert isinstance(venue, SimulatedBroker)
    frame = MarketFrame.align([candles])
    for i in range(first, n):
        time, bars, rows = _row(frame, [signals], i)
        venue.append(time, bars)
        with pytest.raises(ConfigurationError, match="regime"):
            live.append(time, bars, rows)  # refused before anything is appended
        live.append(time, bars, rows, [detect(candles.slice(0, i + 1)).at(-1)])
        live.process_bar(i)
    result = live.result()
    assert "regime_caps" in {d.rule for d in result.denials if d.time_ms >= int(candles.open_time[first])}
    _same(result, backtest)


def test_a_session_restored_from_its_snapshot_carries_on_appending() -> None:
    """A paper session stopped after a bar restarts with the history up to that bar (a new engine and venue over it,
    restored from their snapshots through JSON) and carries on appending: it trades as the session that never
    stopped (snapshots name bars by open time, rows are absolute)."""
    series = _market()
    signals = [_signals(s, seed) for s, seed in zip(series, (21, 22), strict=True)]
    frame = MarketFrame.align(series)
    whole = _engine(frame, signals).run()
    cuts = [FIRST + 37, FIRST + 211, FIRST + 450, len(frame) - 2]
    for cut in cuts:
        first_frame, first_signals = _prefix(series, signals, int(frame.open_time[FIRST]))
        session = _engine(first_frame, first_signals)
        session.run()
        venue = session.broker
        assert isinstance(venue, SimulatedBroker)
        for i in range(FIRST, cut + 1):
            time, bars, rows = _row(frame, signals, i)
            venue.append(time, bars)
            session.append(time, bars, rows)
            session.process_bar(i)
        engine_state = json.loads(json.dumps(session.snapshot(), allow_nan=False))
        venue_state = json.loads(json.dumps(venue.snapshot(), allow_nan=False))
        done = (len(session.fills), len(session.trades), len(session.denials))

        history_frame, history_signals = _prefix(series, signals, int(frame.open_time[cut + 1]))
        restarted = _engine(history_frame, history_signals)
        new_venue = restarted.broker
        assert isinstance(new_venue, SimulatedBroker)
        new_venue.restore(venue_state)
        restarted.restore(engine_state)
        for i in range(cut + 1, len(frame)):
            time, bars, rows = _row(frame, signals, i)
            new_venue.append(time, bars)
            restarted.append(time, bars, rows)
            restarted.process_bar(i)
        rest = restarted.result()
        assert [repr(f) for f in rest.fills] == [repr(f) for f in whole.fills[done[0] :]], cut
        assert [repr(t) for t in rest.trades] == [repr(t) for t in whole.trades[done[1] :]], cut
        assert rest.denials == whole.denials[done[2] :], cut
        np.testing.assert_array_equal(rest.equity[cut + 1 :], whole.equity[cut + 1 :])
        np.testing.assert_array_equal(rest.cash[cut:], whole.cash[cut:])
        assert rest.portfolio == whole.portfolio
        assert rest.fills or cut == cuts[-1]  # trading goes on after every cut but the last
