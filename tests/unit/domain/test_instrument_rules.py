"""Protective rounding of stops and targets, and exchange rules inferred from candles (docs/instruments.md)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.model.inference import (
    DEFAULT_MIN_NOTIONAL,
    MAX_STEP_VALUE,
    decimal_resolution,
    default_min_notional,
    infer_instrument,
)
from domain.model.symbols import Instrument, Symbol

FOO = Symbol("FOO", "USDT")

# Ticks as exchanges set them: powers of ten from 1e-8 to 10, and a few that are not (0.5, 0.025).
TICKS = st.sampled_from(["0.00000001", "0.0000001", "0.0001", "0.001", "0.01", "0.1", "1", "10", "0.5", "0.025"])
PRICES = st.floats(min_value=1e-8, max_value=1e6, allow_nan=False, allow_infinity=False)


def on_grid(value: Decimal, tick: Decimal) -> bool:
    return value % tick == 0


@settings(max_examples=300, deadline=None)
@given(price=PRICES, tick=TICKS)
def test_a_long_stop_rounds_down_and_a_short_stop_up_by_less_than_a_tick(price: float, tick: str) -> None:
    ins = Instrument(FOO, Decimal(tick))
    exact = Decimal(repr(price))
    down, up = ins.round_stop(price, long=True), ins.round_stop(price, long=False)
    t = Decimal(tick)
    assert on_grid(down, t) and on_grid(up, t)
    # Within a millionth of a tick of a grid point counts as on it (float noise); else strictly directed.
    slack = t * Decimal("1e-6")
    assert down <= exact + slack and exact - down < t
    assert up >= exact - slack and up - exact < t


@settings(max_examples=300, deadline=None)
@given(price=PRICES, tick=TICKS)
def test_a_target_is_never_easier_to_reach_than_asked(price: float, tick: str) -> None:
    ins = Instrument(FOO, Decimal(tick))
    exact = Decimal(repr(price))
    slack = Decimal(tick) * Decimal("1e-6")
    assert ins.round_target(price, long=True) >= exact - slack  # a long's target (a sell above) rounds up
    assert ins.round_target(price, long=False) <= exact + slack  # a short's (a buy below) rounds down


def test_float_noise_does_not_move_a_level_by_a_tick() -> None:
    ins = Instrument(FOO, Decimal("0.01"))
    assert 100 * 1.1 == 110.00000000000001  # the noise this guards against
    assert ins.round_target(100 * 1.1, long=True) == Decimal("110.00")
    assert ins.round_stop(100 * 1.1, long=False) == Decimal("110.00")
    assert ins.round_stop(110.004, long=True) == Decimal("110.00")
    assert ins.round_stop(110.004, long=False) == Decimal("110.01")


@pytest.mark.parametrize(("tick", "decimals"), [("0.01", 2), ("0.00000001", 8), ("1", 0), ("10", 0), ("0.50", 1)])
def test_price_decimals_follow_the_tick(tick: str, decimals: int) -> None:
    assert Instrument(FOO, Decimal(tick)).price_decimals == decimals


# -- inference -------------------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    d=st.integers(min_value=-2, max_value=12),
    units=st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=40),
)
def test_the_resolution_of_numbers_written_with_d_decimals_is_d_when_one_needs_them(d: int, units: list[int]) -> None:
    """Values k x 10**-d, written as text and read back as floats (as from a CSV), with one of them not a
    multiple of 10**-(d-1): the resolution is exactly d, from 1e-8-sized prices to a million."""
    tick = Decimal(1).scaleb(-d)
    units = [*units, 10 * units[0] + 1]  # ends in a non-zero digit: needs all d decimals
    values = [float(str(k * tick)) for k in units]
    if max(values) >= 1e6 or min(values) < 1e-8:
        return
    assert decimal_resolution(values) == d


def test_the_resolution_of_computed_floats_is_none_and_the_tick_falls_back() -> None:
    rng = np.random.default_rng(5)
    walk = 0.003 * np.exp(np.cumsum(rng.normal(0, 0.01, 5000)))
    assert decimal_resolution(walk) is None
    rules = infer_instrument(FOO, walk, walk, walk, walk, np.zeros(5000))
    low = walk.min()
    tick = float(rules.instrument.tick_size)
    assert 1e-9 * low < tick <= 1e-8 * low  # 8 digits below the lowest price's leading digit
    assert "no decimal resolution" in rules.tick_from


def test_sub_cent_candles_give_the_exchange_tick() -> None:
    closes = np.array([0.00001234, 0.00001240, 0.00001199, 0.00001201])
    rules = infer_instrument(FOO, closes, closes, closes, closes, np.array([1e6, 2.5e6, 7e6 + 1, 1e6]))
    assert rules.instrument.tick_size == Decimal("0.00000001")
    assert rules.instrument.step_size == Decimal("1")  # whole units: the finest volume increment
    assert rules.instrument.min_notional == DEFAULT_MIN_NOTIONAL


def test_the_step_is_capped_at_one_quote_unit_per_step_at_the_median_close() -> None:
    """Volumes of whole units at 60,000 would make one step worth 60,000: the cap makes it 1e-5 (0.6 USDT)."""
    prices = np.array([59_000.12, 60_000.5, 61_000.0])
    rules = infer_instrument(FOO, prices, prices, prices, prices, np.array([3.0, 4.0, 5.0]))
    step = rules.instrument.step_size
    assert step == Decimal("0.00001")
    assert float(step) * 60_000.5 <= MAX_STEP_VALUE < float(step) * 10 * 60_000.5
    assert "coarser" in rules.step_from


def test_the_volume_increment_sets_the_step_when_it_is_fine_enough() -> None:
    prices = np.array([0.5123, 0.5124, 0.5101])
    rules = infer_instrument(FOO, prices, prices, prices, prices, np.array([12.3, 40.1, 7.0]))
    assert rules.instrument.tick_size == Decimal("0.0001")
    assert rules.instrument.step_size == Decimal("0.1")


def test_nan_marks_missing_bars_and_is_ignored() -> None:
    prices = np.array([1.25, np.nan, 1.5])
    rules = infer_instrument(FOO, prices, prices, prices, prices, np.array([1.0, np.nan, 2.0]))
    assert rules.instrument.tick_size == Decimal("0.01")


def test_the_default_minimum_notional_depends_on_the_quote() -> None:
    assert default_min_notional(Symbol("FOO", "USDT")) == Decimal(5)
    assert default_min_notional(Symbol("FOO", "BTC")) == Decimal(0)


def test_no_positive_price_is_an_error() -> None:
    with pytest.raises(ValueError, match="no positive prices"):
        infer_instrument(FOO, [np.nan], [np.nan], [np.nan], [np.nan], [0.0])
