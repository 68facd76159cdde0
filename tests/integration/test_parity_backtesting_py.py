"""Trade-by-trade parity of atb's engine and simulated broker with backtesting.py (docs/parity.md).

The ``ema_cross`` strategy (EMA(12)/EMA(26) crossover, long only, entry and exit at the next bar's open, a
stop ``stop_loss`` below the deciding close, 0.1% fee per side, 10 000 cash, no slippage) runs through
atb's ``Engine`` + ``SimulatedBroker`` and through ``backtesting.lib.FractionalBacktest``. backtesting.py
is fed atb's own EMA arrays and atb's crossing rule, so what is compared is execution: fills, stops, fees,
sizing and compounding, not indicator seeding.

Conventions aligned on the backtesting.py side (each is explained in docs/parity.md):
- fractional trading with ``fractional_unit=1e-12``; atb's broker gets the same fine grid (step 1e-12,
  tick 1e-10, no minimum notional) so that neither side rounds quantities or stops coarsely;
- ``size=1 - 1e-12``: backtesting.py reads ``size=1`` as one unit, not 100% of equity;
- nothing special for an exit bar that also trades through the stop: ``Trade.close()`` queues its order
  ahead of the contingent stop, so the exit fills at the open first, as in atb (20 trades on BTCUSDT);
- ``finalize_trades=False``: the last position stays open on both sides and is marked at the last close.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

import numpy as np
import pandas as pd
import pytest
from backtesting import Strategy
from backtesting.lib import FractionalBacktest, crossover

from adapters.files import BundledMarketData
from adapters.simulation import SimulatedBroker, SimulatedClock
from application.engine import Engine
from domain.indicators import ema
from domain.model.candles import CandleSeries
from domain.model.symbols import Instrument, Symbol
from domain.model.timeframe import Timeframe
from domain.strategies.api import Context
from domain.strategies.builtin.ema_cross import EmaCross

CASH = 10_000
FEE_BPS = 10
FAST, SLOW = 12, 26
UNIT = 1e-12  # backtesting.py's fractional unit, and atb's step size below
PRICE_RTOL = 1e-9
RETURN_ATOL = 1e-9
EQUITY_RTOL = 1e-4  # 0.01%

# ---------------------------------------------------------------------------------------------------------------
# Data


def gap_walk(n: int = 20_000, seed: int = 11) -> CandleSeries:
    """A seeded hourly random walk in which ~2% of bars open with a gap (sigma 3%), so that stops are
    often gapped through and filled at the open."""
    rng = np.random.default_rng(seed)
    gaps = np.where(rng.random(n) < 0.02, rng.normal(0.0, 0.03, n), 0.0)
    body = rng.normal(0.0, 0.006, n)
    # open[t] = close[t-1] * exp(gap[t]); close[t] = open[t] * exp(body[t])
    log_close = np.log(1_000.0) + np.cumsum(gaps + body)
    close = np.exp(log_close)
    open_ = np.exp(log_close - body)
    wick = np.abs(rng.normal(0.0, 0.003, (2, n)))
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    times = 1_599_998_400_000 + 3_600_000 * np.arange(n, dtype=np.int64)  # 2020-09-13 12:00 UTC
    return CandleSeries.from_arrays(Symbol("BTC", "USDT"), Timeframe.H1, times, open_, high, low, close, np.ones(n))


@cache
def bundled(symbol: str) -> CandleSeries:
    return BundledMarketData().candles(Symbol.parse(symbol), Timeframe.H1)


def bundled_btc() -> CandleSeries:
    return bundled("BTCUSDT")


@dataclass(frozen=True)
class Case:
    name: str
    data: Callable[[], CandleSeries]
    stop_loss: float

    def candles(self) -> CandleSeries:
        return self.data()


BTC_2PCT = Case("BTCUSDT_1h_stop2pct", bundled_btc, 0.02)  # the case
GAP_WALK = Case("gap_walk_stop2pct", gap_walk, 0.02)  # stops gapped through: the gap-fill rule
BTC_NO_STOP = Case("BTCUSDT_1h_no_stop", bundled_btc, 0.0)  # control: everything but the stops


# ---------------------------------------------------------------------------------------------------------------
# The two runs


@dataclass(frozen=True)
class Ledger:
    """One side's closed trades, as arrays, plus its final equity and whether a position is still open."""

    entry_time: np.ndarray
    exit_time: np.ndarray
    entry_price: np.ndarray
    exit_price: np.ndarray
    returns: np.ndarray
    final_equity: float
    open_at_end: bool

    def __len__(self) -> int:
        return int(self.entry_time.shape[0])


def run_atb(candles: CandleSeries, stop_loss: float) -> Ledger:
    signals = EmaCross(fast=FAST, slow=SLOW, stop_loss=stop_loss).signals(candles, Context())
    clock = SimulatedClock(candles.start_ms)
    # A fine grid (no coarse rounding of quantities or stops, no minimum notional), like fractional_unit.
    instrument = Instrument(candles.symbol, Decimal("1e-10"), Decimal(repr(UNIT)), Decimal(0))
    broker = SimulatedBroker(
        candles,
        instrument,
        Decimal(CASH),
        clock,
        taker_fee_bps=Decimal(FEE_BPS),
        fill_on_zero_volume=True,  # backtesting.py fills on bars with no volume (117 in BTCUSDT 1h)
    )
    result = Engine(candles, signals, broker, clock, Decimal(CASH)).run()
    trades = result.trades
    return Ledger(
        np.array([t.entry_time for t in trades], dtype=np.int64),
        np.array([t.exit_time for t in trades], dtype=np.int64),
        np.array([t.entry_price for t in trades]),
        np.array([t.exit_price for t in trades]),
        np.array([t.return_pct for t in trades]),
        float(result.equity[-1]),
        not result.portfolio.position(candles.symbol).is_flat,
    )


def run_backtesting_py(
    candles: CandleSeries,
    stop_loss: float,
    unit: float = UNIT,
    stop_price: Callable[[float], float] | None = None,
) -> Ledger:
    """backtesting.py's ledger. ``unit``: its fractional unit (atb's step size); ``stop_price``: the stop
    for a deciding close, in real prices (default ``close - close x stop_loss``, no tick)."""
    fast_line, slow_line = ema(candles.close, FAST), ema(candles.close, SLOW)
    raw_close = candles.close

    class EmaCrossBt(Strategy):
        def init(self) -> None:
            self.fast = self.I(lambda: fast_line, name="ema_fast")
            self.slow = self.I(lambda: slow_line, name="ema_slow")

        def next(self) -> None:
            f, s = self.fast, self.slow
            # atb's rule (domain.strategies.base.crossings): above now, not above on the previous bar.
            up = f[-1] > s[-1] and not f[-2] > s[-2]
            down = not f[-1] > s[-1] and f[-2] > s[-2]
            if down and self.position:
                self.position.close()  # queued ahead of the stop: filled at the open even if the bar hits it
            if up and not self.position:
                close = self.data.Close[-1]  # scaled by fractional_unit, as every price the strategy sees
                sl = close - close * stop_loss if stop_loss > 0 else None
                if sl is not None and stop_price is not None:  # on the tick, then scaled like the prices
                    sl = stop_price(float(raw_close[len(self.data.Close) - 1])) * unit
                self.buy(size=1 - 1e-12, sl=sl)

    frame = pd.DataFrame(
        {"Open": candles.open, "High": candles.high, "Low": candles.low, "Close": candles.close,
         "Volume": candles.volume},
        index=pd.to_datetime(candles.open_time, unit="ms"),
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3 deprecations and "trades remain open" notices
        bt = FractionalBacktest(
            frame, EmaCrossBt, cash=CASH, commission=FEE_BPS / 10_000, fractional_unit=unit, finalize_trades=False
        )
        stats = bt.run()
    trades = stats["_trades"]
    return Ledger(
        candles.open_time[trades["EntryBar"].to_numpy(dtype=np.int64)],
        candles.open_time[trades["ExitBar"].to_numpy(dtype=np.int64)],
        trades["EntryPrice"].to_numpy(dtype=np.float64),
        trades["ExitPrice"].to_numpy(dtype=np.float64),
        trades["ReturnPct"].to_numpy(dtype=np.float64),
        float(stats["Equity Final [$]"]),
        len(stats["_strategy"].trades) > 0,
    )


@cache
def runs(case: Case) -> tuple[Ledger, Ledger]:
    candles = case.candles()
    return run_atb(candles, case.stop_loss), run_backtesting_py(candles, case.stop_loss)


def rel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray(np.abs(a / b - 1.0))


def first_difference(atb: Ledger, ref: Ledger) -> int:
    """Index of the first trade that differs in time, price or return (``len`` when none does)."""
    n = min(len(atb), len(ref))
    differs = (
        (atb.entry_time[:n] != ref.entry_time[:n])
        | (atb.exit_time[:n] != ref.exit_time[:n])
        | (rel(atb.entry_price[:n], ref.entry_price[:n]) > PRICE_RTOL)
        | (rel(atb.exit_price[:n], ref.exit_price[:n]) > PRICE_RTOL)
        | (np.abs(atb.returns[:n] - ref.returns[:n]) > RETURN_ATOL)
    )
    hits = np.flatnonzero(differs)
    return int(hits[0]) if hits.size else n


def first_difference_text(case: Case) -> str:
    """The first trade that differs, both sides, for a failure message ("" when none does)."""
    atb, ref = runs(case)
    k = first_difference(atb, ref)
    if k == min(len(atb), len(ref)):
        return "" if len(atb) == len(ref) else f"{len(atb)} trades in atb, {len(ref)} in backtesting.py"

    def side(name: str, led: Ledger) -> str:
        return (
            f"{name}: entry {when(led.entry_time[k])} at {float(led.entry_price[k])!r}, exit {when(led.exit_time[k])} "
            f"at {float(led.exit_price[k])!r}, return {led.returns[k]:.6%}"
        )

    return f"first difference at trade {k}: {side('atb', atb)}; {side('backtesting.py', ref)}"


def when(ms: int) -> str:
    return pd.Timestamp(int(ms), unit="ms").strftime("%Y-%m-%d %H:%M")


# ---------------------------------------------------------------------------------------------------------------
# The assertions, one test each (so that a known difference could be marked on the one it breaks)

CASES = [BTC_2PCT, GAP_WALK, BTC_NO_STOP]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_same_number_of_trades_and_the_same_open_position_at_the_end(case: Case) -> None:
    atb, ref = runs(case)
    assert len(atb) == len(ref), first_difference_text(case)
    assert len(atb) > 100
    assert atb.open_at_end == ref.open_at_end


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_same_entry_and_exit_times(case: Case) -> None:
    atb, ref = runs(case)
    n = min(len(atb), len(ref))
    same = np.array_equal(atb.entry_time[:n], ref.entry_time[:n]) and np.array_equal(
        atb.exit_time[:n], ref.exit_time[:n]
    )
    assert same, first_difference_text(case)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_same_prices_and_returns(case: Case) -> None:
    atb, ref = runs(case)
    assert len(atb) == len(ref), first_difference_text(case)
    assert rel(atb.entry_price, ref.entry_price).max() <= PRICE_RTOL, first_difference_text(case)
    assert rel(atb.exit_price, ref.exit_price).max() <= PRICE_RTOL, first_difference_text(case)
    assert np.abs(atb.returns - ref.returns).max() <= RETURN_ATOL, first_difference_text(case)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_same_final_equity(case: Case) -> None:
    atb, ref = runs(case)
    assert atb.final_equity == pytest.approx(ref.final_equity, rel=EQUITY_RTOL, abs=0), first_difference_text(case)


# ---------------------------------------------------------------------------------------------------------------
# The cases test what they claim to


def test_the_stop_cases_exercise_the_stop_rules() -> None:
    """Both stop cases fill many stops at the stop; BTCUSDT has exit signals filled at the open of a bar that
    also traded through the stop (the exit wins); the gap walk has stops filled at an open that gapped below
    the stop (a sell stop fills at ``min(open, stop)``)."""
    counts = {}
    for case in (BTC_2PCT, GAP_WALK):
        candles = case.candles()
        _, ref = runs(case)
        bar = np.searchsorted(candles.open_time, ref.exit_time)
        decided = np.searchsorted(candles.open_time, ref.entry_time) - 1
        stop = candles.close[decided] - candles.close[decided] * case.stop_loss
        at_open = ref.exit_price == candles.open[bar]
        counts[case.name] = (
            int(np.sum(np.isclose(ref.exit_price, stop, rtol=1e-12, atol=0))),
            int(np.sum(at_open & (candles.low[bar] <= stop) & (candles.open[bar] > stop))),
            int(np.sum(at_open & (candles.open[bar] < stop))),
        )
    assert counts[BTC_2PCT.name][0] >= 100 and counts[GAP_WALK.name][0] >= 100, counts
    assert counts[BTC_2PCT.name][1] >= 10, counts
    assert counts[GAP_WALK.name][2] >= 10, counts


def test_atb_crossing_rule_picks_the_same_bars_as_backtesting_lib_crossover() -> None:
    """atb counts ``fast[t-1] == slow[t-1]`` as "not above"; ``backtesting.lib.crossover`` needs a strict
    ``<``. They differ only on exact ties, which the bundled data does not have."""
    close = bundled("BTCUSDT").close
    fast, slow = ema(close, FAST), ema(close, SLOW)
    signals = EmaCross(fast=FAST, slow=SLOW).signals(bundled("BTCUSDT"), Context())
    lib_up = np.array([t >= SLOW and crossover(fast[t - 1 : t + 1], slow[t - 1 : t + 1]) for t in range(len(close))])
    lib_down = np.array([t >= SLOW and crossover(slow[t - 1 : t + 1], fast[t - 1 : t + 1]) for t in range(len(close))])
    np.testing.assert_array_equal(lib_up, signals.long_entry)
    np.testing.assert_array_equal(lib_down, signals.long_exit)
