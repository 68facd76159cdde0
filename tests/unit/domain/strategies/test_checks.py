"""The three causality checks (domain/strategies/audit.py): each catches what it is for, on the bars it should,
and lets an honest strategy through. The leaky strategies are the documented examples (docs/examples/)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from domain.model.candles import CandleSeries, validate_ohlcv
from domain.strategies.api import CandleSeries as ApiCandles
from domain.strategies.api import Context, Param, Signals, Strategy, crossings, ema
from domain.strategies.audit import (
    FAST,
    FULL,
    PERTURBATIONS,
    CheckResult,
    history_check,
    lookahead_check,
    perturbed,
    prefix_check,
    run_checks,
)
from domain.strategies.builtin.ema_cross import EmaCross
from domain.strategies.discovery import strategies_in
from domain.strategies.ml import synthetic_predictions
from tests.builders import random_walk

EXAMPLES = Path(__file__).resolve().parents[4] / "docs" / "examples"


def example(name: str) -> type[Strategy]:
    """The strategy class of ``docs/examples/<name>.py``, loaded as a user's file would be."""
    path = EXAMPLES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (cls,) = strategies_in(module)
    return cls


class ReadsBack(Strategy):
    """Enters when the close crosses above the close ``lag`` bars back: a crossing at ``t`` compares bar ``t - 1``
    too, so it reads ``close[t - 1 - lag]``: it needs exactly ``lag + 2`` bars of history."""

    name = "reads_back"
    lag = Param(50, low=1, high=1000)
    declared = Param(52, low=1, high=5000)

    @property
    def warmup(self) -> int:
        return int(self.lag)

    @property
    def history_bars(self) -> int:
        return int(self.declared)

    def signals(self, candles: ApiCandles, context: Context) -> Signals:
        close = candles.close
        n, lag = len(close), int(self.lag)
        back = np.full(n, np.nan)
        if n > lag:
            back[lag:] = close[: n - lag]
        up, down = crossings(close, back, self.warmup)
        no = np.zeros(n, dtype=np.bool_)
        return Signals(up, down, no, no.copy(), np.full(n, np.nan), np.ones(n), self.warmup)


class ReadsNextPrediction(Strategy):
    """Long when the NEXT bar's prediction is positive: look-ahead through the context, not the candles."""

    name = "reads_next_prediction"

    @property
    def model_type(self) -> str | None:
        return "basic"

    def signals(self, candles: ApiCandles, context: Context) -> Signals:
        assert context.predictions is not None
        n = len(candles)
        nxt = np.full(n, np.nan)
        nxt[:-1] = context.predictions[1:]
        long = nxt > 0
        before = np.concatenate([[False], long[:-1]])
        no = np.zeros(n, dtype=np.bool_)
        return Signals(long & ~before, ~long & before, no, no.copy(), np.full(n, np.nan), np.ones(n), 1)


@pytest.fixture(scope="module")
def walk() -> CandleSeries:
    return random_walk(3000, seed=11)


@pytest.mark.parametrize("kind", PERTURBATIONS)
def test_a_perturbation_keeps_the_past_and_valid_candles_and_changes_the_future(kind: str, walk: CandleSeries) -> None:
    context = Context(synthetic_predictions(len(walk)), np.linspace(10, 90, len(walk)))
    cut = 1800
    series, ctx = perturbed(kind, walk, context, cut)
    validate_ohlcv(series.open_time, series.open, series.high, series.low, series.close, series.volume)
    assert np.array_equal(series.open_time, walk.open_time)
    for name in ("open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(series, name)[: cut + 1], getattr(walk, name)[: cut + 1])
        assert not np.array_equal(getattr(series, name)[cut + 1 :], getattr(walk, name)[cut + 1 :]) or name == "volume"
    assert ctx.predictions is not None and context.predictions is not None
    assert np.array_equal(ctx.predictions[: cut + 1], context.predictions[: cut + 1], equal_nan=True)
    assert not np.array_equal(ctx.predictions[cut + 1 :], context.predictions[cut + 1 :])


@pytest.mark.parametrize(("name", "reach"), [("leaky_shift", "period"), ("leaky_centred", "window")])
def test_the_lookahead_audit_catches_the_documented_examples_just_before_each_cut(
    name: str, reach: str, walk: CandleSeries
) -> None:
    strategy = example(name)()
    ahead = int(strategy.params[reach]) if name == "leaky_shift" else int(strategy.params[reach]) // 2
    cuts = [700, 1500, 2300]
    result = lookahead_check(strategy, walk, cuts)
    assert not result.passed and result.check == "look-ahead"
    # a strategy reading `ahead` bars ahead can only change the `ahead` bars up to a cut
    near = {t for c in cuts for t in range(c - ahead + 1, c + 1)}
    assert set(result.bars) <= near
    assert result.times == tuple(int(walk.open_time[b]) for b in result.bars)


def test_the_lookahead_audit_catches_a_peek_at_the_next_prediction(walk: CandleSeries) -> None:
    result = lookahead_check(ReadsNextPrediction(), walk, [1000, 2000])
    assert not result.passed
    assert set(result.bars) <= {1000, 2000}  # only the bar whose next prediction was replaced


@pytest.mark.parametrize("name", ["leaky_shift", "leaky_centred"])
def test_the_prefix_and_history_checks_catch_the_documented_examples(name: str, walk: CandleSeries) -> None:
    strategy = example(name)()
    ends = list(range(200, len(walk) + 1, 37))
    prefix = prefix_check(strategy, walk, ends)
    assert not prefix.passed and prefix.checked == len(ends)
    assert set(prefix.bars) <= {e - 1 for e in ends}
    history = history_check(strategy, walk, windows=range(1200, 1300))
    assert not history.passed


def test_an_honest_strategy_passes_all_three_checks(walk: CandleSeries) -> None:
    results = run_checks(EmaCross(), walk, FULL)
    assert [r.check for r in results] == ["look-ahead", "prefix", "history"]
    assert all(r.passed for r in results), results
    assert all(r.checked > 0 for r in results)


def test_the_history_check_finds_the_one_bar_of_history_missing(walk: CandleSeries) -> None:
    """A crossing against ``close[t - lag]`` needs lag + 2 bars: declared so, every bar agrees (each on its exact
    window too); one fewer, and the window never sees a crossing."""
    n = len(walk)
    enough = history_check(ReadsBack(lag=50, declared=52), walk, windows=None)
    assert enough.passed and enough.checked == n - 52 + 1
    short = history_check(ReadsBack(lag=50, declared=51), walk, windows=None)
    assert not short.passed
    # the oracle: a 51-bar window has one close 50 bars back (its last bar's), never two in a row, so it never
    # crosses; every crossing of the whole history from bar 50 on is a failing bar
    full = ReadsBack(lag=50).signals(walk, Context())
    events = np.flatnonzero(full.long_entry | full.long_exit)
    expected = events[events >= 50]
    assert short.failed == expected.size
    assert short.bars == tuple(int(b) for b in expected[:5])


def test_the_history_check_uses_every_bar_even_without_exact_windows(walk: CandleSeries) -> None:
    """The block pass alone (no exact windows) still finds a strategy whose window is too short."""
    result = history_check(EmaCross(fast=12, slow=26).replace(), walk, windows=[])
    assert result.passed and result.checked == len(walk) - 520 + 1
    short = history_check(ReadsBack(lag=50, declared=51), walk, windows=[])
    assert not short.passed


def test_history_bars_too_short_for_an_ema_is_caught(walk: CandleSeries) -> None:
    class ShortEma(EmaCross):
        name = "short_ema"

        @property
        def history_bars(self) -> int:
            return 30  # barely the warm-up: the EMAs have not forgotten their seeds

    assert not history_check(ShortEma(), walk, windows=range(30, 3000, 7)).passed
    below = history_check(ReadsBack(lag=50, declared=40), walk)
    assert not below.passed and below.detail.endswith("history_bars is below the warm-up (50)")


def test_plans_are_deterministic_and_the_fast_one_cuts_the_data(walk: CandleSeries) -> None:
    strategy = example("leaky_shift")()
    assert run_checks(strategy, walk, FAST) == run_checks(strategy, walk, FAST)
    fast = run_checks(strategy, walk, FAST)
    offset = len(walk) - (strategy.history_bars + 3000)
    assert all(b >= max(0, offset) for r in fast for b in r.bars)
    for r in fast:  # bars are indexes of the whole series, times their open times
        assert r.times == tuple(int(walk.open_time[b]) for b in r.bars)


def test_a_result_survives_its_json_form() -> None:
    result = CheckResult("history", 100, 2, (5, 9), (1, 2), "detail")
    assert CheckResult.from_dict(result.to_dict()) == result


def test_a_series_shorter_than_history_bars_is_said_not_checked() -> None:
    result = history_check(EmaCross(), random_walk(300, seed=3))
    assert result.passed and result.checked == 0 and "nothing to check" in result.detail


def test_an_ema_strategy_with_a_warm_up_agrees_exactly_on_prefixes(walk: CandleSeries) -> None:
    class Plain(Strategy):
        name = "plain"

        def signals(self, candles: ApiCandles, context: Context) -> Signals:
            up, down = crossings(ema(candles.close, 5), ema(candles.close, 20), 20)
            no = np.zeros(len(candles), dtype=np.bool_)
            return Signals(up, down, no, no.copy(), np.full(len(candles), np.nan), np.ones(len(candles)), 20)

    assert prefix_check(Plain(), walk, range(25, 3000, 97)).passed
