"""Each session's latest engine checkpoint: the engine's and the venue's snapshots (JSON), one row per session,
replaced at every step with the step's fills, orders and events.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 15:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out here (not imported from the adapters) so that this revision never changes with the code.
UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "checkpoints",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("time", UTC_TIME, nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["trading_sessions.id"],
            name=op.f("fk_checkpoints_session_id_trading_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_checkpoints")),
    )


def downgrade() -> None:
    op.drop_table("checkpoints")
