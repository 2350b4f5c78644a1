"""Chart changes over the API and reversed allocations: accounts can be deactivated
(``active``), a bank account is linked with its IBAN/BBAN, and a suspense allocation records
the entry that reversed it.

Every account stays active, every link has no number and no allocation is reversed: this
revision adds state only the new API actions set.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
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
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(
            sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    with op.batch_alter_table("bank_accounts") as batch:
        batch.add_column(sa.Column("iban", sa.String(34), nullable=True))
        batch.add_column(sa.Column("bban", sa.String(34), nullable=True))
    with op.batch_alter_table("suspense_allocations") as batch:
        batch.add_column(sa.Column("reversal_entry_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("reversal_audit_id", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("suspense_allocations") as batch:
        for column in ("reversal_audit_id", "reversed_at", "reversal_entry_id"):
            batch.drop_column(column)
    with op.batch_alter_table("bank_accounts") as batch:
        batch.drop_column("bban")
        batch.drop_column("iban")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("active")
