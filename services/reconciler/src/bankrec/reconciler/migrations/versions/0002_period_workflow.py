"""The period workflow: status with sequence numbers, carried opening balance, item flags,
adjustments, lines added or removed by hand, the audit trail, and what lines and postings
carry for the diagnosis.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

Every new column is nullable (rows written before read as: from the bank, no source known),
so the upgrade needs no data migration.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def altered_schema() -> str | None:
    """ALTER statements name their table as a string, which the environment's schema
    translation does not reach: name the reconciler's schema on PostgreSQL (as env.py does)."""
    return "reconciler" if op.get_bind().dialect.name == "postgresql" else None


def exact_decimal() -> sa.types.TypeEngine:
    return sa.String(64).with_variant(postgresql.NUMERIC(), "postgresql")


def period_columns() -> list[sa.Column]:
    return [
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("period_id", sa.String(120), primary_key=True),
    ]


def period_foreign_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", "period_id"],
        ["periods.tenant_id", "periods.period_id"],
        name=f"fk_{table}_period",
    )


LINE_COLUMNS = (
    ("decision_counterparty_id", sa.String(200)),
    ("origin", sa.String(10)),
    ("counterparty", sa.String(200)),
    ("line_text", sa.String(300)),
    ("charge_kind", sa.String(20)),
)
POSTING_COLUMNS = (
    ("source", sa.String(20)),
    ("source_ref", sa.String(200)),
    ("adjustment_kind", sa.String(20)),
    ("counterparty_id", sa.String(200)),
    ("description", sa.String(300)),
    ("carried_from", sa.Integer()),
)


def upgrade() -> None:
    schema = altered_schema()
    op.add_column("periods", sa.Column("sequence_no", sa.Integer, nullable=True), schema=schema)
    op.add_column(
        "periods",
        sa.Column("opening_from_previous", exact_decimal(), nullable=True),
        schema=schema,
    )
    for name, type_ in LINE_COLUMNS:
        op.add_column("period_lines", sa.Column(name, type_, nullable=True), schema=schema)
    for name, type_ in POSTING_COLUMNS:
        op.add_column("period_postings", sa.Column(name, type_, nullable=True), schema=schema)
    op.create_table(
        "period_removed_lines",
        *period_columns(),
        sa.Column("line_id", sa.String(200), primary_key=True),
        sa.Column("statement_id", sa.String(200), nullable=False),
        sa.Column("amount", exact_decimal(), nullable=False),
        sa.Column("booking_date", sa.Date, nullable=True),
        sa.Column("received", sa.Boolean, nullable=False),
        sa.Column("decision_id", sa.String(200), nullable=True),
        sa.Column("decision_kind", sa.String(30), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        *(sa.Column(name, type_, nullable=True) for name, type_ in LINE_COLUMNS),
        period_foreign_key("period_removed_lines"),
    )
    op.create_table(
        "period_item_marks",
        *period_columns(),
        sa.Column("item_kind", sa.String(20), primary_key=True),
        sa.Column("item_id", sa.String(200), primary_key=True),
        sa.Column("cleared", sa.Boolean, nullable=True),
        sa.Column("reconciled", sa.Boolean, nullable=True),
        sa.Column("marked_by", sa.String(200), nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        period_foreign_key("period_item_marks"),
    )
    op.create_table(
        "period_adjustments",
        *period_columns(),
        sa.Column("adjustment_id", sa.String(100), primary_key=True),
        sa.Column("account_id", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("amount", exact_decimal(), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("statement_line_id", sa.String(200), nullable=True),
        sa.Column("gl_account", sa.String(20), nullable=True),
        sa.Column("description", sa.String(300), nullable=True),
        sa.Column("posting_date", sa.Date, nullable=True),
        period_foreign_key("period_adjustments"),
        sa.UniqueConstraint(
            "tenant_id", "account_id", "adjustment_id", name="uq_adjustments_account_id"
        ),
    )
    op.create_table(
        "period_audit",
        *period_columns(),
        sa.Column("record_no", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=True),
        sa.Column("subject_id", sa.String(200), nullable=True),
        sa.Column("sequence_no", sa.Integer, nullable=True),
        sa.Column("amount", exact_decimal(), nullable=True),
        sa.Column("opening_balance", exact_decimal(), nullable=True),
        sa.Column("reconciliation_date", sa.Date, nullable=True),
        period_foreign_key("period_audit"),
    )


def downgrade() -> None:
    for table in ("period_audit", "period_adjustments", "period_item_marks", "period_removed_lines"):
        op.drop_table(table)
    schema = altered_schema()
    with op.batch_alter_table("period_postings", schema=schema) as batch:
        for name, _ in POSTING_COLUMNS:
            batch.drop_column(name)
    with op.batch_alter_table("period_lines", schema=schema) as batch:
        for name, _ in LINE_COLUMNS:
            batch.drop_column(name)
    with op.batch_alter_table("periods", schema=schema) as batch:
        batch.drop_column("opening_from_previous")
        batch.drop_column("sequence_no")
