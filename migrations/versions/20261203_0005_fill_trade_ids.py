"""Fills keep the venue's trade id and the asset their fee was charged in, and are unique by trade id within a
session (ADR 0023 point 4): a fill reported twice (a venue's fills replayed after a restart) is stored once.

Existing rows get deterministic values before the constraint is added: the trade id ``<client order id>#<n>``
for the order's n-th fill by time (then by row id), the scheme the simulated venue uses; the fee asset is the
quote of the fill's symbol (``BASE/QUOTE``), the only asset fees were kept in. Downgrading drops both columns.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 15:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out here (not imported from the adapters) so that this revision never changes with the code.
TRADE_ID = sa.String(128)
FEE_ASSET = sa.String(16)
UNIQUE = "uq_fills_session_trade"

# The n-th fill of an order by time, then row id: portable SQL (SQLite and PostgreSQL).
_BACKFILL_TRADE_IDS = """
UPDATE fills SET trade_id = (SELECT o.client_order_id FROM orders AS o WHERE o.id = fills.order_id) || '#' ||
    CAST((SELECT count(*) FROM fills AS f WHERE f.order_id = fills.order_id
          AND (f.time < fills.time OR (f.time = fills.time AND f.id <= fills.id))) AS VARCHAR(20))
WHERE trade_id IS NULL
"""
_QUOTE = {
    "sqlite": "substr(symbol, instr(symbol, '/') + 1)",
    "postgresql": "split_part(symbol, '/', 2)",
}


def upgrade() -> None:
    with op.batch_alter_table("fills") as batch:
        batch.add_column(sa.Column("trade_id", TRADE_ID, nullable=True))
        batch.add_column(sa.Column("fee_asset", FEE_ASSET, nullable=True))
    op.execute(_BACKFILL_TRADE_IDS)
    op.execute(f"UPDATE fills SET fee_asset = {_QUOTE[op.get_bind().dialect.name]} WHERE fee_asset IS NULL")
    with op.batch_alter_table("fills") as batch:
        batch.alter_column("trade_id", existing_type=TRADE_ID, nullable=False)
        batch.alter_column("fee_asset", existing_type=FEE_ASSET, nullable=False)
        batch.create_unique_constraint(UNIQUE, ["session_id", "trade_id"])


def downgrade() -> None:
    with op.batch_alter_table("fills") as batch:
        batch.drop_constraint(UNIQUE, type_="unique")
        batch.drop_column("fee_asset")
        batch.drop_column("trade_id")
