"""Initial schema: trading sessions, orders (and their status history), fills, trades, positions,
account history, performance metrics and events.

Money, prices and quantities are NUMERIC(38, 18) (decimal text on SQLite, which has no exact decimal);
times are TIMESTAMP WITH TIME ZONE in UTC.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 14:10:52.869321+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Spelled out here (not imported from the adapters) so that this revision never changes with the code.
EXACT = sa.Numeric(38, 18).with_variant(sa.String(64), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "trading_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("exchange", sa.String(length=32), nullable=False),
        sa.Column("strategy", sa.String(length=64), nullable=False),
        sa.Column("strategy_version", sa.String(length=32), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("symbols", sa.JSON(), nullable=False),
        sa.Column("timeframe", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", UTC_TIME, nullable=False),
        sa.Column("ended_at", UTC_TIME, nullable=True),
        sa.Column("model_version", sa.String(length=64), nullable=True),
        sa.Column("data_start", UTC_TIME, nullable=True),
        sa.Column("data_end", UTC_TIME, nullable=True),
        sa.Column("initial_balance", EXACT, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trading_sessions")),
    )
    op.create_table(
        "account_history",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("time", UTC_TIME, nullable=False),
        sa.Column("balance", EXACT, nullable=True),
        sa.Column("equity", EXACT, nullable=False),
        sa.Column("exposure", EXACT, nullable=True),
        # No foreign key, on purpose: a per-row check triples the time of a bulk write (see schema.py).
        sa.PrimaryKeyConstraint("session_id", "time", name=op.f("pk_account_history")),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("time", UTC_TIME, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["trading_sessions.id"],
            name=op.f("fk_events_session_id_trading_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_session_id"), ["session_id"], unique=False)

    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("client_order_id", sa.String(length=64), nullable=False),
        sa.Column("exchange_order_id", sa.String(length=64), nullable=True),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("quantity", EXACT, nullable=True),
        sa.Column("quote_quantity", EXACT, nullable=True),
        sa.Column("price", EXACT, nullable=True),
        sa.Column("stop_price", EXACT, nullable=True),
        sa.Column("stop_loss", EXACT, nullable=True),
        sa.Column("take_profits", sa.JSON(), nullable=False),
        sa.Column("reduce_only", sa.Boolean(), nullable=False),
        sa.Column("tag", sa.String(length=32), nullable=False),
        sa.Column("filled_quantity", EXACT, nullable=False),
        sa.Column("average_price", EXACT, nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["trading_sessions.id"],
            name=op.f("fk_orders_session_id_trading_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("client_order_id", name=op.f("uq_orders_client_order_id")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orders_session_id"), ["session_id"], unique=False)

    op.create_table(
        "performance_metrics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("time", UTC_TIME, nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["trading_sessions.id"],
            name=op.f("fk_performance_metrics_session_id_trading_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_performance_metrics")),
    )
    with op.batch_alter_table("performance_metrics", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_performance_metrics_session_id"), ["session_id"], unique=False)

    op.create_table(
        "positions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("quantity", EXACT, nullable=False),
        sa.Column("cost", EXACT, nullable=False),
        sa.Column("entry_price", EXACT, nullable=False),
        sa.Column("realized_pnl", EXACT, nullable=False),
        sa.Column("fees", EXACT, nullable=False),
        sa.Column("stop_loss", EXACT, nullable=True),
        sa.Column("take_profit", EXACT, nullable=True),
        sa.Column("mark_price", EXACT, nullable=True),
        sa.Column("unrealized_pnl", EXACT, nullable=True),
        sa.Column("opened_at", UTC_TIME, nullable=True),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["trading_sessions.id"],
            name=op.f("fk_positions_session_id_trading_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_positions")),
        sa.UniqueConstraint("session_id", "symbol", name="uq_positions_session_symbol"),
    )
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_positions_session_id"), ["session_id"], unique=False)

    op.create_table(
        "trades",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("entry_time", UTC_TIME, nullable=False),
        sa.Column("exit_time", UTC_TIME, nullable=False),
        sa.Column("entry_price", EXACT, nullable=False),
        sa.Column("exit_price", EXACT, nullable=False),
        sa.Column("quantity", EXACT, nullable=False),
        sa.Column("fees", EXACT, nullable=False),
        sa.Column("pnl", EXACT, nullable=False),
        sa.Column("slippage", EXACT, nullable=False),
        sa.Column("exit_reason", sa.String(length=32), nullable=False),
        sa.Column("mfe", EXACT, nullable=True),
        sa.Column("mae", EXACT, nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["trading_sessions.id"],
            name=op.f("fk_trades_session_id_trading_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trades")),
    )
    with op.batch_alter_table("trades", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_trades_session_id"), ["session_id"], unique=False)

    op.create_table(
        "fills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("quantity", EXACT, nullable=False),
        sa.Column("price", EXACT, nullable=False),
        sa.Column("fee", EXACT, nullable=False),
        sa.Column("slippage", EXACT, nullable=False),
        sa.Column("liquidity", sa.String(length=8), nullable=False),
        sa.Column("tag", sa.String(length=32), nullable=False),
        sa.Column("time", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_fills_order_id_orders"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["trading_sessions.id"],
            name=op.f("fk_fills_session_id_trading_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fills")),
    )
    with op.batch_alter_table("fills", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fills_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_fills_session_id"), ["session_id"], unique=False)

    op.create_table(
        "order_status_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("time", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_status_history_order_id_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_status_history")),
    )
    with op.batch_alter_table("order_status_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_status_history_order_id"), ["order_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("order_status_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_status_history_order_id"))

    op.drop_table("order_status_history")
    with op.batch_alter_table("fills", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fills_session_id"))
        batch_op.drop_index(batch_op.f("ix_fills_order_id"))

    op.drop_table("fills")
    with op.batch_alter_table("trades", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trades_session_id"))

    op.drop_table("trades")
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_positions_session_id"))

    op.drop_table("positions")
    with op.batch_alter_table("performance_metrics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_performance_metrics_session_id"))

    op.drop_table("performance_metrics")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_session_id"))

    op.drop_table("orders")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_session_id"))

    op.drop_table("events")
    op.drop_table("account_history")
    op.drop_table("trading_sessions")
