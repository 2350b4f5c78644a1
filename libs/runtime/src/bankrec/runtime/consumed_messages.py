"""What every service's subscribers do before their use case: decode the message (or each
record of a batch) into its envelope, or send it to the dead-letter topic with its own key,
position and headers and go on.

On a topic keyed ``<tenant id>:<entity id>`` (``Topic.tenant_in_key``) the key must name the
envelope's tenant (``decode_payload``); a message that breaks this is dead-lettered like one
that is not an envelope.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiokafka import ConsumerRecord
from faststream.kafka import KafkaBroker
from pydantic import BaseModel

from bankrec.contracts import Envelope, Topic
from bankrec.runtime.kafka import MessageDecodeError, decode_payload
from bankrec.runtime.messaging import publish_dead_letter
from bankrec.runtime.tracing import CONSUMED_TRACE_CONTEXTS

PayloadT = TypeVar("PayloadT", bound=BaseModel)

_TENANT_IN_KEY = re.compile(r"^([A-Za-z0-9_.-]{1,64}):")


@dataclass(frozen=True, slots=True)
class ConsumedRecord(Generic[PayloadT]):
    """A decoded record: its envelope, and the record and body to dead-letter it with if the
    use case refuses it."""

    envelope: Envelope[PayloadT]
    record: ConsumerRecord[Any, Any] | None
    body: Any


def tenant_of_key(key: bytes | str | None) -> str:
    """The tenant a message's key names (``unknown`` if none), for a dead letter's envelope."""
    text = key.decode("utf-8", errors="replace") if isinstance(key, bytes) else key
    found = _TENANT_IN_KEY.match(text) if text else None
    return found.group(1) if found else "unknown"


def _records_of(message: Any) -> list[tuple[ConsumerRecord[Any, Any] | None, Any]]:
    """(record, body) for each record of a batch, or of a single message."""
    raw = message.raw_message  # a tuple of records in a batch (a list under TestKafkaBroker)
    records: tuple[Any, ...] = tuple(raw) if isinstance(raw, tuple | list) else (raw,)
    bodies: list[Any] = message.body if isinstance(message.body, list) else [message.body]
    return [
        (records[position] if position < len(records) else None, body)
        for position, body in enumerate(bodies)
    ]


def _key_of(record: Any) -> bytes | str | None:
    key = getattr(record, "key", None)
    return key if isinstance(key, bytes | str) else None


async def decoded_records(
    broker: KafkaBroker,
    message: Any,
    payload_type: type[PayloadT],
    topic: Topic,
    consumer: str,
) -> list[ConsumedRecord[PayloadT]]:
    """The records of a batch (or the one message) decoded, in order; one that is not an
    envelope of ``payload_type`` (or whose key names another tenant) is dead-lettered and so
    acknowledged with the rest."""
    decoded: list[ConsumedRecord[PayloadT]] = []
    for record, body in _records_of(message):
        try:
            envelope = decode_payload(
                payload_type, body, key=_key_of(record) if topic.tenant_in_key else None
            )
        except MessageDecodeError as exc:
            await dead_letter_record(
                broker, record, body, topic, consumer, code=exc.reason_code, reason=str(exc)
            )
            continue
        CONSUMED_TRACE_CONTEXTS.remember(envelope.message_id, getattr(record, "headers", None))
        decoded.append(ConsumedRecord(envelope, record, body))
    return decoded


async def decoded_envelopes(
    broker: KafkaBroker,
    message: Any,
    payload_type: type[PayloadT],
    topic: Topic,
    consumer: str,
) -> list[Envelope[PayloadT]]:
    """``decoded_records``' envelopes alone."""
    records = await decoded_records(broker, message, payload_type, topic, consumer)
    return [consumed.envelope for consumed in records]


async def decoded_envelope(
    broker: KafkaBroker,
    message: Any,
    payload_type: type[PayloadT],
    topic: Topic,
    consumer: str,
) -> Envelope[PayloadT] | None:
    """A single message's envelope, or None after dead-lettering it."""
    envelopes = await decoded_envelopes(broker, message, payload_type, topic, consumer)
    return envelopes[0] if envelopes else None


@dataclass(frozen=True, slots=True)
class _OneRecord:
    """One record of a batch, shaped as the message a handler consumes."""

    raw_message: ConsumerRecord[Any, Any]


async def dead_letter_record(
    broker: KafkaBroker,
    record: Any,
    body: Any,
    topic: Topic,
    consumer: str,
    *,
    code: str,
    reason: str,
    tenant_id: str | None = None,
) -> None:
    """Dead-letter one consumed record with its key and position, under ``tenant_id`` (by
    default the tenant its key names)."""
    if not isinstance(record, ConsumerRecord):  # e.g. under TestKafkaBroker
        record = None
    key = _key_of(record)
    raw_key = key.encode() if isinstance(key, str) else key
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
            reason_code=code,
            reason=reason,
            raw_value=body,
            raw_key=raw_key,
            partition=record.partition if record is not None else None,
            offset=record.offset if record is not None else None,
            tenant_id=tenant_id if tenant_id is not None else tenant_of_key(key),
        )
