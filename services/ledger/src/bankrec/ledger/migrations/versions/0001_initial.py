"""The ledger's tables: accounts, bank accounts, open items, journal, decisions, inbox, outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _money() -> sa.types.TypeEngine:
    # exact on both: NUMERIC(20, 4) on PostgreSQL, integer 1/10000 units on SQLite
    return sa.Numeric(20, 4).with_variant(sa.BigInteger(), "sqlite")


def _timestamp() -> sa.types.TypeEngine:
    return sa.DateTime(timezone=True)


def _serial() -> sa.types.TypeEngine:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("code", sa.String(20), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
    )
    op.create_table(
        "bank_accounts",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("bank_account_id", sa.String(100), primary_key=True),
        sa.Column("account_code", sa.String(20), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("linked_at", _timestamp(), nullable=False),
        sa.UniqueConstraint("tenant_id", "account_code", name="uq_bank_accounts_account_code"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "account_code"],
            ["accounts.tenant_id", "accounts.code"],
            name="fk_bank_accounts_account",
        ),
    )
    op.create_table(
        "open_items",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("item_id", sa.String(100), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("counterparty_id", sa.String(100), nullable=True),
        sa.Column("counterparty_name", sa.String(200), nullable=True),
        sa.Column("counterparty_accounts", sa.JSON(), nullable=False),
        sa.Column("document_no", sa.String(100), nullable=True),
        sa.Column("external_document_no", sa.String(100), nullable=True),
        sa.Column("reference", sa.String(100), nullable=True),
        sa.Column("reference_kind", sa.String(20), nullable=True),
        sa.Column("description", sa.String(500), nullable=True),
        sa.Column("amount", _money(), nullable=False),
        sa.Column("remaining", _money(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("posting_date", sa.Date(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("bank_account_id", sa.String(100), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
    )
    op.create_index("ix_open_items_tenant_status", "open_items", ["tenant_id", "status"])
    op.create_table(
        "journal_entries",
        sa.Column("id", _serial(), primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("entry_id", sa.String(64), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("posting_date", sa.Date(), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("source_ref", sa.String(200), nullable=False),
        sa.Column("decision_kind", sa.String(40), nullable=True),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("bank_account_id", sa.String(100), nullable=True),
        sa.Column("statement_line_id", sa.String(200), nullable=True),
        sa.Column("reverses_entry_id", sa.String(64), nullable=True),
        sa.Column("posted_at", _timestamp(), nullable=False),
        sa.UniqueConstraint("tenant_id", "entry_id", name="uq_journal_entries_entry_id"),
        sa.UniqueConstraint(
            "tenant_id", "idempotency_key", name="uq_journal_entries_idempotency_key"
        ),
    )
    op.create_table(
        "journal_lines",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("entry_id", sa.String(64), primary_key=True),
        sa.Column("line_no", sa.Integer(), primary_key=True),
        sa.Column("account_code", sa.String(20), nullable=False),
        sa.Column("account_role", sa.String(40), nullable=False),
        sa.Column("debit", _money(), nullable=False),
        sa.Column("credit", _money(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("bank_account_id", sa.String(100), nullable=True),
        sa.Column("open_item_id", sa.String(100), nullable=True),
        sa.Column("counterparty_id", sa.String(100), nullable=True),
        sa.Column("statement_line_id", sa.String(200), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "entry_id"],
            ["journal_entries.tenant_id", "journal_entries.entry_id"],
            name="fk_journal_lines_entry",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "account_code"],
            ["accounts.tenant_id", "accounts.code"],
            name="fk_journal_lines_account",
        ),
    )
    op.create_index(
        "ix_journal_lines_account", "journal_lines", ["tenant_id", "account_code", "currency"]
    )
    op.create_table(
        "decisions",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("decision_id", sa.String(200), primary_key=True),
        sa.Column("message_id", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("entry_id", sa.String(64), nullable=True),
        sa.Column("reason_code", sa.String(60), nullable=True),
        sa.Column("reason", sa.String(2000), nullable=True),
        sa.Column("decided_at", _timestamp(), nullable=False),
    )
    op.create_index("ix_decisions_tenant_outcome", "decisions", ["tenant_id", "outcome"])
    # bankrec.runtime.inbox_table / outbox_table, as they are at this revision
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("message_id", sa.String(100), primary_key=True),
        sa.Column("processed_at", _timestamp(), nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("id", _serial(), primary_key=True, autoincrement=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("message_key", sa.String(200), nullable=False),
        sa.Column("message_type", sa.String(100), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("published_at", _timestamp(), nullable=True),
    )
    op.create_index("ix_outbox_published_at", "outbox", ["published_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_published_at", table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("inbox")
    op.drop_index("ix_decisions_tenant_outcome", table_name="decisions")
    op.drop_table("decisions")
    op.drop_index("ix_journal_lines_account", table_name="journal_lines")
    op.drop_table("journal_lines")
    op.drop_table("journal_entries")
    op.drop_index("ix_open_items_tenant_status", table_name="open_items")
    op.drop_table("open_items")
    op.drop_table("bank_accounts")
    op.drop_table("accounts")
