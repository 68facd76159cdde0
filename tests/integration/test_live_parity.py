"""Live parity: stepping candle by candle on an appended tape, with the strategy's signals computed on the trailing
``history_bars`` window, trades as the backtest does (docs/adr/0023-one-engine.md, point 1).

For every built-in strategy (the ML ones with causal synthetic predictions through ``Context``) and the documented
example ``docs/examples/donchian_breakout.py``, on the last bundled BTCUSDT 1h bars:

- the backtest: the strategy's signals on the whole slice, ``Engine.run`` (event skipping);
- the live run: an engine built over the first bars (the history a live session starts with, signals computed
  on it once, stepped with ``run``), then for each later candle: append it with the decision row the strategy
  gives at its close on the trailing ``history_bars`` window (``strategy.signals(candles.slice(t - H + 1, t +
  1), context.window(...))``, last row), and ``process_bar``.

Each runs without risk rules and with binding ones (the drawdown breaker tripping and resetting, drawdown steps,
the risk per trade, the daily loss limit). Decisions (the four events at every bar), fills, trades, denials, risk
events and equity must be identical. The live run's
venue is a simulated one started over the same first bars, to which the driver appends each candle too (paper
trading).
"""

from __future__ import annotations

import importlib.util
import math
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from adapters.files import BundledMarketData
from adapters.simulation import SimulatedBroker, SimulatedClock
from application.engine import Engine, EngineResult
from application.tape import Bar, DecisionRow
from domain.model.candles import CandleSeries
from domain.model.market import MarketFrame
from domain.model.symbols import Instrument, Symbol
from domain.model.timeframe import Timeframe
from domain.risk import RiskLimits, RiskManager, merge
from domain.strategies.api import Context
from domain.strategies.base import Signals
from domain.strategies.discovery import strategies_in
from domain.strategies.registry import create_strategy, strategy_names
from tests.builders import stand_in_context

pytestmark = pytest.mark.slow

LIVE = 700  # candles stepped live, after the history the session starts with
CASH = Decimal(10_000)
# Risk rules that bind: the breaker trips and resets, drawdown steps, the risk per trade (the daily loss limit
# too for the ML strategies); the Kelly sizer is in tests/unit/application/test_tape.py (here it stops trading).
LIMITS = merge(
    RiskLimits.unlimited(),
    {
        "max_drawdown": 0.04,
        "max_drawdown_cooldown": 0.5,
        "daily_loss_limit": 0.01,
        "drawdown_steps": "0.01:0.8,0.02:0.6",
        "max_risk_per_trade": 0.01,
    },
)
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "donchian_breakout.py"


def _example() -> Any:
    spec = importlib.util.spec_from_file_location("example_donchian_breakout", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (cls,) = strategies_in(module)
    return cls()


def _strategy(name: str) -> Any:
    return _example() if name == "donchian_breakout" else create_strategy(name)


@cache
def _candles(bars: int) -> CandleSeries:
    full = BundledMarketData().candles(Symbol.parse("BTCUSDT"), Timeframe.H1)
    return full.slice(len(full) - bars, len(full))




def _engine(frame: MarketFrame, signals: Signals, risk: bool) -> Engine:
    clock = SimulatedClock(int(frame.open_time[0]))
    broker = SimulatedBroker(
        frame, [Instrument(s) for s in frame.symbols], CASH, clock, taker_fee_bps=Decimal(10), slippage_bps=Decimal(2)
    )
    if not risk:
        return Engine(frame, signals, broker, clock, CASH)
    return Engine(frame, signals, broker, clock, CASH, risk=RiskManager(LIMITS))


def _texts(items: list[Any]) -> list[str]:
    return [repr(x) for x in items]  # repr: floats exactly, NaN equal to NaN


def _live(
    strategy: Any, candles: CandleSeries, context: Context, first: int, risk: bool
) -> tuple[Engine, EngineResult]:
    """The live run: history ``[0, first)`` stepped at start, then each later candle appended and stepped."""
    h = int(strategy.history_bars)
    start = candles.slice(0, first)
    engine = _engine(MarketFrame.align([start]), strategy.signals(start, context.window(0, first)), risk)
    engine.run()
    venue = engine.broker
    assert isinstance(venue, SimulatedBroker)
    for t in range(first, len(candles)):
        lo = max(0, t - h + 1)
        window = strategy.signals(candles.slice(lo, t + 1), context.window(lo, t + 1))
        bar = Bar(
            float(candles.open[t]), float(candles.high[t]), float(candles.low[t]), float(candles.close[t]),
            float(candles.volume[t]),
        )  # fmt: skip
        time = int(candles.open_time[t])
        assert venue.append(time, [bar]) == t  # the candle reaches the venue (paper trading) ...
        assert engine.append(time, [bar], [DecisionRow.of(window, -1)]) == t  # ... and the engine, with the decision
        engine.process_bar(t)
    return engine, engine.result()


NAMES = [*strategy_names(), "donchian_breakout"]


@pytest.mark.parametrize("risk", [False, True], ids=["plain", "risk"])
@pytest.mark.parametrize("name", NAMES)
def test_stepping_live_on_an_appended_tape_trades_as_the_backtest(name: str, risk: bool) -> None:
    strategy = _strategy(name)
    h = int(strategy.history_bars)
    candles = _candles(h + LIVE)
    context = stand_in_context(strategy, candles)
    signals = strategy.signals(candles, context)
    frame = MarketFrame.align([candles])
    backtest = _engine(frame, signals, risk).run()

    live_engine, live = _live(strategy, candles, context, h, risk)

    le, lx, se, sx = live_engine.tape.decisions(0)
    for live_events, events in zip(
        (le, lx, se, sx), (signals.long_entry, signals.long_exit, signals.short_entry, signals.short_exit), strict=True
    ):
        assert np.array_equal(live_events, events)
    assert _texts(live.fills) == _texts(backtest.fills)
    assert _texts(live.trades) == _texts(backtest.trades)
    assert _texts(live.denials) == _texts(backtest.denials)
    assert _texts(live.risk_events) == _texts(backtest.risk_events)
    assert backtest.risk_events or not risk
    np.testing.assert_array_equal(live.equity, backtest.equity)
    np.testing.assert_array_equal(live.exposure, backtest.exposure)
    np.testing.assert_array_equal(live.cash, backtest.cash)
    assert live.portfolio == backtest.portfolio
    # not vacuous: every strategy fills orders during the candles stepped live
    assert any(f.timestamp >= int(candles.open_time[h]) for f in live.fills)
    assert not math.isnan(float(live.equity[-1]))
