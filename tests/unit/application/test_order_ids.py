"""Decision-derived client order ids (application/order_ids.py, docs/order-ids.md): at most 36 characters of
``[A-Za-z0-9_-]`` (valid for Binance's ``newClientOrderId`` and Coinbase's ``client_order_id``), the same
decision always gives the same id, different decisions give different ids, and the parser recovers the parts."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from application.order_ids import (
    ENTRY,
    EXIT,
    LIQUIDATION,
    STOP,
    derived_id,
    is_venue_safe,
    order_id,
    parse_order_id,
    session_key,
    symbol_key,
    take_profit,
)
from domain.model.symbols import Symbol

# The pattern quoted for Binance's newClientOrderId, and the one its spot FIX API states for client order ids
# (binance-spot-api-docs fix-api.md; docs/order-ids.md): atb's ids satisfy both.
BINANCE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
BINANCE_FIX = re.compile(r"^[a-zA-Z0-9-_]{1,36}$")
NOW = 1_764_720_000_000  # 2025-12-03 00:00 UTC
LATEST_BAR = 36**8 - 1  # the last millisecond written in 8 base-36 digits (the year 2059)

sessions = st.one_of(
    st.sampled_from(["bt", "s7", "live12", "paper"]),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40),
)
symbol_texts = st.one_of(
    st.sampled_from(["BTCUSDT", "ETHUSDT", "1000SATSUSDT", "1000000MOGUSDT", "BTCUSD", "BTC-USD", "PEPEFDUSD"]),
    st.from_regex(r"[A-Z0-9]{1,10}", fullmatch=True).flatmap(
        lambda base: st.sampled_from(["USDT", "FDUSD", "BTC"]).map(lambda quote: base + quote)
    ),
)
intents = st.one_of(st.sampled_from([ENTRY, EXIT, STOP, LIQUIDATION]), st.integers(1, 35).map(take_profit))
bars = st.integers(0, 36**9 - 1)
revisions = st.integers(0, 36**3 - 1)
decisions = st.tuples(sessions, symbol_texts, bars, intents, revisions)


@settings(max_examples=600)
@given(decisions)
def test_every_id_is_venue_safe_deterministic_and_parses_back(decision: tuple[str, str, int, str, int]) -> None:
    session, symbol, bar, intent, revision = decision
    oid = order_id(session, symbol, bar, intent, revision)
    assert len(oid) <= 36
    assert BINANCE.fullmatch(oid) and BINANCE_FIX.fullmatch(oid)
    assert is_venue_safe(oid)
    assert order_id(session, symbol, bar, intent, revision) == oid  # the same decision, the same id
    parts = parse_order_id(oid)
    assert parts is not None
    assert (parts.session, parts.symbol) == (session_key(session), symbol_key(symbol))
    assert (parts.bar_open_ms, parts.intent, parts.revision) == (bar, intent, revision)
    assert parts.client_order_id == oid  # the parts name the same order again


@settings(max_examples=200)
@given(st.lists(decisions, min_size=2, max_size=60, unique=True))
def test_different_decisions_get_different_ids(batch: list[tuple[str, str, int, str, int]]) -> None:
    # Decisions count as the same when their written parts are (a long session or symbol is hashed).
    keyed = {(session_key(a), symbol_key(b), c, d, e) for a, b, c, d, e in batch}
    ids = {order_id(*decision) for decision in batch}
    assert len(ids) == len(keyed)


def test_injective_over_a_grid_of_symbols_bars_intents_and_revisions() -> None:
    symbols = [f"{base}{quote}" for base in ("BTC", "ETH", "1000SATS", "1000000MOG", "PEPE", "A1", "SOL")
               for quote in ("USDT", "FDUSD", "BTC")]  # fmt: skip
    every = [
        (symbol, bar, intent, revision)
        for symbol in symbols
        for bar in (NOW, NOW + 3_600_000, NOW + 60_000, LATEST_BAR)
        for intent in (ENTRY, EXIT, STOP, LIQUIDATION, take_profit(1), take_profit(2), take_profit(12))
        for revision in (0, 1, 2, 35, 36, 1295)
    ]
    ids = [order_id("s7", *decision) for decision in every]
    assert len(set(ids)) == len(every)
    assert max(map(len, ids)) <= 36
    # Another session never reuses an id of this one.
    assert not set(ids) & {order_id("s8", *decision) for decision in every}


def test_the_format_reads_as_documented() -> None:
    btc = Symbol("BTC", "USDT")
    assert order_id("bt", btc, NOW, ENTRY) == "bt-BTCUSDT-mip8q2o0-e"
    assert order_id("s7", "BTCUSDT", NOW, STOP, 3) == "s7-BTCUSDT-mip8q2o0-s3"
    assert order_id("s7", "BTCUSDT", NOW, take_profit(2)) == "s7-BTCUSDT-mip8q2o0-t2"
    assert order_id("s7", "BTCUSDT", NOW, STOP, 36) == "s7-BTCUSDT-mip8q2o0-s10"  # revisions in base 36
    assert int("mip8q2o0", 36) == NOW
    # The longest parts still fit: a 6-character session, a hashed symbol, a 9-digit bar, t + 3-digit revision.
    longest = order_id("live12", "1000000MOGUSDT", 36**9 - 1, take_profit(35), 36**3 - 1)
    assert len(longest) == 35 and longest.startswith("live12-1000000_")


def test_long_or_odd_parts_are_hashed_deterministically() -> None:
    assert symbol_key("1000SATSUSDT") == "1000SATSUSDT"  # 12 characters: written out
    long = symbol_key("1000000MOGUSDT")
    assert re.fullmatch(r"1000000_[0-9a-z]{4}", long) and symbol_key("1000000MOGUSDT") == long
    assert symbol_key("1000000MOGFDUSD") != long  # the same head, another symbol
    assert symbol_key("BTC-USD") != symbol_key("BTCUSD")  # a written symbol never equals a hashed one
    assert session_key("s12") == "s12"
    hashed = session_key("session 12 (paper)")
    assert re.fullmatch(r"_[0-9a-z]{5}", hashed) and session_key("session 12 (paper)") == hashed
    assert session_key(hashed) == hashed and symbol_key(long) == long  # keys are kept as they are


def test_brackets_follow_their_entry() -> None:
    entry = order_id("s7", "ETHUSDT", NOW, ENTRY)
    assert derived_id(entry, STOP) == order_id("s7", "ETHUSDT", NOW, STOP)
    assert derived_id(entry, take_profit(3)) == order_id("s7", "ETHUSDT", NOW, take_profit(3))
    # An id this module did not make still gives a deterministic, venue-safe, distinct one.
    assert derived_id("o1", STOP) == "o1-s"
    foreign = "x" * 36
    assert derived_id(foreign, take_profit(1)) == derived_id(foreign, take_profit(1))
    assert is_venue_safe(derived_id(foreign, take_profit(1)))
    assert derived_id(foreign, take_profit(1)) != derived_id(foreign, take_profit(2))
    assert derived_id("y" * 36, STOP) != derived_id(foreign, STOP)


@pytest.mark.parametrize(
    "bad", ["bt-1-entry", "bt-BTCUSDT-1621879200000-stop@37118.51", "s7-BTCUSDT-0mip8q2o0-e", "s7-BTCUSDT-mip8q2o0-s0",
            "s7-BTCUSDT-mip8q2o0-q", "s7-BTC-USDT-mip8q2o0-e", "toolongsession-BTCUSDT-mip8q2o0-e", ""],
)  # fmt: skip
def test_ids_not_made_here_do_not_parse(bad: str) -> None:
    assert parse_order_id(bad) is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("bt", "BTCUSDT", -1, ENTRY, 0), "bar open time"),
        (("bt", "BTCUSDT", 36**9, ENTRY, 0), "bar open time"),
        (("bt", "BTCUSDT", NOW, "entry", 0), "intent"),
        (("bt", "BTCUSDT", NOW, STOP, -1), "negative"),
        (("bt", "BTCUSDT", NOW, STOP, 36**4), "intent"),  # a revision that would not fit
        (("bt", "BTCUSDT", NOW, take_profit(1), 36**3), "intent"),
    ],
)
def test_decisions_that_cannot_be_named_are_refused(args: tuple[str, str, int, str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        order_id(*args)
    with pytest.raises(ValueError, match="take-profit number"):
        take_profit(36)
