"""ML strategies on synthetic predictions: thresholds with hysteresis, confidence and sizes, stops, regimes,
the ensemble's ML member, and the look-ahead audit with predictions."""

from __future__ import annotations

import numpy as np
import pytest

from domain.indicators import atr
from domain.model.candles import CandleSeries, FloatArray
from domain.model.errors import InvalidParameter
from domain.model.timeframe import Timeframe
from domain.regime.detector import HIGH, UP, RegimeParams, detect
from domain.strategies.api import Context, Strategy
from domain.strategies.audit import lookahead_bars
from domain.strategies.base import Signals
from domain.strategies.builtin.ensemble_weighted import EnsembleWeighted
from domain.strategies.builtin.ml_adaptive import MlAdaptive
from domain.strategies.builtin.ml_basic import MlBasic
from domain.strategies.builtin.ml_sentiment import MlSentiment
from domain.strategies.ml import (
    ML_MODEL_TYPES,
    PredictionSignal,
    hysteresis,
    smooth_predictions,
    synthetic_predictions,
)
from domain.strategies.registry import create_strategy, strategy_names
from tests.unit.domain.helpers import BTCUSDT, HOUR_MS, T0, random_walk_series


def _preds(values: list[float], n: int, at: int = 20, after: float = -0.001) -> FloatArray:
    """NaN for ``at`` bars, then ``values``, then ``after`` up to ``n``."""
    out = np.full(n, np.nan)
    out[at : at + len(values)] = values
    out[at + len(values) :] = after
    return out


SERIES = random_walk_series(200, seed=3)


def test_ml_strategies_are_registered_with_their_model_types() -> None:
    names = strategy_names()
    assert {"ml_basic", "ml_adaptive", "ml_sentiment"} <= set(names)
    assert create_strategy("ml_basic").model_type == "basic"
    assert create_strategy("ml_adaptive").model_type == "basic"
    assert create_strategy("ml_sentiment").model_type == "sentiment"
    assert create_strategy("ema_trend").model_type is None
    assert set(ML_MODEL_TYPES) == {"basic", "sentiment"}


def test_entry_at_threshold_hold_in_between_exit_below_exit_threshold() -> None:
    p = dict(entry=0.002, exit=0.0, atr_stop=0.0)
    #                 below  entry  between  between  exit   between  entry
    values = [0.001, 0.002, 0.0015, 0.0001, -0.0001, 0.0015, 0.003]
    sig = MlBasic(p).signals(SERIES, Context(predictions=_preds(values, len(SERIES))))
    at = 20
    # entries are level-triggered: every bar of the long state (the engine enters only when flat)
    assert np.flatnonzero(sig.long_entry).tolist() == [at + 1, at + 2, at + 3, at + 6]
    assert np.flatnonzero(sig.long_exit).tolist() == [at + 4, at + 7]
    assert not sig.short_entry.any()


def test_nan_predictions_mean_no_position() -> None:
    preds = np.full(len(SERIES), np.nan)
    preds[30:40] = 0.01
    sig = MlBasic().signals(SERIES, Context(predictions=preds))
    assert np.flatnonzero(sig.long_entry).tolist() == list(range(30, 40))
    assert np.flatnonzero(sig.long_exit).tolist() == [40]


def test_a_model_already_bullish_at_the_start_enters_after_the_warmup() -> None:
    preds = np.full(len(SERIES), 0.01)
    sig = MlBasic(atr_period=14).signals(SERIES, Context(predictions=preds))
    assert np.flatnonzero(sig.long_entry)[0] == sig.warmup == 15


def test_confidence_and_size_grow_with_the_prediction() -> None:
    p = dict(entry=0.001, scale=0.004, size=0.8, min_size=0.25)
    preds = np.full(len(SERIES), np.nan)
    preds[30:] = np.linspace(-0.006, 0.006, len(SERIES) - 30)
    sig = MlBasic(p).signals(SERIES, Context(predictions=preds))
    assert sig.confidence is not None
    expected = np.clip(np.abs(np.nan_to_num(preds)) / 0.004, 0, 1)
    np.testing.assert_allclose(sig.confidence, expected)
    np.testing.assert_allclose(sig.size, 0.8 * np.clip(expected, 0.25, 1.0))
    assert sig.size.max() == pytest.approx(0.8)
    assert sig.size.min() == pytest.approx(0.2)


def test_atr_stop_like_ema_trend() -> None:
    p = dict(atr_period=14, atr_stop=2.5)
    sig = MlBasic(p).signals(SERIES, Context(predictions=synthetic_predictions(len(SERIES))))
    expected = 2.5 * atr(SERIES.high, SERIES.low, SERIES.close, 14)
    np.testing.assert_allclose(sig.stop_distance, expected)


def test_no_decision_before_the_warmup() -> None:
    preds = np.full(len(SERIES), 0.01)
    sig = MlBasic(atr_period=14).signals(SERIES, Context(predictions=preds))
    assert not sig.long_entry[:15].any()


def test_predictions_are_required_and_aligned() -> None:
    with pytest.raises(InvalidParameter, match="predictions"):
        MlBasic().signals(SERIES, Context())
    with pytest.raises(InvalidParameter, match="one prediction per bar"):
        MlBasic().signals(SERIES, Context(predictions=np.zeros(len(SERIES) - 1)))


@pytest.mark.parametrize(
    "overrides",
    [{"entry": 0.0}, {"entry": -0.1}, {"exit": 0.002, "entry": 0.001}, {"exit": -0.001, "entry": 0.001},
     {"scale": 0.0}, {"smooth": 0}, {"size": 0.0}, {"min_size": 1.5}, {"atr_stop": -1.0}, {"entry": float("nan")}],
)  # fmt: skip
def test_parameter_validation(overrides: dict[str, float]) -> None:
    with pytest.raises(InvalidParameter):
        MlBasic(**overrides)


def test_ml_sentiment_applies_ml_basic_rules_to_its_own_model() -> None:
    preds = synthetic_predictions(len(SERIES), seed=4)
    a = MlBasic().signals(SERIES, Context(predictions=preds))
    b = MlSentiment().signals(SERIES, Context(predictions=preds))
    for name in ("long_entry", "long_exit", "stop_distance", "size"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert MlSentiment().model_type == "sentiment"


def test_smoothing_is_an_ema_seeded_with_the_first_prediction_and_restarts_after_a_hole() -> None:
    values = np.array([np.nan, 1.0, 0.0, 0.0, np.nan, 2.0, 2.0])
    out = smooth_predictions(values, 3)  # alpha 0.5
    np.testing.assert_allclose(out, [np.nan, 1.0, 0.5, 0.25, np.nan, 2.0, 2.0])
    np.testing.assert_array_equal(smooth_predictions(values, 1), values)


def test_hysteresis_never_long_and_short_at_once() -> None:
    rng = np.random.default_rng(5)
    score = rng.normal(0, 1, 2000)
    score[rng.random(2000) < 0.05] = np.nan
    direction = hysteresis(score, 0.5, -0.2, short=True)
    assert set(np.unique(direction).tolist()) <= {-1, 0, 1}
    long_on = direction == 1
    assert np.all(score[long_on & ~np.isnan(score)] >= -0.2)
    starts = np.flatnonzero(long_on & ~np.concatenate(([False], long_on[:-1])))
    assert np.all(score[starts] >= 0.5)
    short_starts = np.flatnonzero((direction == -1) & ~np.concatenate(([False], direction[:-1] == -1)))
    assert np.all(score[short_starts] <= -0.5)


def test_prediction_signal_shorts_when_asked() -> None:
    preds = np.array([np.nan, 0.002, 0.0, -0.002, -0.0005, 0.0])
    frame = PredictionSignal(entry=0.001, exit=0.0, short=True).generate(random_walk_series(6), preds)
    assert frame.direction.tolist() == [0, 1, 1, -1, -1, -1]


# -- ml_adaptive --------------------------------------------------------------------------------------------------


def _trending(n: int, drift: float, noise: float, seed: int = 2, vol_jump_at: int | None = None) -> CandleSeries:
    rng = np.random.default_rng(seed)
    sigma = np.full(n, noise)
    if vol_jump_at is not None:
        sigma[vol_jump_at:] = noise * 4
    close = 100 * np.exp(np.cumsum(drift + rng.normal(0, 1, n) * sigma))
    open_ = np.concatenate(([100.0], close[:-1]))
    high = np.maximum(open_, close) * 1.001
    low = np.minimum(open_, close) * 0.999
    times = T0 + HOUR_MS * np.arange(n, dtype=np.int64)
    return CandleSeries.from_arrays(BTCUSDT, Timeframe.H1, times, open_, high, low, close, np.ones(n))


def test_adaptive_enters_on_a_weaker_prediction_in_an_up_trend() -> None:
    n = RegimeParams().warmup + 600
    rising = _trending(n, drift=0.002, noise=0.003)
    assert (detect(rising).trend[-300:] == UP).all()
    preds = np.full(n, 0.0007)  # between the up-trend threshold (0.0005) and the base one (0.001)
    adaptive = MlAdaptive(entry=0.001, up_factor=0.5).signals(rising, Context(predictions=preds))
    basic = MlBasic(entry=0.001).signals(rising, Context(predictions=preds))
    assert adaptive.long_entry.any()
    assert not basic.long_entry.any()


def test_adaptive_needs_a_stronger_prediction_in_a_down_trend() -> None:
    n = RegimeParams().warmup + 600
    falling = _trending(n, drift=-0.002, noise=0.003)
    preds = np.full(n, np.nan)
    preds[-200:] = 0.0015  # above the base threshold, below 2x it
    adaptive = MlAdaptive(entry=0.001, down_factor=2.0).signals(falling, Context(predictions=preds))
    basic = MlBasic(entry=0.001).signals(falling, Context(predictions=preds))
    assert basic.long_entry.any()
    assert not adaptive.long_entry.any()


def test_adaptive_sizes_down_in_high_volatility() -> None:
    n = RegimeParams().warmup + 600
    series = _trending(n, drift=0.0, noise=0.003, vol_jump_at=n - 300)
    regime = detect(series)
    assert (regime.volatility[-100:] == HIGH).all()
    preds = np.full(n, 0.004)
    sig = MlAdaptive(high_vol_size=0.5, scale=0.004, size=1.0).signals(series, Context(predictions=preds))
    assert sig.size[-1] == pytest.approx(0.5)
    low = np.flatnonzero(regime.volatility == 0)
    assert sig.size[low[-1]] == pytest.approx(1.0)


def test_adaptive_warmup_covers_the_regime_detector() -> None:
    assert MlAdaptive().warmup >= RegimeParams().warmup


# -- ensemble ------------------------------------------------------------------------------------------------------


def test_ensemble_with_an_ml_member_needs_predictions_of_its_model_type() -> None:
    plain = EnsembleWeighted()
    assert plain.model_type is None
    with_ml = EnsembleWeighted(members="momentum:1,ml:2", model="sentiment")
    assert with_ml.model_type == "sentiment"
    with pytest.raises(InvalidParameter, match="predictions"):
        with_ml.signals(SERIES, Context())
    sig = with_ml.signals(SERIES, Context(predictions=synthetic_predictions(len(SERIES))))
    assert isinstance(sig, Signals)


def test_ensemble_ml_member_alone_follows_the_predictions() -> None:
    preds = _preds([0.002] * 30, len(SERIES), at=50)
    ens = EnsembleWeighted(members="ml:1", threshold=0.1, atr_stop=0.0)
    sig = ens.signals(SERIES, Context(predictions=preds))
    assert np.flatnonzero(sig.long_entry).tolist() == [50]
    assert np.flatnonzero(sig.long_exit).tolist() == [80]


def test_ensemble_refuses_an_unknown_member_or_model_type() -> None:
    with pytest.raises(InvalidParameter, match="ml"):
        EnsembleWeighted(members="oracle:1")
    with pytest.raises(InvalidParameter, match="model"):
        EnsembleWeighted(members="ml:1", model="magic")


# -- look-ahead audit with predictions --------------------------------------------------------------------------


class ReadsTomorrowsPrediction(Strategy):
    """Enters when the NEXT bar's prediction is positive: a leak through the predictions."""

    name = "leaky_ml"
    description = "uses predictions[t + 1]"

    @property
    def model_type(self) -> str | None:
        return "basic"

    def signals(self, candles: CandleSeries, context: Context) -> Signals:
        assert context.predictions is not None
        ahead = np.concatenate((context.predictions[1:], [np.nan]))
        return MlBasic(atr_stop=0.0).signals(candles, Context(predictions=ahead))


def test_the_audit_feeds_synthetic_predictions_and_catches_a_prediction_leak() -> None:
    candles = random_walk_series(800, seed=9)
    ends = list(range(100, 801, 7))
    assert lookahead_bars(MlBasic(), candles, ends) == []
    assert len(lookahead_bars(ReadsTomorrowsPrediction(), candles, ends)) > 10


def test_the_audit_uses_given_predictions() -> None:
    candles = random_walk_series(400, seed=9)
    preds = synthetic_predictions(400, seed=3)
    assert lookahead_bars(MlAdaptive(), candles, range(100, 401, 11), Context(predictions=preds)) == []
