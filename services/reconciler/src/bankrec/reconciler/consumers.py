"""FastStream subscribers: each decodes one topic's envelope and calls one use case.

A message that is not a valid envelope, or that the reconciler refuses (a ReconcilerError, e.g.
an amount in another currency than the account's period), goes to the dead-letter topic with
its reason and is acknowledged. Any other failure (the database is away) is raised, so the
offset is not committed and the message comes again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiokafka import ConsumerRecord
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.message import KafkaMessage as StreamKafkaMessage
from pydantic import BaseModel

from bankrec.contracts import (
    DECISIONS,
    POSTINGS,
    STATEMENT_LINES,
    STATEMENTS,
    Envelope,
    JournalEntryPosted,
    MatchDecision,
    StatementHeader,
    StatementLine,
    Topic,
)
from bankrec.reconciler.errors import ReconcilerError
from bankrec.reconciler.use_cases import CONSUMER_GROUP, Outcome, Reconciler
from bankrec.runtime import (
    MessageDecodeError,
    decode_payload,
    publish_dead_letter,
    subscriber_options,
)

PayloadT = TypeVar("PayloadT", bound=BaseModel)

CONSUMED_TOPICS: tuple[Topic, ...] = (STATEMENTS, STATEMENT_LINES, DECISIONS, POSTINGS)


def group_for(topic: Topic) -> str:
    """The consumer group that reads one topic (see docs/decisions/0002)."""
    return f"{CONSUMER_GROUP}.{topic.name}"


def register_consumers(broker: KafkaBroker, reconciler: Reconciler) -> None:
    """Subscribe to the four topics it reads, one consumer group per topic.

    One group for four differently-subscribed consumers rebalanced all four whenever one
    joined, failing commits in flight; a group per topic keeps them independent.
    """

    async def on_statement(message: KafkaMessage) -> None:
        """A statement opens the account's period and gives its opening and statement balance."""
        await _consume(broker, message, STATEMENTS, StatementHeader, reconciler.record_statement)

    async def on_statement_line(message: KafkaMessage) -> None:
        """A statement line becomes a line of the account's period."""
        await _consume(broker, message, STATEMENT_LINES, StatementLine, reconciler.record_line)

    async def on_decision(message: KafkaMessage) -> None:
        """The matcher's decision gives a line its kind (match, suspense, ...)."""
        await _consume(broker, message, DECISIONS, MatchDecision, reconciler.record_decision)

    async def on_posting(message: KafkaMessage) -> None:
        """A bank-side posting that names a statement line reconciles it."""
        await _consume(broker, message, POSTINGS, JournalEntryPosted, reconciler.record_posting)

    for topic, handler in (
        (STATEMENTS, on_statement),
        (STATEMENT_LINES, on_statement_line),
        (DECISIONS, on_decision),
        (POSTINGS, on_posting),
    ):
        broker.subscriber(topic.name, **subscriber_options(group_for(topic)))(handler)


async def _consume(
    broker: KafkaBroker,
    message: StreamKafkaMessage,
    topic: Topic,
    payload_type: type[PayloadT],
    use_case: Callable[[Envelope[PayloadT]], Awaitable[Outcome]],
) -> None:
    try:
        envelope = decode_payload(payload_type, message.body)
    except MessageDecodeError as exc:
        await _dead_letter(broker, message, topic, exc.reason_code, str(exc), "unknown")
        return
    try:
        await use_case(envelope)
    except ReconcilerError as exc:
        await _dead_letter(broker, message, topic, exc.code, exc.message, envelope.tenant_id)


async def _dead_letter(
    broker: KafkaBroker,
    message: StreamKafkaMessage,
    topic: Topic,
    code: str,
    reason: str,
    tenant_id: str,
) -> None:
    record = message.raw_message
    if not isinstance(record, ConsumerRecord):  # a batch: this service consumes one at a time
        record = None
    await publish_dead_letter(
        broker,
        consumer=CONSUMER_GROUP,
        source_topic=topic.name,
        reason_code=code,
        reason=reason,
        raw_value=message.body,
        raw_key=record.key if record is not None and isinstance(record.key, bytes) else None,
        partition=record.partition if record is not None else None,
        offset=record.offset if record is not None else None,
        tenant_id=tenant_id,
    )
