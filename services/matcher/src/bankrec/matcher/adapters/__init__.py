"""Adapters of the matcher's ports: SQL (the service's database), in memory (tests), Kafka."""

from bankrec.matcher.adapters.kafka import readable_end_offsets
from bankrec.matcher.adapters.memory import MemoryStore, MemoryUnitOfWork, StagedMessage
from bankrec.matcher.adapters.sql import SqlUnitOfWork, matcher_engine, sql_units_of_work
from bankrec.matcher.adapters.tables import SCHEMA, metadata, outbox, schema_for

__all__ = [
    "SCHEMA",
    "MemoryStore",
    "MemoryUnitOfWork",
    "SqlUnitOfWork",
    "StagedMessage",
    "matcher_engine",
    "metadata",
    "outbox",
    "readable_end_offsets",
    "schema_for",
    "sql_units_of_work",
]
