"""The vectorised text of bulk writes says exactly what the value-by-value path says."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np

from adapters.persistence.bulk import copy_buffer, float_copy_texts, float_texts, utc_texts
from adapters.persistence.types import exact_texts


def _curve() -> list[float]:
    rng = np.random.default_rng(7)
    values = np.repeat(rng.normal(10_000, 500, 400), rng.integers(1, 6, 400))  # runs of equal values
    values[::37] = np.nan
    values[5::41] = -np.inf
    values[9::53] = 1e-25  # needs rounding to 18 places
    values[11::59] = 0.1 + 0.2
    return [float(v) for v in values]


def test_float_texts_match_exact_texts_value_by_value() -> None:
    values = _curve()
    expected = [exact_texts([v])[0] for v in values]
    assert float_texts(values) == expected
    assert float_texts(np.array(values)) == expected
    assert float_copy_texts(values).tolist() == [b"\\N" if e is None else e.encode() for e in expected]
    assert float_texts([]) == []


def test_utc_texts_write_every_millisecond_like_datetime() -> None:
    rng = np.random.default_rng(3)
    ms = np.sort(rng.integers(0, 253_402_300_799_999, 2000)).astype(np.int64)
    ms[:3] = [0, 86_399_999, 951_782_400_000]  # the epoch, a day's last ms, 2000-02-29
    texts = utc_texts(ms, b"+00")
    assert texts is not None
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    for value, text in zip(ms.tolist(), texts.tolist(), strict=True):
        when = epoch + timedelta(milliseconds=value)
        assert text.decode() == when.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "+00"
    assert utc_texts(np.array([-1], dtype=np.int64), b"") is None  # before 1970: the caller's slow path


def test_copy_buffer_is_tab_separated_rows() -> None:
    ids = np.array([b"12", b"12"])
    texts = float_copy_texts([1.5, math.nan])
    assert copy_buffer([ids, texts]) == b"12\t1.5\n12\t\\N\n"
