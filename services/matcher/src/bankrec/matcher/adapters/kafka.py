"""Kafka adapters: the decision publisher (and, from the runtime, a topic's end offsets)."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from bankrec.contracts import DECISIONS, Envelope, MatchDecision
from bankrec.runtime import publish_envelope
from bankrec.runtime.kafka import readable_end_offsets

__all__ = ["KafkaDecisionPublisher", "readable_end_offsets"]


class KafkaDecisionPublisher:
    """Publishes on the decisions topic through the service's broker (idempotent, acks=all)."""

    def __init__(self, broker: KafkaBroker) -> None:
        self._broker = broker

    async def publish(self, key: str, envelope: Envelope[MatchDecision]) -> None:
        await publish_envelope(self._broker, DECISIONS, key, envelope)
