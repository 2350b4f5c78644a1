"""Manual matches asked of the ledger from a period, with the ledger's answer.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-15

A new table only, so the upgrade needs no data migration.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "period_match_requests",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("period_id", sa.String(120), primary_key=True),
        sa.Column("request_id", sa.String(100), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("line_id", sa.String(200), nullable=False),
        sa.Column("decision_id", sa.String(200), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("allocations", sa.JSON, nullable=False),
        sa.Column("undoes_request_id", sa.String(100), nullable=True),
        sa.Column("outcome", sa.String(20), nullable=True),
        sa.Column("entry_ids", sa.JSON, nullable=False),
        sa.Column("refusal_code", sa.String(200), nullable=True),
        sa.Column("refusal_reason", sa.String(1000), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "period_id"],
            ["periods.tenant_id", "periods.period_id"],
            name="fk_period_match_requests_period",
        ),
    )


def downgrade() -> None:
    op.drop_table("period_match_requests")
