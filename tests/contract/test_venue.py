"""One contract for every ``ExecutionVenue`` (application/ports/venue.py): the simulated venue now, each exchange
adapter in M10 (against the venue simulator's servers, replaying the same script).

A venue is driven through a :class:`Harness`: the venue, the scripted bars it trades on and ``advance()``, which
lets the venue's time move to the end of the next scripted bar. Expected prices and fees come from the script
and the documented fill rules (market orders at the next open, stops at the stop or a worse open, limits at the
limit or a better open), not from the venue under test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from adapters.simulation import SimulatedBroker, SimulatedClock
from application.engine import Engine
from application.ports.errors import InsufficientBalance, OrderRejected
from application.ports.venue import FILLS_START, ExecutionVenue, FillCursor
from domain.model.orders import Fill, OrderRequest, OrderStatus, OrderType, Side
from domain.model.symbols import Instrument, Symbol
from domain.strategies.base import no_signals
from tests.builders import HOUR_MS, T0, random_walk, series_from_rows

BTC = Symbol("BTC", "USDT")
ETH = Symbol("ETH", "USDT")
RULES = Instrument(BTC, tick_size=Decimal("0.01"), step_size=Decimal("0.0001"), min_notional=Decimal("10"))
CASH = Decimal(10000)
FEE = Decimal("0.001")  # 10 bps, maker and taker

# open, high, low, close. Bar 0 is the "now" the tests start from: orders placed then fill from bar 1 on.
SCRIPT = [
    (100.0, 101.0, 99.0, 100.0),
    (100.0, 102.0, 99.0, 101.0),  # 1: market orders fill at the open, 100
    (101.0, 106.0, 100.0, 105.0),  # 2: a buy stop at 104 and a sell limit at 105.5 are reached
    (105.0, 105.0, 95.0, 96.0),  # 3: a sell stop at 97 is reached
    (98.0, 99.0, 95.0, 96.0),  # 4: opens below a sell stop at 98.5: it fills at the open, 98
    (96.0, 97.0, 95.0, 96.0),
    (96.0, 97.0, 95.0, 96.0),
    (96.0, 97.0, 95.0, 96.0),
]


@dataclass
class Harness:
    """A venue on the scripted market. ``advance()`` moves the venue's time to the close of the next bar
    (fills of that bar happen); ``bar`` is the last bar closed."""

    venue: ExecutionVenue
    advance: Callable[[], None]
    bar: Callable[[], int]
    ids: Iterator[int] = field(default_factory=lambda: iter(range(1, 1_000_000)))

    def request(self, side: Side, kind: OrderType, quantity: str | None, **kw: object) -> OrderRequest:
        """A request with a fresh client id (``quote=...`` sizes a market order in the quote currency)."""
        quote = kw.pop("quote", None)
        return OrderRequest(
            f"ct-{next(self.ids)}", kw.pop("symbol", BTC), side, kind,  # type: ignore[arg-type]
            None if quantity is None else Decimal(quantity), T0 + self.bar() * HOUR_MS,
            quote_quantity=None if quote is None else Decimal(str(quote)), **kw,  # type: ignore[arg-type]
        )  # fmt: skip

    def run_to(self, bar: int) -> None:
        while self.bar() < bar:
            self.advance()


def _simulated() -> Harness:
    candles = series_from_rows(SCRIPT)
    clock = SimulatedClock(candles.start_ms)
    broker = SimulatedBroker(candles, RULES, CASH, clock, taker_fee_bps=Decimal(10), maker_fee_bps=Decimal(10))
    state = {"bar": 0}
    broker.process_bar(0)

    def advance() -> None:
        state["bar"] += 1
        broker.process_bar(state["bar"])

    return Harness(broker, advance, lambda: state["bar"])


VENUES: dict[str, Callable[[], Harness]] = {"simulated": _simulated}  # M10: "binance", "coinbase"


@pytest.fixture(params=sorted(VENUES))
def h(request: pytest.FixtureRequest) -> Harness:
    return VENUES[request.param]()


def _all_fills(venue: ExecutionVenue) -> list[Fill]:
    fills, _ = venue.fills_since(FILLS_START)
    return fills


def _refusal(h: Harness, request: OrderRequest) -> str:
    """Why the venue refused ``request``: at submit (raised) or when it would have filled (reported once by
    ``take_rejections``, and ``order()`` shows it rejected). Fails if the venue took it."""
    try:
        h.venue.submit(request)
    except OrderRejected as e:
        known = h.venue.order(request.client_order_id)
        assert known is None or not known.status.is_open
        return str(e)
    h.advance()
    rejected = [o for o in h.venue.take_rejections() if o.client_order_id == request.client_order_id]
    assert len(rejected) == 1, f"{request.client_order_id} was not refused"
    assert h.venue.take_rejections() == []  # reported once
    known = h.venue.order(request.client_order_id)
    assert known is not None and known.status is OrderStatus.REJECTED and known.reason == rejected[0].reason
    assert all(f.client_order_id != request.client_order_id for f in _all_fills(h.venue))
    return rejected[0].reason


def _held(fills: list[Fill]) -> tuple[Decimal, Decimal]:
    """Cash and base held after ``fills``, from the fills alone (the oracle the balances must agree with)."""
    cash, base = CASH, Decimal(0)
    for f in fills:
        cash += -f.notional - f.fee if f.side is Side.BUY else f.notional - f.fee
        base += f.signed_quantity
    return cash, base


def _check_balances(h: Harness) -> None:
    balances = h.venue.balances()
    cash, base = _held(_all_fills(h.venue))
    quote = balances["USDT"]
    assert quote.asset == "USDT" and quote.free >= 0 and quote.locked >= 0
    assert quote.total == cash
    btc = balances.get("BTC")
    assert (btc.total if btc is not None else Decimal(0)) == base
    if btc is not None:
        assert btc.free >= 0 and btc.locked >= 0


# -- instruments and idempotence -------------------------------------------------------------------------
def test_the_venue_gives_its_instrument_rules_and_refuses_unknown_symbols(h: Harness) -> None:
    assert h.venue.instrument(BTC) == RULES
    with pytest.raises(OrderRejected):
        h.venue.instrument(ETH)
    with pytest.raises(OrderRejected):
        h.venue.submit(h.request(Side.BUY, OrderType.LIMIT, "0.1", price=Decimal(90), symbol=ETH))


def test_a_retried_submit_returns_the_same_order_and_never_places_a_second(h: Harness) -> None:
    limit = h.request(Side.BUY, OrderType.LIMIT, "0.5", price=Decimal(90))
    first = h.venue.submit(limit)
    assert first.status is OrderStatus.NEW and first.client_order_id == limit.client_order_id
    assert h.venue.submit(limit) == first
    assert h.venue.order(limit.client_order_id) == first
    assert [o.client_order_id for o in h.venue.open_orders()] == [limit.client_order_id]
    market = h.request(Side.BUY, OrderType.MARKET, "1")
    h.venue.submit(market)
    h.advance()
    filled = h.venue.order(market.client_order_id)
    assert filled is not None and filled.status is OrderStatus.FILLED
    # After it filled, a retry (a reply lost after the fill) finds it: still one order, one fill.
    assert h.venue.submit(market) == filled
    h.advance()
    assert [f.client_order_id for f in _all_fills(h.venue)] == [market.client_order_id]
    assert h.venue.order("never-sent") is None


def test_cancel_is_idempotent_and_unknown_ids_answer_none(h: Harness) -> None:
    limit = h.request(Side.BUY, OrderType.LIMIT, "0.5", price=Decimal(90))
    h.venue.submit(limit)
    canceled = h.venue.cancel(limit.client_order_id)
    assert canceled is not None and canceled.status is OrderStatus.CANCELED
    assert h.venue.cancel(limit.client_order_id) == canceled
    assert h.venue.order(limit.client_order_id) == canceled
    assert h.venue.open_orders() == []
    assert h.venue.cancel("never-sent") is None
    market = h.request(Side.BUY, OrderType.MARKET, "0.2")
    h.venue.submit(market)
    h.run_to(len(SCRIPT) - 1)  # the low stays above 90 anyway; the market buy fills at bar 1
    (fill,) = _all_fills(h.venue)
    assert fill.client_order_id == market.client_order_id
    late = h.venue.cancel(market.client_order_id)  # cancelling a filled order changes nothing
    assert late is not None and late.status is OrderStatus.FILLED and late.filled_quantity == Decimal("0.2")


def test_open_orders_are_listed_oldest_first_and_by_symbol(h: Harness) -> None:
    a = h.venue.submit(h.request(Side.BUY, OrderType.LIMIT, "0.5", price=Decimal(90)))
    b = h.venue.submit(h.request(Side.BUY, OrderType.STOP, "0.5", stop_price=Decimal(104)))
    assert [o.client_order_id for o in h.venue.open_orders()] == [a.client_order_id, b.client_order_id]
    assert h.venue.open_orders(BTC) == h.venue.open_orders()
    assert h.venue.open_orders(ETH) == []


# -- replace -----------------------------------------------------------------------------------------------
def test_replace_cancels_the_old_order_and_places_the_new_one_in_one_call(h: Harness) -> None:
    old = h.request(Side.BUY, OrderType.LIMIT, "0.5", price=Decimal(90))
    h.venue.submit(old)
    new = h.request(Side.BUY, OrderType.LIMIT, "0.5", price=Decimal("99.5"))
    placed = h.venue.replace(old.client_order_id, new)
    assert placed.client_order_id == new.client_order_id and placed.status is OrderStatus.NEW
    gone = h.venue.order(old.client_order_id)
    assert gone is not None and gone.status is OrderStatus.CANCELED
    assert [o.client_order_id for o in h.venue.open_orders()] == [new.client_order_id]
    assert h.venue.replace(old.client_order_id, new) == placed  # a retry: the same order, no second one
    assert len(h.venue.open_orders()) == 1
    h.advance()  # bar 1's low is 99: the new limit fills at 99.5, the old one at 90 could not have
    (fill,) = _all_fills(h.venue)
    assert (fill.client_order_id, fill.price) == (new.client_order_id, Decimal("99.5"))


def test_a_refused_replace_leaves_the_old_order_standing(h: Harness) -> None:
    old = h.request(Side.BUY, OrderType.LIMIT, "0.5", price=Decimal(90))
    h.venue.submit(old)
    off_tick = h.request(Side.BUY, OrderType.LIMIT, "0.5", price=Decimal("90.005"))
    with pytest.raises(OrderRejected):
        h.venue.replace(old.client_order_id, off_tick)
    assert [o.client_order_id for o in h.venue.open_orders()] == [old.client_order_id]
    assert h.venue.order(off_tick.client_order_id) is None
    with pytest.raises(OrderRejected):  # unknown
        h.venue.replace("never-sent", h.request(Side.BUY, OrderType.LIMIT, "0.5", price=Decimal(91)))
    h.venue.cancel(old.client_order_id)
    with pytest.raises(OrderRejected):  # no longer open
        h.venue.replace(old.client_order_id, h.request(Side.BUY, OrderType.LIMIT, "0.5", price=Decimal(91)))
    assert h.venue.open_orders() == []


# -- balances ------------------------------------------------------------------------------------------
def test_balances_lock_what_open_orders_may_spend_and_add_up_to_what_is_held(h: Harness) -> None:
    start = h.venue.balances()["USDT"]
    assert (start.free, start.locked) == (CASH, Decimal(0))
    _check_balances(h)
    h.venue.submit(h.request(Side.BUY, OrderType.LIMIT, "0.5", price=Decimal(90)))  # locks 45 USDT
    quote = h.venue.balances()["USDT"]
    assert (quote.free, quote.locked) == (CASH - 45, Decimal(45))
    h.venue.submit(h.request(Side.BUY, OrderType.MARKET, "1"))
    h.advance()  # the market buy fills at 100 (fee 0.1), the limit at 90 rests
    _check_balances(h)
    balances = h.venue.balances()
    assert balances["USDT"].locked == 45 and balances["USDT"].total == CASH - 100 - Decimal("0.1")
    assert (balances["BTC"].free, balances["BTC"].locked) == (Decimal(1), Decimal(0))
    sell = h.request(Side.SELL, OrderType.LIMIT, "0.4", price=Decimal(120))
    h.venue.submit(sell)  # locks 0.4 BTC
    btc = h.venue.balances()["BTC"]
    assert (btc.free, btc.locked) == (Decimal("0.6"), Decimal("0.4"))
    h.venue.cancel(sell.client_order_id)
    btc = h.venue.balances()["BTC"]
    assert (btc.free, btc.locked) == (Decimal(1), Decimal(0))
    for _ in range(3):
        h.advance()
        _check_balances(h)


# -- fills ---------------------------------------------------------------------------------------------
def test_market_limit_and_stop_orders_fill_at_the_scripted_prices(h: Harness) -> None:
    market = h.request(Side.BUY, OrderType.MARKET, "1")
    h.venue.submit(market)
    h.advance()  # bar 1 opens at 100
    buy_stop = h.request(Side.BUY, OrderType.STOP, "0.5", stop_price=Decimal(104))
    sell_limit = h.request(Side.SELL, OrderType.LIMIT, "0.3", price=Decimal("105.5"))
    h.venue.submit(buy_stop)
    h.venue.submit(sell_limit)
    h.advance()  # bar 2 trades 100..106: both are reached
    sell_stop = h.request(Side.SELL, OrderType.STOP, "0.5", stop_price=Decimal(97))
    h.venue.submit(sell_stop)
    h.advance()  # bar 3 trades down to 95 from an open of 105: the stop fills at 97
    gap_stop = h.request(Side.SELL, OrderType.STOP, "0.2", stop_price=Decimal("98.5"))
    h.venue.submit(gap_stop)
    h.advance()  # bar 4 opens at 98, below the stop: it fills at the open
    fills = _all_fills(h.venue)
    by_id = {f.client_order_id: f for f in fills}
    expected = {
        market.client_order_id: (Side.BUY, "1", "100", 1),
        buy_stop.client_order_id: (Side.BUY, "0.5", "104", 2),
        sell_limit.client_order_id: (Side.SELL, "0.3", "105.5", 2),
        sell_stop.client_order_id: (Side.SELL, "0.5", "97", 3),
        gap_stop.client_order_id: (Side.SELL, "0.2", "98", 4),
    }
    assert by_id.keys() == expected.keys() and len(fills) == len(expected)
    for cid, (side, quantity, price, bar) in expected.items():
        f = by_id[cid]
        assert (f.side, f.quantity, f.price) == (side, Decimal(quantity), Decimal(price)), cid
        assert f.timestamp == T0 + bar * HOUR_MS  # during the bar (its open time)
        assert f.fee == f.notional * FEE and f.fee_asset == "USDT"
        order = h.venue.order(cid)
        assert order is not None and order.status is OrderStatus.FILLED and order.average_price == f.price
    assert by_id[sell_limit.client_order_id].liquidity == "maker"
    assert by_id[market.client_order_id].liquidity == "taker"
    assert h.venue.open_orders() == []
    _check_balances(h)


def test_fills_since_a_cursor_never_repeat_and_trade_ids_are_unique(h: Harness) -> None:
    seen: list[Fill] = []
    cursor: FillCursor = FILLS_START
    first, cursor = h.venue.fills_since(cursor)
    assert first == []
    h.venue.submit(h.request(Side.BUY, OrderType.MARKET, "1"))
    for bar in range(1, len(SCRIPT)):
        h.advance()
        if bar == 1:  # the buy filled: sell it in parts
            h.venue.submit(h.request(Side.SELL, OrderType.LIMIT, "0.25", price=Decimal("105.5")))  # in bar 2
            h.venue.submit(h.request(Side.SELL, OrderType.STOP, "0.25", stop_price=Decimal(97)))  # bar 3
            h.venue.submit(h.request(Side.SELL, OrderType.STOP, "0.25", stop_price=Decimal(96)))  # bar 3 too
        fills, after = h.venue.fills_since(cursor)
        seen += fills
        again, same = h.venue.fills_since(after)
        assert again == []  # nothing new since the cursor
        cursor = same
    assert len(seen) == 4
    assert seen == _all_fills(h.venue)  # in the order they happened, each once
    ids = [f.trade_id for f in seen]
    assert all(ids) and len(set(ids)) == len(ids)
    assert all(f.fee_asset == "USDT" for f in seen)
    assert [f.timestamp for f in seen] == sorted(f.timestamp for f in seen)


# -- rejections ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("side", "kind", "quantity", "extra", "why"),
    [
        (Side.BUY, OrderType.LIMIT, "0.1", {"price": Decimal("90.005")}, "price"),  # off the tick grid
        (Side.BUY, OrderType.STOP, "0.1", {"stop_price": Decimal("104.001")}, "stop price"),
        (Side.BUY, OrderType.LIMIT, "0.00005", {"price": Decimal(90)}, "quantity"),  # off the step grid
        (Side.BUY, OrderType.MARKET, "0.05", {}, "notional"),  # 0.05 x 100 = 5 < 10
        (Side.BUY, OrderType.MARKET, "200", {}, "insufficient"),  # 20,000 of 10,000
        (Side.BUY, OrderType.MARKET, None, {"quote": 5}, "notional"),
    ],
)
def test_the_venue_refuses_what_breaks_its_filters_or_the_balance(
    h: Harness, side: Side, kind: OrderType, quantity: str | None, extra: dict[str, object], why: str
) -> None:
    reason = _refusal(h, h.request(side, kind, quantity, **extra))
    assert why in reason.lower()
    _check_balances(h)
    # The refusal leaves the account able to trade.
    ok = h.request(Side.BUY, OrderType.MARKET, "0.5")
    h.venue.submit(ok)
    h.advance()
    assert [f.client_order_id for f in _all_fills(h.venue)] == [ok.client_order_id]


def test_an_insufficient_balance_is_its_own_error_when_raised(h: Harness) -> None:
    request = h.request(Side.BUY, OrderType.MARKET, "200")
    try:
        h.venue.submit(request)
    except OrderRejected as e:
        assert isinstance(e, InsufficientBalance)
        return
    h.advance()
    (rejected,) = h.venue.take_rejections()
    assert rejected.status is OrderStatus.REJECTED and "insufficient balance" in rejected.reason


# -- the simulated venue over a whole backtest ------------------------------------------------------------
@pytest.mark.parametrize("replay", [True, False])
def test_a_backtest_reports_every_fill_through_fills_since_with_unique_trade_ids(replay: bool) -> None:
    candles = random_walk(1500, seed=11)
    signals = no_signals(1500, 0)
    signals.long_entry[50::97] = True
    signals.long_exit[90::97] = True
    signals.stop_distance[:] = 1.0
    clock = SimulatedClock(candles.start_ms)
    broker = SimulatedBroker(candles, Instrument(BTC), CASH, clock, taker_fee_bps=Decimal(10))
    engine = Engine(candles, signals, broker, clock, CASH, signal_replay=replay)
    result = engine.run()
    fills, cursor = broker.fills_since(FILLS_START)
    assert len(fills) > 20 and fills == result.fills
    ids = [f.trade_id for f in fills]
    assert len(set(ids)) == len(ids) and all(
        t.startswith(f.client_order_id + "#") for t, f in zip(ids, fills, strict=True)
    )
    assert {f.fee_asset for f in fills} == {"USDT"}
    assert broker.fills_since(cursor) == ([], cursor)
