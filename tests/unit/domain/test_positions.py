"""Positions, portfolio and orders: exact Decimal bookkeeping, checked by hand and by property tests."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from domain.model.errors import DomainError, InvalidOrder
from domain.model.orders import Fill, Order, OrderRequest, OrderStatus, OrderType, Side
from domain.model.portfolio import Portfolio
from domain.model.positions import Position
from domain.model.symbols import Symbol

BTC = Symbol("BTC", "USDT")
ETH = Symbol("ETH", "USDT")
START_CASH = Decimal("1000000")
D = Decimal


def fill(side: Side, qty: str | Decimal, price: str | Decimal, fee: str | Decimal = "0", symbol: Symbol = BTC) -> Fill:
    return Fill("o-1", symbol, side, D(qty), D(price), D(fee), 0)


def buy(qty: str | Decimal, price: str | Decimal, fee: str | Decimal = "0") -> Fill:
    return fill(Side.BUY, qty, price, fee)


def sell(qty: str | Decimal, price: str | Decimal, fee: str | Decimal = "0") -> Fill:
    return fill(Side.SELL, qty, price, fee)


def run(fills: list[Fill]) -> tuple[Position, Portfolio]:
    pos = Position(BTC)
    pf = Portfolio("USDT", START_CASH)
    for f in fills:
        pos = pos.apply(f)
        pf = pf.apply(f)
    return pos, pf


# --- hypothesis strategies -------------------------------------------------------------------------------

quantities = st.integers(1, 5000).map(lambda n: D(n).scaleb(-3))  # 0.001 .. 5.000
prices = st.integers(1, 1_000_000).map(lambda n: D(n).scaleb(-2))  # 0.01 .. 10000.00
fees = st.integers(0, 1000).map(lambda n: D(n).scaleb(-2))  # 0 .. 10.00
sides = st.sampled_from([Side.BUY, Side.SELL])

# A step is turned into a fill given the running net quantity (tracked by the test, not the code under test):
#   ("any", side, q)   a fill of q on ``side`` (may add, reduce partially, close or flip)
#   ("close", _, _)    exactly the open quantity on the other side (a full close)
#   ("flip", _, q)     the open quantity plus q on the other side (long -> short or short -> long)
steps = st.tuples(st.sampled_from(["any", "any", "close", "flip"]), sides, quantities, prices, fees)


def fills_from_steps(raw: list[tuple[str, Side, Decimal, Decimal, Decimal]]) -> list[Fill]:
    net = D(0)
    out = []
    for kind, drawn_side, drawn_q, price, fee in raw:
        side, q = drawn_side, drawn_q
        if kind != "any" and net != 0:
            side = Side.SELL if net > 0 else Side.BUY
            q = abs(net) if kind == "close" else abs(net) + drawn_q
        f = fill(side, q, price, fee)
        net += f.signed_quantity
        out.append(f)
    return out


def pnl_identity_sides(pos: Position, pf: Portfolio, mark: Decimal) -> tuple[Decimal, Decimal]:
    """realised + unrealised(mark) - fees, and the change of equity (cash + quantity x mark)."""
    lhs = pos.realized_pnl + pos.unrealized_pnl(mark) - pos.fees
    rhs = pf.cash + pos.quantity * mark - START_CASH
    return lhs, rhs


@settings(max_examples=200, deadline=None)
@given(st.lists(steps, min_size=1, max_size=15), prices)
def test_any_fill_sequence_keeps_quantity_cost_and_fees_consistent(raw, mark):
    fills = fills_from_steps(raw)
    pos, pf = run(fills)

    # (a) quantity is the signed sum of the fills
    assert pos.quantity == sum((f.signed_quantity for f in fills), D(0))
    # (b) cost basis: zero when flat, else the sign of the quantity and a positive average entry
    if pos.is_flat:
        assert pos.cost == 0
        assert pos.average_entry == 0
    else:
        assert (pos.cost > 0) == (pos.quantity > 0)
        assert pos.average_entry > 0
        # a weighted average of fill prices lies between the extreme fill prices
        tol = D("1e-18")
        assert min(f.price for f in fills) - tol <= pos.average_entry <= max(f.price for f in fills) + tol
    # (d) fees are the sum of the fills' fees
    assert pos.fees == sum((f.fee for f in fills), D(0))
    # the portfolio keeps the same position and totals
    assert pf.position(BTC) == pos
    assert pf.realized_pnl == pos.realized_pnl
    assert pf.fees == pos.fees
    # cash moves by -(signed quantity x price) - fee per fill
    assert pf.cash == START_CASH - sum((f.signed_quantity * f.price + f.fee for f in fills), D(0))
    # (c) holds at least to far below a cent for arbitrary partial reductions (exactness: see the tests below)
    lhs, rhs = pnl_identity_sides(pos, pf, mark)
    assert abs(lhs - rhs) < D("1e-18")
    assert pf.equity({BTC: mark}) - START_CASH == rhs


# Steps whose cost removal is exact: adds, full closes, flips and reductions by exactly half.
exact_steps = st.tuples(st.sampled_from(["add", "close", "flip", "half"]), sides, quantities, prices, fees)


@settings(max_examples=200, deadline=None)
@given(st.lists(exact_steps, min_size=1, max_size=12), prices)
def test_pnl_identity_is_exact_for_adds_full_closes_flips_and_halvings(raw, mark):
    net = D(0)
    fills = []
    for kind, drawn_side, drawn_q, price, fee in raw:
        side, q = drawn_side, drawn_q
        if net != 0:
            closing = Side.SELL if net > 0 else Side.BUY
            if kind == "add":
                side = closing.opposite
            elif kind == "close":
                side, q = closing, abs(net)
            elif kind == "flip":
                side, q = closing, abs(net) + drawn_q
            else:
                side, q = closing, abs(net) / 2
        f = fill(side, q, price, fee)
        net += f.signed_quantity
        fills.append(f)
    pos, pf = run(fills)
    lhs, rhs = pnl_identity_sides(pos, pf, mark)
    assert lhs == rhs


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(steps, min_size=1, max_size=15), prices)
# short 1 @ 1, short 5 more @ 3 (cost -16 for 6), buy back 1 @ 1: cost removed = 16/6, not a finite decimal
@example(
    [("any", Side.SELL, D(1), D(1), D(0)), ("any", Side.SELL, D(5), D(3), D(0)), ("any", Side.BUY, D(1), D(1), D(0))],
    D(1),
)
def test_any_fill_sequence_pnl_identity_is_exact(raw, mark):
    pos, pf = run(fills_from_steps(raw))
    lhs, rhs = pnl_identity_sides(pos, pf, mark)
    assert lhs == rhs


# --- hand-made examples ----------------------------------------------------------------------------------


def test_adding_to_a_long_averages_the_entry_and_a_partial_sell_realises_against_it():
    pos, _ = run([buy("1", "100"), buy("1", "110")])
    assert pos.quantity == 2
    assert pos.average_entry == 105
    pos = pos.apply(sell("1.5", "120"))
    assert pos.realized_pnl == D("22.5")  # 1.5 x (120 - 105)
    assert pos.quantity == D("0.5")
    assert pos.average_entry == 105  # a reduction does not move the entry price
    assert pos.unrealized_pnl(D(130)) == D("12.5")  # 0.5 x (130 - 105)


def test_selling_more_than_the_long_flips_to_a_short_at_the_fill_price():
    pos, _ = run([buy("1", "100"), sell("3", "90")])
    assert pos.realized_pnl == -10
    assert pos.quantity == -2
    assert pos.is_short
    assert pos.average_entry == 90
    assert pos.cost == -180


def test_buying_more_than_the_short_flips_to_a_long():
    pos, _ = run([sell("2", "50"), buy("5", "40")])
    assert pos.realized_pnl == 20  # 2 x (50 - 40)
    assert pos.quantity == 3
    assert pos.average_entry == 40


def test_short_profits_when_the_price_falls():
    pos, _ = run([sell("2", "100", fee="1")])
    assert pos.is_short
    assert pos.unrealized_pnl(D(90)) == 20
    assert pos.unrealized_pnl(D(110)) == -20
    pos = pos.apply(buy("1", "80", fee="0.5"))
    assert pos.realized_pnl == 20  # 1 x (100 - 80), fees kept apart
    assert pos.fees == D("1.5")
    pos = pos.apply(buy("1", "120"))
    assert pos.is_flat
    assert pos.cost == 0
    assert pos.realized_pnl == 0  # +20 then -20


def test_full_close_leaves_a_flat_position_with_no_cost():
    pos, pf = run([buy("0.3", "100.07", "0.01"), buy("0.7", "99.13", "0.02"), sell("1", "101", "0.03")])
    assert pos.is_flat
    assert pos.cost == 0
    expected = D(101) - (D("0.3") * D("100.07") + D("0.7") * D("99.13"))
    assert pos.realized_pnl == expected
    assert pf.cash - START_CASH == expected - D("0.06")


def test_fill_for_another_symbol_is_refused():
    with pytest.raises(InvalidOrder):
        Position(BTC).apply(fill(Side.BUY, "1", "10", symbol=ETH))


def test_portfolio_refuses_a_fill_in_another_quote_currency():
    with pytest.raises(DomainError):
        Portfolio("EUR", D(100)).apply(buy("1", "10"))


def test_portfolio_equity_needs_a_mark_for_each_open_position():
    pf = Portfolio("USDT", D(1000)).apply(buy("1", "100")).apply(fill(Side.BUY, "2", "10", symbol=ETH))
    assert pf.equity({BTC: D(150), ETH: D(5)}) == 1000 - 100 - 20 + 150 + 10
    with pytest.raises(DomainError):
        pf.equity({BTC: D(150)})
    # a flat position needs no mark
    flat = pf.apply(fill(Side.SELL, "2", "10", symbol=ETH))
    assert flat.equity({BTC: D(100)}) == 1000


def test_a_margin_portfolio_carries_borrowed_cash_into_equity():
    # Buying 3 at 100 with 100 of cash borrows 200: equity is still cash plus the position's value.
    pf = Portfolio("USDT", D(100)).apply(buy("3", "100"))
    assert pf.cash == D(-200)
    assert pf.equity({BTC: D(110)}) == D(130)


def test_portfolio_is_not_mutated_by_apply():
    pf = Portfolio("USDT", D(1000))
    after = pf.apply(buy("1", "100"))
    assert pf.cash == 1000
    assert pf.positions == {}
    assert after.cash == 900


@pytest.mark.parametrize(
    ("qty", "price", "fee"), [("0", "1", "0"), ("-1", "1", "0"), ("1", "0", "0"), ("1", "-1", "0"), ("1", "1", "-0.01")]
)
def test_fill_rejects_non_positive_quantity_or_price_and_negative_fee(qty, price, fee):
    with pytest.raises(InvalidOrder):
        buy(qty, price, fee)


def test_fill_signed_quantity_and_notional():
    assert buy("2", "3").signed_quantity == 2
    assert sell("2", "3").signed_quantity == -2
    assert sell("2", "3").notional == 6
    assert Side.BUY.opposite is Side.SELL
    assert Side.SELL.opposite is Side.BUY


# --- orders ----------------------------------------------------------------------------------------------


def request(**kw) -> OrderRequest:
    args = {
        "client_order_id": "c-1",
        "symbol": BTC,
        "side": Side.BUY,
        "type": OrderType.MARKET,
        "quantity": D(3),
        "created_at": 0,
    }
    args.update(kw)
    return OrderRequest(**args)


@pytest.mark.parametrize(
    "kw",
    [
        {"client_order_id": ""},
        {"quantity": None},  # neither quantity nor quote quantity
        {"quantity": D(1), "quote_quantity": D(100)},  # both
        {"quantity": D(0)},
        {"quantity": D(-1)},
        {"quantity": None, "quote_quantity": D(0)},
        {"type": OrderType.LIMIT},  # limit without a price
        {"type": OrderType.LIMIT, "price": D(0)},
        {"type": OrderType.STOP},  # stop without a stop price
        {"type": OrderType.STOP, "stop_price": D(-5)},
        {"type": OrderType.LIMIT, "price": D(10), "quantity": None, "quote_quantity": D(100)},  # quote: market only
        {"type": OrderType.STOP, "stop_price": D(10), "quantity": None, "quote_quantity": D(100)},
    ],
)
def test_order_request_validation_refuses(kw):
    with pytest.raises(InvalidOrder):
        request(**kw)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"quantity": None, "quote_quantity": D(100)},
        {"type": OrderType.LIMIT, "price": D(10)},
        {"type": OrderType.STOP, "stop_price": D(10)},
    ],
)
def test_order_request_validation_accepts(kw):
    assert request(**kw).client_order_id == "c-1"


def order_fill(qty: str, price: str, coid: str = "c-1") -> Fill:
    return Fill(coid, BTC, Side.BUY, D(qty), D(price), D(0), 0)


def test_order_partial_then_complete_fill_with_average_price():
    order = Order(request())
    assert order.remaining == 3
    order = order.with_fill(order_fill("1", "100"))
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert order.status.is_open
    assert order.filled_quantity == 1
    assert order.remaining == 2
    assert order.average_price == 100
    order = order.with_fill(order_fill("2", "103"))
    assert order.status is OrderStatus.FILLED
    assert not order.status.is_open
    assert order.remaining == 0
    assert order.average_price == (D(100) + 2 * D(103)) / 3


def test_order_refuses_overfill_and_fill_of_another_order():
    order = Order(request()).with_fill(order_fill("2", "100"))
    with pytest.raises(InvalidOrder):
        order.with_fill(order_fill("1.5", "100"))
    with pytest.raises(InvalidOrder):
        order.with_fill(order_fill("1", "100", coid="other"))
    filled = order.with_fill(order_fill("1", "100"))
    with pytest.raises(InvalidOrder):
        filled.with_fill(order_fill("0.1", "100"))


def test_canceled_order_cannot_fill():
    order = Order(request()).canceled("user")
    assert order.status is OrderStatus.CANCELED
    assert order.reason == "user"
    with pytest.raises(InvalidOrder):
        order.with_fill(order_fill("1", "100"))


def test_quote_sized_order_is_filled_by_its_one_fill():
    order = Order(request(quantity=None, quote_quantity=D(250)))
    assert order.remaining is None
    order = order.with_fill(order_fill("2.5", "99.9"))
    assert order.status is OrderStatus.FILLED
    assert order.average_price == D("99.9")
    assert order.remaining is None
