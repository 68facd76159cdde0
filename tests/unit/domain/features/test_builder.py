"""Features: causal, NaN before the warm-up, windows and targets aligned, sentiment forward-filled."""

from __future__ import annotations

import numpy as np
import pytest

from domain.features import (
    BASIC_FEATURES,
    FeatureSchema,
    FeatureSchemaError,
    build_features,
    default_schema,
    feature_warmup,
    next_returns,
    rolling_zscore,
    sliding_windows,
    window_end_rows,
)
from tests.builders import random_walk

SMALL = default_schema(window=16, norm_window=60)
SMALL_SENT = default_schema(sentiment=True, window=16, norm_window=60)


def _sentiment(n: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = np.repeat(rng.integers(0, 101, n // 24 + 1).astype(np.float64), 24)[:n]
    values[:30] = np.nan  # before the first known day
    values[200:260] = np.nan  # missing days
    return values


def test_default_schema_lists_the_basic_features_and_a_sentiment_column() -> None:
    basic, sent = default_schema(), default_schema(sentiment=True)
    assert basic.names == BASIC_FEATURES and 6 <= basic.n_features <= 10
    assert sent.names == (*BASIC_FEATURES, "fear_greed") and sent.sentiment and not basic.sentiment
    assert basic.window == 120 and basic.normalisation == "rolling_zscore" and basic.norm_window == 500
    assert basic.dtype == "float32" and basic.target == "next_return"
    assert FeatureSchema.from_dict(sent.to_dict()) == sent


def test_shape_dtype_and_warmup_rows() -> None:
    candles = random_walk(600)
    f = build_features(candles, SMALL)
    warmup = feature_warmup(SMALL)
    assert f.shape == (600, SMALL.n_features) and f.dtype == np.float64
    assert np.isnan(f[:warmup]).all()
    assert np.isfinite(f[warmup:]).all()
    assert warmup == max(48 - 1, 14) + 60 - 1  # EMA(48) then a 60-bar z-score


def test_features_are_causal_prefix_computation_gives_the_same_rows() -> None:
    candles = random_walk(700, seed=11)
    sentiment = _sentiment(700)
    for schema, sent in ((SMALL, None), (SMALL_SENT, sentiment)):
        full = build_features(candles, schema, sent)
        for cut in (150, 333, 699):
            prefix = build_features(candles.slice(0, cut), schema, None if sent is None else sent[:cut])
            np.testing.assert_array_equal(prefix, full[:cut])


def test_changing_a_future_bar_leaves_earlier_rows_unchanged() -> None:
    candles = random_walk(500, seed=5)
    base = build_features(candles, SMALL)
    close = candles.close.copy()
    close[400:] *= 1.5
    from domain.model.candles import CandleSeries

    bumped = CandleSeries.from_arrays(
        candles.symbol, candles.timeframe, candles.open_time, candles.open,
        np.maximum(candles.high, close), np.minimum(candles.low, close), close, candles.volume,
    )  # fmt: skip
    changed = build_features(bumped, SMALL)
    np.testing.assert_array_equal(changed[:400], base[:400])
    assert not np.array_equal(changed[400:], base[400:])


def test_values_are_clipped_and_roughly_standardised() -> None:
    schema = default_schema(window=16, norm_window=60)
    schema = FeatureSchema(**{**_fields(schema), "params": {**schema.params, "clip": 1.5}})
    f = build_features(random_walk(800), schema)
    rows = f[feature_warmup(schema) :]
    assert np.abs(rows).max() <= 1.5
    assert np.abs(rows).max() == 1.5  # something did hit the clip


def _fields(schema: FeatureSchema) -> dict[str, object]:
    return {k: getattr(schema, k) for k in ("names", "window", "normalisation", "norm_window", "params", "sentiment")}


def test_rolling_zscore_uses_the_past_window_only() -> None:
    x = np.array([np.nan, np.nan, 1.0, 2.0, 3.0, 10.0, 10.0, 10.0, 10.0])
    z = rolling_zscore(x, 3, clip=5.0)
    assert np.isnan(z[:4]).all()
    w = x[2:5]
    assert z[4] == pytest.approx((3.0 - w.mean()) / w.std())
    assert z[8] == 0.0  # a flat window


def test_unknown_feature_and_normalisation_are_schema_errors() -> None:
    candles = random_walk(300)
    bad = FeatureSchema(("log_return", "moon_phase"), 16, "rolling_zscore", 60)
    with pytest.raises(FeatureSchemaError, match="unknown feature 'moon_phase'"):
        build_features(candles, bad)
    with pytest.raises(FeatureSchemaError, match="normalisation"):
        build_features(candles, FeatureSchema(("log_return",), 16, "minmax", 60))


def test_a_sentiment_schema_needs_one_sentiment_value_per_bar() -> None:
    candles = random_walk(300)
    with pytest.raises(FeatureSchemaError, match="sentiment"):
        build_features(candles, SMALL_SENT)
    with pytest.raises(FeatureSchemaError, match=r"shape \(299,\)"):
        build_features(candles, SMALL_SENT, np.full(299, 50.0))


def test_missing_sentiment_days_are_forward_filled_and_leading_ones_stay_nan() -> None:
    candles = random_walk(400)
    sentiment = _sentiment(400)
    f = build_features(candles, SMALL_SENT, sentiment)
    col = SMALL_SENT.names.index("fear_greed")
    warm = feature_warmup(SMALL_SENT)
    assert np.isfinite(f[warm:]).all()  # rows 200..259 (missing days) still complete
    assert f[230, col] == (sentiment[199] - 50.0) / 50.0
    early = build_features(candles, FeatureSchema(("hl_range", "fear_greed"), 4, "rolling_zscore", 3, sentiment=True),
                           sentiment)  # fmt: skip
    assert np.isnan(early[:30]).all() and np.isfinite(early[30:]).all()


def test_window_end_rows_skip_any_window_touching_a_nan_row() -> None:
    f = np.ones((12, 2))
    f[:3] = np.nan
    f[7] = np.nan
    assert window_end_rows(f, 3).tolist() == [5, 6, 10, 11]
    assert window_end_rows(f, 20).tolist() == []


def test_sliding_windows_end_at_their_rows_in_float32() -> None:
    f = np.arange(40, dtype=np.float64).reshape(20, 2)
    ends = np.array([3, 4, 19], dtype=np.int64)
    w = sliding_windows(f, 4, ends)
    assert w.shape == (3, 4, 2) and w.dtype == np.float32 and w.flags.c_contiguous
    for i, end in enumerate(ends):
        np.testing.assert_array_equal(w[i], f[end - 3 : end + 1].astype(np.float32))
    with pytest.raises(FeatureSchemaError):
        sliding_windows(f, 4, np.array([2]))


def test_next_returns_align_each_bar_with_the_following_close() -> None:
    close = np.array([100.0, 110.0, 99.0, 99.0])
    y = next_returns(close)
    np.testing.assert_allclose(y[:3], [0.1, -0.1, 0.0])
    assert np.isnan(y[3])
