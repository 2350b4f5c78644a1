"""Kafka adapters: the decision publisher and the open-items topic's end offsets."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker

from bankrec.contracts import DECISIONS, Envelope, MatchDecision, Topic
from bankrec.runtime import publish_envelope


class KafkaDecisionPublisher:
    """Publishes on the decisions topic through the service's broker (idempotent, acks=all)."""

    def __init__(self, broker: KafkaBroker) -> None:
        self._broker = broker

    async def publish(self, key: str, envelope: Envelope[MatchDecision]) -> None:
        await publish_envelope(self._broker, DECISIONS, key, envelope)


async def readable_end_offsets(
    bootstrap_servers: str, topic: Topic, *, client_id: str
) -> dict[int, int]:
    """Partition -> end offset, for the partitions that hold at least one readable record."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id=client_id)
    await admin.start()
    try:
        [description] = await admin.describe_topics([topic.name])
    finally:
        await admin.close()
    partitions = sorted(p["partition"] for p in description.get("partitions", []))
    if not partitions:
        return {}
    assigned = [TopicPartition(topic.name, p) for p in partitions]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        group_id=None,  # only reads offsets: joins no group, commits nothing
        enable_auto_commit=False,
        isolation_level="read_committed",  # the end a read_committed consumer can reach
    )
    await consumer.start()
    try:
        beginnings = await consumer.beginning_offsets(assigned)
        ends = await consumer.end_offsets(assigned)
    finally:
        await consumer.stop()
    return {tp.partition: ends[tp] for tp in assigned if ends[tp] > beginnings[tp]}
