"""Decided lines (the latest decision per line, pending ones marked), matching settings,
outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-24

Written out by hand (not imported from the application's tables) so it never changes when the
tables do.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "decided_lines",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("line_id", sa.String(200), primary_key=True),
        sa.Column("account_id", sa.String(100), nullable=False),
        sa.Column("decision_id", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("pending", sa.Boolean, nullable=False),
        sa.Column("parked_decision_id", sa.String(100), nullable=True),
        sa.Column("refusals", sa.Text, nullable=False),
        sa.Column("line", sa.Text, nullable=False),
        sa.Column("decision", sa.Text, nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_decided_lines_pending", "decided_lines", ["pending", "tenant_id"])
    op.create_table(
        "matching_settings",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("settings", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("message_key", sa.String(200), nullable=False),
        sa.Column("message_type", sa.String(100), nullable=False),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_outbox_published_at", "outbox", ["published_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_published_at", table_name="outbox")
    op.drop_index("ix_decided_lines_pending", table_name="decided_lines")
    for table in ("outbox", "matching_settings", "decided_lines"):
        op.drop_table(table)
