"""Parity with backtesting.py through the CLI, on candles priced far from BTC's (docs/parity.md, "Exchange
rules").

Each case writes a seeded random walk to a CSV on a known tick and step (as an exchange writes its candles),
runs ``atb backtest --data FILE --json`` on it, and runs backtesting.py on the same candles with the
conventions of ``test_parity_backtesting_py.py`` (its helpers), plus the two that exchange rules add:
backtesting.py's fractional unit is the step size, and its stop is the deciding close minus ``stop_loss``,
rounded down to the tick (atb's protective rounding of a long's stop; computed here with ``Decimal``). Two cases
leave the rules to atb's inference from the file (the test checks it finds the tick and step the file was
written with); the third sets them with ``--tick-size``, ``--step-size`` and ``--min-notional``.

Asserted: the same trades (count, entry and exit times, the open position at the end), entry and exit prices
within half a tick, per-trade returns within 1e-6, final equity within 0.01%.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from adapters.files import CsvMarketData
from domain.model.candles import CandleSeries
from domain.model.symbols import Symbol
from entrypoints.cli.main import main
from tests.integration.test_parity_backtesting_py import CASH, FEE_BPS, Ledger, run_backtesting_py

STOP_LOSS = 0.02
RETURN_ATOL = 1e-6
EQUITY_RTOL = 1e-4


@dataclass(frozen=True)
class PriceCase:
    name: str
    symbol: str
    start_price: float
    tick: str
    step: str
    low: float  # the range the case claims its prices lie in
    high: float
    overrides: bool  # rules set on the command line (else inferred from the file)
    bars: int = 8_000
    seed: int = 7

    @property
    def tick_size(self) -> Decimal:
        return Decimal(self.tick)


CASES = [
    PriceCase("cents_around_0.05", "ZQAUSDT", 0.06, "0.00001", "1", 0.02, 0.2, overrides=False),
    PriceCase("around_1", "ZQDUSDT", 1.2, "0.0001", "0.1", 0.3, 4.0, overrides=False, seed=5),
    PriceCase("sub_cent_1e-5", "ZQBUSDT", 0.00001, "0.00000001", "1", 0.000002, 0.00005, overrides=False),
    PriceCase("above_50000", "ZQCUSDT", 150_000.0, "0.01", "0.00001", 50_000.0, 1e6, overrides=True, seed=3),
]


def decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def write_walk(case: PriceCase, path: Path) -> Path:
    """An hourly random walk with ~2% gapped opens, its prices on the case's tick and its volumes on its step,
    written as an atb CSV with exactly the decimals of the tick (as an exchange writes them)."""
    rng = np.random.default_rng(case.seed)
    n = case.bars
    gaps = np.where(rng.random(n) < 0.02, rng.normal(0.0, 0.03, n), 0.0)
    body = rng.normal(0.0, 0.006, n)
    log_close = np.log(case.start_price) + np.cumsum(gaps + body)
    # A weak pull back towards the start keeps the walk in the range the case claims.
    log_close -= np.linspace(0.0, 1.0, n) * (log_close[-1] - np.log(case.start_price))
    close = np.exp(log_close)
    open_ = np.exp(log_close - body)
    wick = np.abs(rng.normal(0.0, 0.003, (2, n)))
    tick = float(case.tick)
    o, c = np.round(open_ / tick) * tick, np.round(close / tick) * tick
    h = np.maximum(np.round(np.maximum(open_, close) * (1 + wick[0]) / tick) * tick, np.maximum(o, c))
    lo = np.minimum(np.round(np.minimum(open_, close) * (1 - wick[1]) / tick) * tick, np.minimum(o, c))
    assert lo.min() > 0
    volume = rng.integers(1, 10**7, n) * float(case.step)
    times = 1_599_998_400_000 + 3_600_000 * np.arange(n, dtype=np.int64)
    dp, dv = decimals(case.tick), decimals(case.step)
    lines = ["open_time_ms,open,high,low,close,volume"]
    lines += [
        f"{t},{a:.{dp}f},{b:.{dp}f},{x:.{dp}f},{y:.{dp}f},{v:.{dv}f}"
        for t, a, b, x, y, v in zip(times, o, h, lo, c, volume, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def floor_to_tick(tick: Decimal) -> Any:
    """A long's stop as atb rounds it: the deciding close minus ``stop_loss``, down to the tick."""

    def stop(close: float) -> float:
        level = Decimal(repr(close - close * STOP_LOSS))
        return float((level / tick).to_integral_value(rounding=ROUND_FLOOR) * tick)

    return stop


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    capsys.readouterr()
    try:
        main(list(args))
    except SystemExit as e:
        captured = capsys.readouterr()
        raise AssertionError(f"atb exited with {e.code}: {captured.err}") from None
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return data


@dataclass(frozen=True)
class Run:
    candles: CandleSeries
    atb: Ledger
    ref: Ledger
    report: dict[str, Any]


def _ms(text: str) -> int:
    """An ISO time of the JSON (UTC, with a Z) as UTC ms."""
    return int(np.datetime64(text.rstrip("Z"), "ms").astype(np.int64))


_RUNS: dict[str, Run] = {}


@pytest.fixture
def run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> Run:
    case: PriceCase = request.param
    if case.name in _RUNS:
        return _RUNS[case.name]
    folder = tmp_path_factory.mktemp(case.name)
    path = write_walk(case, folder / f"{case.symbol}-1h.csv")
    args = [
        "backtest", "--strategy", "ema_cross", "--data", str(path), "--symbol", case.symbol,
        "--param", "fast=12", "--param", "slow=26", "--param", f"stop_loss={STOP_LOSS}",
        "--fee-bps", str(FEE_BPS), "--slippage-bps", "0", "--balance", str(CASH), "--no-risk", "--json",
    ]  # fmt: skip
    if case.overrides:
        args += ["--tick-size", case.tick, "--step-size", case.step, "--min-notional", "5"]
    report = run_cli(capsys, *args)
    trades = report["trades"]
    final = report["metrics"]["final_equity"]
    atb = Ledger(
        np.array([_ms(t["entry_time"]) for t in trades], dtype=np.int64),
        np.array([_ms(t["exit_time"]) for t in trades], dtype=np.int64),
        np.array([t["entry_price"] for t in trades], dtype=np.float64),
        np.array([t["exit_price"] for t in trades], dtype=np.float64),
        np.array([t["return_pct"] for t in trades], dtype=np.float64),
        float(final),
        bool(report["open_positions"]),
    )
    symbol = Symbol.parse(case.symbol)
    source = CsvMarketData(path, symbol, None)
    candles = source.candles(symbol, source.datasets()[0].timeframe)  # the floats atb read
    ref = run_backtesting_py(candles, STOP_LOSS, unit=float(case.step), stop_price=floor_to_tick(case.tick_size))
    _RUNS[case.name] = Run(candles, atb, ref, report)
    return _RUNS[case.name]


def by_case(func: Any) -> Any:
    return pytest.mark.parametrize("run", CASES, ids=[c.name for c in CASES], indirect=True)(func)


def _case(run: Run) -> PriceCase:
    (case,) = [c for c in CASES if c.symbol in run.report["instruments"]]
    return case


@by_case
def test_the_data_lies_where_the_case_says_and_the_rules_are_the_files(run: Run) -> None:
    case = _case(run)
    assert case.low <= run.candles.low.min() and run.candles.high.max() <= case.high
    rules = run.report["instruments"][case.symbol]
    assert Decimal(rules["tick_size"]) == case.tick_size
    assert Decimal(rules["step_size"]) == Decimal(case.step)
    assert rules["source"] == ("overridden" if case.overrides else "inferred")


@by_case
def test_same_trades(run: Run) -> None:
    atb, ref = run.atb, run.ref
    assert len(atb) == len(ref) and len(atb) > 50
    assert atb.open_at_end == ref.open_at_end
    np.testing.assert_array_equal(atb.entry_time, ref.entry_time)
    np.testing.assert_array_equal(atb.exit_time, ref.exit_time)


@by_case
def test_prices_within_half_a_tick_and_the_same_returns(run: Run) -> None:
    atb, ref = run.atb, run.ref
    half = float(_case(run).tick_size) / 2
    assert len(atb) == len(ref)
    assert np.abs(atb.entry_price - ref.entry_price).max() <= half
    assert np.abs(atb.exit_price - ref.exit_price).max() <= half
    assert np.abs(atb.returns - ref.returns).max() <= RETURN_ATOL


@by_case
def test_same_final_equity(run: Run) -> None:
    assert run.atb.final_equity == pytest.approx(run.ref.final_equity, rel=EQUITY_RTOL, abs=0)


@by_case
def test_the_stops_are_on_the_tick_and_many_fire(run: Run) -> None:
    """Stops fill on the tick grid (the rounding is exercised: the unrounded level is off the grid), and
    many trades end at their stop."""
    case = _case(run)
    stops = [t for t in run.report["trades"] if t["exit_reason"] == "stop_loss"]
    assert len(stops) >= 20
    tick = case.tick_size
    on_grid = [Decimal(repr(t["exit_price"])) % tick == 0 for t in stops]
    assert sum(on_grid) >= len(stops) // 2


def test_the_same_market_divided_by_10_000_trades_the_same(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Scale invariance (the issue's ETH / 10,000 case, on a walk): every price divided by 10^4 and every volume
    multiplied by it, exactly (decimal text), gives the same trades and returns. Under BTC's rules for every
    symbol the divided market lost most of its return to stops rounded onto the entry."""
    case = PriceCase("scale", "ZQEUSDT", 1_000.0, "0.01", "0.0001", 0, 1e9, overrides=False, seed=11)
    original = write_walk(case, tmp_path / "ZQEUSDT-1h.csv")
    lines = original.read_text().splitlines()
    scaled = [lines[0]]
    for line in lines[1:]:
        t, *prices, volume = line.split(",")
        scaled.append(",".join([t, *(f"{Decimal(p).scaleb(-4):f}" for p in prices), f"{Decimal(volume).scaleb(4):f}"]))
    divided = tmp_path / "ZQFUSDT-1h.csv"
    divided.write_text("\n".join(scaled) + "\n")
    common = ["backtest", "--strategy", "ema_cross", "--no-risk", "--slippage-bps", "0", "--json"]
    a = run_cli(capsys, *common, "--data", str(original), "--symbol", "ZQEUSDT")
    b = run_cli(capsys, *common, "--data", str(divided), "--symbol", "ZQFUSDT")
    assert Decimal(b["instruments"]["ZQFUSDT"]["tick_size"]) == Decimal("0.000001")
    assert len(a["trades"]) == len(b["trades"]) > 50
    for x, y in zip(a["trades"], b["trades"], strict=True):
        keys = ("entry_time", "exit_time", "exit_reason")
        assert [x[k] for k in keys] == [y[k] for k in keys]
        assert y["exit_price"] == pytest.approx(x["exit_price"] / 10_000, rel=1e-12)
        assert y["return_pct"] == pytest.approx(x["return_pct"], abs=1e-9)
    assert b["metrics"]["final_equity"] == pytest.approx(a["metrics"]["final_equity"], rel=1e-6)
