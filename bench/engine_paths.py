"""Which engine path each default backtest takes, and what the signal replay is worth where it is taken
([M9], issue #15 point 7: "the fast path serves real runs or goes").

    .venv/bin/python bench/engine_paths.py      # about half a minute on 2 cores

For every built-in strategy with its defaults, on each bundled series (BTCUSDT and ETHUSDT 1h): whether
``Engine.run`` hands the bars to the venue's signal replay (``Engine._replayable``) or steps ``process_bar``
with event skipping, and why not (zero-volume bars; managed stops; a ladder). Then the engine alone (signals
precomputed) on the bundled BTCUSDT series and on a 1,000,000-bar random walk, with the replay allowed and
refused (``Engine(signal_replay=False)``): best of 3, the same trades either way. ML strategies get seeded
synthetic predictions. Results: bench/results/engine_paths.json.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from machine import cpu_model  # noqa: E402  (bench/machine.py, beside this script)

CASH = Decimal(10_000)


def _engine(series: Any, signals: Any, replay: bool) -> Any:
    from application.engine import Engine
    from application.ports.simulation import SimulationSettings
    from domain.model.market import MarketFrame
    from entrypoints.container import simulator

    frame = MarketFrame.align([series])
    broker, clock = simulator(frame, CASH, SimulationSettings())
    return Engine(frame, signals, broker, clock, CASH, signal_replay=replay)


def _why_not(engine: Any) -> str:
    exits = engine._exits[0]
    if engine._manages[0]:
        return "managed stop"
    if exits.take_profits:
        return "take-profit ladder"
    if not engine.broker.can_replay(0):
        return "zero-volume bars"
    return "other"


def _timed(series: Any, signals: Any, replay: bool, repeat: int = 3) -> tuple[float, int]:
    best, trades = float("inf"), -1
    for _ in range(repeat):
        engine = _engine(series, signals, replay)
        started = time.perf_counter()
        result = engine.run()
        best = min(best, time.perf_counter() - started)
        trades = len(result.trades)
    return best, trades


def main() -> None:
    from adapters.files import BundledMarketData
    from domain.model.symbols import Symbol
    from domain.model.timeframe import Timeframe
    from domain.strategies.api import Context
    from domain.strategies.ml import synthetic_predictions
    from domain.strategies.registry import create_strategy, strategy_names
    from tests.builders import random_walk

    machine = f"{cpu_model()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    out: dict[str, Any] = {"machine": machine, "paths": [], "timings": []}
    print(f"machine: {out['machine']}\n")
    market = BundledMarketData()
    bundled = {}
    for base in ("BTC", "ETH"):
        series = market.candles(Symbol(base, "USDT"), Timeframe.H1)
        bundled[base] = series
        zero = int((series.volume == 0).sum())
        print(f"{base}USDT 1h: {len(series):,} bars, {zero} with zero volume")
        for name in strategy_names():
            strategy = create_strategy(name)
            context = Context(predictions=synthetic_predictions(len(series))) if strategy.model_type else Context()
            engine = _engine(series, strategy.signals(series, context), True)
            replay = engine._replayable(0)
            why = "" if replay else _why_not(engine)
            out["paths"].append({"series": f"{base}USDT", "strategy": name, "replay": replay, "why_not": why})
            print(f"  {name:18s} {'signal replay' if replay else 'process_bar  (' + why + ')'}")
    print()
    walk = random_walk(1_000_000, seed=1)
    for label, series in (("bundled BTCUSDT 1h", bundled["BTC"]), ("walk 1,000,000", walk)):
        signals = create_strategy("ema_cross").signals(series, Context())
        with_replay, trades_a = _timed(series, signals, True)
        without, trades_b = _timed(series, signals, False)
        assert trades_a == trades_b, (trades_a, trades_b)
        row = {"series": label, "strategy": "ema_cross", "replay_allowed_s": round(with_replay, 4),
               "replay_refused_s": round(without, 4), "trades": trades_a}  # fmt: skip
        out["timings"].append(row)
        print(f"{label:20s} ema_cross engine: replay allowed {with_replay:.3f} s, refused {without:.3f} s "
              f"({without / with_replay:.2f}x), {trades_a:,} trades")  # fmt: skip
    path = ROOT / "bench" / "results" / "engine_paths.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
