"""The training use case with a fake trainer: dataset, metadata (ranges, hash, honest metrics next to
baselines, the test-period backtest), registration without promotion."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from application.ports.errors import ConfigurationError
from application.ports.models import TrainingParams
from application.use_cases.promotion_gate import GateCheck, GateVerdict, StressWindow
from application.use_cases.run_backtest import BacktestRequest, RunBacktest
from application.use_cases.train_model import (
    TrainModel,
    TrainRequest,
    candles_sha256,
    prediction_metrics,
    split_metrics,
)
from domain.model.timeframe import Timeframe
from entrypoints.container import simulator
from tests.builders import HOUR_MS, random_walk
from tests.fakes.market_data import InMemoryMarketData
from tests.fakes.models import FakeModelRegistry, FakePredictor, FakeSentiment, FakeTrainer, fake_predictor_factory

CANDLES = random_walk(1500, seed=21)


def _train(model_type: str = "basic", **kw: object) -> tuple[FakeModelRegistry, FakeTrainer, object]:
    registry = FakeModelRegistry()
    trainer = FakeTrainer()
    use_case = TrainModel(
        InMemoryMarketData(CANDLES), lambda: trainer, registry, fake_predictor_factory(), simulator,
        FakeSentiment(), clock=lambda: 1_700_000_000_000,
    )  # fmt: skip
    request = TrainRequest(CANDLES.symbol, model_type, Timeframe.H1, TrainingParams(epochs=2), window=16,
                           norm_window=50, **kw)  # type: ignore[arg-type]  # fmt: skip
    progress: list[int] = []
    result = use_case(request, progress=lambda e, n, logs: progress.append(e))
    assert progress == [1, 2]
    return registry, trainer, result


def test_training_registers_a_version_with_honest_metadata_without_promoting_it() -> None:
    _, trainer, result = _train()
    info = result.info  # type: ignore[attr-defined]
    assert info.ref.version == "v1" and not info.is_latest
    meta = info.metadata
    assert meta["symbol"] == "BTCUSDT" and meta["model_type"] == "basic" and meta["timeframe"] == "1h"
    assert meta["data"]["sha256"] == candles_sha256(CANDLES) and meta["data"]["bars"] == len(CANDLES)
    assert meta["hyperparameters"]["epochs"] == 2 and meta["hyperparameters"]["window"] == 16
    assert meta["training"]["epochs_run"] == 2 and meta["package_versions"]["tensorflow"] == "fake"
    for split in ("val", "test"):
        figures = meta["metrics"][split]
        assert set(figures) == {"model", "persistence", "zero"}
        assert {"rmse", "directional_accuracy"} <= set(figures["model"])
    backtest = meta["backtest"]
    assert backtest["strategy"] == "ml_basic" and backtest["range"] == meta["test_range"]
    assert "buy_and_hold_return" in backtest["metrics"] and "total_return" in backtest["metrics"]
    (data, params) = trainer.calls[0]
    assert params.epochs == 2 and data.schema.window == 16


def test_split_ranges_are_ordered_and_do_not_overlap() -> None:
    _, trainer, result = _train()
    meta = result.info.metadata  # type: ignore[attr-defined]
    train, val, test = meta["train_range"], meta["val_range"], meta["test_range"]
    assert train[0] < train[1] <= val[0] < val[1] <= test[0] < test[1]
    data = trainer.calls[0][0]
    assert test[0] == int(data.test_times[0]) and test[1] == int(data.test_times[-1]) + 2 * HOUR_MS
    assert test[1] == int(CANDLES.open_time[-1]) + HOUR_MS  # the test period runs to the end of the data


def test_a_sentiment_model_records_its_sentiment_data_and_uses_ml_sentiment() -> None:
    _, trainer, result = _train("sentiment")
    meta = result.info.metadata  # type: ignore[attr-defined]
    assert "sentiment_sha256" in meta["data"]
    assert meta["backtest"]["strategy"] == "ml_sentiment"
    assert trainer.calls[0][0].schema.sentiment


def test_too_little_data_is_one_clear_line() -> None:
    with pytest.raises(ConfigurationError, match="bars"):
        _train(end_ms=int(CANDLES.open_time[100]))


def test_prediction_metrics() -> None:
    y = np.array([0.01, -0.02, 0.03, 0.0, -0.01])
    pred = np.array([0.02, -0.01, -0.01, 0.5, 0.0])
    m = prediction_metrics(pred, y)
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean((pred - y) ** 2)))
    # moved bars: 0.01 up (called up), -0.02 down (called down), 0.03 up (called down), -0.01 (0 counts as up)
    assert m["directional_accuracy"] == pytest.approx(2 / 4)
    assert m["windows"] == 5


def test_baselines_next_to_the_model() -> None:
    y = np.array([0.01, 0.02, -0.01, 0.03])
    previous = np.array([0.0, 0.01, 0.02, -0.01])  # each window's last known return: persistence
    out = split_metrics(y.copy(), y, previous)
    assert out["model"]["rmse"] == 0.0 and out["model"]["directional_accuracy"] == 1.0
    assert out["zero"]["rmse"] == pytest.approx(np.sqrt(np.mean(y**2)))
    assert out["zero"]["directional_accuracy"] == pytest.approx(3 / 4)  # always up
    assert out["persistence"]["rmse"] == pytest.approx(np.sqrt(np.mean((previous - y) ** 2)))


def test_an_unknown_model_type_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="model type"):
        TrainRequest(CANDLES.symbol, "magic", Timeframe.H1)


def test_cash_for_the_test_backtest_is_configurable() -> None:
    _, _, result = _train(initial_cash=Decimal(5_000))
    assert result.info.metadata["backtest"]["initial_cash"] == 5000.0  # type: ignore[attr-defined]


# -- the promotion gate at training time ----------------------------------------------------------------------


def _use_case(predictors: object | None = None, **kw: object) -> tuple[TrainModel, FakeModelRegistry]:
    registry = FakeModelRegistry()
    use_case = TrainModel(
        InMemoryMarketData(CANDLES), FakeTrainer, registry, predictors or fake_predictor_factory(), simulator,
        FakeSentiment(), clock=lambda: 1_700_000_000_000, **kw,  # type: ignore[arg-type]
    )  # fmt: skip
    return use_case, registry


def _request(**kw: object) -> TrainRequest:
    return TrainRequest(CANDLES.symbol, "basic", Timeframe.H1, TrainingParams(epochs=1), window=16, norm_window=50,
                        **kw)  # type: ignore[arg-type]  # fmt: skip


def _never_buys(info: object) -> FakePredictor:
    return FakePredictor(info.schema, gain=0.0, bias=-0.01)  # type: ignore[attr-defined]


def test_a_model_whose_strategy_makes_no_trade_is_registered_but_not_latest() -> None:
    use_case, registry = _use_case(_never_buys)
    result = use_case(_request())
    meta = result.info.metadata
    assert meta["backtest"]["metrics"]["trades"] == 0  # the test-period backtest the gate reads
    assert not result.promoted and not result.info.is_latest and (str(CANDLES.symbol), "basic") not in registry.latest
    assert [e.action for e in registry.events] == ["register"]
    gate = meta["gate"]
    assert gate["verdict"] == "failed" and gate["latest_then"] is None
    trades = next(c for c in gate["checks"] if c["name"] == "test trades")
    assert trades["passed"] is False and "0 trades" in trades["detail"]
    assert "test trades" in result.promotion and result.verdict is not None and result.verdict.passed is False


def test_force_makes_a_failing_model_latest_and_the_log_says_it_was_forced() -> None:
    use_case, registry = _use_case(_never_buys)
    result = use_case(_request(promote="force"))
    assert result.promoted and result.info.is_latest and result.info.metadata["gate"]["verdict"] == "failed"
    last = registry.events[-1]
    assert last.action == "promote" and last.reason.startswith("forced (--promote force)")


def test_never_registers_without_promoting_even_a_passing_model(monkeypatch: pytest.MonkeyPatch) -> None:
    use_case, registry = _use_case()
    monkeypatch.setattr(use_case, "gate", _PassingGate())
    result = use_case(_request(promote="never"))
    assert not result.promoted and not result.info.is_latest
    assert result.info.metadata["gate"]["verdict"] == "passed"
    auto = use_case(_request())  # the same gate, auto: promoted, the verdict logged
    assert auto.promoted and auto.info.is_latest and registry.events[-1].reason.startswith("gate passed")


def test_stress_windows_inside_or_before_the_training_data_are_recorded_as_not_tested() -> None:
    data = CANDLES.open_time
    windows = (
        StressWindow("inside training", int(data[200]), int(data[400])),
        StressWindow("before the data", int(data[0]) - 400 * HOUR_MS, int(data[0]) - 100 * HOUR_MS),
    )
    use_case, _ = _use_case(windows=windows)
    gate = use_case(_request()).info.metadata["gate"]
    assert [w["status"] for w in gate["windows"]] == ["not tested", "not tested"]
    assert "training data" in gate["windows"][0]["reason"] and "LOOK-AHEAD" in gate["windows"][1]["reason"]
    stress = next(c for c in gate["checks"] if c["name"] == "stress windows")
    assert stress["passed"] is False and "no window could be tested" in stress["detail"]


def test_a_window_in_the_test_period_is_backtested_with_the_new_model_before_it_is_registered() -> None:
    data = CANDLES.open_time
    window = StressWindow("late slide", int(data[1400]), int(data[1490]))
    use_case, registry = _use_case(windows=(window,))
    phases: list[str] = []
    result = use_case(_request(promote="never"), status=lambda phase, detail: phases.append(phase))
    (tested,) = result.info.metadata["gate"]["windows"]
    assert tested["status"] == "tested" and tested["reference"] == "doing nothing"
    assert "stress backtests" in phases
    # the oracle: the registered version backtested on the window directly
    backtest = RunBacktest(InMemoryMarketData(CANDLES), simulator, registry, fake_predictor_factory(), FakeSentiment())
    report = backtest(BacktestRequest("ml_basic", (CANDLES.symbol,), Timeframe.H1, Decimal(10_000),
                                      start_ms=window.start_ms, end_ms=window.end_ms,
                                      model_version=result.info.ref.version))  # fmt: skip
    assert tested["total_return"] == pytest.approx(report.metrics["total_return"])
    assert tested["passed"] is (tested["total_return"] >= -0.05)


def test_each_phase_is_reported_in_order_and_timed() -> None:
    use_case, _ = _use_case()
    phases: list[str] = []
    result = use_case(_request(), status=lambda phase, detail: phases.append(phase))
    order = [p for i, p in enumerate(phases) if i == 0 or phases[i - 1] != p]
    assert order == ["data", "training", "export", "parity", "metrics", "test backtest"]  # no window testable
    timed = result.info.metadata["training"]["phases"]
    assert set(timed) == set(order) and all(s >= 0 for s in timed.values())
    assert sum(timed.values()) <= result.info.metadata["training"]["wall_seconds"] + 1e-3


def test_an_unknown_promote_mode_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="promote"):
        _request(promote="sometimes")


class _PassingGate:
    """Stands in for the gate: every check passes."""

    def evaluate(self, candidate: object, current: object, backtest: object, progress: object = None) -> GateVerdict:
        return GateVerdict((GateCheck("test RMSE", True, "stub"),), (), 0.05, 1)
