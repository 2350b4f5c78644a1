"""The matcher's tables. On PostgreSQL they live in the ``matcher`` schema (the engine maps
the default schema to it); SQLite has no schemas, its file is the matcher's own.

Lines and decisions are kept as their contract JSON: the matcher reads them back whole (a
redelivered line, a line decided again), never by their fields, except the few columns a
lookup needs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, Column, DateTime, Index, Integer, MetaData, String, Table, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from bankrec.runtime import outbox_table

SCHEMA = "matcher"


def schema_for(dialect_name: str) -> str | None:
    """The schema the tables live in on this database (None: the database's default)."""
    return SCHEMA if dialect_name == "postgresql" else None


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

decided_lines = Table(
    "decided_lines",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("line_id", String(200), primary_key=True),
    Column("account_id", String(100), nullable=False),
    Column("decision_id", String(100), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("pending", Boolean, nullable=False),
    Column("parked_decision_id", String(100), nullable=True),
    Column("refusals", Text, nullable=False),  # JSON list of the ledger's reasons
    Column("line", Text, nullable=False),  # StatementLine JSON
    Column("decision", Text, nullable=False),  # MatchDecision JSON
    Column("decided_at", UtcDateTime, nullable=False),
    Index("ix_decided_lines_pending", "pending", "tenant_id"),
)

matching_settings = Table(
    "matching_settings",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("settings", Text, nullable=False),  # MatchingSettings JSON
    Column("updated_at", UtcDateTime, nullable=False),
)

outbox = outbox_table(metadata)
