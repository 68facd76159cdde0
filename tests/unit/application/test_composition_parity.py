"""A strategy composed in TOML (docs/composition.md) trades exactly like the built-in ``ensemble_weighted`` on the
same parameters: the same trades (times, prices, quantities, reasons) and the same equity, through a full backtest
on the bundled BTCUSDT candles, for the documented example, a short-selling vote with custom weights, threshold,
stop and size, and an ensemble with the bundled model's vote; a ``--param`` override reaches both alike."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from adapters.files import BundledMarketData
from adapters.registry import FileModelRegistry, bundled_models_root
from adapters.strategies.toml_strategy import load_toml_strategy
from application.engine import EngineConfig
from application.ports.simulation import SimulationSettings
from application.use_cases.run_backtest import BacktestReport, BacktestRequest, RunBacktest
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe
from domain.strategies.registry import USER, Entry, builtin_catalog
from entrypoints.container import onnx_predictor, simulator

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "docs" / "examples" / "ensemble.toml"
BTC = Symbol.parse("BTCUSDT")
START = 1_577_836_800_000  # 2020-01-01: eighteen months of hourly bars (the crash of March 2020 included)


def _use_case(path: Path, models: FileModelRegistry | None = None) -> RunBacktest:
    cls = load_toml_strategy(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    catalog = builtin_catalog().with_entries([Entry(cls, USER, str(path), digest)])
    return RunBacktest(BundledMarketData(), simulator, models=models, predictors=onnx_predictor if models else None,
                       strategies=catalog)  # fmt: skip


def _both(use_case: RunBacktest, name: str, builtin: dict[str, str], **kw: Any) -> tuple[BacktestReport, ...]:
    def request(strategy: str, params: dict[str, str]) -> BacktestRequest:
        return BacktestRequest(strategy, (BTC,), Timeframe.H1, Decimal(10_000), params=params, **kw)

    return use_case(request(name, {})), use_case(request("ensemble_weighted", builtin))


def _same_trades(composed: BacktestReport, builtin: BacktestReport, at_least: int = 10) -> None:
    def rows(report: BacktestReport) -> list[tuple[Any, ...]]:
        return [(t.direction, t.entry_time, t.exit_time, t.entry_price, t.exit_price, t.quantity, t.fees,
                 t.exit_reason) for t in report.trades]  # fmt: skip

    assert len(builtin.trades) >= at_least  # a comparison of two empty ledgers proves nothing
    assert rows(composed) == rows(builtin)
    assert np.array_equal(composed.equity, builtin.equity)
    assert composed.metrics == builtin.metrics
    assert composed.sizer == builtin.sizer and composed.risk_limits == builtin.risk_limits


def test_the_documented_example_trades_like_ensemble_weighted() -> None:
    composed, builtin = _both(
        _use_case(EXAMPLE), "my_ensemble", {"members": "ema_crossover:2,momentum:1", "threshold": "0.6",
                                            "atr_stop": "2.5"}, start_ms=START,
    )  # fmt: skip
    assert composed.strategy_name == "my_ensemble"
    _same_trades(composed, builtin)


def test_default_members_trade_like_the_default_ensemble(tmp_path: Path) -> None:
    path = tmp_path / "plain.toml"
    path.write_text('[strategy]\nname = "plain"\n[[signals]]\ngenerator = "ema_crossover"\n'
                    '[[signals]]\ngenerator = "momentum"\n')  # fmt: skip
    _same_trades(*_both(_use_case(path), "plain", {}, start_ms=START))


def test_a_short_selling_vote_with_custom_weights_threshold_stop_and_size(tmp_path: Path) -> None:
    path = tmp_path / "short.toml"
    path.write_text(
        '[strategy]\nname = "both_ways"\n'
        '[[signals]]\ngenerator = "momentum"\nweight = 3\n'
        '[[signals]]\ngenerator = "ema_crossover"\nweight = 1.5\n'
        '[[signals]]\ngenerator = "momentum"\nweight = 0.5\n'
        "[vote]\nthreshold = 0.35\nshort = true\n[stop]\natr_period = 20\natr_stop = 4\n[sizing]\nsize = 0.5\n"
    )
    shorts = {"engine": EngineConfig(allow_short=True), "simulation": SimulationSettings(allow_short=True)}
    composed, builtin = _both(
        _use_case(path), "both_ways", {"members": "momentum:3,ema_crossover:1.5,momentum:0.5", "threshold": "0.35",
                                       "short": "true", "atr_period": "20", "atr_stop": "4", "size": "0.5"},
        start_ms=START, **shorts,
    )  # fmt: skip
    _same_trades(composed, builtin)
    assert {t.direction.name for t in builtin.trades} == {"LONG", "SHORT"}


def test_an_ensemble_with_the_bundled_model_trades_like_ensemble_weighted(tmp_path: Path) -> None:
    path = tmp_path / "with_model.toml"
    path.write_text('[strategy]\nname = "with_model"\n[[signals]]\ngenerator = "ml"\nweight = 2\n'
                    '[[signals]]\ngenerator = "ema_crossover"\n[model]\ntype = "basic"\n')  # fmt: skip
    models = FileModelRegistry(tmp_path / "models", bundled_root=bundled_models_root())
    composed, builtin = _both(_use_case(path, models), "with_model", {"members": "ml:2,ema_crossover:1"})
    assert composed.model == builtin.model and builtin.model  # the same bundled model, over its test period
    _same_trades(composed, builtin, at_least=3)


def test_a_parameter_override_reaches_the_composed_strategy_as_it_does_the_builtin() -> None:
    composed, builtin = _both(_use_case(EXAMPLE), "my_ensemble", {"members": "ema_crossover:2,momentum:1",
                                                                  "threshold": "0.9", "atr_stop": "2.5"},
                              start_ms=START)  # fmt: skip
    use_case = _use_case(EXAMPLE)
    tuned = use_case(BacktestRequest("my_ensemble", (BTC,), Timeframe.H1, Decimal(10_000),
                                     params={"threshold": "0.9"}, start_ms=START))  # fmt: skip
    _same_trades(tuned, builtin)
    assert tuned.strategy_params["threshold"] == 0.9
    assert [t.entry_time for t in tuned.trades] != [t.entry_time for t in composed.trades]  # 0.9: both members
