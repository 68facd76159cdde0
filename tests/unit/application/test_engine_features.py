"""Execution features of the engine and the simulated broker, on hand-made bars."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from adapters.simulation import SimulatedBroker, SimulatedClock
from application.engine import Engine, EngineConfig
from domain.model.market import MarketFrame
from domain.model.symbols import Instrument
from domain.strategies.base import ExitRules, Signals, no_signals
from tests.builders import HOUR_MS, T0, random_walk, series_from_rows

FLAT = (100.0, 100.5, 99.5, 100.0)
NO_EXITS = ExitRules()


def signals(
    n: int,
    long_entries: list[int] = (),
    long_exits: list[int] = (),
    short_entries: list[int] = (),
    short_exits: list[int] = (),
    stop: float = np.nan,
    size: float = 1.0,
    exits: ExitRules = NO_EXITS,
    atr: np.ndarray | None = None,
) -> Signals:
    s = no_signals(n, 0)
    for arr, idx in (
        (s.long_entry, long_entries),
        (s.long_exit, long_exits),
        (s.short_entry, short_entries),
        (s.short_exit, short_exits),
    ):
        arr[list(idx)] = True
    s.stop_distance[:] = stop
    s.size[:] = size
    return Signals(
        s.long_entry, s.long_exit, s.short_entry, s.short_exit, s.stop_distance, s.size, 0, exits=exits, atr=atr
    )


def engine_for(market, sigs, cash="10000", config: EngineConfig | None = None, **broker_kw):  # type: ignore[no-untyped-def]
    frame = market if isinstance(market, MarketFrame) else MarketFrame.align([market])
    clock = SimulatedClock(int(frame.open_time[0]))
    instruments = [Instrument(s, Decimal("0.01"), Decimal("0.00001"), Decimal("10")) for s in frame.symbols]
    broker_kw.setdefault("taker_fee_bps", Decimal(0))
    broker = SimulatedBroker(frame, instruments, Decimal(cash), clock, **broker_kw)
    return Engine(frame, sigs, broker, clock, Decimal(cash), config=config), broker


def run_every_bar(engine: Engine):  # type: ignore[no-untyped-def]
    for i in range(len(engine.frame)):
        engine.process_bar(i)
    return engine.result()


# -- take-profit ladder, intrabar ambiguity ----------------------------------------------------------------
def test_take_profit_ladder_exits_in_parts_each_with_its_own_trade() -> None:
    rows = [FLAT, FLAT, (100.0, 100.5, 99.5, 100.0), (100.0, 106.0, 99.8, 105.0), (105.0, 111.0, 104.0, 110.0), FLAT]
    candles = series_from_rows(rows)
    exits = ExitRules(take_profits=((0.05, 0.5), (0.10, 0.5)))
    engine, _ = engine_for(candles, signals(6, long_entries=[1], exits=exits))
    result = engine.run()
    entry, tp1, tp2 = result.fills
    assert (tp1.tag, tp2.tag) == ("take_profit", "take_profit")
    assert tp1.price == Decimal("105.00") and tp1.timestamp == T0 + 3 * HOUR_MS
    assert tp2.price == Decimal("110.00") and tp2.timestamp == T0 + 4 * HOUR_MS
    assert tp1.quantity + tp2.quantity == entry.quantity
    assert tp1.liquidity == "maker"
    assert [t.exit_reason for t in result.trades] == ["take_profit", "take_profit"]
    assert sum(t.quantity for t in result.trades) == pytest.approx(float(entry.quantity))
    assert result.trades[0].pnl == pytest.approx(float(tp1.quantity) * 5.0)
    assert result.portfolio.position(candles.symbol).is_flat


@pytest.mark.parametrize(("rule", "expected_tag"), [("stop_first", "stop_loss"), ("target_first", "take_profit")])
def test_stop_and_target_in_one_bar_follow_the_intrabar_rule(rule: str, expected_tag: str) -> None:
    rows = [FLAT, FLAT, FLAT, (100.0, 106.0, 94.0, 100.0), FLAT]
    candles = series_from_rows(rows)
    sig = signals(5, long_entries=[1], stop=3.0, exits=ExitRules(take_profits=((0.05, 1.0),)))
    engine, broker = engine_for(candles, sig, intrabar=rule)
    result = engine.run()
    assert [f.tag for f in result.fills] == ["entry", expected_tag]
    assert broker.open_orders() == []  # the other side was canceled: nothing left to reduce


# -- managed stops ----------------------------------------------------------------------------------------
def test_percent_trailing_stop_follows_the_highest_high() -> None:
    # Highs rise to 110 then the price falls; a 5% trail sits at 104.5 when it is hit.
    rows = [FLAT, FLAT, (100, 102, 99.5, 101), (101, 106, 100.5, 105), (105, 110, 104.8, 109), (109, 109.5, 100, 101)]
    candles = series_from_rows([tuple(map(float, r)) for r in rows])
    engine, _ = engine_for(candles, signals(6, long_entries=[1], exits=ExitRules(trailing_pct=0.05)))
    result = engine.run()
    assert result.fills[-1].tag == "trailing_stop"
    assert result.fills[-1].price == Decimal("104.5")
    assert result.trades[0].exit_reason == "trailing_stop"


def test_a_level_computed_at_a_close_applies_from_the_next_bar() -> None:
    # Bar 3 makes a new high whose trail (104.5) is above bar 3's own low: it must not stop bar 3 out.
    rows = [FLAT, FLAT, (100, 101, 99.5, 100), (104.2, 110, 104.0, 109), (109, 109.5, 108.0, 109), FLAT]
    candles = series_from_rows([tuple(map(float, r)) for r in rows])
    engine, _ = engine_for(candles, signals(6, long_entries=[1], exits=ExitRules(trailing_pct=0.05)))
    result = engine.run()
    exit_fill = result.fills[-1]
    assert exit_fill.timestamp == T0 + 5 * HOUR_MS and exit_fill.price == Decimal("100.0")  # gapped through 104.5


def test_break_even_moves_the_stop_to_the_entry_price() -> None:
    rows = [FLAT, FLAT, FLAT, (100, 103, 99.8, 102.5), (102.5, 102.6, 99.0, 99.5), FLAT]
    candles = series_from_rows([tuple(map(float, r)) for r in rows])
    sig = signals(6, long_entries=[1], stop=5.0, exits=ExitRules(break_even=0.02))
    engine, _ = engine_for(candles, sig)
    result = engine.run()
    entry, stop = result.fills
    assert stop.tag == "trailing_stop" and stop.price == entry.price
    assert result.trades[0].pnl == pytest.approx(0.0, abs=1e-9)


def test_atr_trailing_stop_uses_each_bars_high_minus_atr() -> None:
    rows = [FLAT, FLAT, FLAT, (100, 108, 99.9, 107), (107, 107.5, 90.0, 95), FLAT]
    candles = series_from_rows([tuple(map(float, r)) for r in rows])
    atr = np.full(6, 2.0)
    sig = signals(6, long_entries=[1], exits=ExitRules(trailing_atr=1.5), atr=atr)
    engine, _ = engine_for(candles, sig)
    result = engine.run()
    assert result.fills[-1].price == Decimal("105.0")  # 108 - 1.5 x 2


# -- shorts, leverage, liquidation, scale-ins ----------------------------------------------------------------
def test_short_positions_profit_when_the_price_falls() -> None:
    rows = [FLAT, FLAT, (100, 100.5, 95, 96), (90, 91, 89, 90), (90, 91, 89, 90)]
    candles = series_from_rows([tuple(map(float, r)) for r in rows])
    sig = signals(5, short_entries=[1], short_exits=[2])
    engine, _ = engine_for(candles, sig, config=EngineConfig(allow_short=True), allow_short=True)
    result = engine.run()
    entry, exit_ = result.fills
    assert entry.side.value == "sell" and exit_.side.value == "buy"
    (trade,) = result.trades
    assert trade.direction.value == "short"
    assert trade.pnl == pytest.approx(float(entry.quantity) * (100.0 - 90.0))
    assert result.equity[-1] == pytest.approx(10000 + trade.pnl)


def test_short_signals_are_denied_on_a_spot_account() -> None:
    candles = series_from_rows([FLAT] * 4)
    engine, _ = engine_for(candles, signals(4, short_entries=[1]))
    result = engine.run()
    assert result.fills == [] and "short" in result.denials[0].reason


def test_leveraged_long_is_liquidated_at_the_isolated_margin_price() -> None:
    rows = [FLAT, FLAT, FLAT, (99, 99.5, 60.0, 65.0), (65, 66, 64, 65)]
    candles = series_from_rows([tuple(map(float, r)) for r in rows])
    sig = signals(5, long_entries=[1], size=3.0)
    engine, _ = engine_for(
        candles, sig, config=EngineConfig(max_gross_exposure=3.0), leverage=Decimal(3),
        maintenance_margin=Decimal("0.005"),
    )  # fmt: skip
    result = engine.run()
    entry, liquidation = result.fills
    assert liquidation.tag == "liquidation"
    expected = Decimal("100.0") * (1 - Decimal(1) / 3 + Decimal("0.005"))
    assert liquidation.price == pytest.approx(expected, abs=Decimal("0.01"))
    assert float(entry.quantity * entry.price) == pytest.approx(30000, rel=1e-3)  # 3x the equity
    assert result.equity[-1] < 10000 * 0.1  # most of the margin is gone


def test_scale_ins_add_to_the_position_up_to_max_entries() -> None:
    candles = series_from_rows([FLAT] * 8)
    sig = signals(8, long_entries=[1, 2, 3, 4], size=0.25)
    engine, _ = engine_for(candles, sig, config=EngineConfig(max_entries=3))
    result = engine.run()
    assert [f.tag for f in result.fills] == ["entry"] * 3
    assert result.exposure[-1] == pytest.approx(0.75, rel=1e-3)


# -- zero volume, volatility slippage -------------------------------------------------------------------------
def test_nothing_fills_on_a_zero_volume_bar() -> None:
    rows = [FLAT, FLAT, (100.0, 100.0, 100.0, 100.0), (101.0, 101.5, 100.5, 101.0), FLAT]
    candles = series_from_rows(rows)
    volume = np.array([1.0, 1.0, 0.0, 1.0, 1.0])
    candles = type(candles).from_arrays(
        candles.symbol, candles.timeframe, candles.open_time, candles.open, candles.high, candles.low, candles.close,
        volume,
    )  # fmt: skip
    engine, _ = engine_for(candles, signals(5, long_entries=[1]))
    (entry,) = engine.run().fills
    assert entry.timestamp == T0 + 3 * HOUR_MS and entry.price == Decimal("101.0")


def test_volatility_slippage_grows_with_recent_volatility() -> None:
    calm = random_walk(300, seed=1)
    sig = signals(300, long_entries=[100], long_exits=[200])
    base, _ = engine_for(calm, sig, slippage_bps=Decimal(5))
    scaled, _ = engine_for(calm, sig, slippage_bps=Decimal(5), volatility_slippage_k=0.5)
    b = base.run().fills[0]
    s = scaled.run().fills[0]
    r = np.diff(np.log(calm.close[:101]))[-20:]
    expected = 0.0005 + 0.5 * np.std(r, ddof=1)
    assert float(s.price) == pytest.approx(calm.open[101] * (1 + expected), rel=1e-9)
    assert s.price > b.price


# -- portfolios ------------------------------------------------------------------------------------------
def test_two_symbols_share_one_cash_balance_within_their_caps() -> None:
    btc = random_walk(400, seed=5, start=100.0)
    eth = random_walk(400, seed=6, start=50.0, symbol="ETHUSDT")
    frame = MarketFrame.align([btc, eth])
    sigs = [signals(400, long_entries=[50], long_exits=[300]), signals(400, long_entries=[60], long_exits=[350])]
    engine, broker = engine_for(frame, sigs)
    result = engine.run()
    first, second = result.fills[0], result.fills[1]
    # Default caps: half the equity each.
    assert float(first.quantity * first.price) == pytest.approx(5000, rel=2e-3)
    # ETH's cap is half the equity, but the gross cap (1x) only has what BTC's grown position leaves.
    btc_value = float(first.quantity) * btc.close[60]
    expected_eth = min(result.equity[60] / 2, result.equity[60] - btc_value)
    assert float(second.quantity * second.price) == pytest.approx(expected_eth, rel=2e-3)
    assert result.portfolio.cash == broker.cash()
    assert len(result.trades) == 2
    # Equity is cash plus both positions at their marks, every bar.
    qty_btc = np.zeros(400)
    qty_btc[51:301] = float(first.quantity)
    qty_eth = np.zeros(400)
    qty_eth[61:351] = float(second.quantity)
    cash = np.full(400, 10000.0)
    cash[51:] -= float(first.quantity * first.price)
    cash[61:] -= float(second.quantity * second.price)
    exit_btc, exit_eth = result.fills[2], result.fills[3]
    cash[301:] += float(exit_btc.quantity * exit_btc.price)
    cash[351:] += float(exit_eth.quantity * exit_eth.price)
    expected = cash + qty_btc * btc.close + qty_eth * eth.close
    np.testing.assert_allclose(result.equity, expected, rtol=1e-9)


def test_a_gross_exposure_cap_limits_the_second_entry() -> None:
    btc = random_walk(200, seed=5)
    eth = random_walk(200, seed=6, symbol="ETHUSDT")
    frame = MarketFrame.align([btc, eth])
    sigs = [signals(200, long_entries=[50]), signals(200, long_entries=[50])]
    config = EngineConfig(max_symbol_exposure=0.8, max_gross_exposure=1.0)
    engine, _ = engine_for(frame, sigs, config=config)
    result = engine.run()
    a, b = result.fills
    assert float(a.quantity * a.price) == pytest.approx(8000, rel=2e-3)
    assert float(b.quantity * b.price) == pytest.approx(2000, rel=5e-3)


def test_symbols_with_different_histories_align_on_time() -> None:
    btc = random_walk(300, seed=5)
    eth = random_walk(300, seed=6, symbol="ETHUSDT").slice(100, 300)  # starts 100 bars later
    frame = MarketFrame.align([btc, eth])
    assert len(frame) == 300 and not frame.present[:100, 1].any()
    sigs = [signals(300, long_entries=[10]), signals(200, long_entries=[5])]  # eth's own bar 5 = frame row 105
    engine, _ = engine_for(frame, sigs)
    result = engine.run()
    assert result.fills[1].timestamp == int(eth.open_time[6])


# -- skipping quiet bars changes nothing ------------------------------------------------------------------
@pytest.mark.parametrize(
    "exits",
    [
        ExitRules(),
        ExitRules(trailing_pct=0.02),
        ExitRules(trailing_atr=2.0, break_even=0.01),
        ExitRules(take_profits=((0.01, 0.3), (0.03, 0.7)), trailing_pct=0.03),
    ],
)
def test_skipping_quiet_bars_equals_visiting_every_bar(exits: ExitRules) -> None:
    n = 4000
    btc = random_walk(n, seed=21)
    eth = random_walk(n, seed=22, symbol="ETHUSDT")
    frame = MarketFrame.align([btc, eth])
    rng = np.random.default_rng(3)
    atr = np.full(n, 0.8)

    def random_signals() -> Signals:
        return signals(
            n,
            long_entries=sorted(rng.choice(np.arange(10, n - 10), 60, replace=False).tolist()),
            long_exits=sorted(rng.choice(np.arange(10, n - 10), 40, replace=False).tolist()),
            stop=1.5,
            exits=exits,
            atr=atr,
        )

    sigs = [random_signals(), random_signals()]
    fast, _ = engine_for(frame, sigs, slippage_bps=Decimal(5), taker_fee_bps=Decimal(10))
    slow, _ = engine_for(frame, sigs, slippage_bps=Decimal(5), taker_fee_bps=Decimal(10))
    a = fast.run()
    b = run_every_bar(slow)
    assert len(a.trades) > 20
    assert [(f.client_order_id, f.price, f.quantity, f.timestamp) for f in a.fills] == [
        (f.client_order_id, f.price, f.quantity, f.timestamp) for f in b.fills
    ]
    np.testing.assert_array_equal(a.equity, b.equity)
    np.testing.assert_array_equal(a.exposure, b.exposure)
    assert a.trades == b.trades
