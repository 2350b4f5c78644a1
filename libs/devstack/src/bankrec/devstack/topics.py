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

    The topic must exist (``ensure_topics``), and the group must have no live member (the
    broker refuses an outside commit then). Anything short of every partition committed at
    its end raises: a group silently left behind makes the test's service work through other
    tests' messages first and miss what the test publishes.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    # The consumer's own ``topics()`` fetches metadata into a throwaway copy, so its
    # ``partitions_for_topic`` stays None for a topic it does not subscribe to: ask the admin.
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        # checked first: describing a missing topic would have the broker create it
        if topic not in await admin.list_topics():
            raise RuntimeError(f"cannot commit {group_id} at the end of {topic}: no such topic")
        [description] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partition_ids = sorted(p["partition"] for p in description["partitions"])
    if description["error_code"] != 0 or not partition_ids:
        raise RuntimeError(
            f"cannot commit {group_id} at the end of {topic}: the broker describes it with "
            f"error code {description['error_code']} and {len(partition_ids)} partitions"
        )

    partitions = [TopicPartition(topic, p) for p in partition_ids]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.commit(dict(ends))
        committed = {tp: await consumer.committed(tp) for tp in partitions}
    finally:
        await consumer.stop()
    if committed != ends:
        raise RuntimeError(
            f"{group_id} on {topic}: committed {_by_partition(committed)}, "
            f"expected the ends {_by_partition(ends)}"
        )


def _by_partition(offsets: dict[Any, int | None]) -> dict[int, int | None]:
    return {tp.partition: offset for tp, offset in sorted(offsets.items())}


async def topic_end_offsets(bootstrap_servers: str, topic: str) -> dict[int, int]:
    """Each partition's current end offset: where a reader of what comes next starts."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(await _partition_ids(bootstrap_servers, topic))
        ]
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return {tp.partition: offset for tp, offset in ends.items()}


async def _partition_ids(bootstrap_servers: str, topic: str) -> list[int]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            return []
        [description] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return [int(p["partition"]) for p in description["partitions"]]


async def tenant_messages(
    bootstrap_servers: str,
    topic: str,
    tenant_id: str,
    count: int,
    timeout_seconds: float = 30.0,
    *,
    from_offsets: dict[int, int] | None = None,
) -> list[dict[str, Any]]:
    """The first ``count`` envelopes of one tenant on a topic, read from the beginning or,
    with ``from_offsets`` (``topic_end_offsets`` taken earlier), from there."""
    import asyncio

    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        *(() if from_offsets else (topic,)),
        bootstrap_servers=bootstrap_servers,
        group_id=None,  # a reader only: commits nothing
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    if from_offsets:
        partitions = {TopicPartition(topic, p): offset for p, offset in from_offsets.items()}
        consumer.assign(list(partitions))
        for partition, offset in partitions.items():
            consumer.seek(partition, offset)
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
