"""FastStream subscribers: open items and posting rules keep the index (and open items wake
the pending lines they may explain), statement lines get decisions (a batch of lines per
transaction), refused decisions are decided again, a person's allocation of a suspense
posting ends the line's wait.

A message that is not a valid envelope goes to the dead-letter topic with its reason and is
acknowledged. Any other failure (the database is away) is raised: the offsets are not
committed and the lines come again (and get the same decisions).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from aiokafka import ConsumerRecord
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.message import KafkaMessage as StreamKafkaMessage
from pydantic import BaseModel

from bankrec.contracts import (
    OPEN_ITEMS,
    POSTING_RULES,
    POSTINGS,
    REFUSED_DECISIONS,
    STATEMENT_LINES,
    DecisionRefused,
    Envelope,
    JournalEntryPosted,
    OpenItem,
    PostingRule,
    StatementLine,
    Topic,
)
from bankrec.matcher.use_cases import CONSUMER_GROUP, Matcher
from bankrec.runtime import (
    MessageDecodeError,
    decode_payload,
    publish_dead_letter,
    subscriber_options,
)
from bankrec.runtime.kafka import whole_topic_reader_options

PayloadT = TypeVar("PayloadT", bound=BaseModel)

CONSUMED_TOPICS: tuple[Topic, ...] = (
    OPEN_ITEMS,
    POSTING_RULES,
    STATEMENT_LINES,
    REFUSED_DECISIONS,
    POSTINGS,
)
GROUP_TOPICS: tuple[Topic, ...] = (STATEMENT_LINES, REFUSED_DECISIONS, POSTINGS)
"""The topics read by consumer groups (the others by whole-topic readers)."""
INDEX_READER = f"{CONSUMER_GROUP}-index"  # how dead letters name the open-items reader
RULES_READER = f"{CONSUMER_GROUP}-posting-rules"
BATCH_RECORDS_MAX = 200
"""Statement lines a poll takes at most (one transaction, ``Matcher.decide_lines``): whatever
has arrived, with no wait for more, so a quiet topic keeps its latency and a busy one is
decided in batches."""
BATCH_WAIT_MS = 100  # how long a poll waits for a first record before it looks again


def open_items_options() -> dict[str, Any]:
    """The open-items reader: every instance reads the whole compacted topic at every start
    (no group: each instance needs every tenant's items, while lines are spread over the
    instances by the line consumer group); see ``whole_topic_reader_options``."""
    return whole_topic_reader_options(INDEX_READER)


def group_for(topic: Topic) -> str:
    """The consumer group reading ``topic``: one group per topic (as in the reconciler), so a
    rebalance of one never pauses the others; the lines keep the group they always had."""
    return CONSUMER_GROUP if topic is STATEMENT_LINES else f"{CONSUMER_GROUP}.{topic.name}"


def posting_rules_options() -> dict[str, Any]:
    """The posting-rules reader: like the open-items reader, the whole topic at every start."""
    return whole_topic_reader_options(RULES_READER)


def register_consumers(
    broker: KafkaBroker, matcher: Matcher, *, batch_records: int = BATCH_RECORDS_MAX
) -> None:
    """Subscribe the open-items and posting-rules readers and the consumer groups; the
    statement lines are taken ``batch_records`` at a time (``subscribe_statement_lines``)."""

    async def on_open_item(message: KafkaMessage) -> None:
        """An open item's latest state updates the tenant's index."""
        try:
            envelope = await _decoded(broker, message, OPEN_ITEMS, OpenItem, INDEX_READER)
            if envelope is not None:
                await matcher.record_open_item(envelope)
        finally:  # read is read: a record that failed must not hold back the start-up gate
            if (record := _record(message)) is not None:
                matcher.open_item_read(record.partition, record.offset)

    async def on_posting_rule(message: KafkaMessage) -> None:
        """A posting rule's latest version goes into the tenant's index."""
        try:
            envelope = await _decoded(broker, message, POSTING_RULES, PostingRule, RULES_READER)
            if envelope is not None:
                matcher.record_posting_rule(envelope)
        finally:
            if (record := _record(message)) is not None:
                matcher.posting_rule_read(record.partition, record.offset)

    async def on_decision_refused(message: KafkaMessage) -> None:
        """A decision the ledger refused is decided again (or left for a person)."""
        envelope = await _decoded(
            broker, message, REFUSED_DECISIONS, DecisionRefused, group_for(REFUSED_DECISIONS)
        )
        if envelope is not None:
            await matcher.record_refusal(envelope)

    async def on_entry_posted(message: KafkaMessage) -> None:
        """A person's allocation of a line's suspense ends the line's wait for its item."""
        envelope = await _decoded(
            broker, message, POSTINGS, JournalEntryPosted, group_for(POSTINGS)
        )
        if envelope is not None:
            await matcher.record_posting(envelope)

    broker.subscriber(OPEN_ITEMS.name, **open_items_options())(on_open_item)
    broker.subscriber(POSTING_RULES.name, **posting_rules_options())(on_posting_rule)
    subscribe_statement_lines(broker, matcher, batch_records=batch_records)
    for topic, handler in (
        (REFUSED_DECISIONS, on_decision_refused),
        (POSTINGS, on_entry_posted),
    ):
        broker.subscriber(topic.name, **subscriber_options(group_for(topic)))(handler)


def subscribe_statement_lines(
    broker: KafkaBroker,
    matcher: Matcher,
    *,
    batch_records: int = BATCH_RECORDS_MAX,
    topic_name: str = STATEMENT_LINES.name,
    group_id: str = CONSUMER_GROUP,
) -> None:
    """Subscribe the statement-lines consumer group, a batch of lines per poll and per
    transaction; its offsets commit after the batch's decisions are stored. ``topic_name``
    and ``group_id`` let a benchmark read a topic of its own."""

    # name and docstring make the AsyncAPI channel (docs/api): kept as before batching
    async def on_statement_line(message: KafkaMessage) -> None:
        """A statement line gets one decision, published before its offset is committed."""
        await decide_batch(broker, matcher, message, consumer=group_id)

    broker.subscriber(
        topic_name,
        batch=True,
        max_records=batch_records,
        batch_timeout_ms=BATCH_WAIT_MS,
        **subscriber_options(group_id),
    )(on_statement_line)


async def decide_batch(
    broker: KafkaBroker,
    matcher: Matcher,
    message: StreamKafkaMessage,
    *,
    consumer: str = CONSUMER_GROUP,
) -> None:
    """Decode every record of the batch (an undecodable one is dead-lettered with its own key,
    position and headers) and decide the rest in one transaction."""
    raw = message.raw_message  # a tuple of records (a list under TestKafkaBroker)
    records: Sequence[Any] = tuple(raw) if isinstance(raw, tuple | list) else (raw,)
    bodies: list[Any] = message.body if isinstance(message.body, list) else [message.body]
    envelopes: list[Envelope[StatementLine]] = []
    for position, body in enumerate(bodies):
        record = records[position] if position < len(records) else None
        try:
            envelopes.append(decode_payload(StatementLine, body, key=_tenant_key(record)))
        except MessageDecodeError as exc:
            await _dead_letter_record(
                broker, record, body, STATEMENT_LINES, exc.reason_code, str(exc), consumer
            )
    await matcher.decide_lines(envelopes)


async def _dead_letter_record(
    broker: KafkaBroker,
    record: Any,
    body: bytes,
    topic: Topic,
    code: str,
    reason: str,
    consumer: str,
) -> None:
    """Dead-letter one record of a batch with its key and position, and its own headers as
    the original's (the batch has none of its own)."""
    if not isinstance(record, ConsumerRecord):  # e.g. under TestKafkaBroker
        record = None
    context = getattr(broker, "context", None)
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
            raw_key=record.key if record is not None and isinstance(record.key, bytes) else None,
            partition=record.partition if record is not None else None,
            offset=record.offset if record is not None else None,
        )


@dataclass(frozen=True, slots=True)
class _OneRecord:
    """One record of a batch, shaped as the message a handler consumes."""

    raw_message: ConsumerRecord[Any, Any]


async def _decoded(
    broker: KafkaBroker,
    message: StreamKafkaMessage,
    topic: Topic,
    payload_type: type[PayloadT],
    consumer: str,
) -> Envelope[PayloadT] | None:
    """The message's envelope, or None after dead-lettering a message that is not one."""
    record = _record(message)
    try:
        return decode_payload(
            payload_type, message.body, key=_tenant_key(record) if topic.tenant_in_key else None
        )
    except MessageDecodeError as exc:
        await publish_dead_letter(
            broker,
            consumer=consumer,
            source_topic=topic.name,
            reason_code=exc.reason_code,
            reason=str(exc),
            raw_value=message.body,
            raw_key=record.key if record is not None and isinstance(record.key, bytes) else None,
            partition=record.partition if record is not None else None,
            offset=record.offset if record is not None else None,
        )
        return None


def _record(message: StreamKafkaMessage) -> ConsumerRecord[Any, Any] | None:
    record = message.raw_message
    return record if isinstance(record, ConsumerRecord) else None  # None: a batch


def _tenant_key(record: Any) -> bytes | str | None:
    """The record's key, which on the matcher's keyed topics names the envelope's tenant."""
    key = getattr(record, "key", None)
    return key if isinstance(key, bytes | str) else None
