"""The reconciler's tables. On PostgreSQL they live in the ``reconciler`` schema (the engine
maps the default schema to it); SQLite has no schemas, its file is the reconciler's own."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
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

period_lines = Table(
    "period_lines",
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
    ForeignKeyConstraint(
        ["tenant_id", "period_id"],
        ["periods.tenant_id", "periods.period_id"],
        name="fk_period_lines_period",
    ),
)

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
    ForeignKeyConstraint(
        ["tenant_id", "period_id"],
        ["periods.tenant_id", "periods.period_id"],
        name="fk_period_postings_period",
    ),
)

inbox = inbox_table(metadata)
outbox = outbox_table(metadata)
