"""Backtest speed: atb against backtesting.py and backtrader (and vectorbt where installed), one strategy.

The strategy is ``ema_cross`` (EMA(12)/EMA(26) crossover, long only, entry and exit at the next bar's open,
2% stop-loss placed at entry, all equity per entry, 10 000 cash) with 0.1% fee per side and 5 bps
slippage. Each library runs in its own subprocess, so its peak RSS (``ru_maxrss`` of that process) is its
own. Each child builds its data in its library's format (not timed), runs once on 2,000 bars to load lazy
code and JIT caches (not timed), then times whole runs: the first, and when it took under 5 s, up to
``--repeat`` runs, keeping the best. A whole run is everything from candles to statistics: indicators,
signals, the simulation, the equity curve and the metrics. atb is also timed on its engine alone, on
precomputed signals.

Datasets: (a) bundled BTCUSDT 1h; (b) 1,000,000 synthetic bars; (c) 100,000 synthetic bars (the first
100,000 of (b): cost per bar should not change with length). ``--quick``: (b) 100,000 and (c) 10,000.
The synthetic bars are a seeded random walk whose hourly returns are AR(1) (phi 0.35) with a weak pull
back to 20 000: on an i.i.d. walk, fees and slippage drain the all-in account below the exchange minimum
within ~100,000 bars and every later entry is refused, which would time refusals instead of trading.

Prints a table and writes bench/results/backtest_speed.json. Not a test: figures depend on the machine.

    .venv/bin/python bench/backtest_speed.py [--quick] [--skip backtrader,vectorbt] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from decimal import Decimal
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from machine import cpu_model  # noqa: E402  (bench/machine.py, beside this script)

LIBRARIES = ("atb", "backtesting.py", "backtrader", "vectorbt")
DISTRIBUTIONS = {"atb": "atb", "backtesting.py": "backtesting", "backtrader": "backtrader", "vectorbt": "vectorbt"}
CASH = 10_000
FEE = 0.001  # per side
SLIPPAGE = 0.0005  # per side (5 bps)
STOP = 0.02
FAST, SLOW = 12, 26
WARMUP_BARS = 2_000
REPEAT_UNDER_S = 5.0
HOUR_MS = 3_600_000

# What each library is configured with (also written to the JSON).
CONFIG = {
    "atb": "RunBacktest('ema_cross'): fee 10 bps per side, slippage 5 bps on market and stop fills, stop 2% "
    "below the deciding close placed at entry (can trigger in the entry bar, gap fills at the open), exchange "
    "rules on (step 0.00001, tick 0.01, min notional 10, balance check), sizer and risk manager at every entry "
    "with every rule on and limits that never bind, metrics computed",
    "backtesting.py": "FractionalBacktest (unit 1e-8): commission 0.001, spread 0.001 (charged on entry only, "
    "so ~5 bps per side), buy(size=0.9999, sl=close*0.98), position.close() on cross down, EMAs by pandas "
    "ewm(adjust=False), lib.crossover, stats computed by run(), progress bar off",
    "backtrader": "Cerebro(stdstats=False), PandasData feed, EMA and CrossOver indicators, commission 0.001, "
    "set_slippage_perc(0.0005), buy_bracket(Market, stop at close*0.98, no limit) sized value/(close*1.0025), "
    "stop canceled and close() on cross down, DrawDown and TradeAnalyzer analyzers",
    "vectorbt": "Portfolio.from_signals: EMA crossings (MA.run ewm) shifted one bar, price=open, open/high/low "
    "for stops, sl_stop 0.02 (from the entry price), fees 0.001, slippage 0.0005, size inf, init_cash "
    "10000; total return, Sharpe and max drawdown computed",
}


# ---------------------------------------------------------------------------------------------------------------
# Data (plain numpy arrays; each child converts them to its library's format)


def dataset_arrays(key: str) -> dict[str, np.ndarray]:
    """``bundled`` or ``walk:N`` as arrays open_time (int64 ms), open, high, low, close, volume."""
    if key == "bundled":
        from adapters.files import BundledMarketData
        from domain.model.symbols import Symbol
        from domain.model.timeframe import Timeframe

        c = BundledMarketData().candles(Symbol("BTC", "USDT"), Timeframe.H1)
        return {
            "open_time": np.asarray(c.open_time),
            "open": np.asarray(c.open),
            "high": np.asarray(c.high),
            "low": np.asarray(c.low),
            "close": np.asarray(c.close),
            "volume": np.asarray(c.volume),
        }
    return walk(int(key.split(":", 1)[1]))


def walk(n: int, seed: int = 42, phi: float = 0.35, pull: float = 2e-5, sigma: float = 0.004) -> dict[str, np.ndarray]:
    """A seeded random walk of ``n`` hourly bars: AR(1) log returns, a weak pull back to 20 000.

    One random stream per column, so ``walk(m)`` is the first ``m`` bars of ``walk(n)`` for ``m < n``.
    """
    shock_rng, wick_rng, volume_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))
    x = np.empty(n)
    r = level = 0.0
    for i, e in enumerate(shock_rng.normal(0.0, sigma, n).tolist()):  # two first-order recursions; not timed
        r = phi * r + e
        level = level * (1.0 - pull) + r
        x[i] = level
    close = 20_000.0 * np.exp(x)
    open_ = np.concatenate(([20_000.0], close[:-1]))
    wick = np.abs(wick_rng.normal(0.0, sigma / 2, (n, 2)))
    return {
        "open_time": 1_500_000_000_000 + HOUR_MS * np.arange(n, dtype=np.int64),
        "open": open_,
        "high": np.maximum(open_, close) * (1 + wick[:, 0]),
        "low": np.minimum(open_, close) * (1 - wick[:, 1]),
        "close": close,
        "volume": volume_rng.uniform(1.0, 100.0, n),
    }


def _frame(d: dict[str, np.ndarray]) -> Any:
    import pandas as pd

    return pd.DataFrame(
        {"Open": d["open"], "High": d["high"], "Low": d["low"], "Close": d["close"], "Volume": d["volume"]},
        index=pd.to_datetime(d["open_time"], unit="ms"),
    )


# ---------------------------------------------------------------------------------------------------------------
# One runner per library: prepare(arrays) -> data (not timed); run(data) -> summary (timed)


# Every rule the risk manager has for one symbol is on and evaluated at each entry, with limits this
# all-in strategy never reaches (its entries commit 100% of equity with a 2% stop: 2% at risk), so atb
# trades the same positions as the other libraries.
NON_BINDING_RISK = {
    "max_risk_per_trade": "1", "max_position": "1", "max_gross_exposure": "1", "daily_loss_limit": "0.99",
    "max_drawdown": "0.999", "drawdown_steps": "0.995:0.5", "regime_caps": "", "min_fraction": "0.0001",
}  # fmt: skip


class AtbRunner:
    def prepare(self, d: dict[str, np.ndarray]) -> Any:
        from domain.model.candles import CandleSeries
        from domain.model.symbols import Symbol
        from domain.model.timeframe import Timeframe

        return CandleSeries.from_arrays(
            Symbol("BTC", "USDT"), Timeframe.H1, d["open_time"], d["open"], d["high"], d["low"], d["close"], d["volume"]
        )

    @staticmethod
    def _settings() -> Any:
        from application.ports.simulation import SimulationSettings

        return SimulationSettings(fee_bps=Decimal(10), slippage_bps=Decimal(5))

    def run(self, series: Any) -> dict[str, Any]:
        from application.use_cases.run_backtest import BacktestRequest, RunBacktest
        from domain.model.timeframe import Timeframe
        from entrypoints.container import simulator

        # Risk checks run on every entry (sizer, risk manager with its drawdown, daily loss, per-trade
        # risk, position, gross and dust rules) with limits that never bind, so every library trades the
        # same positions.
        request = BacktestRequest(
            "ema_cross", (series.symbol,), Timeframe.H1, Decimal(CASH), simulation=self._settings(),
            risk=NON_BINDING_RISK,
        )  # fmt: skip
        report = RunBacktest(_Memory(series), simulator)(request)
        return {"trades": len(report.trades), "final_equity": float(report.equity[-1])}

    def extra(self, series: Any, repeat: int) -> dict[str, Any]:
        """The engine alone on precomputed signals, and the signals alone."""
        from application.engine import Engine
        from domain.model.market import MarketFrame
        from domain.strategies.api import Context
        from domain.strategies.registry import create_strategy
        from entrypoints.container import simulator

        strategy = create_strategy("ema_cross")
        signals_s, signals = best_of(lambda: strategy.signals(series, Context()), repeat)
        frame = MarketFrame.align([series])

        def engine_only() -> Any:
            broker, clock = simulator(frame, Decimal(CASH), self._settings())
            return Engine(frame, signals, broker, clock, Decimal(CASH)).run()

        engine_s, result = best_of(engine_only, repeat)
        n = len(series)
        return {
            "signals_s": signals_s,
            "engine_s": engine_s,
            "engine_bars_per_s": n / engine_s,
            "engine_trades": len(result.trades),
            "engine_denials": len(result.denials),
        }


class _Memory:
    """A ``MarketData`` over one in-memory series."""

    def __init__(self, series: Any) -> None:
        self.series = series

    def candles(self, symbol: Any, timeframe: Any, start_ms: int | None = None, end_ms: int | None = None) -> Any:
        return self.series.between(start_ms, end_ms)

    def datasets(self) -> list[Any]:
        return []


def _pandas_ema(values: Any, period: int) -> Any:
    import pandas as pd

    return pd.Series(values).ewm(span=period, adjust=False, min_periods=period).mean().to_numpy()


class BacktestingPyRunner:
    def prepare(self, d: dict[str, np.ndarray]) -> Any:
        import backtesting.backtesting

        backtesting.backtesting._tqdm = lambda seq, **_: seq  # no progress bar
        return _frame(d)

    def run(self, frame: Any) -> dict[str, Any]:
        from backtesting import Strategy
        from backtesting.lib import FractionalBacktest, crossover

        class EmaCross(Strategy):
            def init(self) -> None:
                self.fast = self.I(_pandas_ema, self.data.Close, FAST)
                self.slow = self.I(_pandas_ema, self.data.Close, SLOW)

            def next(self) -> None:
                if crossover(self.fast, self.slow):
                    if not self.position:
                        close = self.data.Close[-1]
                        self.buy(size=0.9999, sl=close * (1 - STOP))
                elif crossover(self.slow, self.fast) and self.position:
                    self.position.close()

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stats = FractionalBacktest(frame, EmaCross, cash=CASH, commission=FEE, spread=2 * SLIPPAGE).run()
        return {"trades": int(stats["# Trades"]), "final_equity": float(stats["Equity Final [$]"])}


class BacktraderRunner:
    def prepare(self, d: dict[str, np.ndarray]) -> Any:
        return _frame(d)

    def run(self, frame: Any) -> dict[str, Any]:
        import backtrader as bt

        class EmaCross(bt.Strategy):  # type: ignore[misc]
            def __init__(self) -> None:
                self.cross = bt.ind.CrossOver(bt.ind.EMA(period=FAST), bt.ind.EMA(period=SLOW))
                self.stop_order = None

            def next(self) -> None:
                if self.cross[0] > 0 and not self.position:
                    close = self.data.close[0]
                    size = self.broker.getvalue() / (close * 1.0025)
                    _, self.stop_order, _ = self.buy_bracket(
                        exectype=bt.Order.Market, size=size, stopprice=close * (1 - STOP), limitexec=None
                    )
                elif self.cross[0] < 0 and self.position:
                    if self.stop_order is not None:
                        self.cancel(self.stop_order)
                    self.close()

        cerebro = bt.Cerebro(stdstats=False)
        cerebro.adddata(bt.feeds.PandasData(dataname=frame))
        cerebro.addstrategy(EmaCross)
        cerebro.broker.setcash(CASH)
        cerebro.broker.setcommission(commission=FEE)
        cerebro.broker.set_slippage_perc(SLIPPAGE)
        cerebro.addanalyzer(bt.analyzers.DrawDown, _name="dd")
        cerebro.addanalyzer(bt.analyzers.TradeAnalyzer, _name="ta")
        strategy = cerebro.run()[0]
        closed = strategy.analyzers.ta.get_analysis().get("total", {}).get("closed", 0)
        return {"trades": int(closed), "final_equity": float(cerebro.broker.getvalue())}


class VectorbtRunner:
    def prepare(self, d: dict[str, np.ndarray]) -> Any:
        import vectorbt  # noqa: F401  (imported here, not timed)

        return _frame(d)

    def run(self, frame: Any) -> dict[str, Any]:
        import vectorbt as vbt

        close = frame["Close"]
        fast = vbt.MA.run(close, FAST, ewm=True)
        slow = vbt.MA.run(close, SLOW, ewm=True)
        entries = fast.ma_crossed_above(slow).shift(1, fill_value=False)
        exits = fast.ma_crossed_below(slow).shift(1, fill_value=False)
        pf = vbt.Portfolio.from_signals(
            close,
            entries,
            exits,
            price=frame["Open"],
            open=frame["Open"],
            high=frame["High"],
            low=frame["Low"],
            sl_stop=STOP,
            fees=FEE,
            slippage=SLIPPAGE,
            size=np.inf,
            init_cash=CASH,
            freq="1h",
        )
        pf.total_return()
        pf.sharpe_ratio()
        pf.max_drawdown()
        return {"trades": int(pf.trades.count()), "final_equity": float(pf.final_value())}


RUNNERS: dict[str, Callable[[], Any]] = {
    "atb": AtbRunner,
    "backtesting.py": BacktestingPyRunner,
    "backtrader": BacktraderRunner,
    "vectorbt": VectorbtRunner,
}


# ---------------------------------------------------------------------------------------------------------------
# The child process


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Best time of up to ``repeat`` calls (one call when it takes ``REPEAT_UNDER_S`` or more), and a result."""
    best = float("inf")
    result = None
    for k in range(max(repeat, 1)):
        result = None  # the previous run's result would otherwise be alive during this one (peak RSS)
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
        if k == 0 and best >= REPEAT_UNDER_S:
            break
    return best, result


def _vm_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def child(library: str, dataset: str, repeat: int) -> dict[str, Any]:
    runner = RUNNERS[library]()
    arrays = dataset_arrays(dataset)
    data = runner.prepare(arrays)
    runner.run(runner.prepare({k: v[:WARMUP_BARS] for k, v in arrays.items()}))  # lazy imports, JIT
    rss_before = _vm_rss_mb()
    seconds, summary = best_of(lambda: runner.run(data), repeat)
    row: dict[str, Any] = {
        "library": library,
        "dataset": dataset,
        "bars": int(arrays["close"].shape[0]),
        "seconds": seconds,
        "bars_per_s": arrays["close"].shape[0] / seconds,
        **summary,
    }
    if isinstance(runner, AtbRunner):
        row.update(runner.extra(data, repeat))
    row["rss_before_run_mb"] = rss_before
    row["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return row


# ---------------------------------------------------------------------------------------------------------------
# The parent: one child per (dataset, library), a table, the targets, JSON


def installed(library: str) -> bool:
    try:
        metadata.version(DISTRIBUTIONS[library])
    except metadata.PackageNotFoundError:
        return False
    return True


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("numpy", "pandas", "atb", "backtesting", "backtrader", "vectorbt", "numba"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[name] = metadata.version(name)
    return out


def run_child(library: str, dataset: str, repeat: int, timeout: float) -> dict[str, Any]:
    env = {**os.environ, "TQDM_DISABLE": "1", "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", library, "--dataset", dataset]
    cmd += ["--repeat", str(repeat)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT, check=False)
    except subprocess.TimeoutExpired:
        return {"library": library, "dataset": dataset, "error": f"timed out after {timeout:.0f} s"}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("RESULT "):
            return dict(json.loads(line[len("RESULT ") :]))
    tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
    return {"library": library, "dataset": dataset, "error": " | ".join(tail) or f"exit status {done.returncode}"}


def label(dataset: str) -> str:
    return "bundled BTCUSDT 1h" if dataset == "bundled" else f"walk {int(dataset.split(':')[1]):,}"


def print_table(rows: list[dict[str, Any]]) -> None:
    head = f"{'dataset':<20}{'library':<16}{'bars':>11}{'seconds':>10}{'bars/s':>13}{'peak RSS MB':>13}"
    head += f"{'x atb time':>12}{'trades':>8}{'final equity':>15}"
    print(head)
    print("-" * len(head))
    atb_s = {r["dataset"]: r["seconds"] for r in rows if r["library"] == "atb" and "seconds" in r}
    for r in rows:
        if "error" in r:
            print(f"{label(r['dataset']):<20}{r['library']:<16}  error: {r['error']}")
            continue
        ratio = r["seconds"] / atb_s[r["dataset"]] if r["dataset"] in atb_s else float("nan")
        print(
            f"{label(r['dataset']):<20}{r['library']:<16}{r['bars']:>11,}{r['seconds']:>10.3f}"
            f"{r['bars_per_s']:>13,.0f}{r['peak_rss_mb']:>13,.0f}{ratio:>11.1f}x{r['trades']:>8,}"
            f"{r['final_equity']:>15,.2f}"
        )
        if r["library"] == "atb":
            print(
                f"{'':<20}{'atb engine':<16}{r['bars']:>11,}{r['engine_s']:>10.3f}{r['engine_bars_per_s']:>13,.0f}"
                f"{'':>13}{'':>12}{r['engine_trades']:>8,}   (precomputed signals; signals {r['signals_s']:.3f} s)"
            )


def targets(rows: list[dict[str, Any]], big: str, mid: str) -> dict[str, Any]:
    """The issue's targets, on the big synthetic dataset (b), with the mid one (c) for linearity."""
    by = {(r["library"], r["dataset"]): r for r in rows if "error" not in r}
    atb = by.get(("atb", big))
    out: dict[str, Any] = {}
    if atb is None:
        return out
    for peer, goal in (("backtesting.py", 10.0), ("backtrader", 100.0)):
        other = by.get((peer, big))
        if other is not None:
            ratio = other["seconds"] / atb["seconds"]
            out[f"whole run vs {peer}"] = {"ratio": ratio, "goal": f">= {goal:g}x", "met": ratio >= goal}
    out["engine bars/s"] = {
        "value": atb["engine_bars_per_s"],
        "goal": ">= 2,000,000",
        "met": atb["engine_bars_per_s"] >= 2_000_000,
    }
    bt_row = by.get(("backtesting.py", big))
    if bt_row is not None:
        out["peak RSS vs backtesting.py"] = {
            "atb_mb": atb["peak_rss_mb"],
            "backtesting_py_mb": bt_row["peak_rss_mb"],
            "goal": "below",
            "met": atb["peak_rss_mb"] < bt_row["peak_rss_mb"],
        }
    small = by.get(("atb", mid))
    if small is not None:
        per_bar = (atb["seconds"] / atb["bars"]) / (small["seconds"] / small["bars"])
        engine = (atb["engine_s"] / atb["bars"]) / (small["engine_s"] / small["bars"])
        out["linear growth (cost per bar, big / mid)"] = {
            "whole_run": per_bar,
            "engine": engine,
            "goal": "about 1 (0.5 to 1.5)",
            "met": 0.5 <= per_bar <= 1.5 and 0.5 <= engine <= 1.5,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 and 10,000 synthetic bars")
    parser.add_argument("--bars", type=int, default=None, help="size of the big synthetic dataset (b)")
    parser.add_argument("--skip", default="", help="comma-separated libraries to leave out, e.g. backtrader")
    parser.add_argument("--repeat", type=int, default=3, help="best of N for runs under 5 s")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per child process")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "backtest_speed.json")
    parser.add_argument("--child", choices=LIBRARIES, help=argparse.SUPPRESS)
    parser.add_argument("--dataset", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        warnings.simplefilter("ignore")
        print("RESULT " + json.dumps(child(args.child, args.dataset, args.repeat)), flush=True)
        return

    big_n = args.bars or (100_000 if args.quick else 1_000_000)
    big, mid = f"walk:{big_n}", f"walk:{big_n // 10}"
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = skip - set(LIBRARIES) - {"backtesting"}
    if unknown:
        parser.error(f"unknown library in --skip: {', '.join(sorted(unknown))}; known: {', '.join(LIBRARIES)}")
    if "backtesting" in skip:
        skip.add("backtesting.py")
    libraries = [lib for lib in LIBRARIES if lib not in skip and (lib == "atb" or installed(lib))]
    missing = [lib for lib in LIBRARIES if lib not in skip and lib not in libraries]
    print(f"libraries: {', '.join(libraries)}" + (f" (not installed: {', '.join(missing)})" if missing else ""))
    print(f"machine: {cpu_model()}, {os.cpu_count()} CPUs, Python {platform.python_version()}\n")

    rows = []
    for dataset in ("bundled", big, mid):
        for lib in libraries:
            t = time.perf_counter()
            row = run_child(lib, dataset, args.repeat, args.timeout)
            rows.append(row)
            status = row.get("error") or f"{row['seconds']:.3f} s"
            print(f"  {label(dataset):<20}{lib:<16}{status}   (child {time.perf_counter() - t:.0f} s)", flush=True)
    print()
    print_table(rows)
    goals = targets(rows, big, mid)
    print(f"\ntargets on {label(big)}:")
    for name, t in goals.items():
        shown = {k: (f"{v:,.2f}" if isinstance(v, float) else v) for k, v in t.items() if k != "met"}
        print(f"  {'met ' if t['met'] else 'MISS'}  {name}: {shown}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "command": " ".join([Path(sys.executable).name, *sys.argv]),
                "machine": {
                    "cpu": cpu_model(),
                    "cpus": os.cpu_count(),
                    "platform": platform.platform(),
                    "versions": versions(),
                },
                "strategy": "ema_cross 12/26, long only, next-open fills, 2% stop, fee 0.1%/side, 5 bps slippage",
                "configuration": {lib: CONFIG[lib] for lib in libraries},
                "datasets": {"a": "bundled", "b": big, "c": mid},
                "rows": rows,
                "targets": goals,
            },
            indent=2,
        )
    )
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
