"""The acceptance test of the ML pipeline: train a tiny CNN+LSTM in seconds on bundled BTCUSDT, export it to
ONNX with a parity check, register it, load it with ONNX Runtime and predict (single == batch)."""

from __future__ import annotations

import json
from dataclasses import replace
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from adapters.files import CsvMarketData, CsvSentiment
from adapters.onnx import OnnxPredictor, onnx_predictor
from adapters.registry import FileModelRegistry
from adapters.training import KerasTrainer, keras_trainer
from application.ports.models import ModelRef, ModelRefused, TrainedModel, Trainer, TrainingParams
from domain.features import TrainingData, build_dataset, default_schema
from domain.model.candles import CandleSeries
from domain.model.symbols import Symbol
from domain.model.timeframe import Timeframe

pytestmark = pytest.mark.slow

TINY = TrainingParams(
    epochs=2, batch_size=64, conv_filters=8, kernel_size=3, lstm_units=8, dropout=0.0, patience=2, seed=7, threads=1
)
SCHEMA = default_schema(window=16, norm_window=50)


def _candles(bars: int = 900) -> CandleSeries:
    ref = resources.files("adapters.files").joinpath("bundled").joinpath("BTCUSDT-1h.csv.gz")
    with resources.as_file(ref) as path:
        series = CsvMarketData(Path(path)).candles(Symbol.parse("BTCUSDT"), Timeframe.H1)
    return series.slice(len(series) - 20_000, len(series) - 20_000 + bars)  # a 2022 stretch


@pytest.fixture(scope="module")
def data() -> TrainingData:
    return build_dataset(_candles(), SCHEMA)


@pytest.fixture(scope="module")
def trained(data: TrainingData, tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainedModel, list[tuple[int, int]]]:
    seen: list[tuple[int, int]] = []
    trainer: Trainer = KerasTrainer()
    result = trainer.train(
        data, TINY, tmp_path_factory.mktemp("staging"), progress=lambda e, n, logs: seen.append((e, n)),
        status=lambda phase, detail: PHASES_SEEN.append((phase, len(seen))),
    )  # fmt: skip
    return result, seen


PHASES_SEEN: list[tuple[str, int]] = []  # (phase, epochs finished when it started)


def test_a_tiny_model_trains_exports_registers_loads_and_predicts(
    data: TrainingData, trained: tuple[TrainedModel, list[tuple[int, int]]], tmp_path: Path
) -> None:
    result, seen = trained
    assert 200 <= len(data.x_train) <= 1000
    staging = result.staging_dir
    assert {p.name for p in staging.iterdir()} >= {"model.keras", "model.onnx", "feature_schema.json"}
    assert 0.0 <= result.onnx_max_abs_diff <= 1e-4
    assert result.epochs_run == 2 and seen == [(1, 2), (2, 2)]
    assert PHASES_SEEN == [("export", 2), ("parity", 2)]  # after the epochs, export then the parity check
    assert set(result.history) >= {"loss", "val_loss"} and len(result.history["val_loss"]) == 2
    assert result.training_seconds > 0 and {"keras", "tf2onnx", "onnxruntime", "python"} <= set(result.package_versions)
    assert result.device == "CPU" and result.mixed_precision is False
    assert any("mixed precision off" in note for note in result.notes)

    (staging / "metadata.json").write_text(json.dumps({"symbol": "BTCUSDT", "epochs": result.epochs_run}))
    registry = FileModelRegistry(tmp_path / "models")
    info = registry.register(staging, ModelRef("BTCUSDT", "basic", ""))
    assert registry.resolve("BTCUSDT", "basic") == info and info.schema == SCHEMA

    predictor = onnx_predictor(info)
    batch = predictor.predict(data.x_test)
    assert batch.shape == (len(data.x_test),) and batch.dtype == np.float64 and np.isfinite(batch).all()
    assert np.abs(batch).max() < 0.05  # returns, in return units (the model ends with the target's scale)
    single = np.array([predictor.predict(data.x_test[i : i + 1])[0] for i in range(0, len(data.x_test), 7)])
    np.testing.assert_array_equal(single, batch[::7])


def test_the_keras_file_reloads_and_agrees_with_the_onnx_export(
    data: TrainingData, trained: tuple[TrainedModel, list[tuple[int, int]]]
) -> None:
    import keras

    result, _ = trained
    model = keras.saving.load_model(result.staging_dir / "model.keras")
    keras_out = np.asarray(model(data.x_val, training=False), dtype=np.float64).reshape(-1)
    onnx_out = OnnxPredictor.load(result.staging_dir).predict(data.x_val)
    assert np.abs(keras_out - onnx_out).max() <= 1e-4


def test_training_is_reproducible_with_the_same_seed(
    data: TrainingData, trained: tuple[TrainedModel, list[tuple[int, int]]], tmp_path: Path
) -> None:
    first, _ = trained
    again = KerasTrainer().train(data, TINY, tmp_path / "again")
    np.testing.assert_array_equal(again.history["loss"], first.history["loss"])
    a = OnnxPredictor.load(first.staging_dir).predict(data.x_test)
    b = OnnxPredictor.load(again.staging_dir).predict(data.x_test)
    np.testing.assert_array_equal(a, b)


def test_an_export_that_fails_parity_is_refused_and_leaves_nothing(
    data: TrainingData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keras_trainer, "onnx_parity", lambda serve, path, windows: 3e-3)
    staging = tmp_path / "staging"
    with pytest.raises(ModelRefused, match=r"max abs difference 0\.003 > tolerance 0\.0001; the model was not kept"):
        KerasTrainer().train(data, replace(TINY, epochs=1), staging)
    assert list(staging.iterdir()) == []


def test_a_sentiment_dataset_builds_from_the_bundled_index() -> None:
    candles = _candles()
    schema = default_schema(sentiment=True, window=16, norm_window=50)
    data = build_dataset(candles, schema, CsvSentiment().values_at(candles.open_time))
    assert data.x_train.shape[2] == 9 and np.isfinite(data.x_train).all()
