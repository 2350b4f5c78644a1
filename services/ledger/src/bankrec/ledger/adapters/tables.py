"""The ledger's own tables (SQLAlchemy Core). Every row is scoped by ``tenant_id``.

Money columns are exact on both databases: NUMERIC(20, 4) on PostgreSQL and, because SQLite
has no decimal type (its NUMERIC affinity stores floats), integer ten-thousandths there.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    UniqueConstraint,
    true,
)
from sqlalchemy.types import TypeDecorator, TypeEngine

from bankrec.runtime import inbox_table, outbox_table

AMOUNT_SCALE = 4
_SCALE = Decimal(1).scaleb(-AMOUNT_SCALE)


class ExactAmount(TypeDecorator[Decimal]):
    """A Decimal stored exactly: NUMERIC(20, 4), or integer 1/10000 units on SQLite."""

    impl = Numeric(20, AMOUNT_SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(20, AMOUNT_SCALE, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"money columns take Decimal, not {type(value).__name__}")
        if value.quantize(_SCALE) != value:
            raise ValueError(f"{value} has more than {AMOUNT_SCALE} decimals")
        if dialect.name == "sqlite":
            return int(value.scaleb(AMOUNT_SCALE))
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-AMOUNT_SCALE)
        return Decimal(value)


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC timestamp on both databases (SQLite keeps no offset: it is added back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        result: datetime = value
        if result.tzinfo is None:
            return result.replace(tzinfo=UTC)
        return result.astimezone(UTC)


metadata = MetaData()

accounts = Table(
    "accounts",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("code", String(20), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(40), nullable=False),
    Column("currency", String(3), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("active", Boolean(), nullable=False, server_default=true()),
)

bank_accounts = Table(
    "bank_accounts",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("bank_account_id", String(100), primary_key=True),
    Column("account_code", String(20), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("linked_at", UtcDateTime(), nullable=False),
    Column("iban", String(34), nullable=True),
    Column("bban", String(34), nullable=True),
    UniqueConstraint("tenant_id", "account_code", name="uq_bank_accounts_account_code"),
    ForeignKeyConstraint(
        ["tenant_id", "account_code"],
        ["accounts.tenant_id", "accounts.code"],
        name="fk_bank_accounts_account",
    ),
)

open_items = Table(
    "open_items",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("item_id", String(100), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("counterparty_id", String(100), nullable=True),
    Column("counterparty_name", String(200), nullable=True),
    Column("counterparty_accounts", JSON, nullable=False),
    Column("document_no", String(100), nullable=True),
    Column("external_document_no", String(100), nullable=True),
    Column("reference", String(100), nullable=True),
    Column("reference_kind", String(20), nullable=True),
    Column("description", String(500), nullable=True),
    Column("amount", ExactAmount(), nullable=False),
    Column("remaining", ExactAmount(), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("posting_date", Date, nullable=True),
    Column("due_date", Date, nullable=True),
    Column("status", String(20), nullable=False),
    Column("bank_account_id", String(100), nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_open_items_tenant_status", "tenant_id", "status"),
)

journal_entries = Table(
    "journal_entries",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("tenant_id", String(64), nullable=False),
    Column("entry_id", String(64), nullable=False),
    Column("idempotency_key", String(200), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("posting_date", Date, nullable=False),
    Column("source", String(20), nullable=False),
    Column("source_ref", String(200), nullable=False),
    Column("decision_kind", String(40), nullable=True),
    Column("description", String(500), nullable=False),
    Column("bank_account_id", String(100), nullable=True),
    Column("statement_line_id", String(200), nullable=True),
    Column("reverses_entry_id", String(64), nullable=True),
    Column("posted_at", UtcDateTime(), nullable=False),
    Column("adjustment_kind", String(20), nullable=True),
    Column("actor", String(200), nullable=True),
    Column("reason", String(1000), nullable=True),
    Column("posting_rule_id", String(100), nullable=True),
    Column("posting_rule_version", Integer, nullable=True),
    UniqueConstraint("tenant_id", "entry_id", name="uq_journal_entries_entry_id"),
    UniqueConstraint("tenant_id", "idempotency_key", name="uq_journal_entries_idempotency_key"),
)

journal_lines = Table(
    "journal_lines",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("entry_id", String(64), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("account_code", String(20), nullable=False),
    Column("account_role", String(40), nullable=False),
    Column("debit", ExactAmount(), nullable=False),
    Column("credit", ExactAmount(), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("bank_account_id", String(100), nullable=True),
    Column("open_item_id", String(100), nullable=True),
    Column("counterparty_id", String(100), nullable=True),
    Column("statement_line_id", String(200), nullable=True),
    ForeignKeyConstraint(
        ["tenant_id", "entry_id"],
        ["journal_entries.tenant_id", "journal_entries.entry_id"],
        name="fk_journal_lines_entry",
    ),
    ForeignKeyConstraint(
        ["tenant_id", "account_code"],
        ["accounts.tenant_id", "accounts.code"],
        name="fk_journal_lines_account",
    ),
    Index("ix_journal_lines_account", "tenant_id", "account_code", "currency"),
)

decisions = Table(
    "decisions",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("decision_id", String(200), primary_key=True),
    Column("message_id", String(100), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("entry_id", String(64), nullable=True),
    Column("reason_code", String(60), nullable=True),
    Column("reason", String(2000), nullable=True),
    Column("decided_at", UtcDateTime(), nullable=False),
    Column("line_id", String(200), nullable=True),
    Column("bank_account_id", String(100), nullable=True),
    Column("allocations", JSON, nullable=True),
    Column("unmatched_at", UtcDateTime(), nullable=True),
    Column("unmatch_audit_id", String(64), nullable=True),
    Index("ix_decisions_tenant_outcome", "tenant_id", "outcome"),
    Index("ix_decisions_tenant_line", "tenant_id", "line_id"),  # a line's decisions
)

suspense_postings = Table(
    "suspense_postings",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("suspense_id", String(64), primary_key=True),
    Column("entry_id", String(64), nullable=False),
    Column("decision_id", String(200), nullable=True),
    Column("bank_account_id", String(100), nullable=True),
    Column("statement_line_id", String(200), nullable=True),
    Column("currency", String(3), nullable=False),
    Column("amount", ExactAmount(), nullable=False),
    Column("remaining", ExactAmount(), nullable=False),
    Column("posting_date", Date, nullable=False),
    Column("status", String(20), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_suspense_postings_tenant_status", "tenant_id", "status"),
    Index("ix_suspense_postings_tenant_line", "tenant_id", "statement_line_id"),
)

suspense_allocations = Table(
    "suspense_allocations",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("tenant_id", String(64), nullable=False),
    Column("allocation_id", String(64), nullable=False),
    Column("suspense_id", String(64), nullable=False),
    Column("target", String(20), nullable=False),
    Column("target_id", String(100), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", ExactAmount(), nullable=False),
    Column("entry_id", String(64), nullable=False),
    Column("allocated_at", UtcDateTime(), nullable=False),
    Column("reversal_entry_id", String(64), nullable=True),
    Column("reversed_at", UtcDateTime(), nullable=True),
    Column("reversal_audit_id", String(64), nullable=True),
    UniqueConstraint("tenant_id", "allocation_id", name="uq_suspense_allocations_allocation_id"),
    Index("ix_suspense_allocations_suspense", "tenant_id", "suspense_id"),
)

registered_payments = Table(
    "registered_payments",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("payment_id", String(100), primary_key=True),
    Column("item_id", String(100), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", ExactAmount(), nullable=False),
    Column("bank_account_id", String(100), nullable=False),
    Column("entry_id", String(64), nullable=False),
    Column("registered_at", UtcDateTime(), nullable=False),
    Column("removed_at", UtcDateTime(), nullable=True),
    Index("ix_registered_payments_item", "tenant_id", "item_id"),
)

audit_trail = Table(
    "audit_trail",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("tenant_id", String(64), nullable=False),
    Column("audit_id", String(64), nullable=False),
    Column("action", String(40), nullable=False),
    Column("subject_id", String(200), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("reason", String(1000), nullable=False),
    Column("occurred_at", UtcDateTime(), nullable=False),
    Column("entry_ids", JSON, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("idempotency_key", String(200), nullable=True),
    Column("result", JSON, nullable=False),
    UniqueConstraint("tenant_id", "audit_id", name="uq_audit_trail_audit_id"),
    Index("ix_audit_trail_subject", "tenant_id", "subject_id"),
)


posting_rules = Table(
    "posting_rules",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("rule_id", String(100), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("conditions", JSON, nullable=False),
    Column("action", JSON, nullable=False),
    Column("changed_at", UtcDateTime(), nullable=False),
    Column("changed_by", String(200), nullable=True),
)

inbox = inbox_table(metadata)
outbox = outbox_table(metadata)
