"""CandleSeries: validation rules (first bad row), immutability, ranges, gaps and timeframe inference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.model.candles import CandleSeries, find_gaps, infer_timeframe
from domain.model.errors import DomainError, InvalidCandles
from domain.model.timeframe import Timeframe
from tests.unit.domain.helpers import BTCUSDT, HOUR_MS, T0

N = 8
COLUMNS = ("open", "high", "low", "close", "volume")


def good_columns(n: int = N) -> dict[str, np.ndarray]:
    """Valid hourly bars: open 100+i, close 101+i, high 103+i, low 99+i."""
    i = np.arange(n, dtype=np.float64)
    return {
        "time": T0 + HOUR_MS * np.arange(n, dtype=np.int64),
        "open": 100.0 + i,
        "high": 103.0 + i,
        "low": 99.0 + i,
        "close": 101.0 + i,
        "volume": 5.0 + i,
    }


def build(cols: dict[str, np.ndarray], tf: Timeframe = Timeframe.H1) -> CandleSeries:
    return CandleSeries.from_arrays(
        BTCUSDT, tf, cols["time"], cols["open"], cols["high"], cols["low"], cols["close"], cols["volume"]
    )


def corrupt(cols: dict[str, np.ndarray], row: int, kind: str) -> None:
    """Break one rule at ``row`` only (rows before it stay valid)."""
    if kind.startswith("nan:"):
        cols[kind[4:]][row] = np.nan
    elif kind.startswith("inf:"):
        cols[kind[4:]][row] = np.inf
    elif kind.startswith("nonpos:"):
        name = kind[7:]
        cols[name][row] = 0.0 if name != "low" else -1.0
    elif kind == "negative volume":
        cols["volume"][row] = -0.5
    elif kind == "high below":
        cols["high"][row] = cols["close"][row] - 0.5  # still above open and low
    elif kind == "low above":
        cols["low"][row] = cols["open"][row] + 0.5  # still below close and high
    elif kind == "duplicate":
        cols["time"][row] = cols["time"][row - 1]
    elif kind == "backwards":
        cols["time"][row] = cols["time"][row - 1] - HOUR_MS // 2
    else:  # pragma: no cover
        raise AssertionError(kind)


# (kind, words the rule must contain)
RULES = [
    *[(f"nan:{c}", (c, "NaN")) for c in COLUMNS],
    *[(f"inf:{c}", (c, "infinite")) for c in COLUMNS],
    *[(f"nonpos:{c}", (c, "not positive")) for c in ("open", "high", "low", "close")],
    ("negative volume", ("volume", "negative")),
    ("high below", ("high", "below")),
    ("low above", ("low", "above")),
    ("duplicate", ("duplicate",)),
    ("backwards", ("backwards",)),
]


@pytest.mark.parametrize(("kind", "words"), RULES, ids=[r[0] for r in RULES])
@pytest.mark.parametrize("row", [1, 4, N - 1])
def test_each_rule_reports_its_row_and_rule(kind, words, row):
    cols = good_columns()
    corrupt(cols, row, kind)
    with pytest.raises(InvalidCandles) as info:
        build(cols)
    assert info.value.row == row
    for word in words:
        assert word in info.value.rule
    assert str(info.value).startswith(f"row {row}:")


@pytest.mark.parametrize("kind", [k for k, _ in RULES if k not in ("duplicate", "backwards")])
def test_rules_apply_to_row_zero(kind):
    cols = good_columns()
    corrupt(cols, 0, kind)
    with pytest.raises(InvalidCandles) as info:
        build(cols)
    assert info.value.row == 0


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.integers(1, N - 1), st.sampled_from([k for k, _ in RULES]), min_size=1, max_size=N - 1))
def test_the_first_bad_row_is_reported(bad):
    cols = good_columns()
    for row, kind in sorted(bad.items()):
        corrupt(cols, row, kind)
    with pytest.raises(InvalidCandles) as info:
        build(cols)
    assert info.value.row == min(bad)


def test_empty_and_ragged_inputs_are_refused():
    cols = good_columns()
    with pytest.raises(DomainError):
        build({k: v[:0] for k, v in cols.items()})
    cols["close"] = cols["close"][:-1]
    with pytest.raises(DomainError):
        build(cols)


def test_zero_volume_and_flat_bars_are_valid():
    cols = good_columns()
    cols["volume"][2] = 0.0
    for name in ("open", "high", "low", "close"):
        cols[name][3] = 50.0
    series = build(cols)
    assert len(series) == N
    assert series.candle(3).high == 50.0


def test_arrays_are_read_only_after_build():
    series = build(good_columns())
    arrays = (series.open_time, series.open, series.high, series.low, series.close, series.volume)
    for arr in arrays:
        assert not arr.flags.writeable
    with pytest.raises(ValueError):
        series.close[0] = -1.0
    with pytest.raises(ValueError):
        series.open_time[0] = 0
    assert series.open.dtype == np.float64
    assert series.open_time.dtype == np.int64


def test_lists_are_accepted_and_converted():
    cols = {k: v.tolist() for k, v in good_columns().items()}
    series = build(cols)
    assert series.close.tolist() == cols["close"]
    assert series.start_ms == T0
    assert series.end_ms == T0 + N * HOUR_MS


def test_series_does_not_alias_the_callers_arrays():
    cols = good_columns()
    base = np.stack([cols["open"], cols["high"], cols["low"], cols["close"], cols["volume"]])  # C-contiguous rows
    series = CandleSeries.from_arrays(BTCUSDT, Timeframe.H1, cols["time"], base[0], base[1], base[2], base[3], base[4])
    base[3, 0] = -1.0  # a negative close, which validation would have refused
    assert series.close[0] == 101.0


def test_between_is_half_open():
    series = build(good_columns())
    sub = series.between(T0 + 2 * HOUR_MS, T0 + 5 * HOUR_MS)
    assert sub.open_time.tolist() == [T0 + h * HOUR_MS for h in (2, 3, 4)]
    assert series.between(T0 + 2 * HOUR_MS + 1, None).start_ms == T0 + 3 * HOUR_MS
    assert len(series.between(None, None)) == N
    assert len(series.between(T0 + 5 * HOUR_MS, T0 + 5 * HOUR_MS)) == 0
    assert len(series.between(T0 + 5 * HOUR_MS, T0 + 2 * HOUR_MS)) == 0


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(st.none(), st.integers(T0 - 2 * HOUR_MS, T0 + (N + 2) * HOUR_MS)),
    st.one_of(st.none(), st.integers(T0 - 2 * HOUR_MS, T0 + (N + 2) * HOUR_MS)),
)
def test_between_matches_a_mask(start, end):
    series = build(good_columns())
    times = series.open_time.tolist()
    expected = [t for t in times if (start is None or t >= start) and (end is None or t < end)]
    sub = series.between(start, end)
    assert sub.open_time.tolist() == expected
    idx = [times.index(t) for t in expected]
    assert sub.close.tolist() == [series.close[i] for i in idx]


def test_slice_and_candle():
    series = build(good_columns())
    part = series.slice(2, 5)
    assert len(part) == 3
    assert part.candle(0) == series.candle(2)
    assert part.candle(0).open == 102.0
    assert part.symbol == series.symbol
    assert part.timeframe is series.timeframe


def test_gaps_on_a_hand_made_series():
    hours = [0, 1, 2, 5, 6, 10, 11]
    cols = good_columns(len(hours))
    cols["time"] = T0 + HOUR_MS * np.array(hours, dtype=np.int64)
    report = build(cols).gaps()
    assert report.has_gaps
    assert report.gaps == 2
    assert report.missing_bars == 2 + 3
    assert report.largest_missing_bars == 3
    assert report.largest_gap_start == T0 + 6 * HOUR_MS


def test_no_gaps():
    report = build(good_columns()).gaps()
    assert not report.has_gaps
    assert (report.gaps, report.missing_bars, report.largest_missing_bars) == (0, 0, 0)
    assert report.largest_gap_start is None
    single = find_gaps(np.array([T0], dtype=np.int64), HOUR_MS)
    assert not single.has_gaps


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=40))
def test_find_gaps_matches_a_loop(steps):
    times = T0 + HOUR_MS * np.cumsum([0, *steps]).astype(np.int64)
    holes = [(int(times[i]), s - 1) for i, s in enumerate(steps) if s > 1]
    report = find_gaps(times, HOUR_MS)
    assert report.gaps == len(holes)
    assert report.missing_bars == sum(m for _, m in holes)
    if holes:
        largest = max(m for _, m in holes)
        assert report.largest_missing_bars == largest
        assert (report.largest_gap_start, largest) in holes
    else:
        assert report.largest_missing_bars == 0
        assert report.largest_gap_start is None


def test_infer_timeframe():
    hourly = T0 + HOUR_MS * np.array([0, 1, 2, 3, 7, 8], dtype=np.int64)  # a gap does not confuse it
    assert infer_timeframe(hourly) is Timeframe.H1
    daily = T0 + 86_400_000 * np.arange(5, dtype=np.int64)
    assert infer_timeframe(daily) is Timeframe.D1
    five = T0 + 300_000 * np.arange(5, dtype=np.int64)
    assert infer_timeframe(five) is Timeframe.M5
    with pytest.raises(DomainError, match="no supported timeframe"):
        infer_timeframe(T0 + 420_000 * np.arange(5, dtype=np.int64))  # 7 minutes
    with pytest.raises(DomainError):
        infer_timeframe(np.array([T0], dtype=np.int64))
