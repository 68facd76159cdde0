"""Every order of long multi-symbol backtests on the bundled BTCUSDT and ETHUSDT candles carries a
decision-derived id (application/order_ids.py, docs/order-ids.md): valid for Binance's ``newClientOrderId``
(at most 36 of ``[.A-Za-z0-9:/_-]``) and within ``[A-Za-z0-9_-]`` (its spot FIX API's pattern); one id per
order; the id says what the order is (symbol, deciding bar, intent, revision); the same backtest run again
gives the same ids; and an engine that takes the same decision on the same bar (stepped bar by bar, started
later, or run with its event skipping) names it with the same id.

The orders are those the simulated venue tracked: the engine's entries, exits and managed stops, and the
venue's own (stop and take-profit ladders attached at fills, liquidation stops), seen by wrapping the real
broker's ``_track``."""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adapters.files import BundledMarketData
from adapters.strategies.toml_strategy import load_toml_strategy
from application.engine import Engine, EngineConfig
from application.order_ids import parse_order_id
from application.ports.broker import Broker, SimulationSettings
from application.ports.clock import Clock
from application.use_cases.run_backtest import BacktestReport, BacktestRequest, RunBacktest
from domain.model.market import MarketFrame
from domain.model.orders import OrderRequest
from domain.model.symbols import Instrument, Symbol
from domain.model.timeframe import Timeframe
from domain.strategies.registry import USER, Entry, builtin_catalog
from domain.strategies.strategy import Context
from entrypoints.container import simulator

BINANCE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")  # the pattern quoted for newClientOrderId
SAFE = re.compile(r"[A-Za-z0-9_-]{1,36}")  # Binance spot FIX's ^[a-zA-Z0-9-_]{1,36}$, and what atb restricts to
SYMBOLS = (Symbol.parse("BTCUSDT"), Symbol.parse("ETHUSDT"))
HOUR = Timeframe.H1.milliseconds
# A vote that goes long and short, with a stop that trails, moves to break-even and a three-step target ladder.
LADDER = """
[strategy]
name = "ladder"
[[signals]]
generator = "ema_crossover"
params = { fast = 20, slow = 80 }
[[signals]]
generator = "momentum"
params = { period = 24, threshold = 0.01 }
[vote]
threshold = 0.5
short = true
[stop]
atr_stop = 2.5
[exits]
trailing_atr = 3.0
break_even = 0.02
take_profits = [[0.02, 0.3], [0.04, 0.3], [0.08, 0.4]]
"""
INTENT_OF_TAG = {"entry": "e", "exit": "x", "stop_loss": "s", "trailing_stop": "s", "liquidation": "l"}


def _recording(seen: list[OrderRequest]) -> Callable[..., tuple[Broker, Clock]]:
    """The backtests' simulator, recording every order request its broker starts tracking."""

    def factory(market: MarketFrame, cash: Decimal, settings: SimulationSettings,
                instruments: Sequence[Instrument] | None = None) -> tuple[Broker, Clock]:  # fmt: skip
        broker, clock = simulator(market, cash, settings, instruments)
        track = broker._track  # type: ignore[attr-defined]

        def spy(request: OrderRequest) -> Any:
            seen.append(request)
            return track(request)

        broker._track = spy  # type: ignore[attr-defined]
        return broker, clock

    return factory


def _catalog(tmp_path: Path) -> Any:
    path = tmp_path / "ladder.toml"
    path.write_text(LADDER)
    return builtin_catalog().with_entries([Entry(load_toml_strategy(path), USER, str(path), "0" * 64)])


RUNS: dict[str, dict[str, Any]] = {
    "ladder_long_short": {
        "strategy": "ladder",
        "simulation": SimulationSettings(allow_short=True),
        "engine": EngineConfig(allow_short=True),
    },
    "ema_trend_trailing_take_profit": {
        "strategy": "ema_trend",
        "params": {"trailing_atr": "3", "take_profit": "0.04", "take_profit_size": "0.5", "break_even": "0.02"},
    },
    "momentum_leverage_short": {
        "strategy": "momentum_leverage",
        "params": {"short": "true", "leverage": "2"},
        "simulation": SimulationSettings(allow_short=True, leverage=Decimal(2)),
        "engine": EngineConfig(allow_short=True, max_gross_exposure=2.0),
    },
}


def _backtest(tmp_path: Path, run: dict[str, Any]) -> tuple[BacktestReport, list[OrderRequest]]:
    seen: list[OrderRequest] = []
    use_case = RunBacktest(BundledMarketData(), _recording(seen), strategies=_catalog(tmp_path))
    request = BacktestRequest(
        run["strategy"], SYMBOLS, Timeframe.H1, Decimal(100_000), params=run.get("params", {}),
        simulation=run.get("simulation", SimulationSettings()), engine=run.get("engine", EngineConfig()),
    )  # fmt: skip
    return use_case(request), seen


@pytest.mark.parametrize("name", list(RUNS))
def test_every_order_of_a_long_multi_symbol_backtest_has_a_venue_safe_decision_id(tmp_path: Path, name: str) -> None:
    report, seen = _backtest(tmp_path, RUNS[name])
    tags = {r.tag for r in seen}
    assert len(seen) >= 200 and len(report.trades) >= 50  # a long run, not a handful of orders
    assert {r.symbol for r in seen} == set(SYMBOLS)
    assert {"entry", "trailing_stop"} <= tags
    if name == "ladder_long_short":
        assert {"stop_loss", "take_profit", "exit", "liquidation"} <= tags
        assert {r.side for r in seen if r.tag == "entry"} == {r.side.opposite for r in seen if r.tag == "entry"}
    if name == "momentum_leverage_short":
        assert "liquidation" in tags
    ids = [r.client_order_id for r in seen]
    assert all(BINANCE.fullmatch(oid) and SAFE.fullmatch(oid) for oid in ids), [o for o in ids if len(o) > 36][:3]
    assert len(set(ids)) == len(ids)  # one id per order: no id names two orders
    revisions: dict[Symbol, list[tuple[int, int]]] = defaultdict(list)
    for r in seen:
        parts = parse_order_id(r.client_order_id)
        assert parts is not None, r.client_order_id
        assert (parts.session, parts.symbol) == ("bt", str(r.symbol))
        intent = INTENT_OF_TAG.get(r.tag or "", "t")
        assert parts.intent[0] == intent, (r.tag, r.client_order_id)
        if r.tag in ("entry", "exit", "stop_loss", "take_profit"):  # decided at the close of the id's bar
            assert parts.bar_open_ms + HOUR == r.created_at, r
        if r.tag in {"stop_loss", "take_profit"}:
            assert parts.revision == 0  # attached at the entry's fill: the entry's decision, another intent
        if r.tag == "trailing_stop":
            assert parts.revision >= 1 and parts.bar_open_ms + HOUR <= r.created_at
            revisions[r.symbol].append((parts.bar_open_ms, parts.revision))
        if r.tag == "liquidation":  # placed by the venue at the fill that moved it, in that bar
            assert parts.bar_open_ms == r.created_at
    for moves in revisions.values():
        # Within a position each move tightens the stop on a later bar, with a higher revision.
        assert all(b1 < b2 for (b1, r1), (b2, r2) in itertools.pairwise(moves) if r2 > r1)
    # Fills name the orders they fill.
    assert {f.client_order_id for f in report.fills} <= set(ids)
    # Every price sits on its symbol's tick grid (a venue refuses any other): no trailing stop was refused
    refused = [d.reason for d in report.denials if d.rule == "venue"]
    assert not [r for r in refused if "not a multiple" in r], refused[:3]


@pytest.mark.parametrize("name", ["ladder_long_short", "momentum_leverage_short"])
def test_the_same_backtest_twice_gives_the_same_ids(tmp_path: Path, name: str) -> None:
    first, seen_first = _backtest(tmp_path, RUNS[name])
    second, seen_second = _backtest(tmp_path, RUNS[name])
    assert len(seen_first) >= 200
    assert [r.client_order_id for r in seen_first] == [r.client_order_id for r in seen_second]
    assert seen_first == seen_second
    assert first.fills == second.fills


def _engine(frame: MarketFrame, strategy: str, params: dict[str, str]) -> tuple[Engine, list[OrderRequest]]:
    seen: list[OrderRequest] = []
    broker, clock = _recording(seen)(frame, Decimal(100_000), SimulationSettings())
    signals = [builtin_catalog().create(strategy, params).signals(s, Context()) for s in frame.series]
    return Engine(frame, signals, broker, clock, Decimal(100_000)), seen


def _frame(bars: int) -> MarketFrame:
    data = BundledMarketData()
    return MarketFrame.align([data.candles(s, Timeframe.H1, None, None).slice(0, bars) for s in SYMBOLS])


TRAILING = {"trailing_atr": "3", "take_profit": "0.04", "break_even": "0.02"}


def test_stepping_every_bar_names_the_orders_the_event_skipping_run_sends_the_same() -> None:
    """``run()`` visits only the bars where something can happen, so it moves a trailing stop once where a
    bar-by-bar run moves it at each close: the stop it sends is one the bar-by-bar run sent too, with the
    same id (the bar whose close set the level, and the count of moves up to it)."""
    frame = _frame(12_000)
    skipping, seen_skipping = _engine(frame, "ema_trend", TRAILING)
    result = skipping.run()
    stepping, seen_stepping = _engine(frame, "ema_trend", TRAILING)
    for i in range(len(frame)):
        stepping.process_bar(i)
    assert sum(r.tag == "trailing_stop" for r in seen_skipping) >= 20
    assert len(seen_stepping) > len(seen_skipping)  # the bar-by-bar run moved the stops more often
    by_id = {r.client_order_id: r for r in seen_stepping}
    assert len(by_id) == len(seen_stepping)
    for r in seen_skipping:
        twin = by_id.get(r.client_order_id)
        assert twin is not None, r
        assert (twin.symbol, twin.side, twin.tag, twin.stop_price, twin.price) == (
            r.symbol, r.side, r.tag, r.stop_price, r.price
        )  # fmt: skip
    assert result.fills == stepping.result().fills


def test_the_same_decision_on_the_same_bar_gets_the_same_id() -> None:
    """Two engines stepped to the same bar send the same orders there; an engine that starts at a bar where
    another took an entry names it with the same id: no counter of earlier orders goes into the id."""
    frame = _frame(6_000)
    one, seen_one = _engine(frame, "ema_trend", TRAILING)
    two, seen_two = _engine(frame, "ema_trend", TRAILING)
    bars_with_orders = []
    for i in range(len(frame)):
        before = len(seen_one), len(seen_two)
        one.process_bar(i)
        two.process_bar(i)
        assert seen_one[before[0] :] == seen_two[before[1] :]
        if len(seen_one) > before[0]:
            bars_with_orders.append(i)
    assert len(bars_with_orders) >= 50
    # An engine started fresh at a bar where the first one took an entry (as after a restart, with nothing
    # of the earlier run carried over) names that entry as the first one did: no count of earlier orders.
    entries = [r for r in seen_one if r.tag == "entry"]
    assert len(entries) >= 10
    time = frame.open_time.tolist()
    for entry in entries[len(entries) // 2 :: max(1, len(entries) // 8)]:
        row = time.index(entry.created_at - HOUR)  # the deciding bar
        later, seen_later = _engine(frame, "ema_trend", TRAILING)
        later.process_bar(row)
        again = [r for r in seen_later if r.tag == "entry" and r.symbol == entry.symbol]
        assert [r.client_order_id for r in again] == [entry.client_order_id]
        assert again[0].created_at == entry.created_at
