"""Backtests of ML strategies with fakes: model resolution (latest, pinned by version or date), the one-batch
prediction path, the schema check, the in-sample warning, the default test-period range, live = batch."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from application.ml import predict_latest, predict_series
from application.ports.errors import ConfigurationError, SchemaMismatch
from application.ports.models import MODEL_TYPES, ModelNotFound
from application.use_cases.run_backtest import BacktestRequest, RunBacktest
from domain.features.builder import default_schema
from domain.features.schema import FeatureSchema
from domain.model.timeframe import Timeframe
from domain.strategies.ml import ML_MODEL_TYPES, model_type_of
from domain.strategies.registry import create_strategy, strategy_names
from entrypoints.container import simulator
from tests.builders import HOUR_MS, random_walk
from tests.fakes.market_data import InMemoryMarketData
from tests.fakes.models import FakeModelRegistry, FakePredictor, FakeSentiment, fake_predictor_factory

CANDLES = random_walk(2400, seed=11)
SYMBOL = CANDLES.symbol
SCHEMA = default_schema(window=16, norm_window=50)
T = CANDLES.open_time


def _ranges(train_end: int = 1400, val_end: int = 1800) -> dict[str, Any]:
    """Split ranges by bar index: train [100, train_end), val [train_end + 20, val_end), test after."""
    return {
        "train_range": [int(T[100]), int(T[train_end])],
        "val_range": [int(T[train_end + 20]), int(T[val_end])],
        "test_range": [int(T[val_end + 20]), int(T[-1]) + HOUR_MS],
    }


def _setup(
    registry: FakeModelRegistry | None = None, sentiment: FakeSentiment | None = None
) -> tuple[RunBacktest, FakeModelRegistry, list[FakePredictor]]:
    registry = registry or FakeModelRegistry()
    if not registry.models:
        registry.add(str(SYMBOL), "basic", "v1", SCHEMA, {**_ranges(), "fake_gain": 0.003})
    created: list[FakePredictor] = []
    use_case = RunBacktest(InMemoryMarketData(CANDLES), simulator, registry, fake_predictor_factory(created), sentiment)
    return use_case, registry, created


def _request(**kw: Any) -> BacktestRequest:
    return BacktestRequest("ml_basic", (SYMBOL,), Timeframe.H1, Decimal(10_000), **kw)


def test_model_types_agree_between_domain_and_ports() -> None:
    assert tuple(ML_MODEL_TYPES) == tuple(MODEL_TYPES)


def test_the_latest_model_is_used_and_recorded() -> None:
    use_case, _, created = _setup()
    report = use_case(_request(start_ms=int(T[1850])))
    assert report.model == {str(SYMBOL): f"{SYMBOL}/basic/v1"}
    assert len(created) == 1
    assert report.metrics["trades"] > 0


def test_the_windows_of_the_kept_bars_are_predicted_in_one_batch_and_handed_to_the_strategy() -> None:
    use_case, _, created = _setup()
    report = use_case(_request(start_ms=int(T[2000])))
    (predictor,) = created
    first = 2000 - report.warmup_bars_used  # the first bar kept (the strategy's warm-up before the start)
    full = predict_series(FakePredictor(SCHEMA, gain=0.003), CANDLES)
    assert predictor.calls == [np.count_nonzero(~np.isnan(full[first:]))]  # those windows only, one call


def test_predicting_from_a_row_on_gives_the_same_values_there() -> None:
    full = predict_series(FakePredictor(SCHEMA, gain=0.003), CANDLES)
    for first in (0, 30, 700, len(CANDLES) - 1):
        part = predict_series(FakePredictor(SCHEMA, gain=0.003), CANDLES, first_row=first)
        assert np.isnan(part[:first]).all()
        assert np.array_equal(part[first:], full[first:], equal_nan=True)


def test_without_a_range_an_ml_backtest_covers_the_test_period_and_says_so() -> None:
    use_case, _, _ = _setup()
    report = use_case(_request())
    test = _ranges()["test_range"]
    assert int(report.open_time[0]) == test[0]
    assert int(report.open_time[-1]) + HOUR_MS == test[1]
    assert report.request.start_ms == test[0]
    assert any(n.startswith("range: the model's out-of-sample test period") for n in report.notes)
    assert not any(n.startswith("IN-SAMPLE") for n in report.notes)


@pytest.mark.parametrize(("start", "end"), [(500, 900), (1300, 1500), (1790, 2000)])
def test_a_range_overlapping_training_or_validation_data_gets_an_in_sample_warning(start: int, end: int) -> None:
    use_case, _, _ = _setup()
    report = use_case(_request(start_ms=int(T[start]), end_ms=int(T[end])))
    warnings = [n for n in report.notes if n.startswith("IN-SAMPLE:")]
    assert len(warnings) == 1
    assert "BTCUSDT/basic/v1" in warnings[0] and "flatter" in warnings[0]
    assert report.notes[0] == warnings[0]  # first, so nobody misses it


def test_a_range_before_the_training_data_gets_a_look_ahead_warning() -> None:
    registry = FakeModelRegistry()
    late = {**_ranges(), "train_range": [int(T[1000]), int(T[1400])]}
    registry.add(str(SYMBOL), "basic", "v1", SCHEMA, late)
    use_case, _, _ = _setup(registry)
    report = use_case(_request(start_ms=int(T[300]), end_ms=int(T[900])))
    assert report.notes[0].startswith("LOOK-AHEAD:") and "after this backtest's period" in report.notes[0]
    assert not any(n.startswith("IN-SAMPLE") for n in report.notes)


def test_a_test_period_range_gets_no_in_sample_warning() -> None:
    use_case, _, _ = _setup()
    report = use_case(_request(start_ms=int(T[1830]), end_ms=int(T[2300])))
    assert not any(n.startswith("IN-SAMPLE") for n in report.notes)


def _two_versions() -> FakeModelRegistry:
    registry = FakeModelRegistry()
    registry.add(str(SYMBOL), "basic", "v1", SCHEMA, {**_ranges(), "fake_gain": 0.003})
    registry.tick(10_000)
    registry.add(str(SYMBOL), "basic", "v2", SCHEMA, {**_ranges(), "fake_gain": -0.003})
    return registry


def test_pin_by_version() -> None:
    use_case, _, created = _setup(_two_versions())
    latest = use_case(_request(start_ms=int(T[1850])))
    pinned = use_case(_request(start_ms=int(T[1850]), model_version="v1"))
    assert latest.model[str(SYMBOL)].endswith("/v2") and pinned.model[str(SYMBOL)].endswith("/v1")
    assert [p.gain for p in created] == [-0.003, 0.003]
    assert latest.metrics["trades"] != pinned.metrics["trades"] or latest.metrics["total_return"] != pytest.approx(
        pinned.metrics["total_return"]
    )


def test_pin_by_date_takes_the_version_that_was_latest_then() -> None:
    registry = _two_versions()
    v1_promoted = next(e.at_ms for e in registry.events if e.action == "promote" and e.ref.version == "v1")
    v2_promoted = next(e.at_ms for e in registry.events if e.action == "promote" and e.ref.version == "v2")
    use_case, _, _ = _setup(registry)
    between = use_case(_request(start_ms=int(T[1850]), model_as_of_ms=v1_promoted + 1))
    after = use_case(_request(start_ms=int(T[1850]), model_as_of_ms=v2_promoted))
    assert between.model[str(SYMBOL)].endswith("/v1")
    assert after.model[str(SYMBOL)].endswith("/v2")
    with pytest.raises(ModelNotFound):
        use_case(_request(model_as_of_ms=v1_promoted - 10_000))


def test_version_and_date_together_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="not both"):
        _request(model_version="v1", model_as_of_ms=1)


def test_an_unknown_version_is_a_clear_error() -> None:
    use_case, _, _ = _setup()
    with pytest.raises(ModelNotFound, match="v9"):
        use_case(_request(model_version="v9"))


def test_a_symbol_without_a_latest_model_says_how_to_get_one_and_which_strategies_need_none() -> None:
    model_free = {name for name in strategy_names() if model_type_of(create_strategy(name)) is None}
    registry = FakeModelRegistry()
    registry.add("OTHERUSDT", "basic", "v1", SCHEMA, _ranges())
    use_case, _, _ = _setup(registry)
    with pytest.raises(ModelNotFound) as never_registered:
        use_case(_request())
    message = str(never_registered.value)
    assert "\n" not in message
    assert f"atb train --symbol {SYMBOL} --type basic --timeframe 1h" in message
    listed = set(message.split("strategies that need no model: ")[1].rstrip(")").split(", "))
    assert listed == model_free and "ml_basic" not in listed
    registry.add(str(SYMBOL), "basic", "v2", SCHEMA, _ranges(), promote=False)
    with pytest.raises(ModelNotFound, match=f"atb models promote {SYMBOL} basic v2, or train one with: atb train"):
        use_case(_request())
    with pytest.raises(ModelNotFound) as pinned:  # a pinned version keeps the registry's own message
        use_case(_request(model_version="v9"))
    assert "atb train" not in str(pinned.value)


def test_a_model_trained_on_other_features_is_refused() -> None:
    registry = FakeModelRegistry()
    raw = SCHEMA.to_dict()
    raw["params"] = {**raw["params"], "ema_fast": 10}
    registry.add(str(SYMBOL), "basic", "old", FeatureSchema.from_dict(raw), _ranges())
    use_case, _, _ = _setup(registry)
    with pytest.raises(SchemaMismatch, match=r"ema_fast|params") as caught:
        use_case(_request())
    assert "\n" not in str(caught.value) and "retrain" in str(caught.value)


def test_a_predictor_whose_schema_differs_from_the_registry_copy_is_refused() -> None:
    registry = FakeModelRegistry()
    registry.add(str(SYMBOL), "basic", "v1", SCHEMA, _ranges())
    other = default_schema(window=20, norm_window=50)
    use_case = RunBacktest(InMemoryMarketData(CANDLES), simulator, registry, lambda info: FakePredictor(other))
    with pytest.raises(SchemaMismatch, match="window"):
        use_case(_request())


def test_a_model_of_another_timeframe_is_refused() -> None:
    registry = FakeModelRegistry()
    registry.add(str(SYMBOL), "basic", "v1", SCHEMA, {**_ranges(), "timeframe": "4h"})
    use_case, _, _ = _setup(registry)
    with pytest.raises(ConfigurationError, match="4h"):
        use_case(_request())


def test_an_ml_strategy_without_a_registry_or_a_model_option_on_a_plain_strategy_is_refused() -> None:
    plain = RunBacktest(InMemoryMarketData(CANDLES), simulator)
    with pytest.raises(ConfigurationError, match="registry"):
        plain(_request())
    use_case, _, _ = _setup()
    with pytest.raises(ConfigurationError, match="uses no model"):
        use_case(BacktestRequest("ema_cross", (SYMBOL,), Timeframe.H1, Decimal(10_000), model_version="v1"))


def test_plain_strategies_still_run_without_any_model() -> None:
    use_case, _, created = _setup()
    report = use_case(BacktestRequest("ema_cross", (SYMBOL,), Timeframe.H1, Decimal(10_000)))
    assert report.model == {} and created == []


def test_sentiment_models_read_the_sentiment_source() -> None:
    registry = FakeModelRegistry()
    schema = default_schema(sentiment=True, window=16, norm_window=50)
    registry.add(str(SYMBOL), "sentiment", "s1", schema, _ranges())
    use_case, _, _ = _setup(registry, sentiment=FakeSentiment())
    report = use_case(BacktestRequest("ml_sentiment", (SYMBOL,), Timeframe.H1, Decimal(10_000)))
    assert report.model[str(SYMBOL)] == f"{SYMBOL}/sentiment/s1"
    no_source, _, _ = _setup(registry)
    with pytest.raises(ConfigurationError, match="sentiment"):
        no_source(BacktestRequest("ml_sentiment", (SYMBOL,), Timeframe.H1, Decimal(10_000)))


def test_missing_predictions_in_the_range_are_noted() -> None:
    registry = FakeModelRegistry()
    schema = default_schema(sentiment=True, window=16, norm_window=50)
    registry.add(str(SYMBOL), "sentiment", "s1", schema, _ranges())
    late = FakeSentiment(first_ms=int(T[1900]))  # no sentiment before bar 1900
    use_case, _, _ = _setup(registry, sentiment=late)
    report = use_case(BacktestRequest("ml_sentiment", (SYMBOL,), Timeframe.H1, Decimal(10_000),
                                      start_ms=int(T[1850])))  # fmt: skip
    assert any("no model prediction on" in n and "sentiment" in n for n in report.notes)


def test_ensemble_with_an_ml_member_gets_predictions() -> None:
    use_case, _, created = _setup()
    report = use_case(
        BacktestRequest("ensemble_weighted", (SYMBOL,), Timeframe.H1, Decimal(10_000),
                        params={"members": "momentum:1,ml:1", "threshold": "0.2"}, start_ms=int(T[1850]))
    )  # fmt: skip
    assert report.model == {str(SYMBOL): f"{SYMBOL}/basic/v1"} and len(created) == 1


@pytest.mark.parametrize("sentiment", [False, True])
def test_live_prediction_of_the_latest_window_equals_the_batch_value_for_that_bar(sentiment: bool) -> None:
    schema = default_schema(sentiment=sentiment, window=16, norm_window=50)
    source = FakeSentiment(first_ms=int(T[30])) if sentiment else None
    predictor = FakePredictor(schema, gain=0.01)
    batch = predict_series(predictor, CANDLES, source)
    first = int(np.flatnonzero(~np.isnan(batch))[0])
    for t in (first - 1, first, first + 1, 777, 1500, len(CANDLES) - 1):
        live = predict_latest(predictor, CANDLES.slice(0, t + 1), source)
        if np.isnan(batch[t]):
            assert np.isnan(live)
        else:
            assert live == batch[t]
