"""Periods with their statements, lines and postings; inbox and outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Written out by hand (not imported from the application's tables) so it never changes when the
tables do. Money is exact: NUMERIC on PostgreSQL, text on SQLite (whose NUMERIC is a float).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


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


def upgrade() -> None:
    op.create_table(
        "periods",
        *period_columns(),
        sa.Column("account_id", sa.String(100), nullable=False),
        sa.Column("period_no", sa.Integer, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("account_number", sa.String(64), nullable=True),
        sa.Column("manual_opening_balance", exact_decimal(), nullable=True),
        sa.Column("manual_statement_balance", exact_decimal(), nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "tenant_id", "account_id", "period_no", name="uq_periods_account_period_no"
        ),
    )
    op.create_table(
        "period_statements",
        *period_columns(),
        sa.Column("statement_id", sa.String(200), primary_key=True),
        sa.Column("opening_amount", exact_decimal(), nullable=True),
        sa.Column("opening_date", sa.Date, nullable=True),
        sa.Column("closing_amount", exact_decimal(), nullable=True),
        sa.Column("closing_date", sa.Date, nullable=True),
        sa.Column("sequence_no", sa.Integer, nullable=True),
        sa.Column("statement_created_at", sa.DateTime(timezone=True), nullable=True),
        period_foreign_key("period_statements"),
    )
    op.create_table(
        "period_lines",
        *period_columns(),
        sa.Column("line_id", sa.String(200), primary_key=True),
        sa.Column("statement_id", sa.String(200), nullable=False),
        sa.Column("amount", exact_decimal(), nullable=False),
        sa.Column("booking_date", sa.Date, nullable=True),
        sa.Column("received", sa.Boolean, nullable=False),
        sa.Column("decision_id", sa.String(200), nullable=True),
        sa.Column("decision_kind", sa.String(30), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        period_foreign_key("period_lines"),
    )
    op.create_table(
        "period_postings",
        *period_columns(),
        sa.Column("entry_id", sa.String(200), primary_key=True),
        sa.Column("part_no", sa.Integer, primary_key=True),
        sa.Column("statement_line_id", sa.String(200), nullable=True),
        sa.Column("amount", exact_decimal(), nullable=False),
        sa.Column("posting_date", sa.Date, nullable=False),
        sa.Column("reverses_entry_id", sa.String(200), nullable=True),
        period_foreign_key("period_postings"),
    )
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("message_id", sa.String(100), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
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
    for table in ("outbox", "inbox", "period_postings", "period_lines", "period_statements"):
        op.drop_table(table)
    op.drop_table("periods")
