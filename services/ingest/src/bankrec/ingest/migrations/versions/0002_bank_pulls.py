"""Bank pulls: a tenant's configurations for pulling statements from a bank or aggregator API.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp() -> sa.types.TypeEngine:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "bank_pulls",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("base_url", sa.String(500), nullable=False),
        sa.Column("auth_type", sa.String(10), nullable=False),
        sa.Column("auth_username", sa.String(200), nullable=True),
        sa.Column("auth_secret", sa.Text(), nullable=False),
        sa.Column("accounts", sa.Text(), nullable=False),
        sa.Column("statement_format", sa.String(20), nullable=True),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("fetch_from", _timestamp(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_expires_at", _timestamp(), nullable=True),
        sa.Column("last_run_started_at", _timestamp(), nullable=True),
        sa.Column("last_run_finished_at", _timestamp(), nullable=True),
        sa.Column("last_run_status", sa.String(20), nullable=True),
        sa.Column("last_run_error_code", sa.String(40), nullable=True),
        sa.Column("last_run_error_message", sa.Text(), nullable=True),
        sa.Column("last_run", sa.Text(), nullable=True),
        sa.Column("last_success_at", _timestamp(), nullable=True),
    )
    op.create_index("ix_bank_pulls_enabled", "bank_pulls", ["enabled"])


def downgrade() -> None:
    op.drop_index("ix_bank_pulls_enabled", table_name="bank_pulls")
    op.drop_table("bank_pulls")
