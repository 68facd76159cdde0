"""The drawdown breaker's memory and reset arithmetic (the engine's use of it: test_engine_breaker.py)."""

from __future__ import annotations

import json
import math

import pytest

from domain.risk import BreakerState
from domain.risk.breaker import DAY_MS, breaker_peak, drawdown_from, reset_due_ms, trips

T = 1_600_000_000_000


def test_an_armed_breaker_measures_from_the_accounts_peak_until_it_has_its_own() -> None:
    assert not BreakerState().tripped
    assert breaker_peak(BreakerState(), 120.0) == 120.0
    assert breaker_peak(BreakerState(None, 80.0), 120.0) == 80.0


@pytest.mark.parametrize(
    ("equity", "peak", "limit", "expected"),
    [(75.0, 100.0, 0.25, True), (75.01, 100.0, 0.25, False), (50.0, 100.0, 0.0, False), (10.0, 0.0, 0.25, False)],
)
def test_it_trips_at_the_limit_and_never_when_off(equity: float, peak: float, limit: float, expected: bool) -> None:
    assert trips(limit, equity, peak) is expected
    assert drawdown_from(120.0, 100.0) == 0.0  # above the peak: no drawdown


def test_latched_never_comes_due_and_a_cooldown_comes_due_n_days_after_the_trip() -> None:
    tripped = BreakerState(T, 100.0)
    assert reset_due_ms(tripped, 0.0) is None
    assert reset_due_ms(tripped, 3) == T + 3 * DAY_MS
    assert reset_due_ms(tripped, 0.5) == T + DAY_MS // 2
    assert reset_due_ms(BreakerState(), 3) is None  # armed: nothing to reset


@pytest.mark.parametrize("state", [BreakerState(), BreakerState(T, 12_489.05), BreakerState(None, 9_360.25)])
def test_the_state_is_two_plain_values_that_survive_json(state: BreakerState) -> None:
    data = json.loads(json.dumps(state.to_dict(), allow_nan=False))
    assert set(data) == {"tripped_ms", "peak"}
    back = BreakerState.from_dict(data)
    assert back.tripped_ms == state.tripped_ms
    assert (math.isnan(back.peak) and math.isnan(state.peak)) or back.peak == state.peak
