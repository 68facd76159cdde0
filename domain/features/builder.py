"""Model features from candles (and optional daily sentiment): causal, normalised with past statistics only.

Row ``t`` of :func:`build_features` depends on bars ``<= t`` only (tested by computing on prefixes). Every
column is first computed raw, then normalised:

- ``rolling_zscore`` (the schema's ``normalisation``): ``(x[t] - mean) / std`` over the ``norm_window`` raw
  values ending at bar ``t`` (bar ``t`` included; population std), clipped to ``±params["clip"]``; a flat
  window (std below ``1e-12`` times the mean's scale) gives 0;
- columns listed in ``params["fixed_scale"]`` are already on a bounded scale (RSI, Fear & Greed) and are
  only rescaled to about ``[-1, 1]`` (``(value - 50) / 50``), so the absolute level (extreme fear, an
  overbought RSI) stays visible to the model.

Rows before :func:`feature_warmup` are NaN, and so is any row where a column is NaN (e.g. bars before the
first known sentiment day): a row is either complete or all NaN. Recursive indicators (EMA, RSI, ATR) carry
their seed from the series' first bar, so features computed over a later start differ in the last bits
until the seed has faded (see :mod:`domain.indicators.base`); compute over the same history for identical
values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from domain.features.schema import FeatureSchema, FeatureSchemaError
from domain.indicators import atr, bollinger, ema, rsi
from domain.model.candles import CandleSeries, FloatArray, IntArray

NORMALISATION = "rolling_zscore"

BASIC_FEATURES: tuple[str, ...] = (
    "log_return",  # log(close[t] / close[t-1])
    "hl_range",  # log(high / low)
    "body",  # (close - open) / (high - low), 0 on a flat bar
    "close_ema_fast",  # close / EMA(close, ema_fast) - 1
    "close_ema_slow",  # close / EMA(close, ema_slow) - 1
    "rsi",  # (RSI(close, rsi_period) - 50) / 50, fixed scale
    "atr_pct",  # ATR(atr_period) / close
    "log_volume",  # log(1 + volume); its rolling z-score is a volume z-score
)
SENTIMENT_FEATURES: tuple[str, ...] = ("fear_greed",)  # (index - 50) / 50, fixed scale; forward-filled

DEFAULT_PARAMS: dict[str, Any] = {
    "ema_fast": 12,
    "ema_slow": 48,
    "rsi_period": 14,
    "atr_period": 14,
    "clip": 5.0,
    "fixed_scale": ["rsi", "fear_greed"],
}


def default_schema(sentiment: bool = False, window: int = 120, norm_window: int = 500) -> FeatureSchema:
    """The schema of atb's models: :data:`BASIC_FEATURES` (+ ``fear_greed`` with ``sentiment``), normalised
    with a past-only rolling z-score over ``norm_window`` bars, values clipped at ±5."""
    names = BASIC_FEATURES + (SENTIMENT_FEATURES if sentiment else ())
    return FeatureSchema(
        names=names,
        window=window,
        normalisation=NORMALISATION,
        norm_window=norm_window,
        params=dict(DEFAULT_PARAMS, fixed_scale=list(DEFAULT_PARAMS["fixed_scale"])),
        sentiment=sentiment,
    )


def _param_int(params: Mapping[str, Any], key: str) -> int:
    value = params.get(key, DEFAULT_PARAMS[key])
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise FeatureSchemaError(f"feature parameter {key} must be a positive integer, got {value!r}")
    return value


def _clip(params: Mapping[str, Any]) -> float:
    value = params.get("clip", DEFAULT_PARAMS["clip"])
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise FeatureSchemaError(f"feature parameter clip must be a positive number, got {value!r}")
    return float(value)


def _fixed_scale(schema: FeatureSchema) -> frozenset[str]:
    raw = schema.params.get("fixed_scale", DEFAULT_PARAMS["fixed_scale"])
    if not isinstance(raw, list | tuple) or not all(isinstance(n, str) for n in raw):
        raise FeatureSchemaError(f"feature parameter fixed_scale must be a list of names, got {raw!r}")
    return frozenset(raw)


def _raw_warmup(name: str, params: Mapping[str, Any]) -> int:
    """Index of the first valid raw value of a column (sentiment: 0, its own NaN handled separately)."""
    if name in ("hl_range", "body", "log_volume", "fear_greed"):
        return 0
    if name == "log_return":
        return 1
    if name == "close_ema_fast":
        return _param_int(params, "ema_fast") - 1
    if name == "close_ema_slow":
        return _param_int(params, "ema_slow") - 1
    if name == "rsi":
        return _param_int(params, "rsi_period")
    if name == "atr_pct":
        return _param_int(params, "atr_period")
    known = ", ".join(BASIC_FEATURES + SENTIMENT_FEATURES)
    raise FeatureSchemaError(f"unknown feature {name!r}; known features: {known}")


def _check_schema(schema: FeatureSchema) -> None:
    if schema.normalisation != NORMALISATION:
        raise FeatureSchemaError(f"unknown normalisation {schema.normalisation!r}; supported: {NORMALISATION}")
    if ("fear_greed" in schema.names) != schema.sentiment:
        raise FeatureSchemaError("the schema's sentiment flag and its fear_greed column disagree")
    _clip(schema.params)
    _fixed_scale(schema)


def feature_warmup(schema: FeatureSchema) -> int:
    """Number of leading bars whose feature row is NaN (the index of the first complete row, sentiment
    aside: a sentiment column is also NaN before the first known day)."""
    _check_schema(schema)
    fixed = _fixed_scale(schema)
    warmups = [
        _raw_warmup(name, schema.params) + (0 if name in fixed else schema.norm_window - 1) for name in schema.names
    ]
    return max(warmups)


def _ratio_minus_one(num: FloatArray, den: FloatArray) -> FloatArray:
    with np.errstate(invalid="ignore", divide="ignore"):
        out: FloatArray = num / den - 1.0
    return out


def _raw_columns(candles: CandleSeries, params: Mapping[str, Any]) -> dict[str, Callable[[], FloatArray]]:
    o, h, low, c, v = candles.open, candles.high, candles.low, candles.close, candles.volume

    def log_return() -> FloatArray:
        out = np.full(c.shape[0], np.nan)
        out[1:] = np.log(c[1:] / c[:-1])
        return out

    def hl_range() -> FloatArray:
        out: FloatArray = np.log(h / low)
        return out

    def body() -> FloatArray:
        rng = h - low
        with np.errstate(invalid="ignore", divide="ignore"):
            out: FloatArray = np.where(rng > 0.0, (c - o) / rng, 0.0)
        return out

    def rsi_scaled() -> FloatArray:
        out: FloatArray = (rsi(c, _param_int(params, "rsi_period")) - 50.0) / 50.0
        return out

    def atr_pct() -> FloatArray:
        out: FloatArray = atr(h, low, c, _param_int(params, "atr_period")) / c
        return out

    def log_volume() -> FloatArray:
        out: FloatArray = np.log1p(np.maximum(v, 0.0))
        return out

    return {
        "log_return": log_return,
        "hl_range": hl_range,
        "body": body,
        "close_ema_fast": lambda: _ratio_minus_one(c, ema(c, _param_int(params, "ema_fast"))),
        "close_ema_slow": lambda: _ratio_minus_one(c, ema(c, _param_int(params, "ema_slow"))),
        "rsi": rsi_scaled,
        "atr_pct": atr_pct,
        "log_volume": log_volume,
    }


def rolling_zscore(values: FloatArray, window: int, clip: float) -> FloatArray:
    """Past-only z-score: ``(x[t] - mean) / std`` over the ``window`` values ending at ``t``, clipped to
    ``±clip``; NaN until ``window`` valid values have been seen (leading NaNs are skipped); 0 on a flat window."""
    x = np.asarray(values, dtype=np.float64)
    out = np.full(x.shape[0], np.nan)
    valid = np.flatnonzero(~np.isnan(x))
    if valid.size == 0:
        return out
    first = int(valid[0])
    tail = x[first:]
    if tail.shape[0] < window or np.isnan(tail).any():
        if np.isnan(tail).any():
            raise FeatureSchemaError("a feature column has a NaN after its warm-up")
        return out
    upper, middle, _ = bollinger(tail, window, 1.0)
    std = upper - middle
    scale = np.maximum(np.abs(middle), 1.0) * 1e-12
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(std > scale, (tail - middle) / std, 0.0)
    z[np.isnan(middle)] = np.nan
    out[first:] = np.clip(z, -clip, clip)
    return out


def _forward_fill(values: FloatArray) -> FloatArray:
    """Each NaN replaced by the last value before it (leading NaNs stay NaN)."""
    idx = np.where(np.isnan(values), 0, np.arange(values.shape[0]))
    np.maximum.accumulate(idx, out=idx)
    out: FloatArray = values[idx]
    if np.isnan(values[0]):
        first = np.flatnonzero(~np.isnan(values))
        out[: int(first[0]) if first.size else values.shape[0]] = np.nan
    return out


def build_features(candles: CandleSeries, schema: FeatureSchema, sentiment: FloatArray | None = None) -> FloatArray:
    """Features shaped ``(len(candles), n_features)`` float64, columns in schema order.

    ``sentiment``: for sentiment schemas, the 0..100 index value known at each bar (one per bar, as the
    ``Sentiment`` port's ``values_at`` gives it); a NaN (missing day) takes the last known value
    (forward-fill), leading NaNs leave their rows NaN. Rows before :func:`feature_warmup` are NaN, as is
    any row with a NaN column. Causal: row ``t`` depends on bars ``<= t`` only.

    Raises :class:`FeatureSchemaError` for an unknown feature name or normalisation, or a sentiment schema
    without (or with a wrongly sized) sentiment array.
    """
    warmup = feature_warmup(schema)
    n = len(candles)
    clip = _clip(schema.params)
    fixed = _fixed_scale(schema)
    raw = _raw_columns(candles, schema.params)
    sent: FloatArray | None = None
    if schema.sentiment:
        if sentiment is None:
            raise FeatureSchemaError("this schema has a sentiment column: pass sentiment values for every bar")
        sent = np.asarray(sentiment, dtype=np.float64)
        if sent.shape != (n,):
            raise FeatureSchemaError(f"sentiment has shape {sent.shape}; expected one value per bar ({n},)")
    out = np.empty((n, schema.n_features), dtype=np.float64)
    for j, name in enumerate(schema.names):
        if name == "fear_greed":
            assert sent is not None
            column = (_forward_fill(sent) - 50.0) / 50.0
        elif name in raw:
            column = raw[name]()
        else:
            _raw_warmup(name, schema.params)  # raises for an unknown name
            raise FeatureSchemaError(f"feature {name!r} needs inputs this builder was not given")
        if name not in fixed:
            column = rolling_zscore(column, schema.norm_window, clip)
        out[:, j] = column
    out[: min(warmup, n)] = np.nan
    out[np.isnan(out).any(axis=1)] = np.nan
    return out


def window_end_rows(features: FloatArray, window: int) -> IntArray:
    """Rows ``t`` (ascending, int64) such that rows ``t - window + 1 .. t`` of ``features`` hold no NaN."""
    if window < 1:
        raise FeatureSchemaError(f"window must be at least 1, got {window}")
    rows = np.asarray(features)
    if rows.ndim != 2:
        raise FeatureSchemaError(f"features must be 2-dimensional (bars, features), got {rows.ndim} dimensions")
    valid = ~np.isnan(rows).any(axis=1)
    counts = np.concatenate(([0], np.cumsum(valid, dtype=np.int64)))
    n = rows.shape[0]
    if n < window:
        return np.empty(0, dtype=np.int64)
    full = counts[window:] - counts[: n - window + 1] == window
    ends: IntArray = np.flatnonzero(full).astype(np.int64) + (window - 1)
    return ends


def sliding_windows(features: FloatArray, window: int, end_rows: IntArray) -> npt.NDArray[np.float32]:
    """Windows shaped ``(len(end_rows), window, n_features)`` float32 (C-contiguous): window ``i`` holds rows
    ``end_rows[i] - window + 1 .. end_rows[i]``. End rows must lie in ``[window - 1, len(features))``."""
    rows = np.ascontiguousarray(features, dtype=np.float32)
    if rows.ndim != 2:
        raise FeatureSchemaError(f"features must be 2-dimensional (bars, features), got {rows.ndim} dimensions")
    ends = np.asarray(end_rows, dtype=np.int64)
    n, f = rows.shape
    if ends.size and (int(ends.min()) < window - 1 or int(ends.max()) >= n):
        raise FeatureSchemaError(f"window end rows must lie in [{window - 1}, {n}) for windows of {window} bars")
    if n < window:
        return np.empty((0, window, f), dtype=np.float32)
    view = np.lib.stride_tricks.as_strided(
        rows, shape=(n - window + 1, window, f), strides=(rows.strides[0], rows.strides[0], rows.strides[1]),
        writeable=False,
    )  # fmt: skip
    out: npt.NDArray[np.float32] = view[ends - (window - 1)]  # a gather: one contiguous copy
    return out


def next_returns(close: FloatArray) -> FloatArray:
    """The target: ``y[t] = close[t + 1] / close[t] - 1`` (the return from bar ``t``'s close to the next
    bar's close); NaN for the last bar."""
    c = np.asarray(close, dtype=np.float64)
    y = np.full(c.shape[0], np.nan)
    if c.shape[0] > 1:
        y[:-1] = c[1:] / c[:-1] - 1.0
    return y
