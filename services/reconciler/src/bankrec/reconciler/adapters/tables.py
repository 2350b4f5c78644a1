"""The reconciler's tables. On PostgreSQL they live in the ``reconciler`` schema (the engine
maps the default schema to it); SQLite has no schemas, its file is the reconciler's own."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from bankrec.runtime import inbox_table, outbox_table

SCHEMA = "reconciler"


def schema_for(dialect_name: str) -> str | None:
    """The schema the tables live in on this database (None: the database's default)."""
    return SCHEMA if dialect_name == "postgresql" else None


class ExactDecimal(TypeDecorator[Decimal]):
    """An exact decimal: NUMERIC on PostgreSQL, text on SQLite (whose NUMERIC is a float)."""

    impl = String(64)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(asdecimal=True))
        return dialect.type_descriptor(String(64))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal) or not value.is_finite():
            raise TypeError(f"an exact decimal column takes a finite Decimal, not {value!r}")
        return value if dialect.name == "postgresql" else format(value, "f")

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime stored in UTC; SQLite hands it back naive, so UTC is put back."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise TypeError(f"naive datetime {value!r}: bankrec stores aware datetimes only")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

periods = Table(
    "periods",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("period_id", String(120), primary_key=True),
    Column("account_id", String(100), nullable=False),
    Column("period_no", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(20), nullable=False),
    Column("account_number", String(64), nullable=True),
    Column("manual_opening_balance", ExactDecimal, nullable=True),
    Column("manual_statement_balance", ExactDecimal, nullable=True),
    Column("version", Integer, nullable=False),
    Column("sequence_no", Integer, nullable=True),
    Column("opening_from_previous", ExactDecimal, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("tenant_id", "account_id", "period_no", name="uq_periods_account_period_no"),
)

period_statements = Table(
    "period_statements",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("period_id", String(120), primary_key=True),
    Column("statement_id", String(200), primary_key=True),
    Column("opening_amount", ExactDecimal, nullable=True),
    Column("opening_date", Date, nullable=True),
    Column("closing_amount", ExactDecimal, nullable=True),
    Column("closing_date", Date, nullable=True),
    Column("sequence_no", Integer, nullable=True),
    Column("statement_created_at", UtcDateTime, nullable=True),
    ForeignKeyConstraint(
        ["tenant_id", "period_id"],
        ["periods.tenant_id", "periods.period_id"],
        name="fk_period_statements_period",
    ),
)


def _line_table(name: str) -> Table:
    """A period's statement lines; removed lines are kept in a twin table (tombstones)."""
    return Table(
        name,
        metadata,
        Column("tenant_id", String(64), primary_key=True),
        Column("period_id", String(120), primary_key=True),
        Column("line_id", String(200), primary_key=True),
        Column("statement_id", String(200), nullable=False),
        Column("amount", ExactDecimal, nullable=False),
        Column("booking_date", Date, nullable=True),
        Column("received", Boolean, nullable=False),
        Column("decision_id", String(200), nullable=True),
        Column("decision_kind", String(30), nullable=True),
        Column("decided_at", UtcDateTime, nullable=True),
        Column("decision_counterparty_id", String(200), nullable=True),
        Column("origin", String(10), nullable=True),  # null: from the bank (rows before 0002)
        Column("counterparty", String(200), nullable=True),
        Column("line_text", String(300), nullable=True),
        Column("charge_kind", String(20), nullable=True),
        ForeignKeyConstraint(
            ["tenant_id", "period_id"],
            ["periods.tenant_id", "periods.period_id"],
            name=f"fk_{name}_period",
        ),
    )


period_lines = _line_table("period_lines")
period_removed_lines = _line_table("period_removed_lines")

# One row per journal entry and statement line it names (part_no orders an entry's parts).
period_postings = Table(
    "period_postings",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("period_id", String(120), primary_key=True),
    Column("entry_id", String(200), primary_key=True),
    Column("part_no", Integer, primary_key=True),
    Column("statement_line_id", String(200), nullable=True),
    Column("amount", ExactDecimal, nullable=False),
    Column("posting_date", Date, nullable=False),
    Column("reverses_entry_id", String(200), nullable=True),
    Column("source", String(20), nullable=True),
    Column("source_ref", String(200), nullable=True),
    Column("adjustment_kind", String(20), nullable=True),
    Column("counterparty_id", String(200), nullable=True),
    Column("description", String(300), nullable=True),
    Column("carried_from", Integer, nullable=True),
    ForeignKeyConstraint(
        ["tenant_id", "period_id"],
        ["periods.tenant_id", "periods.period_id"],
        name="fk_period_postings_period",
    ),
)

# The flags users set on items (item_kind: statement_line or ledger_entry); none: automatic.
period_item_marks = Table(
    "period_item_marks",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("period_id", String(120), primary_key=True),
    Column("item_kind", String(20), primary_key=True),
    Column("item_id", String(200), primary_key=True),
    Column("cleared", Boolean, nullable=True),
    Column("reconciled", Boolean, nullable=True),
    Column("marked_by", String(200), nullable=False),
    Column("marked_at", UtcDateTime, nullable=False),
    ForeignKeyConstraint(
        ["tenant_id", "period_id"],
        ["periods.tenant_id", "periods.period_id"],
        name="fk_period_item_marks_period",
    ),
)

period_adjustments = Table(
    "period_adjustments",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("period_id", String(120), primary_key=True),
    Column("adjustment_id", String(100), primary_key=True),
    Column("account_id", String(100), nullable=False),  # finds the period of a posting
    Column("kind", String(20), nullable=False),
    Column("amount", ExactDecimal, nullable=False),
    Column("requested_by", String(200), nullable=False),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("reason", String(1000), nullable=False),
    Column("statement_line_id", String(200), nullable=True),
    Column("gl_account", String(20), nullable=True),
    Column("description", String(300), nullable=True),
    Column("posting_date", Date, nullable=True),
    Column("refusal_code", String(200), nullable=True),  # 0003: the ledger refused it
    Column("refusal_reason", String(1000), nullable=True),
    Column("refused_at", UtcDateTime, nullable=True),
    ForeignKeyConstraint(
        ["tenant_id", "period_id"],
        ["periods.tenant_id", "periods.period_id"],
        name="fk_period_adjustments_period",
    ),
    UniqueConstraint("tenant_id", "account_id", "adjustment_id", name="uq_adjustments_account_id"),
)

# Manual matches asked of the ledger (0004); allocations as [[item id, amount text], ...].
period_match_requests = Table(
    "period_match_requests",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("period_id", String(120), primary_key=True),
    Column("request_id", String(100), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("line_id", String(200), nullable=False),
    Column("decision_id", String(200), nullable=False),
    Column("requested_by", String(200), nullable=False),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("reason", String(1000), nullable=False),
    Column("allocations", JSON, nullable=False),
    Column("undoes_request_id", String(100), nullable=True),
    Column("outcome", String(20), nullable=True),
    Column("entry_ids", JSON, nullable=False),
    Column("refusal_code", String(200), nullable=True),
    Column("refusal_reason", String(1000), nullable=True),
    Column("settled_at", UtcDateTime, nullable=True),
    ForeignKeyConstraint(
        ["tenant_id", "period_id"],
        ["periods.tenant_id", "periods.period_id"],
        name="fk_period_match_requests_period",
    ),
)

# Append-only: who did what to the period, when and why (record_no orders the records).
period_audit = Table(
    "period_audit",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("period_id", String(120), primary_key=True),
    Column("record_no", Integer, primary_key=True),
    Column("action", String(30), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("reason", String(1000), nullable=True),
    Column("subject_id", String(200), nullable=True),
    Column("sequence_no", Integer, nullable=True),
    Column("amount", ExactDecimal, nullable=True),
    Column("opening_balance", ExactDecimal, nullable=True),
    Column("reconciliation_date", Date, nullable=True),
    ForeignKeyConstraint(
        ["tenant_id", "period_id"],
        ["periods.tenant_id", "periods.period_id"],
        name="fk_period_audit_period",
    ),
)

inbox = inbox_table(metadata)
outbox = outbox_table(metadata)

# the inbox claims as they were before a rebuild cleared them: what routes the replay, kept
# until the rebuild has finished, so a rebuild that fails half-way can be run again
inbox_before_rebuild = inbox_table(metadata, "inbox_before_rebuild")
