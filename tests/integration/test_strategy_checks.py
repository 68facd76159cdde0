"""Strategy checks on the bundled candles: every built-in passes the three checks; a user strategy's report is
cached by its file's digest; ``atb backtest``'s gate refuses a leaky user strategy and runs it unchecked with a
warning in the report (its text, JSON and HTML forms)."""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adapters.files import BundledMarketData
from adapters.files.check_cache import JsonFileCheckCache
from application.ports.market_data import DatasetInfo
from application.use_cases.check_strategy import (
    UNCHECKED_NOTE,
    CheckReport,
    CheckStrategy,
    LeakyStrategy,
    StrategyCheckError,
)
from application.use_cases.run_backtest import BacktestRequest, RunBacktest
from domain.model.candles import CandleSeries
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe
from domain.strategies.api import CandleSeries as ApiCandles
from domain.strategies.api import Context, Signals
from domain.strategies.audit import CheckPlan, run_checks
from domain.strategies.builtin.ema_cross import EmaCross
from domain.strategies.registry import USER, Catalog, Entry, builtin_catalog
from entrypoints.container import simulator
from tests.unit.domain.strategies.test_checks import EXAMPLES, example

BTC = Symbol("BTC", "USDT")
REGIME_BASED = {"ml_adaptive", "momentum_leverage"}  # the regime detector on each window: seconds, not tenths
SUITE = CheckPlan("suite", bars=None, prefix_ends=30, cuts=4, windows=30)
"""Every bar in the history check's block pass, fewer prefixes, cuts and exact windows than FULL (the full
plan's figures are in docs/strategy-checks.md)."""


class CountingMarketData:
    """The bundled candles, counting the series read (a cached check reads none)."""

    def __init__(self) -> None:
        self.inner = BundledMarketData()
        self.reads = 0

    def candles(
        self, symbol: Symbol, timeframe: Timeframe, start_ms: int | None = None, end_ms: int | None = None
    ) -> CandleSeries:
        self.reads += 1
        return self.inner.candles(symbol, timeframe, start_ms, end_ms)

    def datasets(self) -> list[DatasetInfo]:
        return self.inner.datasets()


def user_entry(name: str, digest: str | None = None) -> Entry:
    path = EXAMPLES / f"{name}.py"
    return Entry(example(name), USER, str(path), digest or hashlib.sha256(path.read_bytes()).hexdigest())


class HonestCopy(EmaCross):
    """ema_cross as a user's file would hold it."""

    name = "honest_copy"


class Raises(EmaCross):
    name = "raises"

    def signals(self, candles: ApiCandles, context: Context) -> Signals:
        if len(candles) < 2000:
            raise IndexError("index 1999 is out of bounds")
        return super().signals(candles, context)


@pytest.fixture(scope="module")
def bundled() -> list[CandleSeries]:
    market = BundledMarketData()
    return [market.candles(info.symbol, info.timeframe) for info in market.datasets()]


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in REGIME_BASED else n for n in builtin_catalog().names()]
)
def test_every_builtin_passes_the_three_checks_on_every_bundled_series(name: str, bundled: list[CandleSeries]) -> None:
    strategy = builtin_catalog().create(name)
    assert len(bundled) >= 2
    for candles in bundled:
        results = run_checks(strategy, candles, SUITE)
        assert all(r.passed for r in results), (name, str(candles.symbol), results)
        history = results[2]
        assert history.checked == len(candles) - strategy.history_bars + 1  # every bar the window fits


def test_a_user_strategy_report_is_cached_by_its_file_digest(tmp_path: Path) -> None:
    market = CountingMarketData()
    cache = JsonFileCheckCache(tmp_path / "checks")
    checks = CheckStrategy(market, cache, version="1.2.3")
    entry = user_entry("leaky_shift")
    first = checks(entry, mode="fast")
    assert not first.cached and market.reads == 1 and not first.passed
    assert len(list((tmp_path / "checks").glob("*.json"))) == 1
    again = checks(entry, mode="fast")
    assert again.cached and market.reads == 1  # no candle read: the stored report
    assert again.to_dict() | {"cached": False} == first.to_dict()
    edited = checks(user_entry("leaky_shift", digest="0" * 64), mode="fast")  # the file changed
    assert not edited.cached and market.reads == 2
    other_params = checks(entry, {"period": 12}, mode="fast")
    assert not other_params.cached and market.reads == 3
    newer_atb = CheckStrategy(market, cache, version="1.2.4")(entry, mode="fast")
    assert not newer_atb.cached and market.reads == 4


def test_a_builtin_is_never_cached(tmp_path: Path) -> None:
    market = CountingMarketData()
    checks = CheckStrategy(market, JsonFileCheckCache(tmp_path), version="1")
    entry = builtin_catalog().entry("ema_cross")
    assert not checks(entry, mode="fast").cached
    assert not checks(entry, mode="fast").cached and market.reads == 2
    assert not list(tmp_path.glob("*.json"))


def test_a_damaged_cache_record_is_a_miss(tmp_path: Path) -> None:
    cache = JsonFileCheckCache(tmp_path)
    checks = CheckStrategy(BundledMarketData(), cache, version="1")
    entry = user_entry("leaky_centred")
    report = checks(entry, mode="fast")
    (record,) = tmp_path.glob("*.json")
    record.write_text("{not json", encoding="utf-8")
    assert not checks(entry, mode="fast").cached
    record.write_text(json.dumps({"strategy": "x"}), encoding="utf-8")
    again = checks(entry, mode="fast")
    assert not again.cached and again.to_dict() == report.to_dict() | {"seconds": again.to_dict()["seconds"]}


def test_a_strategy_that_raises_while_checked_is_one_line() -> None:
    entry = Entry(Raises, USER, __file__, "ab" * 32)  # Raises is defined in this file: its line is named
    with pytest.raises(StrategyCheckError) as info:
        CheckStrategy(BundledMarketData())(entry, mode="fast")
    message = str(info.value)
    assert "\n" not in message
    assert re.match(rf"^{re.escape(__file__)}:\d+: IndexError: index 1999", message)
    assert message.endswith("(raised by strategy raises while checked on BTCUSDT)")
    line = int(message.split(":")[1])
    assert "raise IndexError" in Path(__file__).read_text(encoding="utf-8").splitlines()[line - 1]


def _backtest(catalog: Catalog, tmp_path: Path, strategy: str, unchecked: bool = False) -> Any:
    market = BundledMarketData()
    run = RunBacktest(market, simulator, strategies=catalog,
                      checks=CheckStrategy(market, JsonFileCheckCache(tmp_path), version="1"))  # fmt: skip
    request = BacktestRequest(strategy, (BTC,), Timeframe.H1, Decimal(10_000), start_ms=1_609_459_200_000,
                              unchecked=unchecked)  # fmt: skip
    return run(request)


def test_the_backtest_gate_refuses_a_leaky_user_strategy_naming_the_check_and_bar(tmp_path: Path) -> None:
    entry = user_entry("leaky_shift")
    catalog = builtin_catalog().with_entries([entry])
    with pytest.raises(LeakyStrategy) as caught:
        _backtest(catalog, tmp_path, "leaky_shift")
    report: CheckReport = CheckStrategy(BundledMarketData())(entry, mode="fast")
    (_, failed), *_ = report.failures()
    message = str(caught.value)
    assert "\n" not in message
    assert f"the {failed.check} check failed on BTCUSDT 1h at bar {failed.bars[0]}" in message
    assert message.endswith("or run with --unchecked")


def test_an_unchecked_leaky_user_strategy_runs_and_every_report_says_so(tmp_path: Path) -> None:
    from entrypoints.cli.render import report_json
    from entrypoints.reports import write_html_report

    catalog = builtin_catalog().with_entries([user_entry("leaky_shift")])
    report = _backtest(catalog, tmp_path, "leaky_shift", unchecked=True)
    note = UNCHECKED_NOTE.format(name="leaky_shift")
    assert report.notes[0] == note and report.trades
    assert note in json.loads(report_json(report))["notes"]
    write_html_report(report, tmp_path / "out.html")
    assert "was not checked for look-ahead (--unchecked)" in (tmp_path / "out.html").read_text(encoding="utf-8")


def test_an_honest_user_strategy_passes_the_gate_and_runs_without_the_note(tmp_path: Path) -> None:
    entry = Entry(HonestCopy, USER, "honest_copy.py", "cd" * 32)
    report = _backtest(builtin_catalog().with_entries([entry]), tmp_path, "honest_copy")
    assert not any("look-ahead" in n for n in report.notes)
    assert len(list(tmp_path.glob("*.json"))) == 1  # its fast checks, cached for the next backtest


DOC = Path(__file__).resolve().parents[2] / "docs" / "strategy-checks.md"
SECONDS = re.compile(r"\(\d+\.\d s(, cached)?\)$")


def _doc_blocks() -> list[list[str]]:
    """The fenced blocks of docs/strategy-checks.md, as lists of lines."""
    blocks, current = [], None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            if current is None:
                current = []
            else:
                blocks.append(current)
                current = None
        elif current is not None:
            current.append(line)
    return blocks


@pytest.mark.parametrize("name", ["leaky_centred", "leaky_shift"])
def test_the_documented_output_of_each_leaky_example_is_the_checks_output(name: str) -> None:
    """The bars, counts and times the docs print are what the check finds (only the seconds may differ)."""
    from entrypoints.cli.strategy_check import render

    (documented,) = [b for b in _doc_blocks() if b and b[0].startswith(f"{name} ")]
    path = EXAMPLES / f"{name}.py"
    entry = Entry(example(name), USER, f"docs/examples/{name}.py", hashlib.sha256(path.read_bytes()).hexdigest())
    report = CheckStrategy(BundledMarketData())(entry)
    assert not report.passed
    shown = render(report)
    assert [SECONDS.sub("", ln) for ln in shown] == [SECONDS.sub("", ln) for ln in documented]
    assert any(f"FAIL  at bar {r.bars[0]} " in ln for _, r in report.failures() for ln in documented)


def test_the_documented_backtest_refusal_is_the_gates_line(tmp_path: Path) -> None:
    (line,) = [ln for b in _doc_blocks() for ln in b if ln.startswith("error: leaky_shift looks ahead")]
    with pytest.raises(LeakyStrategy) as caught:
        _backtest(builtin_catalog().with_entries([user_entry("leaky_shift")]), tmp_path, "leaky_shift")
    assert line == f"error: {caught.value}"
