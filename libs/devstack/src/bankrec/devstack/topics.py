"""Reading topics in tests: other tests put malformed messages on the same topics on purpose
(to prove they are dead-lettered), so a reader skips what is not a JSON object."""

from __future__ import annotations

import json
from typing import Any


def json_object(value: bytes | None) -> dict[str, Any] | None:
    """The message as a JSON object, or None when it is not one."""
    if value is None:
        return None
    try:
        decoded = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return decoded if isinstance(decoded, dict) else None


async def commit_group_at_end(bootstrap_servers: str, group_id: str, topic: str) -> None:
    """Commit a consumer group's offsets at the topic's current end.

    A test that starts a service's real consumer group on a broker shared with other tests
    uses it so the group starts where a deployed, caught-up service would be, instead of
    working through every earlier test's messages first.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        await consumer.topics()  # loads the metadata partitions_for_topic reads
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            return
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.commit(dict(ends))
    finally:
        await consumer.stop()


async def tenant_messages(
    bootstrap_servers: str, topic: str, tenant_id: str, count: int, timeout_seconds: float = 30.0
) -> list[dict[str, Any]]:
    """The first ``count`` envelopes of one tenant on a topic, read from the beginning."""
    import asyncio

    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        group_id=None,  # a reader only: commits nothing
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(timeout_seconds):
            while len(found) < count:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for record in records:
                        message = json_object(record.value)
                        if message is not None and message.get("tenant_id") == tenant_id:
                            found.append(message)
    finally:
        await consumer.stop()
    return found
