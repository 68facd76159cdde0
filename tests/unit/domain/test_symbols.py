"""Symbols and exchange rounding rules."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.model.errors import InvalidOrder, UnknownSymbol
from domain.model.symbols import Instrument, Symbol

BTC = Symbol("BTC", "USDT")


@pytest.mark.parametrize(
    ("text", "base", "quote"),
    [
        ("BTCUSDT", "BTC", "USDT"),
        ("ETHBTC", "ETH", "BTC"),
        ("btc-usdt", "BTC", "USDT"),
        ("BTC/USDT", "BTC", "USDT"),
        (" eth_eur ", "ETH", "EUR"),
        ("BTCUSD", "BTC", "USD"),
        ("SOLFDUSD", "SOL", "FDUSD"),
    ],
)
def test_parse(text, base, quote):
    sym = Symbol.parse(text)
    assert (sym.base, sym.quote) == (base, quote)
    assert str(sym) == base + quote


@pytest.mark.parametrize("text", ["XYZ", "USDT", "", "BTC-", "-USDT", "BTC-US DT"])
def test_parse_refuses(text):
    with pytest.raises(UnknownSymbol):
        Symbol.parse(text)


def test_symbol_parts_must_be_upper_case_alphanumeric():
    with pytest.raises(UnknownSymbol):
        Symbol("btc", "USDT")
    assert Symbol.parse("BTCUSDT") == BTC


def test_round_price_is_half_even_to_the_tick():
    inst = Instrument(BTC, tick_size=Decimal("0.01"))
    assert inst.round_price(Decimal("100.005")) == Decimal("100.00")
    assert inst.round_price(Decimal("100.015")) == Decimal("100.02")
    assert inst.round_price(Decimal("100.0149")) == Decimal("100.01")
    assert inst.round_price(0.1 + 0.2) == Decimal("0.30")  # floats go through their shortest repr
    coarse = Instrument(BTC, tick_size=Decimal("0.5"))
    assert coarse.round_price(Decimal("100.25")) == Decimal("100.0")  # 200.5 ticks -> 200
    assert coarse.round_price(Decimal("100.75")) == Decimal("101.0")  # 201.5 ticks -> 202


@pytest.mark.parametrize("tick", ["0.01", "1", "1E+1", "0.010", "0.5"])
@pytest.mark.parametrize("price", [19601.123456789, 0.1 + 0.2, 1e21, 123.455, 7.0])
def test_round_price_writes_the_tick_grid_the_same_way_whatever_the_tick(tick: str, price: float) -> None:
    """A 1 x 10^k tick takes a shorter path: same value and same exponent (as printed) as ticks x tick."""
    inst = Instrument(BTC, tick_size=Decimal(tick))
    ticks = (Decimal(repr(price)) / inst.tick_size).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    assert str(inst.round_price(price)) == str(ticks * inst.tick_size)


def test_round_quantity_is_always_down_to_the_step():
    inst = Instrument(BTC, step_size=Decimal("0.001"))
    assert inst.round_quantity(Decimal("1.9999")) == Decimal("1.999")
    assert inst.round_quantity(Decimal("0.0009")) == 0
    assert inst.round_quantity(0.3) == Decimal("0.3")
    assert inst.round_quantity(Decimal("2.000")) == 2


ticks = st.sampled_from(["0.01", "0.05", "0.1", "0.5", "1", "0.00001", "25"]).map(Decimal)
amounts = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("100000"), places=6)


@settings(max_examples=200, deadline=None)
@given(ticks, amounts)
def test_round_price_matches_a_fraction_reference(tick, price):
    expected_ticks = round(Fraction(price) / Fraction(tick))  # Python rounds Fractions half to even
    got = Instrument(BTC, tick_size=tick).round_price(price)
    assert Fraction(got) == expected_ticks * Fraction(tick)
    assert abs(Fraction(got) - Fraction(price)) <= Fraction(tick) / 2


@settings(max_examples=200, deadline=None)
@given(ticks, amounts)
def test_round_quantity_matches_a_fraction_reference(step, qty):
    got = Instrument(BTC, step_size=step).round_quantity(qty)
    assert Fraction(got) == math.floor(Fraction(qty) / Fraction(step)) * Fraction(step)
    assert got <= qty
    assert qty - got < step


def test_check_notional():
    inst = Instrument(BTC, min_notional=Decimal("10"))
    inst.check_notional(Decimal("100"), Decimal("0.1"))  # exactly the minimum is allowed
    inst.check_notional(Decimal("100"), Decimal("0.2"))
    with pytest.raises(InvalidOrder, match="below the exchange minimum"):
        inst.check_notional(Decimal("100"), Decimal("0.09999"))


@pytest.mark.parametrize(
    "kw",
    [{"tick_size": Decimal(0)}, {"step_size": Decimal("-0.1")}, {"min_notional": Decimal(-1)}],
)
def test_instrument_refuses_bad_rules(kw):
    with pytest.raises(InvalidOrder):
        Instrument(BTC, **kw)
