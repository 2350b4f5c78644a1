"""Manual work: suspense postings and their allocations, registered payments, the audit
trail; what a decision allocated and whether it was unmatched; who and why on entries.

Suspense postings are backfilled from the journal: every entry that left an amount on the
interim account (a suspense decision, or what a match left over) becomes an open one.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _money() -> sa.types.TypeEngine:
    # exact on both: NUMERIC(20, 4) on PostgreSQL, integer 1/10000 units on SQLite
    return sa.Numeric(20, 4).with_variant(sa.BigInteger(), "sqlite")


def _timestamp() -> sa.types.TypeEngine:
    return sa.DateTime(timezone=True)


def _serial() -> sa.types.TypeEngine:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


# amounts are summed in their stored form (NUMERIC, or integer 1/10000 units on SQLite), so
# the backfill is exact on both databases; 'sp-' || the entry id's digest is suspense_id_for
BACKFILL_SUSPENSE = """
INSERT INTO suspense_postings (
    tenant_id, suspense_id, entry_id, decision_id, bank_account_id, statement_line_id,
    currency, amount, remaining, posting_date, status, version, created_at, updated_at
)
SELECT e.tenant_id, 'sp-' || substr(e.entry_id, 4), e.entry_id,
       CASE WHEN e.source = 'decision' THEN e.source_ref END,
       e.bank_account_id, e.statement_line_id, l.currency,
       SUM(l.credit) - SUM(l.debit), SUM(l.credit) - SUM(l.debit),
       e.posting_date, 'open', 1, e.posted_at, e.posted_at
FROM journal_entries e
JOIN journal_lines l ON l.tenant_id = e.tenant_id AND l.entry_id = e.entry_id
WHERE l.account_role = 'interim'
GROUP BY e.tenant_id, e.entry_id, e.source, e.source_ref, e.bank_account_id,
         e.statement_line_id, l.currency, e.posting_date, e.posted_at
HAVING SUM(l.credit) - SUM(l.debit) <> 0
"""


def upgrade() -> None:
    with op.batch_alter_table("journal_entries") as batch:
        batch.add_column(sa.Column("adjustment_kind", sa.String(20), nullable=True))
        batch.add_column(sa.Column("actor", sa.String(200), nullable=True))
        batch.add_column(sa.Column("reason", sa.String(1000), nullable=True))
        batch.add_column(sa.Column("posting_rule_id", sa.String(100), nullable=True))
        batch.add_column(sa.Column("posting_rule_version", sa.Integer(), nullable=True))
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("line_id", sa.String(200), nullable=True))
        batch.add_column(sa.Column("bank_account_id", sa.String(100), nullable=True))
        batch.add_column(sa.Column("allocations", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("unmatched_at", _timestamp(), nullable=True))
        batch.add_column(sa.Column("unmatch_audit_id", sa.String(64), nullable=True))
    op.create_table(
        "suspense_postings",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("suspense_id", sa.String(64), primary_key=True),
        sa.Column("entry_id", sa.String(64), nullable=False),
        sa.Column("decision_id", sa.String(200), nullable=True),
        sa.Column("bank_account_id", sa.String(100), nullable=True),
        sa.Column("statement_line_id", sa.String(200), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", _money(), nullable=False),
        sa.Column("remaining", _money(), nullable=False),
        sa.Column("posting_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
    )
    op.create_index(
        "ix_suspense_postings_tenant_status", "suspense_postings", ["tenant_id", "status"]
    )
    op.create_table(
        "suspense_allocations",
        sa.Column("id", _serial(), primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("allocation_id", sa.String(64), nullable=False),
        sa.Column("suspense_id", sa.String(64), nullable=False),
        sa.Column("target", sa.String(20), nullable=False),
        sa.Column("target_id", sa.String(100), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", _money(), nullable=False),
        sa.Column("entry_id", sa.String(64), nullable=False),
        sa.Column("allocated_at", _timestamp(), nullable=False),
        sa.UniqueConstraint(
            "tenant_id", "allocation_id", name="uq_suspense_allocations_allocation_id"
        ),
    )
    op.create_index(
        "ix_suspense_allocations_suspense", "suspense_allocations", ["tenant_id", "suspense_id"]
    )
    op.create_table(
        "registered_payments",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("payment_id", sa.String(100), primary_key=True),
        sa.Column("item_id", sa.String(100), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", _money(), nullable=False),
        sa.Column("bank_account_id", sa.String(100), nullable=False),
        sa.Column("entry_id", sa.String(64), nullable=False),
        sa.Column("registered_at", _timestamp(), nullable=False),
        sa.Column("removed_at", _timestamp(), nullable=True),
    )
    op.create_index(
        "ix_registered_payments_item", "registered_payments", ["tenant_id", "item_id"]
    )
    op.create_table(
        "audit_trail",
        sa.Column("id", _serial(), primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("audit_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("subject_id", sa.String(200), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("occurred_at", _timestamp(), nullable=False),
        sa.Column("entry_ids", sa.JSON(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.UniqueConstraint("tenant_id", "audit_id", name="uq_audit_trail_audit_id"),
    )
    op.create_index("ix_audit_trail_subject", "audit_trail", ["tenant_id", "subject_id"])
    op.execute(BACKFILL_SUSPENSE)


def downgrade() -> None:
    op.drop_index("ix_audit_trail_subject", table_name="audit_trail")
    op.drop_table("audit_trail")
    op.drop_index("ix_registered_payments_item", table_name="registered_payments")
    op.drop_table("registered_payments")
    op.drop_index("ix_suspense_allocations_suspense", table_name="suspense_allocations")
    op.drop_table("suspense_allocations")
    op.drop_index("ix_suspense_postings_tenant_status", table_name="suspense_postings")
    op.drop_table("suspense_postings")
    with op.batch_alter_table("decisions") as batch:
        for column in ("unmatch_audit_id", "unmatched_at", "allocations", "bank_account_id", "line_id"):
            batch.drop_column(column)
    with op.batch_alter_table("journal_entries") as batch:
        for column in (
            "posting_rule_version",
            "posting_rule_id",
            "reason",
            "actor",
            "adjustment_kind",
        ):
            batch.drop_column(column)
