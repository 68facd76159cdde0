"""Migration 0005 on SQLite and PostgreSQL: fills saved before it get deterministic trade ids (``<client order
id>#<n>``, the n-th fill of the order by time) and their symbol's quote as fee asset, then the key on
(session, trade id) holds; downgrading drops both columns."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from adapters.persistence import Database
from adapters.persistence.types import ExactDecimal, UtcMillis
from tests.integration.persistence import fixtures

T0 = 1_700_000_000_000


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    yield from fixtures.empty_database(request.param, tmp_path, "trade_ids")


def _old_rows(db: Database) -> None:
    """Two sessions as revision 0004 stored them: an order with two fills (the later one inserted first), and
    one fill each of two other orders."""
    meta = sa.MetaData()
    sessions = sa.Table(
        "trading_sessions", meta, sa.Column("id", sa.Integer), sa.Column("mode", sa.String),
        sa.Column("exchange", sa.String), sa.Column("strategy", sa.String), sa.Column("strategy_version", sa.String),
        sa.Column("config", sa.JSON), sa.Column("symbols", sa.JSON), sa.Column("timeframe", sa.String),
        sa.Column("status", sa.String), sa.Column("started_at", UtcMillis),
    )  # fmt: skip
    orders = sa.Table(
        "orders", meta, sa.Column("id", sa.Integer), sa.Column("session_id", sa.Integer),
        sa.Column("client_order_id", sa.String), sa.Column("symbol", sa.String), sa.Column("side", sa.String),
        sa.Column("type", sa.String), sa.Column("status", sa.String), sa.Column("take_profits", sa.JSON),
        sa.Column("reduce_only", sa.Boolean), sa.Column("tag", sa.String), sa.Column("filled_quantity", ExactDecimal),
        sa.Column("reason", sa.Text), sa.Column("created_at", UtcMillis), sa.Column("updated_at", UtcMillis),
    )  # fmt: skip
    fills = sa.Table(
        "fills", meta, sa.Column("id", sa.Integer), sa.Column("session_id", sa.Integer),
        sa.Column("order_id", sa.Integer), sa.Column("symbol", sa.String), sa.Column("side", sa.String),
        sa.Column("quantity", ExactDecimal), sa.Column("price", ExactDecimal), sa.Column("fee", ExactDecimal),
        sa.Column("slippage", ExactDecimal), sa.Column("liquidity", sa.String), sa.Column("tag", sa.String),
        sa.Column("time", UtcMillis),
    )  # fmt: skip
    one = Decimal(1)
    with db.engine.begin() as conn:
        for sid in (1, 2):
            conn.execute(sa.insert(sessions).values(
                id=sid, mode="paper", exchange="simulated", strategy="x", strategy_version="1", config={},
                symbols=["BTCUSDT"], timeframe="1h", status="running", started_at=T0,
            ))  # fmt: skip
        for oid, sid, cid, symbol in ((1, 1, "s1-bt-1-entry", "BTC/USDT"), (2, 1, "s1-bt-2-exit", "BTC/USDT"),
                                      (3, 2, "s2-bt-1-entry", "ETH/BTC")):  # fmt: skip
            conn.execute(sa.insert(orders).values(
                id=oid, session_id=sid, client_order_id=cid, symbol=symbol, side="buy", type="market",
                status="filled", take_profits=[], reduce_only=False, tag="entry", filled_quantity=one, reason="",
                created_at=T0, updated_at=T0,
            ))  # fmt: skip
        for fid, oid, sid, symbol, time in ((10, 1, 1, "BTC/USDT", T0 + 2), (11, 1, 1, "BTC/USDT", T0 + 1),
                                             (12, 2, 1, "BTC/USDT", T0 + 1), (13, 3, 2, "ETH/BTC", T0)):  # fmt: skip
            conn.execute(sa.insert(fills).values(
                id=fid, session_id=sid, order_id=oid, symbol=symbol, side="buy", quantity=one, price=one, fee=one,
                slippage=one, liquidity="taker", tag="entry", time=time,
            ))  # fmt: skip


def test_old_fills_get_deterministic_trade_ids_and_the_key_then_holds(empty_database: Database) -> None:
    db = empty_database
    db.upgrade("0004")
    _old_rows(db)
    db.upgrade("0005")
    select = sa.text("SELECT id, trade_id, fee_asset FROM fills ORDER BY id")
    with db.engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(select)]
    assert rows == [
        (10, "s1-bt-1-entry#2", "USDT"),  # the order's second fill by time
        (11, "s1-bt-1-entry#1", "USDT"),
        (12, "s1-bt-2-exit#1", "USDT"),
        (13, "s2-bt-1-entry#1", "BTC"),
    ]
    duplicate = sa.text(
        "INSERT INTO fills (id, session_id, order_id, symbol, side, quantity, price, fee, slippage, liquidity, tag,"
        " time, trade_id, fee_asset) SELECT 99, session_id, order_id, symbol, side, quantity, price, fee, slippage,"
        " liquidity, tag, time, trade_id, fee_asset FROM fills WHERE id = 10"
    )
    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
        conn.execute(duplicate)
    # The same trade id in another session is another fill.
    with db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE fills SET trade_id = 's1-bt-1-entry#2' WHERE id = 13"))
    with db.unit_of_work() as uow:
        fills = uow.fills.for_session(1)
    assert [(f.client_order_id, f.trade_id, f.fee_asset) for f in fills] == [
        ("s1-bt-1-entry", "s1-bt-1-entry#1", "USDT"), ("s1-bt-2-exit", "s1-bt-2-exit#1", "USDT"),
        ("s1-bt-1-entry", "s1-bt-1-entry#2", "USDT"),
    ]  # fmt: skip
    db.downgrade("0004")
    with db.engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("fills")}
        assert "trade_id" not in columns and "fee_asset" not in columns
        assert conn.execute(sa.text("SELECT count(*) FROM fills")).scalar() == 4
    db.upgrade("head")  # again: the same ids
    with db.engine.connect() as conn:
        assert [tuple(r) for r in conn.execute(select)] == rows
