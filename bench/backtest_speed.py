"""Backtest speed: atb's whole run and its engine alone, on bundled data and on synthetic bars.

Prints a table and writes bench/results/backtest_speed.json. Not a test: figures depend on the machine.
[M2] adds backtesting.py and backtrader side by side.

    .venv/bin/python bench/backtest_speed.py [--bars 1000000]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from decimal import Decimal
from pathlib import Path

import numpy as np

from adapters.files import BundledMarketData
from application.engine import Engine
from application.use_cases.run_backtest import BacktestRequest, RunBacktest
from domain.model.candles import CandleSeries
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe
from domain.strategies.registry import create_strategy
from entrypoints.container import simulator

BTC = Symbol("BTC", "USDT")


def synthetic(n: int, seed: int = 42) -> CandleSeries:
    rng = np.random.default_rng(seed)
    close = 20_000 * np.exp(np.cumsum(rng.normal(0, 0.004, n)))
    open_ = np.concatenate(([20_000.0], close[:-1]))
    wiggle = np.abs(rng.normal(0, 0.002, n)) * close
    times = 1_500_000_000_000 + 3_600_000 * np.arange(n, dtype=np.int64)
    return CandleSeries.from_arrays(
        BTC, Timeframe.H1, times, open_, np.maximum(open_, close) + wiggle, np.minimum(open_, close) - wiggle,
        close, rng.uniform(1, 100, n),
    )  # fmt: skip


class _Memory:
    def __init__(self, series: CandleSeries) -> None:
        self.series = series

    def candles(self, symbol, timeframe, start_ms=None, end_ms=None):  # type: ignore[no-untyped-def]
        return self.series.between(start_ms, end_ms)

    def datasets(self):  # type: ignore[no-untyped-def]
        return []


def best_of(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def measure(name: str, series: CandleSeries, repeat: int) -> dict[str, object]:
    request = BacktestRequest("ema_trend", BTC, Timeframe.H1, Decimal(10_000), fee_bps=Decimal(10),
                              slippage_bps=Decimal(5))  # fmt: skip
    use_case = RunBacktest(_Memory(series), simulator)
    report = use_case(request)
    whole = best_of(lambda: use_case(request), repeat)
    strategy = create_strategy("ema_trend")
    signals = strategy.signals(series)
    signals_s = best_of(lambda: strategy.signals(series), repeat)

    def engine_only() -> None:
        broker, clock = simulator(series, Decimal(10_000), Decimal(10), Decimal(5), False)
        Engine(series, signals, broker, clock, Decimal(10_000)).run()

    engine_s = best_of(engine_only, repeat)
    n = len(series)
    return {
        "dataset": name,
        "bars": n,
        "trades": len(report.trades),
        "whole_run_s": whole,
        "whole_bars_per_s": n / whole,
        "signals_s": signals_s,
        "engine_s": engine_s,
        "engine_bars_per_s": n / engine_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "backtest_speed.json")
    args = parser.parse_args()
    rows = [
        measure("bundled BTCUSDT 1h", BundledMarketData().candles(BTC, Timeframe.H1), args.repeat),
        measure(f"synthetic {args.bars:,}", synthetic(args.bars), args.repeat),
    ]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'dataset':<24}{'bars':>10}{'trades':>8}{'whole s':>10}{'bars/s':>14}{'engine s':>10}{'engine bars/s':>15}")
    for r in rows:
        print(
            f"{r['dataset']:<24}{r['bars']:>10,}{r['trades']:>8,}{r['whole_run_s']:>10.3f}"
            f"{r['whole_bars_per_s']:>14,.0f}{r['engine_s']:>10.3f}{r['engine_bars_per_s']:>15,.0f}"
        )
    print(f"peak RSS {peak_mb:,.0f} MB")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "python": platform.python_version(),
                "machine": platform.machine(),
                "peak_rss_mb": peak_mb,
                "results": rows,
            },
            indent=2,
        )
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
