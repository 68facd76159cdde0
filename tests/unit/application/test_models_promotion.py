"""The promotion gate (out-of-sample metrics vs the naive baselines, test-period trades and return, stress
windows out of sample or "not tested", fail closed), --force and the log; rollback, delete, stress windows."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from application.ports.errors import ConfigurationError
from application.ports.models import ModelRef, ModelRefused
from application.use_cases.models import (
    DEFAULT_STRESS_WINDOWS,
    PromoteModel,
    StressWindow,
    delete_model,
    parse_stress_windows,
    rollback_model,
)
from application.use_cases.promotion_gate import metric_checks
from application.use_cases.run_backtest import BacktestRequest, RunBacktest
from domain.features.builder import default_schema
from domain.model.candles import CandleSeries
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe
from entrypoints.container import simulator
from tests.builders import HOUR_MS, T0
from tests.fakes.market_data import InMemoryMarketData
from tests.fakes.models import FakeModelRegistry, fake_predictor_factory

SCHEMA = default_schema(window=16, norm_window=50)
N = 1600
SYMBOL = "BTCUSDT"


def _h(hours: int) -> int:
    return T0 + hours * HOUR_MS


def _market(drift: float, seed: int = 3) -> CandleSeries:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(drift + rng.normal(0, 0.004, N)))
    open_ = np.concatenate(([100.0], close[:-1]))
    high, low = np.maximum(open_, close) * 1.001, np.minimum(open_, close) * 0.999
    times = T0 + HOUR_MS * np.arange(N, dtype=np.int64)
    return CandleSeries.from_arrays(Symbol.parse(SYMBOL), Timeframe.H1, times, open_, high, low, close, np.ones(N))


# Trained on hours [0, 600), validated on [600, 800), tested on [800, 1600): a window from hour 900 on is
# out of sample.
WINDOW = StressWindow("synthetic slide", _h(900), _h(1500))


def _meta(
    bias: float,
    rmse: float = 0.9,
    zero_rmse: float = 1.0,
    accuracy: float = 0.55,
    up: float = 0.5,
    trades: float = 10,
    total_return: float = 0.02,
    train: tuple[int, int] = (0, 600),
) -> dict[str, Any]:
    """A version's metadata: the fake predictor's bias (> 0: always long; < 0: never buys), its split ranges
    and the training-time figures the gate reads."""
    return {
        "fake_bias": bias,
        "fake_gain": 0.0,
        "train_range": [_h(train[0]), _h(train[1])],
        "val_range": [_h(600), _h(800)],
        "test_range": [_h(800), _h(N)],
        "metrics": {"test": {"model": {"rmse": rmse, "directional_accuracy": accuracy},
                             "zero": {"rmse": zero_rmse, "directional_accuracy": up}}},
        "backtest": {"strategy": "ml_basic", "metrics": {"trades": trades, "total_return": total_return}},
    }


def _setup(
    candles: CandleSeries,
    candidate: dict[str, Any],
    current: dict[str, Any] | None = None,
    windows: tuple[StressWindow, ...] = (WINDOW,),
    margin: float = 0.05,
) -> tuple[PromoteModel, FakeModelRegistry, RunBacktest]:
    registry = FakeModelRegistry()
    if current is not None:
        registry.add(SYMBOL, "basic", "v1", SCHEMA, current)
    registry.add(SYMBOL, "basic", "v2", SCHEMA, candidate, promote=False)
    backtest = RunBacktest(InMemoryMarketData(candles), simulator, registry, fake_predictor_factory())
    return PromoteModel(registry, backtest, windows, margin, Decimal(10_000)), registry, backtest


def _window_return(backtest: RunBacktest, version: str, window: StressWindow) -> float:
    """The oracle: the version's strategy backtested on the window directly."""
    report = backtest(BacktestRequest(strategy="ml_basic", symbols=(Symbol.parse(SYMBOL),), timeframe=Timeframe.H1,
                                      initial_cash=Decimal(10_000), start_ms=window.start_ms, end_ms=window.end_ms,
                                      model_version=version))  # fmt: skip
    return float(report.metrics["total_return"])


V2 = ModelRef(SYMBOL, "basic", "v2")


def test_a_version_that_passes_every_check_becomes_latest_and_the_log_has_the_verdict() -> None:
    promote, registry, backtest = _setup(_market(drift=0.0006), _meta(bias=0.01))
    result = promote(V2)
    assert result.info.is_latest and result.verdict.passed and result.previous is None
    (window,) = result.stress
    assert window.status == "tested" and window.reference == 0.0 and window.reference_name == "doing nothing"
    assert window.candidate == pytest.approx(_window_return(backtest, "v2", WINDOW)) and window.candidate > 0
    last = registry.events[-1]
    assert last.action == "promote" and last.reason.startswith("gate passed") and "synthetic slide" in last.reason
    assert {c.name for c in result.verdict.checks} == {
        "test RMSE", "directional accuracy", "test trades", "test return", "stress windows"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("figures", "failing"),
    [
        ({"trades": 0}, "test trades"),  # its strategy never traded on the test period
        ({"rmse": 1.0}, "test RMSE"),  # a tie with the zero forecast is not a pass
        ({"rmse": 1.1}, "test RMSE"),
        ({"accuracy": 0.5}, "directional accuracy"),  # no better than always up
        ({"total_return": -0.051}, "test return"),  # worse than cash by more than the 5% margin
    ],
)
def test_a_version_failing_one_check_is_refused_and_latest_stays(figures: dict[str, float], failing: str) -> None:
    promote, registry, _ = _setup(_market(drift=0.0006), _meta(bias=0.01, **figures))
    with pytest.raises(ModelRefused, match=failing) as caught:
        promote(V2)
    assert "fails the promotion gate" in str(caught.value) and "--force" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert (SYMBOL, "basic") not in registry.latest
    verdict = promote.gate.evaluate(registry.resolve(SYMBOL, "basic", "v2"), None, None)
    assert [c.name for c in verdict.failures()] == [failing]


def test_the_return_check_uses_the_margin() -> None:
    meta = _meta(bias=0.01, total_return=-0.049)
    assert all(c.passed for c in metric_checks(meta, margin=0.05))
    assert not all(c.passed for c in metric_checks(meta, margin=0.04))
    assert not all(c.passed for c in metric_checks(_meta(bias=0.01, trades=3), 0.05, min_trades=4))


def test_metrics_missing_from_the_metadata_fail_their_checks() -> None:
    checks = {c.name: c for c in metric_checks({}, margin=0.05)}
    assert not any(c.passed for c in checks.values())
    assert "not recorded" in checks["test RMSE"].detail and "no test-period backtest" in checks["test trades"].detail


def test_force_promotes_a_failing_version_and_the_log_says_so() -> None:
    promote, registry, _ = _setup(_market(drift=0.0006), _meta(bias=0.01, trades=0))
    result = promote(V2, force=True)
    assert result.info.is_latest and result.forced and result.verdict.passed is False
    last = registry.events[-1]
    assert last.action == "promote" and last.reason.startswith("forced past the gate") and "test trades" in last.reason


@pytest.mark.parametrize(
    ("window", "reason"),
    [
        (StressWindow("inside training", _h(100), _h(500)), "training data"),
        (StressWindow("inside validation", _h(650), _h(1000)), "validation data"),
        (StressWindow("before training", _h(0), _h(250)), "LOOK-AHEAD"),  # trained from hour 300 on
        (StressWindow("far future", _h(10 * N), _h(11 * N)), "data"),
        (StressWindow("runs past the data", _h(1500), _h(1700)), "covers only"),
    ],
)
def test_a_window_not_out_of_sample_or_not_covered_is_not_tested_and_the_gate_fails_closed(
    window: StressWindow, reason: str
) -> None:
    promote, registry, _ = _setup(_market(drift=0.0006), _meta(bias=0.01, train=(300, 600)), windows=(window,))
    with pytest.raises(ModelRefused, match="no window could be tested"):
        promote(V2)
    verdict = promote.gate.evaluate(registry.resolve(SYMBOL, "basic", "v2"), None, promote._backtest)
    (result,) = verdict.windows
    assert result.status == "not tested" and reason in result.reason and result.candidate is None
    assert verdict.passed is False


def test_one_tested_window_is_enough_the_others_are_listed_as_not_tested() -> None:
    inside = StressWindow("inside training", _h(100), _h(500))
    promote, _, _ = _setup(_market(drift=0.0006), _meta(bias=0.01), windows=(inside, WINDOW))
    result = promote(V2)
    assert [w.status for w in result.stress] == ["not tested", "tested"]
    assert "inside training" in result.reason and "not tested" in result.reason


def test_a_version_without_recorded_ranges_is_not_tested_anywhere() -> None:
    meta = _meta(bias=0.01)
    del meta["val_range"]
    promote, registry, _ = _setup(_market(drift=0.0006), meta)
    verdict = promote.gate.evaluate(registry.resolve(SYMBOL, "basic", "v2"), None, promote._backtest)
    assert verdict.windows[0].status == "not tested" and "ranges" in verdict.windows[0].reason
    assert verdict.passed is False


def test_the_reference_is_the_current_latest_when_the_window_is_out_of_sample_for_it() -> None:
    # A falling market: the current latest never buys (0%), the candidate is always long and loses.
    promote, registry, backtest = _setup(_market(drift=-0.0006), _meta(bias=0.01), current=_meta(bias=-0.01))
    with pytest.raises(ModelRefused, match="stress windows"):
        promote(V2)
    assert registry.latest[(SYMBOL, "basic")] == "v1"
    verdict = promote.gate.evaluate(registry.resolve(SYMBOL, "basic", "v2"), registry.resolve(SYMBOL, "basic"),
                                    backtest)  # fmt: skip
    (window,) = verdict.windows
    assert window.reference_name == "latest v1" and window.reference == pytest.approx(
        _window_return(backtest, "v1", WINDOW)
    )
    assert window.candidate == pytest.approx(_window_return(backtest, "v2", WINDOW))
    assert window.passed is (window.candidate >= window.reference - 0.05) and window.passed is False


def test_a_wide_enough_margin_lets_a_losing_window_through() -> None:
    promote, _, _ = _setup(_market(drift=-0.0006), _meta(bias=0.01), current=_meta(bias=-0.01), margin=5.0)
    result = promote(V2)
    (window,) = result.stress
    assert window.candidate is not None and window.candidate < -0.05 and window.passed


def test_the_verdict_without_backtests_leaves_testable_windows_not_evaluated() -> None:
    promote, registry, _ = _setup(_market(0.0), _meta(bias=0.01))
    verdict = promote.verdict_now(registry.resolve(SYMBOL, "basic", "v2"))
    assert verdict.passed is None and verdict.windows[0].status == "not evaluated"
    failing, registry2, _ = _setup(_market(0.0), _meta(bias=0.01, trades=0))
    assert failing.verdict_now(registry2.resolve(SYMBOL, "basic", "v2")).passed is False


def test_the_verdict_serialises_every_check_and_window() -> None:
    promote, registry, _ = _setup(_market(drift=0.0006), _meta(bias=0.01))
    verdict = promote.gate.evaluate(registry.resolve(SYMBOL, "basic", "v2"), None, promote._backtest)
    data = verdict.to_dict()
    assert data["verdict"] == "passed" and data["margin"] == 0.05 and len(data["checks"]) == 5
    (window,) = data["windows"]
    assert window["status"] == "tested" and window["name"] == "synthetic slide" and window["passed"] is True


def test_promoting_the_latest_again_is_refused() -> None:
    promote, _, _ = _setup(_market(0.0), _meta(bias=0.01), current=_meta(bias=-0.01))
    with pytest.raises(ModelRefused, match="already the latest"):
        promote(ModelRef(SYMBOL, "basic", "v1"))


def test_progress_reports_each_stress_backtest() -> None:
    promote, _, _ = _setup(_market(drift=0.0006), _meta(bias=0.01))
    seen: list[tuple[str, int, int]] = []
    promote(V2, progress=lambda what, done, total: seen.append((what, done, total)))
    assert seen == [("stress window synthetic slide", 0, 1), ("stress windows", 1, 1)]


def test_rollback_and_delete() -> None:
    promote, registry, _ = _setup(_market(drift=0.0006), _meta(bias=0.01), current=_meta(bias=-0.01))
    promote(V2)
    info = rollback_model(registry, SYMBOL, "basic")
    assert info.ref.version == "v1" and info.is_latest
    assert registry.events[-1].action == "rollback"
    delete_model(registry, V2)
    assert [i.ref.version for i in registry.list()] == ["v1"]
    with pytest.raises(ModelRefused):
        delete_model(registry, ModelRef(SYMBOL, "basic", "v1"))


def test_stress_windows_default_and_parsed() -> None:
    assert [w.name for w in parse_stress_windows("")] == ["2018 bear market", "March 2020 crash"]
    assert parse_stress_windows("") == DEFAULT_STRESS_WINDOWS
    (w,) = parse_stress_windows("luna=2022-05-01..2022-06-01")
    assert w.name == "luna" and w.end_ms - w.start_ms == 31 * 24 * HOUR_MS
    for bad in ("luna", "luna=2022-05-01", "x=2022-06-01..2022-05-01", "x=yesterday..today"):
        with pytest.raises(ConfigurationError):
            parse_stress_windows(bad)
    with pytest.raises(ConfigurationError):
        PromoteModel(FakeModelRegistry(), None, margin=-0.1)  # type: ignore[arg-type]
