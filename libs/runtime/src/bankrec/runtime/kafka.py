"""Kafka clients with every delivery option written out.

The library defaults are unsafe for money (acks=1, no idempotence, auto-commit, "latest",
ack before the handler runs); each option below is set on purpose.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any, TypeVar

from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy
from pydantic import BaseModel

from bankrec.contracts import Envelope, Topic

PayloadT = TypeVar("PayloadT", bound=BaseModel)

JSON_HEADERS = {"content-type": "application/json"}


def create_broker(bootstrap_servers: str, *, client_id: str) -> KafkaBroker:
    """A FastStream broker whose producer never loses or doubles a message it accepted."""
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        acks="all",  # a write survives only when every in-sync replica has it
        enable_idempotence=True,  # retries cannot duplicate within a producer session
        linger_ms=5,  # small batches without hurting single-line latency much
        compression_type=None,  # lines are small; revisit with the benchmark
        request_timeout_ms=30_000,
        allow_auto_create_topics=True,  # topics are also created explicitly at start-up
        graceful_timeout=15.0,  # finish the message in hand before stopping
        ack_policy=AckPolicy.NACK_ON_ERROR,  # commit after the handler; a failure redelivers
        apply_types=True,
    )


async def raw_body(message: StreamMessage[Any]) -> Any:
    """The message's bytes as they came, for handlers that decode with ``decode_payload``."""
    return message.body


def subscriber_options(group_id: str) -> dict[str, Any]:
    """Consumer options for a service's consumer group."""
    return {
        "group_id": group_id,
        # FastStream would json-decode every body before the handler runs, so malformed JSON
        # failed unacknowledged forever instead of reaching decode_payload and the dead letters
        "decoder": raw_body,
        "auto_offset_reset": "earliest",  # a new group reads what was there before it
        "ack_policy": AckPolicy.NACK_ON_ERROR,  # offsets commit after the effect is stored
        "isolation_level": "read_committed",
        "max_poll_interval_ms": 300_000,
        "session_timeout_ms": 10_000,
        "heartbeat_interval_ms": 3_000,
    }


def whole_topic_reader_options(reader: str) -> dict[str, Any]:
    """A reader that every instance runs over a whole compacted topic at every start.

    It takes the shared consumer options (raw-bytes decoder, isolation level, ...) and changes
    only what differs. No consumer group: each instance needs every record (the state lives
    in memory, so there is no stored position to resume from either). Without a group there
    is nothing to commit to: aiokafka refuses ``commit()`` with IllegalOperation("Requires
    group_id"). Under ACK or NACK_ON_ERROR FastStream calls it after every message (logged
    CRITICAL, then swallowed); ACK_FIRST never commits but turns aiokafka's auto-commit on
    (ignored without a group, yet misleading). MANUAL is the honest policy: FastStream never
    acknowledges, auto-commit is off, and nothing is ever committed. A handler error is logged
    and the record skipped; the only expected one, an undecodable record, is dead-lettered by
    the handler itself. ``reader`` names the reader in dead letters.
    """
    return {
        **subscriber_options(reader),
        "group_id": None,
        "auto_offset_reset": "earliest",  # from the beginning, every start
        "ack_policy": AckPolicy.MANUAL,
    }


async def readable_end_offsets(
    bootstrap_servers: str, topic: Topic, *, client_id: str
) -> dict[int, int]:
    """Partition -> end offset, for the partitions that hold at least one readable record.

    The topic must exist (``ensure_topics``): describing a missing one may have the broker
    create it with its defaults (not compacted).
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

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


def encode_envelope(envelope: Envelope[Any]) -> bytes:
    return envelope.model_dump_json().encode("utf-8")


def key_bytes(key: str) -> bytes:
    return key.encode("utf-8")


async def publish_envelope(
    broker: KafkaBroker, topic: Topic, key: str, envelope: Envelope[Any]
) -> None:
    """Publish one enveloped message as JSON bytes that any Kafka client can read."""
    await broker.publish(
        encode_envelope(envelope),
        topic=topic.name,
        key=key_bytes(key),
        headers={**JSON_HEADERS, "bankrec-type": envelope.type},
    )


class MessageDecodeError(ValueError):
    """A message that is not a bankrec envelope of the expected type."""

    reason_code = "undecodable_message"


def decode_payload(payload_type: type[PayloadT], body: Any) -> Envelope[PayloadT]:
    """Validate a raw message body (bytes, str or decoded JSON) into an envelope."""
    try:
        if isinstance(body, bytes | bytearray):
            body = json.loads(body.decode("utf-8"))
        elif isinstance(body, str):
            body = json.loads(body)
        return Envelope[payload_type].model_validate(body)  # type: ignore[valid-type]
    except (ValueError, TypeError) as exc:
        raise MessageDecodeError(
            f"not a {payload_type.__name__} envelope: {str(exc)[:500]}"
        ) from exc


async def ensure_topics(bootstrap_servers: str, topics: tuple[Topic, ...]) -> None:
    """Create the topics a service uses, compacted where the registry says so."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="bankrec-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name=topic.name,
                num_partitions=topic.partitions,
                replication_factor=1
                if "127.0.0.1" in bootstrap_servers or "localhost" in bootstrap_servers
                else -1,
                topic_configs={"cleanup.policy": "compact"} if topic.compacted else {},
            )
            for topic in topics
            if topic.name not in existing
        ]
        if missing:
            # another service may create the same topic at the same moment
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()
