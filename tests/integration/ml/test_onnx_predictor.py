"""The ONNX Runtime predictor at load: broken files are ModelCorrupted naming the file, shape mismatches refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adapters.onnx import OnnxPredictor, onnx_predictor
from application.ports.errors import SchemaMismatch
from application.ports.models import ModelCorrupted, ModelInfo, ModelRef
from domain.features import default_schema
from tests.integration.ml.onnx_models import SMALL_SCHEMA, linear_model, windows, write_model_dir


def test_predictions_match_the_model_arithmetic(tmp_path: Path) -> None:
    model_dir = write_model_dir(tmp_path / "m", seed=3)
    predictor = OnnxPredictor.load(model_dir)
    x = windows(5)
    w = np.random.default_rng(3).normal(0.0, 0.01, (64, 1)).astype(np.float32)
    np.testing.assert_allclose(predictor.predict(x), (x.reshape(5, -1) @ w)[:, 0], rtol=1e-5, atol=1e-7)
    assert predictor.predict_one(x[2]) == predictor.predict(x)[2]


def test_a_truncated_model_file_is_model_corrupted_naming_it(tmp_path: Path) -> None:
    model_dir = write_model_dir(tmp_path / "m")
    onnx_file = model_dir / "model.onnx"
    onnx_file.write_bytes(onnx_file.read_bytes()[:40])
    with pytest.raises(ModelCorrupted, match=r"model\.onnx: not a loadable ONNX model") as info:
        OnnxPredictor.load(model_dir)
    assert str(onnx_file) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "model.onnx").unlink(), r"model\.onnx: missing"),
        (lambda d: (d / "model.onnx").write_bytes(b""), r"model\.onnx: empty file"),
        (lambda d: (d / "model.onnx").write_bytes(b"garbage" * 50), r"model\.onnx: not a loadable ONNX model"),
        (lambda d: (d / "feature_schema.json").unlink(), r"feature_schema\.json: missing"),
        (lambda d: (d / "feature_schema.json").write_text("{not json"), r"feature_schema\.json: not valid JSON"),
        (lambda d: (d / "feature_schema.json").write_text('{"format": 1}'), r"feature_schema\.json: .*malformed"),
    ],
)
def test_missing_or_broken_files_are_model_corrupted(tmp_path: Path, damage, message: str) -> None:  # type: ignore[no-untyped-def]
    model_dir = write_model_dir(tmp_path / "m")
    damage(model_dir)
    with pytest.raises(ModelCorrupted, match=message):
        OnnxPredictor.load(model_dir)


@pytest.mark.parametrize(("window", "features"), [(9, 8), (8, 7)])
def test_a_model_whose_input_disagrees_with_its_schema_is_refused_at_load(
    tmp_path: Path, window: int, features: int
) -> None:
    model_dir = write_model_dir(tmp_path / "m")
    (model_dir / "model.onnx").write_bytes(linear_model(SMALL_SCHEMA, window=window, features=features))
    with pytest.raises(SchemaMismatch, match=r"input shape .* does not match its feature schema \(batch, 8, 8\)"):
        OnnxPredictor.load(model_dir)


def test_the_factory_checks_the_registry_schema_against_the_files(tmp_path: Path) -> None:
    model_dir = write_model_dir(tmp_path / "m")
    ref = ModelRef("BTCUSDT", "basic", "v")
    info = ModelInfo(ref, model_dir, {}, SMALL_SCHEMA, 0, True)
    assert onnx_predictor(info).schema == SMALL_SCHEMA
    other = ModelInfo(ref, model_dir, {}, default_schema(window=8, norm_window=30), 0, True)
    with pytest.raises(SchemaMismatch, match="norm_window"):
        onnx_predictor(other)
    json.loads((model_dir / "feature_schema.json").read_text())


def test_predictions_that_are_not_finite_are_refused_naming_the_model(tmp_path: Path) -> None:
    from application.ports.predictor import InvalidPrediction

    predictor = OnnxPredictor.load(write_model_dir(tmp_path / "m", seed=3))
    x = windows(4)
    x[2, 0, 0] = np.inf  # an infinite input drives the linear model's output to +-inf or NaN
    with pytest.raises(InvalidPrediction) as caught:
        predictor.predict(x)
    assert str(tmp_path / "m" / "model.onnx") in str(caught.value) and "window 3 of 4" in str(caught.value)
    with pytest.raises(InvalidPrediction):
        predictor.predict_one(x[2])
    assert np.isfinite(predictor.predict(np.delete(x, 2, axis=0))).all()
