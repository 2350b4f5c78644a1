"""Implementations of the ports: Kafka for the service, memory for tests and tools."""

from bankrec.ingest.adapters.kafka import KafkaPublisher
from bankrec.ingest.adapters.memory import MemoryPublisher

__all__ = ["KafkaPublisher", "MemoryPublisher"]
