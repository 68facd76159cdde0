"""The tables. Migrations in ``migrations/versions`` create them; ``alembic check`` keeps the two in step.

Money, prices and quantities are ``ExactDecimal`` (NUMERIC(38, 18)); times are ``UtcMillis``
(TIMESTAMP WITH TIME ZONE, UTC). Ratios that are not money (exposure aside) live in JSON. The account history
is stored in chunks of arrays of the same types (see ``account_history_chunks``).
"""

from __future__ import annotations

import sqlalchemy as sa

from adapters.persistence.types import ExactDecimal, UtcMillis, exact_array_type, int_array_type, utc_array_type

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
    # 128: a saved backtest prefixes the engine's ids with its session ("s12-bt-3-entry"), see SaveBacktest.
    sa.Column("client_order_id", sa.String(128), nullable=False, unique=True),
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
    # Migration 0005: the venue's trade id (fills are unique by it within a session) and the fee's asset.
    sa.Column("trade_id", sa.String(128), nullable=False),
    sa.Column("fee_asset", sa.String(16), nullable=False),
    sa.UniqueConstraint("session_id", "trade_id", name="uq_fills_session_trade"),
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
    sa.Column("stop_initial", ExactDecimal),  # migration 0004: NULL without a stop
    sa.Column("stop_last", ExactDecimal),
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

# The account history, in chunks: one row holds up to ``ACCOUNT_CHUNK`` consecutive snapshots of a session, as
# runs: stretches of snapshots ``step`` ms apart whose balance, equity and exposure are all equal. ``starts``
# has each run's first time, ``runs`` its length (they add up to ``size``), and each figure's array its value.
# An equity curve is flat while the strategy is out of the market and bars are evenly spaced, so a backtest's
# 33k bars hold ~1.8k runs; a curve that moves every bar has a run per bar (no worse than a row per bar's
# values). PostgreSQL: ``timestamptz[]``, ``int4[]`` and ``numeric(38, 18)[]``; SQLite: JSON arrays of the
# texts the other tables store (times and exact decimals as strings, lengths as numbers). One row per bar
# cost more than the backtest itself (docs/adr/0004-persistence.md). The view ``account_history``
# (migration 0003) shows one row per snapshot, as the table it replaces did, for queries by hand.
# No foreign key to trading_sessions, deliberately (bulk speed): the repository writes snapshots only for
# sessions that exist, and deleting a session (``atb sessions delete``) deletes its chunks explicitly.
ACCOUNT_CHUNK = 1024  # snapshots per row; SQLite's per-snapshot view reads a chunk's JSON in linear steps
account_history_chunks = sa.Table(
    "account_history_chunks",
    metadata,
    sa.Column("session_id", sa.Integer, primary_key=True),
    sa.Column("first_time", UtcMillis, primary_key=True),
    sa.Column("last_time", UtcMillis, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("step", sa.BigInteger, nullable=False),
    sa.Column("starts", utc_array_type(), nullable=False),
    sa.Column("runs", int_array_type(), nullable=False),
    sa.Column("balance", exact_array_type(), nullable=False),
    sa.Column("equity", exact_array_type(), nullable=False),
    sa.Column("exposure", exact_array_type(), nullable=False),
)

performance_metrics = sa.Table(
    "performance_metrics",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _session_fk(),
    sa.Column("time", UtcMillis, nullable=False),
    sa.Column("metrics", sa.JSON, nullable=False),
)

# No foreign key to trading_sessions either (migration 0003): a risk-limited backtest writes hundreds of
# denials, and the per-row check was half the time of their COPY. Written only for sessions the repository
# has checked; deleted with their session explicitly.
events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("session_id", sa.Integer, nullable=False, index=True),
    sa.Column("time", UtcMillis, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("symbol", sa.String(32)),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("details", sa.JSON, nullable=False),
)

# Each session's latest engine checkpoint (``Checkpoint``: the engine's and the venue's snapshots, JSON), replaced
# at every step in the transaction that writes the step's fills, orders and events (migration 0006).
checkpoints = sa.Table(
    "checkpoints",
    metadata,
    sa.Column("session_id", sa.Integer, sa.ForeignKey("trading_sessions.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("time", UtcMillis, nullable=False),
    sa.Column("state", sa.JSON, nullable=False),
)
