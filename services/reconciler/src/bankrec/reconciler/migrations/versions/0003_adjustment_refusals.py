"""Adjustments the ledger refused: the reason code, the reason and when.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08

The columns are nullable (an adjustment recorded before was not refused), so the upgrade
needs no data migration.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFUSAL_COLUMNS = (
    ("refusal_code", sa.String(200)),
    ("refusal_reason", sa.String(1000)),
    ("refused_at", sa.DateTime(timezone=True)),
)


def altered_schema() -> str | None:
    """ALTER statements name their table as a string, which the environment's schema
    translation does not reach: name the reconciler's schema on PostgreSQL (as env.py does)."""
    return "reconciler" if op.get_bind().dialect.name == "postgresql" else None


def upgrade() -> None:
    schema = altered_schema()
    for name, type_ in REFUSAL_COLUMNS:
        op.add_column("period_adjustments", sa.Column(name, type_, nullable=True), schema=schema)


def downgrade() -> None:
    with op.batch_alter_table("period_adjustments", schema=altered_schema()) as batch:
        for name, _ in REFUSAL_COLUMNS:
            batch.drop_column(name)
