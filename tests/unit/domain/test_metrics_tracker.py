"""PerformanceTracker: marks fed one by one give exactly what whole arrays give."""

from __future__ import annotations

import math

import numpy as np
import pytest

from domain.metrics import METRICS, InvalidMetricsInput, PerformanceTracker, compute_metrics
from domain.model.trades import Direction, Trade
from tests.unit.domain.helpers import BTCUSDT, HOUR_MS, T0


def same(a: dict[str, float], b: dict[str, float]) -> bool:
    """Equal key for key, bit for bit, NaN equal to NaN."""
    pairs = zip(a.values(), b.values(), strict=True)
    return list(a) == list(b) and all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in pairs)


def backtest_like(n: int = 500, seed: int = 3):
    rng = np.random.default_rng(seed)
    times = T0 + HOUR_MS * np.arange(n, dtype=np.int64)
    times[n // 2 :] += 5 * HOUR_MS  # a data gap
    equity = 1000.0 * np.concatenate(([1.0], np.cumprod(1.0 + rng.normal(0.0002, 0.01, n - 1))))
    exposure = np.where(rng.random(n) < 0.4, rng.uniform(0.2, 1.0, n), 0.0)
    exposure[0] = 0.0
    close = 100.0 * np.concatenate(([1.0], np.cumprod(1.0 + rng.normal(0.0, 0.01, n - 1))))
    trades = [
        Trade(BTCUSDT, Direction.LONG, int(times[i]), int(times[i + 3]), 100.0, 100.0 + p, 1.0, 0.1, p)
        for i, p in zip(range(10, n - 5, 37), rng.normal(0.5, 3.0, n // 37), strict=False)
    ]
    return times, equity, exposure, close, trades


def test_marks_one_by_one_equal_whole_arrays():
    times, equity, exposure, close, trades = backtest_like()
    fees, slippage = [0.1] * (2 * len(trades)), [0.05] * (2 * len(trades))
    live = PerformanceTracker(8760.0, float(equity[0]), capacity=4)  # grows several times
    for t, e, x in zip(times, equity, exposure, strict=True):
        live.record(int(t), float(e), float(x))
    for tr in trades:
        live.add_trade(tr)
    for f, s in zip(fees, slippage, strict=True):
        live.add_costs(f, s)
    whole = PerformanceTracker.from_arrays(
        8760.0, times, equity, exposure, trades=trades, fees_paid=live.fees_paid, slippage_paid=live.slippage_paid
    )
    assert len(live) == len(whole) == len(equity)
    assert same(live.snapshot(close), whole.snapshot(close))
    assert same(live.snapshot(), whole.snapshot())
    costs = {"fees_paid": live.fees_paid, "slippage_paid": live.slippage_paid}
    expected = compute_metrics(
        equity, trades, 8760.0, benchmark_close=close, open_time=times, exposure=exposure, **costs
    )
    assert same(live.snapshot(close), expected)
    assert live.fees_paid == pytest.approx(0.1 * len(fees))
    np.testing.assert_array_equal(live.open_time, times)
    np.testing.assert_array_equal(live.equity, equity)
    np.testing.assert_array_equal(live.exposure, exposure)
    assert live.trades == tuple(trades)


def test_every_prefix_agrees():
    times, equity, exposure, close, _ = backtest_like(n=60)
    live = PerformanceTracker(8760.0, float(equity[0]), capacity=1)
    for i in range(len(equity)):
        live.record(int(times[i]), float(equity[i]), float(exposure[i]))
        whole = PerformanceTracker.from_arrays(8760.0, times[: i + 1], equity[: i + 1], exposure[: i + 1])
        assert same(live.snapshot(close[: i + 1]), whole.snapshot(close[: i + 1])), i


def test_restore_and_carry_on():
    times, equity, exposure, _, trades = backtest_like(n=100)
    first = PerformanceTracker.from_arrays(8760.0, times[:50], equity[:50], exposure[:50], trades=trades[:1])
    restored = PerformanceTracker.from_arrays(
        first.periods_per_year, first.open_time, first.equity, first.exposure, trades=first.trades
    )
    for i in range(50, 100):
        restored.record(int(times[i]), float(equity[i]), float(exposure[i]))
    whole = PerformanceTracker.from_arrays(8760.0, times, equity, exposure, trades=trades[:1])
    assert same(restored.snapshot(), whole.snapshot())


def test_an_empty_tracker_reports_its_initial_equity():
    tracker = PerformanceTracker(365.0, 1000.0)
    m = tracker.snapshot()
    assert list(m) == [spec.key for spec in METRICS]
    assert m["final_equity"] == 1000.0
    assert m["total_return"] == 0.0
    assert m["trades"] == 0.0
    assert math.isnan(m["sharpe"])
    tracker.add_costs(fees=2.0)
    assert tracker.snapshot()["total_fees"] == 2.0
    empty = PerformanceTracker.from_arrays(365.0, np.array([], dtype=np.int64), np.array([]), initial_equity=5.0)
    assert empty.snapshot()["final_equity"] == 5.0


def test_without_exposure_the_exposure_figures_are_unknown():
    times, equity, _, _, _ = backtest_like(n=20)
    m = PerformanceTracker.from_arrays(8760.0, times, equity).snapshot()
    assert math.isnan(m["exposure_time"])
    assert math.isnan(m["avg_exposure"])
    assert m["total_return"] == pytest.approx(equity[-1] / equity[0] - 1)


def test_views_are_read_only_and_stable():
    tracker = PerformanceTracker(365.0, 100.0, capacity=2)
    tracker.record(T0, 100.0, 0.0)
    tracker.record(T0 + HOUR_MS, 101.0, 0.5)
    before = tracker.equity
    with pytest.raises(ValueError):
        before[0] = 5.0
    for k in range(2, 10):  # forces the buffers to grow
        tracker.record(T0 + k * HOUR_MS, 100.0 + k, 0.0)
    np.testing.assert_array_equal(before, [100.0, 101.0])
    assert len(tracker.equity) == 10


def test_bad_inputs_are_rejected():
    tracker = PerformanceTracker(365.0, 100.0)
    tracker.record(T0, 100.0, 0.0)
    with pytest.raises(InvalidMetricsInput):
        tracker.record(T0, 101.0, 0.0)  # same time twice
    with pytest.raises(InvalidMetricsInput):
        tracker.record(T0 - 1, 101.0, 0.0)
    with pytest.raises(InvalidMetricsInput):
        PerformanceTracker(0.0, 100.0)
    with pytest.raises(InvalidMetricsInput):
        PerformanceTracker.from_arrays(365.0, np.array([2, 1], dtype=np.int64), np.array([1.0, 2.0]))
    with pytest.raises(InvalidMetricsInput):
        PerformanceTracker.from_arrays(365.0, np.array([1, 2], dtype=np.int64), np.array([1.0]))
    with pytest.raises(InvalidMetricsInput):
        PerformanceTracker.from_arrays(365.0, np.array([1, 2], dtype=np.int64), np.array([1.0, 2.0]), np.zeros(3))
    with pytest.raises(InvalidMetricsInput):
        PerformanceTracker.from_arrays(365.0, np.array([], dtype=np.int64), np.array([]))
