"""Training data: sliding windows over causal features, split by time with an embargo gap."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from domain.features.builder import build_features, feature_warmup, next_returns, sliding_windows, window_end_rows
from domain.features.schema import FeatureSchema, FeatureSchemaError
from domain.model.candles import CandleSeries, FloatArray, IntArray


@dataclass(frozen=True, slots=True)
class TrainingData:
    """Windows ready for a model: ``x`` shaped ``(n, window, features)`` float32, ``y`` shaped ``(n,)``.

    Splits are in time order with an embargo gap between them, so no window overlaps two splits.
    ``*_times`` give each window's last bar open time (UTC ms).
    """

    schema: FeatureSchema
    x_train: npt.NDArray[np.float32]
    y_train: npt.NDArray[np.float32]
    x_val: npt.NDArray[np.float32]
    y_val: npt.NDArray[np.float32]
    x_test: npt.NDArray[np.float32]
    y_test: npt.NDArray[np.float32]
    train_times: npt.NDArray[np.int64]
    val_times: npt.NDArray[np.int64]
    test_times: npt.NDArray[np.int64]


class InsufficientData(FeatureSchemaError):
    """Too few bars (or valid windows) to build the requested dataset; the message says how many there are."""


def _check_fraction(name: str, value: float) -> float:
    if not 0.0 < value < 1.0:
        raise FeatureSchemaError(f"{name} must be between 0 and 1 (exclusive), got {value}")
    return float(value)


def split_end_rows(
    end_rows: IntArray, val_fraction: float, test_fraction: float, embargo: int
) -> tuple[IntArray, IntArray, IntArray]:
    """Split ascending window end rows into train / validation / test, in time order.

    Validation and test get ``round(fraction * len(end_rows))`` windows (at least one each), counted from the
    end; between two splits, the end rows dropped form an embargo: the first end row of a split is more than
    ``embargo`` bars after the last end row of the split before it. With ``embargo >= window`` no window
    shares a bar with a window of another split, nor with the target bar of the previous split's last window.
    """
    val_fraction = _check_fraction("val_fraction", val_fraction)
    test_fraction = _check_fraction("test_fraction", test_fraction)
    if val_fraction + test_fraction >= 1.0:
        raise FeatureSchemaError("val_fraction + test_fraction must leave some data for training")
    if embargo < 0:
        raise FeatureSchemaError(f"embargo must be >= 0 bars, got {embargo}")
    ends = np.asarray(end_rows, dtype=np.int64)
    n = ends.shape[0]
    n_test = max(1, round(n * test_fraction))
    n_val = max(1, round(n * val_fraction))
    if n < n_test + n_val + 1:
        raise InsufficientData(f"only {n} usable windows: too few to split into train, validation and test")
    test = ends[n - n_test :]
    before_test = ends[: int(np.searchsorted(ends, test[0] - embargo, side="left"))]
    if before_test.shape[0] < n_val + 1:
        raise InsufficientData(
            f"only {n} usable windows: too few for a validation and training split with an embargo of {embargo} bars"
        )
    val = before_test[before_test.shape[0] - n_val :]
    train = before_test[: int(np.searchsorted(before_test, val[0] - embargo, side="left"))]
    if train.shape[0] == 0:
        raise InsufficientData(
            f"only {n} usable windows: nothing left for training after the validation and test splits and an "
            f"embargo of {embargo} bars"
        )
    return train, val, test


def build_dataset(
    candles: CandleSeries,
    schema: FeatureSchema,
    sentiment: FloatArray | None = None,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    embargo: int | None = None,
) -> TrainingData:
    """Windows over :func:`~domain.features.builder.build_features` with the next-bar return as target.

    Every window end row whose window is complete (no NaN row) and whose target is known (not the last bar)
    is used once, split by :func:`split_end_rows` with an embargo of ``embargo`` bars (default: the schema's
    window, so no window overlaps two splits). Raises :class:`InsufficientData` when the candles are too
    short, :class:`FeatureSchemaError` for a bad schema or bad sentiment values.
    """
    if embargo is None:
        embargo = schema.window
    warmup = feature_warmup(schema)
    needed = warmup + schema.window + 2 * embargo + 3
    if len(candles) < needed:
        raise InsufficientData(
            f"{len(candles)} bars of {candles.symbol} {candles.timeframe.value}: at least {needed} are needed "
            f"(feature warm-up {warmup}, window {schema.window}, embargo {embargo} bars twice, 3 windows)"
        )
    features = build_features(candles, schema, sentiment)
    target = next_returns(candles.close)
    ends = window_end_rows(features, schema.window)
    ends = ends[~np.isnan(target[ends])]
    train, val, test = split_end_rows(ends, val_fraction, test_fraction, embargo)

    def x(rows: IntArray) -> npt.NDArray[np.float32]:
        return sliding_windows(features, schema.window, rows)

    def y(rows: IntArray) -> npt.NDArray[np.float32]:
        return target[rows].astype(np.float32)

    times = candles.open_time
    return TrainingData(
        schema=schema,
        x_train=x(train),
        y_train=y(train),
        x_val=x(val),
        y_val=y(val),
        x_test=x(test),
        y_test=y(test),
        train_times=times[train].copy(),
        val_times=times[val].copy(),
        test_times=times[test].copy(),
    )
