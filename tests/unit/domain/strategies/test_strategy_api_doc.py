"""docs/strategy-api.md's worked example is the file it names, satisfies the API, is causal, and backtests
through the same use case as a built-in (with the sizer it declares). The doc's snippet runs too."""

from __future__ import annotations

import importlib.util
import re
import sys
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from adapters.files import BundledMarketData
from application.use_cases.run_backtest import BacktestRequest, RunBacktest
from domain.model.errors import InvalidParameter
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe
from domain.strategies.api import Context, Param, Signals, Strategy
from domain.strategies.audit import lookahead_bars
from domain.strategies.discovery import problems, strategies_in
from domain.strategies.registry import USER, Entry, builtin_catalog
from entrypoints.container import simulator

ROOT = Path(__file__).resolve().parents[4]
DOC = ROOT / "docs" / "strategy-api.md"
EXAMPLE = ROOT / "docs" / "examples" / "donchian_breakout.py"


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example() -> type[Strategy]:
    found = strategies_in(_load(EXAMPLE, "atb_doc_example_donchian"))
    assert [cls.__name__ for cls in found] == ["DonchianBreakout"]
    return found[0]


def _blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_the_doc_shows_the_example_file_verbatim() -> None:
    text = DOC.read_text(encoding="utf-8")
    marker = "<!-- example: docs/examples/donchian_breakout.py -->\n```python\n"
    assert marker in text
    shown = text.split(marker, 1)[1].split("```", 1)[0]
    assert shown == EXAMPLE.read_text(encoding="utf-8")


def test_the_example_satisfies_the_api(example: type[Strategy]) -> None:
    assert problems(example) == []
    strategy = example()
    assert strategy.name == "donchian_breakout"
    assert strategy.warmup == 56
    assert strategy.history_bars > strategy.warmup
    assert strategy.extras().sizer == "fixed_risk"
    assert set(example.parameters) == {"period", "exit_period", "atr_period", "atr_stop", "risk"}
    with pytest.raises(InvalidParameter, match="exit_period"):
        example(period=20, exit_period=30)
    with pytest.raises(InvalidParameter, match="above its upper bound"):
        example(risk=0.5)


def test_the_example_is_causal_on_real_candles(example: type[Strategy]) -> None:
    btc = BundledMarketData().candles(Symbol("BTC", "USDT"), Timeframe.H1).slice(0, 3000)
    strategy = example()
    ends = list(range(strategy.warmup + 2, len(btc) + 1, 37))
    assert lookahead_bars(strategy, btc, ends) == []
    signals = strategy.signals(btc, Context())
    assert signals.long_entry.sum() > 5  # it does trade: the causality check above is not vacuous
    assert signals.long_exit.sum() > 5


def test_the_example_backtests_like_a_builtin_with_its_declared_sizer(example: type[Strategy]) -> None:
    catalog = builtin_catalog().with_entries([Entry(example, USER, str(EXAMPLE), "")])
    request = BacktestRequest(
        strategy="donchian_breakout", symbols=(Symbol("BTC", "USDT"),), timeframe=Timeframe.H1,
        initial_cash=Decimal(10_000), params={"period": "40", "exit_period": "15"},
    )  # fmt: skip
    report = RunBacktest(BundledMarketData(), simulator, strategies=catalog)(request)
    assert report.strategy_name == "donchian_breakout"
    assert report.strategy_params["period"] == 40
    assert report.sizer["name"] == "fixed_risk"
    assert len(report.trades) > 10
    # fixed_risk: a stop-out loses about 1% of equity, so no single loss is far above it (fees and gaps aside)
    worst = min(float(t.pnl) for t in report.trades)
    assert worst > -0.05 * 10_000 * 3


def test_the_subtle_point_is_real_a_breakout_over_the_current_channel_never_fires(example: type[Strategy]) -> None:
    class Naive(example):  # type: ignore[misc, valid-type]
        name = "naive_breakout"

        def signals(self, candles, context) -> Signals:  # type: ignore[no-untyped-def]
            from domain.strategies.api import donchian

            channel = donchian(candles.high, candles.low, self.period).upper
            signals = super().signals(candles, context)
            return Signals(
                candles.close > channel, signals.long_exit, signals.short_entry, signals.short_exit,
                signals.stop_distance, signals.size, signals.warmup,
            )  # fmt: skip

    btc = BundledMarketData().candles(Symbol("BTC", "USDT"), Timeframe.H1).slice(0, 3000)
    assert not Naive().signals(btc, Context()).long_entry.any()
    assert example().signals(btc, Context()).long_entry.any()


def test_the_docs_python_snippet_runs(example: type[Strategy], capsys: pytest.CaptureFixture[str]) -> None:
    snippet = [b for b in _blocks(DOC.read_text(encoding="utf-8")) if "candles = BundledMarketData()" in b]
    assert len(snippet) == 1
    exec(snippet[0], {"DonchianBreakout": example})
    entries = int(capsys.readouterr().out.split()[0])
    assert entries > 0


def test_a_parameter_without_a_default_is_reported_at_its_line() -> None:
    class NoDefault(Strategy):
        name = "no_default"
        slow = Param(low=2, high=10)  # line recorded here

        def signals(self, candles, context):  # type: ignore[no-untyped-def]
            raise AssertionError

    found = problems(NoDefault)
    assert len(found) == 1
    assert found[0].message == "parameter slow has no default"
    assert found[0].file == __file__
    source = Path(__file__).read_text(encoding="utf-8").splitlines()
    assert "slow = Param(low=2, high=10)" in source[found[0].line - 1]
    with pytest.raises(InvalidParameter, match="no default"):
        NoDefault()


def test_the_worked_example_is_not_special_cased_its_entries_match_a_reference_loop(example: type[Strategy]) -> None:
    btc = BundledMarketData().candles(Symbol("ETH", "USDT"), Timeframe.H1).slice(0, 1500)
    strategy = example(period=30, exit_period=10)
    sig = strategy.signals(btc, Context())
    high, low, close = btc.high, btc.low, btc.close
    for t in range(strategy.warmup, len(btc)):
        assert sig.long_entry[t] == (close[t] > high[t - 30 : t].max()), t
        assert sig.long_exit[t] == (close[t] < low[t - 10 : t].min()), t
    assert np.isfinite(sig.stop_distance[strategy.warmup :]).all()
