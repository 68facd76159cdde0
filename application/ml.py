"""Model predictions for strategies: features from candles (and sentiment), windows, the predictor.

One code path for backtest and live. A backtest predicts every window of the history in one batch
(:func:`predict_series`); live predicts the window ending at the latest bar (:func:`predict_latest`). For
the same candles (the same first bar: recursive indicators carry their seed from it) both give the same
value for the same bar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from application.ports.errors import ConfigurationError, SchemaMismatch
from application.ports.models import ModelInfo, ModelRegistry, PredictorFactory
from application.ports.predictor import InvalidPrediction, Predictor
from application.ports.sentiment import Sentiment
from domain.features import FeatureSchema, FeatureSchemaError
from domain.features.builder import build_features, default_schema, feature_warmup, sliding_windows, window_end_rows
from domain.model.candles import CandleSeries, FloatArray
from domain.model.timeframe import Timeframe

BATCH_CHUNK = 8192
"""Windows gathered per predictor call in :func:`predict_series` (bounds memory: 8192 x 120 x 9 float32 is
about 35 MB)."""

RANGE_KEYS = ("train_range", "val_range", "test_range")
"""metadata.json keys of the split ranges: ``[start_ms, end_ms)`` UTC, see :func:`split_range`."""


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def builder_schema(schema: FeatureSchema) -> FeatureSchema:
    """The schema this version of the feature builder produces for a model's choices (window, norm
    window, sentiment): what a registered model's schema must equal to be fed correctly."""
    return default_schema(sentiment=schema.sentiment, window=schema.window, norm_window=schema.norm_window)


def check_schema(info: ModelInfo, predictor: Predictor | None = None) -> None:
    """Refuse (``SchemaMismatch``, one line) a model whose features this atb would build differently, or
    whose predictor reads another schema than the registry's copy."""
    try:
        info.schema.require_same(builder_schema(info.schema))
        feature_warmup(info.schema)
    except FeatureSchemaError as e:
        raise SchemaMismatch(
            f"{info.ref} was trained on features this version of atb does not build ({e}); retrain it with atb train"
        ) from None
    if predictor is not None:
        try:
            info.schema.require_same(predictor.schema)
        except FeatureSchemaError as e:
            raise SchemaMismatch(f"{info.ref}: the loaded model disagrees with its registered schema ({e})") from None


def sentiment_values(schema: FeatureSchema, candles: CandleSeries, sentiment: Sentiment | None) -> FloatArray | None:
    """The sentiment column's input for ``candles`` when the schema has one (else None)."""
    if not schema.sentiment:
        return None
    if sentiment is None:
        raise ConfigurationError("this model reads market sentiment, but no sentiment source is configured")
    return np.asarray(sentiment.values_at(candles.open_time), dtype=np.float64)


def features_for(schema: FeatureSchema, candles: CandleSeries, sentiment: Sentiment | None) -> FloatArray:
    """The model's feature rows for every bar of ``candles`` (NaN before the warm-up)."""
    try:
        return build_features(candles, schema, sentiment_values(schema, candles, sentiment))
    except FeatureSchemaError as e:
        raise SchemaMismatch(str(e)) from None


def predict_series(
    predictor: Predictor,
    candles: CandleSeries,
    sentiment: Sentiment | None = None,
    first_row: int = 0,
    model: str | None = None,
) -> FloatArray:
    """One prediction per bar (float64; NaN where the bar ends no complete window), all windows of the
    history predicted in one batch (gathered in chunks of :data:`BATCH_CHUNK`). ``first_row``: predict only
    the windows ending at that row or later (NaN before it); the features still warm up on the whole history,
    so the values predicted are the same as without it. A prediction that is not finite is
    :class:`InvalidPrediction` naming ``model`` (default: the predictor's source)."""
    schema = predictor.schema
    features = features_for(schema, candles, sentiment)
    ends = window_end_rows(features, schema.window)
    ends = ends[ends >= first_row] if first_row > 0 else ends
    out = np.full(len(candles), np.nan)
    for start in range(0, ends.shape[0], BATCH_CHUNK):
        rows = ends[start : start + BATCH_CHUNK]
        out[rows] = _finite(
            predictor.predict(sliding_windows(features, schema.window, rows)), model or _name(predictor), candles, rows
        )
    return out


def _name(predictor: Predictor) -> str:
    return str(getattr(predictor, "source", None) or type(predictor).__name__)


def _finite(values: FloatArray, model: str, candles: CandleSeries, rows: Any) -> FloatArray:
    """The predictor's values, refused (:class:`InvalidPrediction`) unless all finite: whatever the predictor
    (the port promises finite values; this holds any implementation to it), no decision is taken on NaN or inf."""
    values = np.asarray(values, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise InvalidPrediction(
            f"model {model} predicted {values[bad[0]]} at {_day(int(candles.open_time[rows[bad[0]]]))} UTC "
            f"({bad.size} predictions not finite): the model is broken; retrain it (atb train) or pick another version"
        )
    return values


def predict_latest(predictor: Predictor, candles: CandleSeries, sentiment: Sentiment | None = None) -> float:
    """The prediction at the last bar of ``candles`` (live trading: one window). NaN when that bar ends no
    complete window. Equal to ``predict_series(predictor, candles)[-1]``."""
    schema = predictor.schema
    features = features_for(schema, candles, sentiment)
    last = len(candles) - 1
    first = last - schema.window + 1
    if first < 0 or np.isnan(features[first : last + 1]).any():
        return float("nan")
    rows = np.array([last], dtype=np.int64)
    values = predictor.predict(sliding_windows(features, schema.window, rows))
    return float(_finite(values, _name(predictor), candles, rows)[0])


def history_needed(schema: FeatureSchema) -> int:
    """Bars of history before the first prediction: the features' warm-up plus one window."""
    return feature_warmup(schema) + schema.window - 1


def split_range(metadata: dict[str, Any], key: str) -> tuple[int, int] | None:
    """A ``[start_ms, end_ms)`` range recorded in a model's metadata (None when absent or malformed)."""
    raw = metadata.get(key)
    if not isinstance(raw, list | tuple) or len(raw) != 2:
        return None
    try:
        start, end = int(raw[0]), int(raw[1])
    except (TypeError, ValueError):
        return None
    return (start, end) if start < end else None


IN_SAMPLE_PREFIX = "IN-SAMPLE:"
"""How an in-sample warning starts."""
LOOK_AHEAD_PREFIX = "LOOK-AHEAD:"
"""How the warning about a model trained on data from after the backtest starts."""


UNVERIFIED_PREFIX = "UNVERIFIED:"
"""How the warning about a model without complete provenance (``--allow-unverified-model``) starts."""

PROVENANCE = ("train_range", "val_range", "feature_schema_fingerprint", "data.sha256")
"""What a model's ``metadata.json`` must record to be *complete* (the one definition, docs/adr/0016-numbers.md):
its training and validation ranges (``[start_ms, end_ms)``, start before end: what the in-sample and look-ahead
checks compare a backtest's period with), the fingerprint of the feature schema it was trained on (equal to
its ``feature_schema.json``'s) and the SHA-256 of the candles it was trained on (``data.sha256``, 64 hex
digits). ``atb train`` writes all of them."""


def missing_provenance(info: ModelInfo) -> list[str]:
    """The :data:`PROVENANCE` entries that ``info``'s metadata lacks (or records malformed); [] when complete."""
    meta = info.metadata if isinstance(info.metadata, dict) else {}
    missing = [key for key in RANGE_KEYS[:2] if split_range(meta, key) is None]
    if meta.get("feature_schema_fingerprint") != info.schema.fingerprint:
        missing.append("feature_schema_fingerprint")
    data = meta.get("data")
    sha = data.get("sha256") if isinstance(data, dict) else None
    if not (isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)):
        missing.append("data.sha256")
    return missing


def unverified_note(info: ModelInfo, missing: list[str]) -> str:
    """The warning every report of a backtest on a model without complete provenance carries."""
    return (
        f"{UNVERIFIED_PREFIX} model {info.ref} does not record {', '.join(missing)} in its metadata "
        "(used with --allow-unverified-model): whether this backtest covers data the model learnt from cannot be "
        "checked, so its results may be in-sample"
    )


def is_warning(note: str) -> bool:
    """Whether a backtest note changes how its results should be read (reports show these prominently)."""
    return note.startswith((IN_SAMPLE_PREFIX, LOOK_AHEAD_PREFIX, UNVERIFIED_PREFIX))


def in_sample_note(info: ModelInfo, start_ms: int, end_ms: int) -> str | None:
    """A plain warning when ``[start_ms, end_ms)`` overlaps the data the model was trained or validated on, or
    lies wholly before it (the model then learnt from what came after: nobody had it at the time)."""
    train = split_range(info.metadata, "train_range")
    test = split_range(info.metadata, "test_range")
    out_of_sample = f"; its out-of-sample test period is {_day(test[0])} → {_day(test[1])} UTC" if test else ""
    overlaps = []
    for key, label in (("train_range", "trained"), ("val_range", "validated")):
        span = split_range(info.metadata, key)
        if span is not None and span[0] < end_ms and start_ms < span[1]:
            overlaps.append(f"{label} on {_day(span[0])} → {_day(span[1])}")
    if overlaps:
        return (
            f"{IN_SAMPLE_PREFIX} model {info.ref} was {' and '.join(overlaps)} UTC, and this backtest covers part "
            f"of that data, so its results flatter the model{out_of_sample}"
        )
    if train is not None and end_ms <= train[0]:
        return (
            f"{LOOK_AHEAD_PREFIX} model {info.ref} was trained on data from {_day(train[0])} UTC on, after this "
            f"backtest's period: it knows what came next, which nobody did at the time{out_of_sample}"
        )
    return None


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A resolved model and its predictor, schema checked."""

    info: ModelInfo
    predictor: Predictor
    unverified: tuple[str, ...] = ()  # what its metadata lacks (see PROVENANCE), loaded with allow_unverified


def load_model(
    registry: ModelRegistry,
    predictors: PredictorFactory,
    symbol: str,
    model_type: str,
    timeframe: Timeframe | None = None,
    version: str | None = None,
    as_of_ms: int | None = None,
    allow_unverified: bool = False,
) -> LoadedModel:
    """Resolve a model (named version, else latest at ``as_of_ms``, else latest), check that it was trained
    on ``timeframe`` and on the features this atb builds, and load it. A model whose metadata is not complete
    (:data:`PROVENANCE`) is refused (``ConfigurationError``) unless ``allow_unverified``."""
    info = registry.resolve(symbol, model_type, version, as_of_ms)
    missing = missing_provenance(info)
    if missing and not allow_unverified:
        raise ConfigurationError(
            f"model {info.ref} does not record {', '.join(missing)} in its metadata, so nobody can tell whether a "
            "backtest runs on data it learnt from; retrain it with atb train, or run it anyway with "
            "--allow-unverified-model (every report then says so)"
        )
    trained_on = info.metadata.get("timeframe")
    if timeframe is not None and trained_on is not None and trained_on != timeframe.value:
        raise ConfigurationError(f"model {info.ref} was trained on {trained_on} candles, not {timeframe.value}")
    check_schema(info)
    predictor = predictors(info)
    check_schema(info, predictor)
    return LoadedModel(info, predictor, tuple(missing))
