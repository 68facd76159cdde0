"""Dataset: windows over complete feature rows, next-bar targets, time-ordered splits with an embargo."""

from __future__ import annotations

import numpy as np
import pytest

from domain.features import (
    FeatureSchemaError,
    InsufficientData,
    build_dataset,
    build_features,
    default_schema,
    next_returns,
    split_end_rows,
)
from domain.model.errors import DomainError
from tests.builders import random_walk

SCHEMA = default_schema(window=16, norm_window=60)
HOUR_MS = 3_600_000


def _rows(times: np.ndarray, candles_start: int) -> np.ndarray:
    return (times - candles_start) // HOUR_MS


def test_windows_and_targets_line_up_with_the_features_and_the_next_close() -> None:
    candles = random_walk(900, seed=4)
    data = build_dataset(candles, SCHEMA)
    features = build_features(candles, SCHEMA)
    target = next_returns(candles.close)
    for x, y, times in (
        (data.x_train, data.y_train, data.train_times),
        (data.x_val, data.y_val, data.val_times),
        (data.x_test, data.y_test, data.test_times),
    ):
        rows = _rows(times, int(candles.open_time[0]))
        assert x.dtype == np.float32 and y.dtype == np.float32 and x.shape == (len(rows), 16, SCHEMA.n_features)
        np.testing.assert_array_equal(x[0], features[rows[0] - 15 : rows[0] + 1].astype(np.float32))
        np.testing.assert_array_equal(x[-1], features[rows[-1] - 15 : rows[-1] + 1].astype(np.float32))
        np.testing.assert_array_equal(y, target[rows].astype(np.float32))
    assert np.isfinite(data.x_train).all() and np.isfinite(data.y_test).all()
    assert data.test_times[-1] == candles.open_time[-2]  # the last bar has no next close


def test_splits_are_in_time_order_and_no_window_overlaps_two_splits() -> None:
    candles = random_walk(1200, seed=9)
    data = build_dataset(candles, SCHEMA)
    t0 = int(candles.open_time[0])
    train, val, test = (_rows(t, t0) for t in (data.train_times, data.val_times, data.test_times))
    for earlier, later in ((train, val), (val, test)):
        assert np.all(np.diff(earlier) > 0) and np.all(np.diff(later) > 0)
        # the later split's first window starts after the earlier split's last target bar (end + 1)
        assert later[0] - SCHEMA.window + 1 > earlier[-1] + 1
        assert later[0] - earlier[-1] > SCHEMA.window  # the default embargo is one window
    n = len(train) + len(val) + len(test)
    assert abs(len(test) - 0.15 * (n + 2 * SCHEMA.window)) <= SCHEMA.window + 1
    assert len(val) == len(test)


def test_a_larger_embargo_widens_the_gaps() -> None:
    ends = np.arange(100, 1100, dtype=np.int64)
    train, val, test = split_end_rows(ends, 0.2, 0.2, embargo=50)
    assert val[0] - train[-1] > 50 and test[0] - val[-1] > 50
    assert len(val) == len(test) == 200
    assert set(train) | set(val) | set(test) <= set(ends)
    train0, val0, test0 = split_end_rows(ends, 0.2, 0.2, embargo=0)
    assert len(train0) + len(val0) + len(test0) == len(ends)


def test_too_short_data_is_a_clear_domain_error() -> None:
    with pytest.raises(InsufficientData, match=r"150 bars .* at least \d+ are needed") as info:
        build_dataset(random_walk(150), SCHEMA)
    assert isinstance(info.value, DomainError) and isinstance(info.value, FeatureSchemaError)
    with pytest.raises(InsufficientData, match="usable windows"):
        split_end_rows(np.arange(20, 30, dtype=np.int64), 0.15, 0.15, embargo=16)


def test_bad_fractions_are_refused() -> None:
    ends = np.arange(100, dtype=np.int64)
    with pytest.raises(FeatureSchemaError, match="val_fraction"):
        split_end_rows(ends, 0.0, 0.2, 1)
    with pytest.raises(FeatureSchemaError, match="leave some data"):
        split_end_rows(ends, 0.5, 0.5, 1)
