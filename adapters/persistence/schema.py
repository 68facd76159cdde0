"""The tables. Migrations in ``migrations/versions`` create them; ``alembic check`` keeps the two in step.

Money, prices and quantities are ``ExactDecimal`` (NUMERIC(38, 18)); times are ``UtcMillis``
(TIMESTAMP WITH TIME ZONE, UTC). Ratios that are not money (exposure aside) live in JSON.
"""

from __future__ import annotations

import sqlalchemy as sa

from adapters.persistence.types import ExactDecimal, UtcMillis

# Stable constraint names, so migrations can drop and alter them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def _session_fk() -> sa.Column[int]:
    return sa.Column(
        "session_id", sa.Integer, sa.ForeignKey("trading_sessions.id", ondelete="CASCADE"), nullable=False, index=True
    )


trading_sessions = sa.Table(
    "trading_sessions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("exchange", sa.String(32), nullable=False),
    sa.Column("strategy", sa.String(64), nullable=False),
    sa.Column("strategy_version", sa.String(32), nullable=False),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("symbols", sa.JSON, nullable=False),
    sa.Column("timeframe", sa.String(8), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", UtcMillis, nullable=False),
    sa.Column("ended_at", UtcMillis),
    sa.Column("model_version", sa.String(64)),
    sa.Column("data_start", UtcMillis),
    sa.Column("data_end", UtcMillis),
    sa.Column("initial_balance", ExactDecimal),
)

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _session_fk(),
    sa.Column("client_order_id", sa.String(64), nullable=False, unique=True),
    sa.Column("exchange_order_id", sa.String(64)),
    sa.Column("symbol", sa.String(32), nullable=False),
    sa.Column("side", sa.String(8), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("status", sa.String(24), nullable=False),
    sa.Column("quantity", ExactDecimal),
    sa.Column("quote_quantity", ExactDecimal),
    sa.Column("price", ExactDecimal),
    sa.Column("stop_price", ExactDecimal),
    sa.Column("stop_loss", ExactDecimal),
    sa.Column("take_profits", sa.JSON, nullable=False),
    sa.Column("reduce_only", sa.Boolean, nullable=False),
    sa.Column("tag", sa.String(32), nullable=False),
    sa.Column("filled_quantity", ExactDecimal, nullable=False),
    sa.Column("average_price", ExactDecimal),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", UtcMillis, nullable=False),
    sa.Column("updated_at", UtcMillis, nullable=False),
)

order_status_history = sa.Table(
    "order_status_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("order_id", sa.Integer, sa.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("status", sa.String(24), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("time", UtcMillis, nullable=False),
)

fills = sa.Table(
    "fills",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _session_fk(),
    sa.Column("order_id", sa.Integer, sa.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("symbol", sa.String(32), nullable=False),
    sa.Column("side", sa.String(8), nullable=False),
    sa.Column("quantity", ExactDecimal, nullable=False),
    sa.Column("price", ExactDecimal, nullable=False),
    sa.Column("fee", ExactDecimal, nullable=False),
    sa.Column("slippage", ExactDecimal, nullable=False),
    sa.Column("liquidity", sa.String(8), nullable=False),
    sa.Column("tag", sa.String(32), nullable=False),
    sa.Column("time", UtcMillis, nullable=False),
)

trades = sa.Table(
    "trades",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _session_fk(),
    sa.Column("symbol", sa.String(32), nullable=False),
    sa.Column("direction", sa.String(8), nullable=False),
    sa.Column("entry_time", UtcMillis, nullable=False),
    sa.Column("exit_time", UtcMillis, nullable=False),
    sa.Column("entry_price", ExactDecimal, nullable=False),
    sa.Column("exit_price", ExactDecimal, nullable=False),
    sa.Column("quantity", ExactDecimal, nullable=False),
    sa.Column("fees", ExactDecimal, nullable=False),
    sa.Column("pnl", ExactDecimal, nullable=False),
    sa.Column("slippage", ExactDecimal, nullable=False),
    sa.Column("exit_reason", sa.String(32), nullable=False),
    sa.Column("mfe", ExactDecimal),
    sa.Column("mae", ExactDecimal),
)

positions = sa.Table(
    "positions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _session_fk(),
    sa.Column("symbol", sa.String(32), nullable=False),
    sa.Column("quantity", ExactDecimal, nullable=False),
    sa.Column("cost", ExactDecimal, nullable=False),
    sa.Column("entry_price", ExactDecimal, nullable=False),
    sa.Column("realized_pnl", ExactDecimal, nullable=False),
    sa.Column("fees", ExactDecimal, nullable=False),
    sa.Column("stop_loss", ExactDecimal),
    sa.Column("take_profit", ExactDecimal),
    sa.Column("mark_price", ExactDecimal),
    sa.Column("unrealized_pnl", ExactDecimal),
    sa.Column("opened_at", UtcMillis),
    sa.Column("updated_at", UtcMillis, nullable=False),
    sa.UniqueConstraint("session_id", "symbol", name="uq_positions_session_symbol"),
)

# One row per snapshot, keyed (session, time): one B-tree, rows in time order. No foreign key to
# trading_sessions, deliberately: PostgreSQL checks a foreign key row by row, which made a backtest's bulk
# write (33k rows) about three times slower. The repository writes snapshots only for sessions that exist,
# and deleting a session (``atb sessions delete``) deletes its snapshots explicitly.
account_history = sa.Table(
    "account_history",
    metadata,
    sa.Column("session_id", sa.Integer, primary_key=True),
    sa.Column("time", UtcMillis, primary_key=True),
    sa.Column("balance", ExactDecimal),
    sa.Column("equity", ExactDecimal, nullable=False),
    sa.Column("exposure", ExactDecimal),
    # SQLite: the rows live in the primary key's B-tree (no second, rowid tree): a bulk write is ~15% faster.
    sqlite_with_rowid=False,
)

performance_metrics = sa.Table(
    "performance_metrics",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _session_fk(),
    sa.Column("time", UtcMillis, nullable=False),
    sa.Column("metrics", sa.JSON, nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _session_fk(),
    sa.Column("time", UtcMillis, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("symbol", sa.String(32)),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("details", sa.JSON, nullable=False),
)
