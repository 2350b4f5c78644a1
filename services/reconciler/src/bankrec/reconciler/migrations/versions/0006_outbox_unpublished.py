"""The outbox's unpublished rows indexed by themselves.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24

The outbox relay reads the unpublished rows in id order: a partial index of exactly those rows
(with only the index of every row's ``published_at``, PostgreSQL walked the id order past every
published row kept). Indexes only: no data changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNPUBLISHED = sa.text("published_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["id"],
        postgresql_where=UNPUBLISHED,
        sqlite_where=UNPUBLISHED,
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_unpublished", table_name="outbox")
