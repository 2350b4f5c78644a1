"""The ledger's Kafka subscribers: one short function each, calling one use case.

The decisions subscriber takes a batch at a time (``Ledger.apply_decisions``: one
transaction); the manual requests, which come one at a time from people, are taken singly.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any, TypeVar

from aiokafka import ConsumerRecord
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import BaseModel

from bankrec.contracts import (
    ADJUSTMENT_REQUESTS,
    DECISIONS,
    MATCH_REQUESTS,
    Envelope,
    ManualMatchCommand,
    MatchDecision,
    PostAdjustment,
    Topic,
)
from bankrec.ledger.adjustment_requests import ADJUSTMENT_CONSUMER, AdjustmentRequests
from bankrec.ledger.match_requests import MATCH_CONSUMER, MatchRequests
from bankrec.ledger.use_cases import CONSUMER, Ledger
from bankrec.runtime import (
    MessageDecodeError,
    decode_payload,
    publish_dead_letter,
    subscriber_options,
)

PayloadT = TypeVar("PayloadT", bound=BaseModel)

DECISION_BATCH_RECORDS_MAX = 200
"""Decisions a poll takes at most: whatever has arrived, applied in one transaction, so a
quiet topic keeps its latency and a busy one is written in batches."""
DECISION_BATCH_WAIT_MS = 100  # how long a poll waits for a first record before it looks again

_TENANT_IN_KEY = re.compile(r"^([A-Za-z0-9_.-]{1,64}):")


def _tenant_of(key: bytes | None) -> str:
    """The tenant a refused message's key names, for the dead letter's envelope."""
    found = _TENANT_IN_KEY.match(key.decode("utf-8", errors="replace")) if key else None
    return found.group(1) if found else "unknown"


async def _decoded(
    broker: KafkaBroker,
    message: KafkaMessage,
    payload_type: type[PayloadT],
    topic: Topic,
    consumer: str,
) -> Envelope[PayloadT] | None:
    """The message's envelope, or None after dead-lettering (and so acknowledging) a message
    that is not one."""
    try:
        return decode_payload(payload_type, message.body)
    except MessageDecodeError as exc:
        await _dead_letter(broker, message.raw_message, message.body, topic, consumer, exc)
        return None


async def _decoded_batch(
    broker: KafkaBroker,
    message: KafkaMessage,
    payload_type: type[PayloadT],
    topic: Topic,
    consumer: str,
) -> list[Envelope[PayloadT]]:
    """The envelopes of a batch, in order; a record that is not one is dead-lettered (and so
    acknowledged with the batch) with its own key, partition, offset and headers."""
    raw = message.raw_message  # a tuple of records (a list under TestKafkaBroker)
    records: tuple[Any, ...] = tuple(raw) if isinstance(raw, tuple | list) else (raw,)
    bodies: list[Any] = message.body if isinstance(message.body, list) else [message.body]
    envelopes: list[Envelope[PayloadT]] = []
    for position, body in enumerate(bodies):
        try:
            envelopes.append(decode_payload(payload_type, body))
        except MessageDecodeError as exc:
            record = records[position] if position < len(records) else None
            await _dead_letter(broker, record, body, topic, consumer, exc)
    return envelopes


@dataclass(frozen=True, slots=True)
class _OneRecord:
    """One record of a batch, shaped as the message a handler consumes."""

    raw_message: ConsumerRecord[Any, Any]


async def _dead_letter(
    broker: KafkaBroker,
    record: Any,
    body: Any,
    topic: Topic,
    consumer: str,
    error: MessageDecodeError,
) -> None:
    if not isinstance(record, ConsumerRecord):
        record = None
    key = record.key if record is not None and isinstance(record.key, bytes) else None
    context = getattr(broker, "context", None)
    # the dead letter carries the headers of "the message being consumed": in a batch, this
    # record's, not the batch's (which has none)
    scope = (
        context.scope("message", _OneRecord(record))
        if context is not None and record is not None
        else contextlib.nullcontext()
    )
    with scope:
        await publish_dead_letter(
            broker,
            consumer=consumer,
            source_topic=topic.name,
            reason_code=error.reason_code,
            reason=str(error),
            raw_value=body,
            raw_key=key,
            partition=record.partition if record is not None else None,
            offset=record.offset if record is not None else None,
            tenant_id=_tenant_of(key),
        )


def register_consumers(
    broker: KafkaBroker, ledger: Ledger, *, batch_records: int = DECISION_BATCH_RECORDS_MAX
) -> None:
    """Subscribe the ledger to the decisions topic (consumer group ``bankrec-ledger``), a
    batch at a time: one transaction per batch, its offsets committed after it."""

    async def on_match_decided(message: KafkaMessage) -> None:
        """Decided statement lines are posted to the books, a batch in one transaction; an
        undecodable record is dead-lettered and acknowledged. Any other failure is not
        acknowledged: the batch comes again (each decision is applied once all the same)."""
        envelopes = await _decoded_batch(broker, message, MatchDecision, DECISIONS, CONSUMER)
        await ledger.apply_decisions(envelopes)

    # options come as a dict, so the call form keeps mypy's view of the handler typed
    broker.subscriber(
        DECISIONS.name,
        batch=True,
        max_records=batch_records,
        batch_timeout_ms=DECISION_BATCH_WAIT_MS,
        **subscriber_options(CONSUMER),
        title=f"{DECISIONS.name}:{CONSUMER}",
        description="Apply each match decision exactly once: post it, update its open items.",
    )(on_match_decided)


def register_adjustment_consumer(broker: KafkaBroker, requests: AdjustmentRequests) -> None:
    """Subscribe the ledger to the reconciler's adjustment requests (own consumer group, so
    a rebalance of one topic's consumers never stalls the other's)."""

    async def on_adjustment_requested(message: KafkaMessage) -> None:
        """A requested adjustment is posted once, or refused with the reason; an undecodable
        request is dead-lettered. Any other failure is not acknowledged: it comes again."""
        envelope = await _decoded(
            broker, message, PostAdjustment, ADJUSTMENT_REQUESTS, ADJUSTMENT_CONSUMER
        )
        if envelope is None:
            return
        await requests.post_requested(envelope)

    broker.subscriber(
        ADJUSTMENT_REQUESTS.name,
        **subscriber_options(ADJUSTMENT_CONSUMER),
        title=f"{ADJUSTMENT_REQUESTS.name}:{ADJUSTMENT_CONSUMER}",
        description="Post each adjustment a reconciliation asks for exactly once.",
    )(on_adjustment_requested)


def register_match_consumer(broker: KafkaBroker, requests: MatchRequests) -> None:
    """Subscribe the ledger to the reconciler's manual match requests (own consumer group)."""

    async def on_match_requested(message: KafkaMessage) -> None:
        """A manual match or unmatch is applied once, or refused with the reason; either way
        the outcome is published. An undecodable request is dead-lettered. Any other failure
        is not acknowledged: it comes again."""
        envelope = await _decoded(
            broker, message, ManualMatchCommand, MATCH_REQUESTS, MATCH_CONSUMER
        )
        if envelope is None:
            return
        await requests.settle_requested(envelope)

    broker.subscriber(
        MATCH_REQUESTS.name,
        **subscriber_options(MATCH_CONSUMER),
        title=f"{MATCH_REQUESTS.name}:{MATCH_CONSUMER}",
        description="Apply each manual match (or its removal) a reconciliation asks for once.",
    )(on_match_requested)
