"""Implementations of the ports: SQL store, Kafka publishing, a recording broker for tests."""

from bankrec.ingest.adapters.memory import MemoryBroker, RecordedMessage
from bankrec.ingest.adapters.sql import SqlIngestStore

__all__ = ["MemoryBroker", "RecordedMessage", "SqlIngestStore"]
