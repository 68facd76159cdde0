"""One contract for every ``Predictor``: schema checks on every call, float64 out, single == batch, pure."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from adapters.onnx import OnnxPredictor
from application.ports.errors import SchemaMismatch
from application.ports.predictor import Predictor
from tests.integration.ml.onnx_models import SMALL_SCHEMA, windows, write_model_dir


def _predictors() -> dict[str, Callable[[Path], Predictor]]:
    return {
        "onnx runtime": lambda tmp: OnnxPredictor.load(write_model_dir(tmp / "model")),
        "onnx runtime, small chunks": lambda tmp: OnnxPredictor.load(write_model_dir(tmp / "model"), chunk_size=7),
    }


@pytest.fixture(params=list(_predictors()))
def predictor(request: pytest.FixtureRequest, tmp_path: Path) -> Predictor:
    return _predictors()[request.param](tmp_path)


def test_it_exposes_the_schema_it_was_trained_on(predictor: Predictor) -> None:
    assert predictor.schema == SMALL_SCHEMA


def test_one_float64_prediction_per_window(predictor: Predictor) -> None:
    out = predictor.predict(windows(50))
    assert out.shape == (50,) and out.dtype == np.float64 and np.isfinite(out).all()
    assert predictor.predict(windows(0)).shape == (0,)


def test_single_window_predictions_equal_the_batch(predictor: Predictor) -> None:
    batch = windows(40)
    together = predictor.predict(batch)
    alone = np.array([predictor.predict(batch[i : i + 1])[0] for i in range(len(batch))])
    np.testing.assert_array_equal(alone, together)


def test_pure_same_windows_same_values(predictor: Predictor) -> None:
    x = windows(30)
    copy = x.copy()
    np.testing.assert_array_equal(predictor.predict(x), predictor.predict(x))
    np.testing.assert_array_equal(x, copy)  # the input is not modified


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: windows(3)[:, :, :-1], r"7 features.*says 8"),
        (lambda: np.zeros((3, 9, 8), np.float32), r"9 bars.*says 8"),
        (lambda: windows(3).astype(np.float64), r"float64.*float32"),
        (lambda: windows(1)[0], "3-dimensional"),
    ],
)
def test_wrong_windows_are_a_schema_mismatch(
    predictor: Predictor, make: Callable[[], np.ndarray], message: str
) -> None:
    with pytest.raises(SchemaMismatch, match=message) as info:
        predictor.predict(make())
    assert "\n" not in str(info.value)
