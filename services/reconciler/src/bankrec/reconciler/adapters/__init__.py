"""Storage adapters for the reconciler's ports: SQL (SQLite, PostgreSQL) and in memory."""

from bankrec.reconciler.adapters.memory import MemoryStore, MemoryUnitOfWork, StagedMessage
from bankrec.reconciler.adapters.sql import (
    PeriodCache,
    SqlPeriodRepository,
    SqlUnitOfWork,
    reconciler_engine,
    sql_units_of_work,
)
from bankrec.reconciler.adapters.tables import SCHEMA, metadata, outbox, schema_for

__all__ = [
    "SCHEMA",
    "MemoryStore",
    "MemoryUnitOfWork",
    "PeriodCache",
    "SqlPeriodRepository",
    "SqlUnitOfWork",
    "StagedMessage",
    "metadata",
    "outbox",
    "reconciler_engine",
    "schema_for",
    "sql_units_of_work",
]
