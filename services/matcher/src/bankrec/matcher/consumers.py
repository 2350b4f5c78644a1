"""FastStream subscribers: open items and posting rules keep the index (and open items wake
the pending lines they may explain), statement lines get decisions (a batch of lines per
transaction), refused decisions are decided again, a person's allocation of a suspense
posting ends the line's wait.

A message that is not a valid envelope goes to the dead-letter topic with its reason and is
acknowledged. Any other failure (the database is away) is raised: the offsets are not
committed and the lines come again (and get the same decisions).
"""

from __future__ import annotations

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
    JournalEntryPosted,
    OpenItem,
    PostingRule,
    StatementLine,
    Topic,
)
from bankrec.matcher.use_cases import CONSUMER_GROUP, Matcher
from bankrec.runtime import (
    decoded_envelope,
    decoded_envelopes,
    decoded_records,
    subscriber_options,
)
from bankrec.runtime.kafka import batch_options, whole_topic_reader_options

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
            consumed = await decoded_records(broker, message, OpenItem, OPEN_ITEMS, INDEX_READER)
            await matcher.record_open_items([record.envelope for record in consumed])
        finally:  # read is read: a record that failed must not hold back the start-up gate
            for record in _records(message):
                matcher.open_item_read(record.partition, record.offset)

    async def on_posting_rule(message: KafkaMessage) -> None:
        """A posting rule's latest version goes into the tenant's index."""
        try:
            envelope = await decoded_envelope(
                broker, message, PostingRule, POSTING_RULES, RULES_READER
            )
            if envelope is not None:
                matcher.record_posting_rule(envelope)
        finally:
            for record in _records(message):
                matcher.posting_rule_read(record.partition, record.offset)

    async def on_decision_refused(message: KafkaMessage) -> None:
        """A decision the ledger refused is decided again (or left for a person)."""
        envelope = await decoded_envelope(
            broker, message, DecisionRefused, REFUSED_DECISIONS, group_for(REFUSED_DECISIONS)
        )
        if envelope is not None:
            await matcher.record_refusal(envelope)

    async def on_entry_posted(message: KafkaMessage) -> None:
        """A person's allocation of a line's suspense ends the line's wait for its item."""
        for envelope in await decoded_envelopes(
            broker, message, JournalEntryPosted, POSTINGS, group_for(POSTINGS)
        ):
            await matcher.record_posting(envelope)

    # the open items and the postings come about one per decided line (the ledger states each
    # item it pays and posts each decision): taken a batch per poll, as the lines are, so a
    # record does not pay the subscriber's own cost per message (most of the matcher's CPU
    # time went there before)
    broker.subscriber(OPEN_ITEMS.name, **open_items_options(), **batch_options(batch_records))(
        on_open_item
    )
    broker.subscriber(POSTING_RULES.name, **posting_rules_options())(on_posting_rule)
    subscribe_statement_lines(broker, matcher, batch_records=batch_records)
    broker.subscriber(REFUSED_DECISIONS.name, **subscriber_options(group_for(REFUSED_DECISIONS)))(
        on_decision_refused
    )
    broker.subscriber(
        POSTINGS.name, **subscriber_options(group_for(POSTINGS)), **batch_options(batch_records)
    )(on_entry_posted)


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

    broker.subscriber(topic_name, **subscriber_options(group_id), **batch_options(batch_records))(
        on_statement_line
    )


async def decide_batch(
    broker: KafkaBroker,
    matcher: Matcher,
    message: StreamKafkaMessage,
    *,
    consumer: str = CONSUMER_GROUP,
) -> None:
    """Decode every record of the batch (an undecodable one is dead-lettered with its own key,
    position and headers) and decide the rest in one transaction."""
    envelopes = await decoded_envelopes(broker, message, StatementLine, STATEMENT_LINES, consumer)
    await matcher.decide_lines(envelopes)


def _records(message: StreamKafkaMessage) -> list[ConsumerRecord[Any, Any]]:
    """The Kafka records of a batch (or of one message); none under the in-memory test broker."""
    raw = message.raw_message
    records = raw if isinstance(raw, tuple | list) else (raw,)
    return [record for record in records if isinstance(record, ConsumerRecord)]
