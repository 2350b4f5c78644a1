"""Lookup indexes: the outbox's unpublished rows, a line's decisions and suspense postings.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24

The outbox relay reads the unpublished rows in id order: a partial index of exactly those rows
(with only the index of every row's ``published_at``, PostgreSQL walked the id order past every
published row kept). Indexes only: no data changes.

A statement line's decisions and suspense postings are looked up by the line (superseding
and reversing decisions): without an index on it, each lookup read every row of the tenant.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
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
    op.create_index("ix_decisions_tenant_line", "decisions", ["tenant_id", "line_id"])
    op.create_index(
        "ix_suspense_postings_tenant_line",
        "suspense_postings",
        ["tenant_id", "statement_line_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_suspense_postings_tenant_line", table_name="suspense_postings")
    op.drop_index("ix_decisions_tenant_line", table_name="decisions")
    op.drop_index("ix_outbox_unpublished", table_name="outbox")
