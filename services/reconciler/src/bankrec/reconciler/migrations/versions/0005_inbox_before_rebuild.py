"""The inbox claims a rebuild routes by, kept until the rebuild has finished.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24

A new table only, so the upgrade needs no data migration.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbox_before_rebuild",
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("message_id", sa.String(100), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("inbox_before_rebuild")
