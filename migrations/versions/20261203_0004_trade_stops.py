"""Trades keep their stop levels: ``stop_initial`` (the stop attached at entry) and ``stop_last`` (the stop in
force when the trade closed), exact decimals, NULL for a trade without a stop and for trades saved before.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 14:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out here (not imported from the adapters) so that this revision never changes with the code.
EXACT = sa.Numeric(38, 18).with_variant(sa.String(64), "sqlite")
COLUMNS = ("stop_initial", "stop_last")


def upgrade() -> None:
    with op.batch_alter_table("trades") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, EXACT, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("trades") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
