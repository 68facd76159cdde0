"""A model that predicts NaN or an infinity stops the run with one line naming it (issue #13, point 6): no
decision is ever taken on a prediction that is not finite."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest

from application.ml import predict_latest, predict_series
from application.ports.predictor import InvalidPrediction
from application.use_cases.run_backtest import BacktestRequest, RunBacktest
from domain.features.builder import default_schema
from domain.model.timeframe import Timeframe
from entrypoints.container import simulator
from tests.builders import random_walk
from tests.fakes.market_data import InMemoryMarketData
from tests.fakes.models import FakeModelRegistry, FakePredictor, fake_predictor_factory

CANDLES = random_walk(1200, seed=5)
SCHEMA = default_schema(window=16, norm_window=50)
T = CANDLES.open_time


def _ranges() -> dict[str, list[int]]:
    return {"train_range": [int(T[100]), int(T[600])], "val_range": [int(T[620]), int(T[800])],
            "test_range": [int(T[820]), int(T[-1]) + 1]}  # fmt: skip


@pytest.mark.parametrize("bias", [math.inf, -math.inf, math.nan])
def test_a_backtest_on_a_model_predicting_non_finite_values_fails_in_one_line(bias: float) -> None:
    registry = FakeModelRegistry()
    registry.add(str(CANDLES.symbol), "basic", "v1", SCHEMA, {**_ranges(), "fake_bias": bias})
    use_case = RunBacktest(InMemoryMarketData(CANDLES), simulator, registry, fake_predictor_factory())
    request = BacktestRequest("ml_basic", (CANDLES.symbol,), Timeframe.H1, Decimal(10_000))
    with pytest.raises(InvalidPrediction) as caught:
        use_case(request)
    message = str(caught.value)
    assert "\n" not in message
    assert f"{CANDLES.symbol}/basic/v1" in message and "not finite" in message


def test_one_bad_window_among_good_ones_is_found() -> None:
    class OneBad(FakePredictor):
        def predict(self, windows: np.ndarray) -> np.ndarray:
            out = super().predict(windows).copy()
            out[len(out) // 2] = math.inf
            return out

    with pytest.raises(InvalidPrediction, match=r"predicted inf .* \(1 predictions not finite\)"):
        predict_series(OneBad(SCHEMA), CANDLES, model="m")
    finite = predict_series(FakePredictor(SCHEMA), CANDLES)
    assert np.isfinite(finite[~np.isnan(finite)]).all() and not np.isnan(finite[-1])


def test_live_prediction_refuses_a_non_finite_value_too() -> None:
    with pytest.raises(InvalidPrediction):
        predict_latest(FakePredictor(SCHEMA, bias=math.inf), CANDLES)
    assert math.isfinite(predict_latest(FakePredictor(SCHEMA), CANDLES))
