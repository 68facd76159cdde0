"""Trade-ledger metrics on hand-made ledgers, figures worked out by hand in the comments."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.metrics import compute_metrics, longest_run, trade_metrics
from domain.model.trades import Direction, Trade, excursions, long_excursions
from tests.unit.domain.helpers import BTCUSDT, HOUR_MS, T0

NAN = math.nan


@dataclass(frozen=True, slots=True)
class ExcursionTrade(Trade):
    """A trade carrying excursions; redeclares them so these tests run whether or not Trade has them yet."""

    mfe: float = NAN
    mae: float = NAN


def make(pnl: float, hours: float = 1.0, mfe: float = NAN, mae: float = NAN, start: int = T0) -> Trade:
    exit_time = start + int(hours * HOUR_MS)
    return ExcursionTrade(
        BTCUSDT, Direction.LONG, start, exit_time, 100.0, 100.0 + pnl, 1.0, 0.0, pnl, mfe=mfe, mae=mae
    )


# wins 10, 20, 30; losses -5, -5, -5, -10; one break-even; durations 1..8 hours
PNLS = [10.0, 20.0, -5.0, -5.0, -5.0, 0.0, 30.0, -10.0]
LEDGER = [make(p, hours=i + 1) for i, p in enumerate(PNLS)]


def test_ledger_figures():
    m = trade_metrics(LEDGER)
    assert m["trades"] == 8
    assert m["win_rate"] == pytest.approx(3 / 8)  # the break-even trade is not a win
    assert m["profit_factor"] == pytest.approx(60 / 25)
    assert m["expectancy"] == pytest.approx(35 / 8)
    assert m["avg_win"] == pytest.approx(20.0)
    assert m["avg_loss"] == pytest.approx(-6.25)
    assert m["payoff_ratio"] == pytest.approx(20 / 6.25)
    assert m["largest_win"] == 30.0
    assert m["largest_loss"] == -10.0
    assert m["max_consecutive_wins"] == 2  # 10, 20 (30 stands alone after the break-even)
    assert m["max_consecutive_losses"] == 3  # -5, -5, -5
    assert m["kelly_fraction"] == pytest.approx(3 / 8 - (5 / 8) / 3.2)
    assert m["avg_trade_duration"] == pytest.approx(4.5)  # hours
    assert m["avg_trade_return"] == pytest.approx(35 / 8 / 100)  # entry notional 100


def test_ledger_figures_reach_compute_metrics_in_full():
    m = compute_metrics(np.array([100.0, 135.0]), LEDGER, 365.0, 0.0)
    for key, value in trade_metrics(LEDGER).items():
        assert m[key] == value or (math.isnan(m[key]) and math.isnan(value)), key


def test_a_break_even_trade_breaks_streaks():
    m = trade_metrics([make(p) for p in (1.0, 1.0, 0.0, 1.0, -1.0, -1.0, 0.0, -1.0, -1.0, -1.0)])
    assert m["max_consecutive_wins"] == 2
    assert m["max_consecutive_losses"] == 3


def test_only_wins():
    m = trade_metrics([make(1.0), make(3.0)])
    assert m["profit_factor"] == math.inf
    assert m["payoff_ratio"] == math.inf  # no loss to compare with
    assert m["kelly_fraction"] == 1.0
    assert m["max_consecutive_wins"] == 2
    assert m["max_consecutive_losses"] == 0
    assert math.isnan(m["avg_loss"])
    # wins and break-evens but no loss: Kelly is the win rate
    assert trade_metrics([make(1.0), make(0.0)])["kelly_fraction"] == pytest.approx(0.5)


def test_kelly_of_a_coin_with_a_two_to_one_payoff():
    ledger = [make(2.0), make(-1.0)] * 5
    m = trade_metrics(ledger)
    assert m["payoff_ratio"] == pytest.approx(2.0)
    assert m["kelly_fraction"] == pytest.approx(0.25)  # p - q / b = 0.5 - 0.5 / 2


def test_excursions_average_the_trades_that_have_them():
    ledger = [make(1.0, mfe=0.02, mae=-0.01), make(-1.0, mfe=0.0, mae=-0.03), make(2.0)]
    m = trade_metrics(ledger)
    assert m["avg_mfe"] == pytest.approx(0.01)
    assert m["avg_mae"] == pytest.approx(-0.02)
    assert math.isnan(trade_metrics([make(1.0)])["avg_mfe"])


def test_plain_trades_without_excursions():
    plain = [Trade(BTCUSDT, Direction.SHORT, T0, T0 + 2 * HOUR_MS, 100.0, 90.0, 2.0, 1.0, 19.0)]
    m = trade_metrics(plain)
    assert m["avg_trade_duration"] == 2.0
    assert m["avg_trade_return"] == pytest.approx(19.0 / 200.0)
    assert math.isnan(m["avg_mfe"])
    assert math.isnan(m["avg_mae"])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.booleans(), max_size=60))
def test_longest_run_matches_a_loop(flags):
    best = run = 0
    for f in flags:
        run = run + 1 if f else 0
        best = max(best, run)
    assert longest_run(np.array(flags, dtype=bool)) == best


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-3, 3).map(float), min_size=1, max_size=30))
def test_ledger_identities(pnls):
    m = trade_metrics([make(p) for p in pnls])
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    assert m["expectancy"] == pytest.approx(sum(pnls) / len(pnls))
    assert m["win_rate"] == pytest.approx(len(wins) / len(pnls))
    if wins and losses:
        # expectancy = p * avg win + q_loss * avg loss, q_loss the share of losing trades
        assert m["expectancy"] == pytest.approx(m["win_rate"] * m["avg_win"] + len(losses) / len(pnls) * m["avg_loss"])
        assert m["profit_factor"] == pytest.approx(m["payoff_ratio"] * len(wins) / len(losses))


def test_long_excursions_are_excursions_element_by_element() -> None:
    rng = np.random.default_rng(11)
    entry = rng.uniform(50, 150, 400)
    entry[:4] = [0.0, -1.0, math.nan, 100.0]  # unpriced entries give NaN
    high = entry * rng.uniform(0.9, 1.3, 400)
    low = entry * rng.uniform(0.7, 1.1, 400)
    high[5], low[6] = math.nan, math.nan  # an all-NaN range
    high[7] = low[7] = entry[7]  # no move at all: 0, not -0
    mfe, mae = long_excursions(entry, high, low)
    for k in range(400):
        want = excursions(Direction.LONG, float(entry[k]), float(high[k]), float(low[k]))
        got = (float(mfe[k]), float(mae[k]))
        assert all(g == w or (math.isnan(g) and math.isnan(w)) for g, w in zip(got, want, strict=True)), k
        assert math.copysign(1.0, got[0]) == math.copysign(1.0, want[0]) or math.isnan(got[0])
