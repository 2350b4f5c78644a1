"""Adapters of the matcher's ports: Kafka (real) and in memory."""

from bankrec.matcher.adapters.kafka import KafkaDecisionPublisher, readable_end_offsets
from bankrec.matcher.adapters.memory import RecentDecisions, RecordingPublisher

__all__ = [
    "KafkaDecisionPublisher",
    "RecentDecisions",
    "RecordingPublisher",
    "readable_end_offsets",
]
