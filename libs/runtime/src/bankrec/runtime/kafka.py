"""Kafka clients with every delivery option written out.

The library defaults are unsafe for money (acks=1, no idempotence, auto-commit, "latest",
ack before the handler runs); each option below is set on purpose.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Literal, TypeVar

from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy
from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bankrec.contracts import Envelope, MatchDecision, Topic
from bankrec.runtime import batch_poll
from bankrec.runtime.metrics import metrics_of

PayloadT = TypeVar("PayloadT", bound=BaseModel)

log = logging.getLogger(__name__)

JSON_HEADERS = {"content-type": "application/json"}


Compression = Literal["gzip", "snappy", "lz4", "zstd"]
COMPRESSIONS: tuple[Compression, ...] = ("gzip", "snappy", "lz4", "zstd")
PRODUCER_ENV_PREFIX = "BANKREC_KAFKA_PRODUCER_"


class ProducerSettingsError(ValueError):
    """A ``BANKREC_KAFKA_PRODUCER_*`` variable with a value the producer cannot use."""


class ProducerSettings(BaseSettings):
    """The producer's batching, measured with `make bench` (README, Performance); each can be
    changed per process through ``BANKREC_KAFKA_PRODUCER_*`` without touching the guarantees
    (acks and idempotence are not settings). Read when a broker is built
    (``producer_settings``), so a process's environment at that moment counts."""

    model_config = SettingsConfigDict(
        env_prefix=PRODUCER_ENV_PREFIX, env_file=".env", extra="ignore"
    )

    linger_ms: int = Field(default=5, ge=0, description="How long a batch waits for more")
    max_batch_bytes: int = Field(default=16384, gt=0, description="Largest batch per partition")
    compression: Compression | None = Field(
        default=None, description="gzip, snappy, lz4 or zstd; unset, empty or none: none"
    )

    @field_validator("compression", mode="before")
    @classmethod
    def _none_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in ("", "none"):
            return None
        return value


def producer_settings() -> ProducerSettings:
    """The producer settings from the environment now; a bad value raises
    ``ProducerSettingsError`` naming its variable."""
    try:
        return ProducerSettings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{PRODUCER_ENV_PREFIX}{str(error['loc'][0]).upper()}="
            f"{error.get('input')!r}: {error['msg']}"
            for error in exc.errors()
        )
        raise ProducerSettingsError(f"Kafka producer settings refused: {problems}") from exc


def create_broker(
    bootstrap_servers: str,
    *,
    client_id: str,
    linger_ms: int | None = None,
    max_batch_size: int | None = None,
    compression_type: Compression | None = None,
    producer: ProducerSettings | None = None,
) -> KafkaBroker:
    """A FastStream broker whose producer never loses or doubles a message it accepted.

    ``linger_ms``, ``max_batch_size`` and ``compression_type`` tune batching only (defaults:
    ``producer``, else ``producer_settings()`` read now); acks and idempotence are not
    negotiable.
    """
    batching = producer or producer_settings()
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        acks="all",  # a write survives only when every in-sync replica has it
        enable_idempotence=True,  # retries cannot duplicate within a producer session
        linger_ms=batching.linger_ms if linger_ms is None else linger_ms,
        max_batch_size=batching.max_batch_bytes if max_batch_size is None else max_batch_size,
        compression_type=compression_type or batching.compression,
        request_timeout_ms=30_000,
        allow_auto_create_topics=True,  # topics are also created explicitly at start-up
        graceful_timeout=15.0,  # finish the message in hand before stopping
        ack_policy=AckPolicy.NACK_ON_ERROR,  # commit after the handler; a failure redelivers
        apply_types=True,
    )


PRODUCER_STOP_SECONDS = 30.0
"""How long a replaced producer may take to flush what others still have in it."""
_RETIRED_PRODUCERS: set[asyncio.Task[None]] = set()  # stopping in the background


async def renew_producer(broker: KafkaBroker) -> bool:
    """Give the broker a new idempotent producer (new producer id, sequences from 0).

    aiokafka 0.14 fails a batch whose partition had no leader for ``request_timeout_ms`` even
    after the batch got its sequence number; the partition's next batch then leaves a gap the
    broker refuses with OutOfOrderSequenceNumber, and so is every later one, for good: the
    producer never bumps its epoch (aio-libs/aiokafka#1017). A new producer is the way out.
    The old one stops in the background, so sends others have in it still complete or fail.
    Returns False when the broker has no real producer (a test double) or the new one cannot
    reach Kafka yet (the old one stays; call again later).
    """
    from aiokafka import AIOKafkaProducer
    from faststream.kafka.publisher.producer import AioKafkaFastProducerImpl
    from faststream.kafka.publisher.state import RealProducer

    fast = broker.config.producer
    connection: dict[str, Any] | None = getattr(broker, "_connection_kwargs", None)
    if not isinstance(fast, AioKafkaFastProducerImpl) or not connection:
        return False
    current = fast._producer
    if not isinstance(current, RealProducer):
        return False  # not started, or stopping: nothing to renew
    producer = AIOKafkaProducer(**connection)
    try:
        await producer.start()
    except Exception:
        await producer.stop()  # closes the half-open client
        return False
    fast._producer = RealProducer(producer)
    retiring = asyncio.create_task(
        asyncio.wait_for(current.stop(), timeout=PRODUCER_STOP_SECONDS), name="retire-producer"
    )
    _RETIRED_PRODUCERS.add(retiring)
    retiring.add_done_callback(_forget_retired_producer)
    return True


def _forget_retired_producer(task: asyncio.Task[None]) -> None:
    _RETIRED_PRODUCERS.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.warning("a replaced Kafka producer did not stop cleanly: %r", task.exception())


async def raw_body(message: StreamMessage[Any]) -> Any:
    """The message's bytes as they came, for handlers that decode with ``decode_payload``."""
    return message.body


batch_poll.install()  # no sleep after an empty poll: a record is handed over as it arrives

BATCH_POLL_WAIT_MS = 100
"""How long a batch subscriber's poll waits for a first record; it returns as soon as records
arrive (``bankrec.runtime.batch_poll``), so this only sets how often an idle subscriber polls:
ten times a second."""


def batch_options(batch_records: int) -> dict[str, Any]:
    """A batch subscriber's options: whatever has arrived, up to ``batch_records``, per poll."""
    return {"batch": True, "max_records": batch_records, "batch_timeout_ms": BATCH_POLL_WAIT_MS}


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
    if isinstance(envelope.payload, MatchDecision) and (metrics := metrics_of(broker)):
        metrics.record_decision(str(envelope.payload.kind), envelope.payload.rule)


class MessageDecodeError(ValueError):
    """A message that is not a bankrec envelope of the expected type (``reason_code``
    ``undecodable_message``), or whose key names another tenant than its envelope
    (``tenant_key_mismatch``); consumers dead-letter it with that reason code."""

    reason_code = "undecodable_message"

    def __init__(self, message: str, *, reason_code: str | None = None) -> None:
        super().__init__(message)
        if reason_code is not None:
            self.reason_code = reason_code


TENANT_KEY_MISMATCH = "tenant_key_mismatch"


def decode_payload(
    payload_type: type[PayloadT], body: Any, key: bytes | str | None = None
) -> Envelope[PayloadT]:
    """Validate a raw message body (bytes, str or decoded JSON) into an envelope.

    ``key``, the message's Kafka key on a topic keyed ``<tenant id>:<entity id>``, must name
    the envelope's tenant: a key of another tenant (or of none) raises with
    ``tenant_key_mismatch``, since partitioning and compaction went by the key's tenant and
    the effect would go to the envelope's. Leave it out on topics keyed by a global id. An
    empty key is no key (a producer that set none).
    """
    model: type[Envelope[PayloadT]] = Envelope[payload_type]  # type: ignore[valid-type]
    try:
        # raw bytes validate in one pass, without a dict of Python objects in between (a third of
        # the time of decoding: 12 us instead of 19 for a 1.3 KB statement line)
        if isinstance(body, bytes | bytearray | str):
            envelope = model.model_validate_json(body)
        else:
            envelope = model.model_validate(body)
    except (ValueError, TypeError) as exc:
        raise MessageDecodeError(
            f"not a {payload_type.__name__} envelope: {str(exc)[:500]}"
        ) from exc
    if key:
        _check_key_tenant(key, envelope.tenant_id)
    return envelope


def _check_key_tenant(key: bytes | str, tenant_id: str) -> None:
    """Tenant ids hold no ``:``, so the key's tenant is what comes before its first one."""
    text = key if isinstance(key, str) else bytes(key).decode("utf-8", errors="replace")
    key_tenant, colon, _entity = text.partition(":")
    if not colon:
        raise MessageDecodeError(
            f"the message key {text[:200]!r} names no tenant (expected "
            f"'{tenant_id}:<entity id>'); the envelope is of tenant {tenant_id!r}",
            reason_code=TENANT_KEY_MISMATCH,
        )
    if key_tenant != tenant_id:
        raise MessageDecodeError(
            f"the message key names tenant {key_tenant[:100]!r} but its envelope names tenant "
            f"{tenant_id!r}: refused rather than applied to either",
            reason_code=TENANT_KEY_MISMATCH,
        )


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
