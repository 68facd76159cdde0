"""Strategy parameters, the registry, and EmaTrend's signals (reference EMA crosses, causality)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from domain.model.errors import InvalidParameter
from domain.strategies.api import Context, Param, Strategy
from domain.strategies.base import no_signals
from domain.strategies.builtin.ema_trend import EmaTrend
from domain.strategies.registry import DEFAULT_STRATEGY, create_strategy, describe_params, strategy_names
from tests.unit.domain.helpers import random_walk_series, ref_atr, ref_ema


class Sample(Strategy):
    name = "sample"
    count = Param(1, low=0, high=100)
    ratio = Param(0.5, high=10.0)
    flag = Param(False)
    label = Param("x", choices=("x", "hello"))
    whole = Param(2, kind=float)


def test_params_convert_strings_by_their_type():
    s = Sample(count="7", ratio="2.5", flag="yes", label="hello", whole="3")
    assert dict(s.params) == {"count": 7, "ratio": 2.5, "flag": True, "label": "hello", "whole": 3.0}
    assert isinstance(s.count, int)
    assert isinstance(s.ratio, float)
    assert isinstance(s.whole, float)


@pytest.mark.parametrize(("raw", "value"), [("1", True), ("TRUE", True), ("on", True), ("0", False), ("No", False)])
def test_bool_words(raw, value):
    assert Sample(flag=raw).flag is value


def test_params_keep_typed_values_and_defaults():
    assert Sample(count=4, flag=True).params == {**Sample().params, "count": 4, "flag": True}
    assert Sample() == Sample({})
    assert Sample(count=4) != Sample()
    assert hash(Sample(count=4)) == hash(Sample({"count": 4}))


@pytest.mark.parametrize(
    "overrides",
    [{"count": "abc"}, {"count": "2.5"}, {"count": 2.5}, {"ratio": "fast"}, {"flag": "maybe"}, {"count": True},
     {"ratio": "nan"}, {"ratio": float("inf")}, {"ratio": "1e400"}, {"count": "101"}, {"count": -1},
     {"ratio": "10.5"}, {"label": "y"}, {"whole": "x"}],
)  # fmt: skip
def test_invalid_values_name_the_parameter(overrides):
    with pytest.raises(InvalidParameter, match=next(iter(overrides))):
        Sample(**overrides)


def test_a_strategy_is_immutable_and_replace_validates():
    s = Sample(count=3)
    with pytest.raises(AttributeError):
        s.count = 4  # type: ignore[misc]
    assert s.replace(count=5).count == 5
    assert s.count == 3
    with pytest.raises(InvalidParameter):
        s.replace(count=500)


def test_unknown_names_are_refused_listing_the_valid_ones():
    with pytest.raises(InvalidParameter) as info:
        EmaTrend(fastt="10", zzz="1")
    message = str(info.value)
    assert "fastt" in message
    assert "zzz" in message
    for name in EmaTrend.parameters:
        assert name in message


def test_parameters_carry_bounds_and_help_for_an_optimiser():
    for name in strategy_names():
        cls = type(create_strategy(name))
        for spec in cls.parameters.values():
            assert spec.problem() is None, (name, spec.name)
            assert spec.help, (name, spec.name)  # `atb strategies show` prints it
            if spec.kind in (int, float):
                assert spec.low is not None and spec.high is not None, (name, spec.name)
                assert spec.low <= spec.default <= spec.high, (name, spec.name)


@pytest.mark.parametrize(
    "overrides",
    [
        {"fast": "200"},  # fast == slow
        {"fast": "30", "slow": "20"},
        {"fast": "0"},
        {"atr_period": "0"},
        {"atr_stop": "-1"},
        {"size": "0"},
        {"size": "1.5"},
        {"size": "nan"},
    ],
)
def test_ema_trend_params_validation(overrides):
    with pytest.raises(InvalidParameter):
        EmaTrend(overrides)


def test_ema_trend_refuses_nan_atr_stop():
    with pytest.raises(InvalidParameter, match="atr_stop"):
        EmaTrend(atr_stop="nan")


def test_ema_trend_refuses_a_float_for_an_int_parameter():
    with pytest.raises(InvalidParameter, match="fast"):
        EmaTrend(fast=2.5, slow=10)


def test_registry():
    assert DEFAULT_STRATEGY in strategy_names()
    assert "ema_trend" in strategy_names()
    strategy = create_strategy("ema_trend")
    assert isinstance(strategy, EmaTrend)
    assert strategy == EmaTrend()
    tuned = create_strategy("ema_trend", {"fast": "10", "slow": "30", "atr_stop": "2"})
    assert tuned == EmaTrend(fast=10, slow=30, atr_stop=2.0)
    described = describe_params(tuned)
    assert {k: described[k] for k in ("fast", "slow", "atr_period", "atr_stop", "size")} == {
        "fast": 10, "slow": 30, "atr_period": 14, "atr_stop": 2.0, "size": 1.0,
    }  # fmt: skip
    assert set(described) == set(EmaTrend.parameters)
    with pytest.raises(InvalidParameter):
        create_strategy("ema_trend", {"fast": "30", "slow": "10"})


def test_unknown_strategy_message_names_the_available_ones():
    with pytest.raises(InvalidParameter) as info:
        create_strategy("moon_shot")
    assert "moon_shot" in str(info.value)
    for name in strategy_names():
        assert name in str(info.value)


# --- EmaTrend signals ------------------------------------------------------------------------------------

PARAMS = {"fast": 5, "slow": 20, "atr_period": 7, "atr_stop": 2.0, "size": 0.5}
SERIES = random_walk_series(400, seed=5)


def test_warmup():
    assert EmaTrend(PARAMS).warmup == 20
    assert EmaTrend(fast=2, slow=5, atr_period=10).warmup == 11
    assert EmaTrend().warmup == 200


def test_entries_and_exits_are_reference_ema_crosses():
    strategy = EmaTrend(PARAMS)
    sig = strategy.signals(SERIES, Context())
    close = SERIES.close.tolist()
    fast = np.array(ref_ema(close, PARAMS["fast"]))
    slow = np.array(ref_ema(close, PARAMS["slow"]))
    diff = fast - slow
    warm = strategy.warmup
    for t in range(len(close)):
        if t < warm:
            assert not sig.long_entry[t]
            assert not sig.long_exit[t]
            continue
        if min(abs(diff[t]), abs(diff[t - 1])) < 1e-9:
            continue  # too close to call against a float reference
        assert sig.long_entry[t] == (diff[t] > 0 and diff[t - 1] <= 0), t
        assert sig.long_exit[t] == (diff[t] <= 0 and diff[t - 1] > 0), t
    assert sig.long_entry.sum() >= 3  # the walk does cross: the check above is not vacuous
    assert sig.long_exit.sum() >= 3
    assert not (sig.long_entry & sig.long_exit).any()
    assert not sig.short_entry.any()
    assert not sig.short_exit.any()
    np.testing.assert_array_equal(sig.size, np.full(len(close), 0.5))
    assert sig.warmup == warm
    # entries and exits alternate
    events = [("in" if sig.long_entry[t] else "out") for t in sig.event_bars()]
    assert all(a != b for a, b in itertools.pairwise(events))


def test_stop_distance_is_atr_times_multiple():
    sig = EmaTrend(PARAMS).signals(SERIES, Context())
    expected = np.array(ref_atr(SERIES.high.tolist(), SERIES.low.tolist(), SERIES.close.tolist(), 7)) * 2.0
    assert np.array_equal(np.isnan(sig.stop_distance), np.isnan(expected))
    ok = ~np.isnan(expected)
    np.testing.assert_allclose(sig.stop_distance[ok], expected[ok], rtol=1e-12)
    no_stop = EmaTrend(fast=5, slow=20, atr_stop=0.0).signals(SERIES, Context())
    assert np.isnan(no_stop.stop_distance).all()


def test_signals_are_causal_bar_by_bar():
    strategy = EmaTrend(PARAMS)
    full = strategy.signals(SERIES, Context())
    names = ("long_entry", "long_exit", "short_entry", "short_exit", "stop_distance", "size")
    for k in [*range(1, 60), *range(60, len(SERIES) + 1, 7), len(SERIES)]:
        part = strategy.signals(SERIES.slice(0, k), Context())
        assert part.at(k - 1) == full.at(k - 1), k
        for name in names:
            a = getattr(part, name)
            b = getattr(full, name)
            assert a.shape == (k,)
            np.testing.assert_array_equal(a[k - 1], b[k - 1], err_msg=f"{name} at k={k}")  # NaN == NaN here


def test_event_bars_and_at():
    sig = no_signals(5, 2)
    assert sig.event_bars().size == 0
    sig.long_entry[3] = True
    sig.short_exit[1] = True
    assert sig.event_bars().tolist() == [1, 3]
    assert sig.at(3) == (True, False, False, False)
    assert sig.at(1) == (False, False, False, True)
