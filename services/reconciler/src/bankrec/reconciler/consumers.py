"""FastStream subscribers: each takes a batch of one topic's envelopes and records them in one
transaction (``Reconciler.record_batch``).

A message that is not a valid envelope, or that the reconciler refuses (a ReconcilerError, e.g.
an amount in another currency than the account's period), goes to the dead-letter topic with
its reason and is acknowledged. Any other failure (the database is away) is raised, so the
offset is not committed and the message comes again.
"""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.message import KafkaMessage as StreamKafkaMessage
from pydantic import BaseModel

from bankrec.contracts import (
    DECISIONS,
    MATCH_OUTCOMES,
    POSTINGS,
    REFUSED_ADJUSTMENTS,
    STATEMENT_LINES,
    STATEMENTS,
    AdjustmentRefused,
    JournalEntryPosted,
    ManualMatchSettled,
    MatchDecision,
    StatementHeader,
    StatementLine,
    Topic,
)
from bankrec.reconciler.errors import ReconcilerError
from bankrec.reconciler.use_cases import CONSUMER_GROUP, Reconciler
from bankrec.runtime import dead_letter_record, decoded_records, subscriber_options
from bankrec.runtime.kafka import batch_options

PAYLOAD_TYPES: dict[str, type[BaseModel]] = {
    STATEMENTS.name: StatementHeader,
    STATEMENT_LINES.name: StatementLine,
    DECISIONS.name: MatchDecision,
    POSTINGS.name: JournalEntryPosted,
    REFUSED_ADJUSTMENTS.name: AdjustmentRefused,
    MATCH_OUTCOMES.name: ManualMatchSettled,
}
"""What each topic the reconciler reads carries (the live consumers and the rebuild)."""
CONSUMED_TOPICS: tuple[Topic, ...] = (
    STATEMENTS,
    STATEMENT_LINES,
    DECISIONS,
    POSTINGS,
    REFUSED_ADJUSTMENTS,
    MATCH_OUTCOMES,
)


def group_for(topic: Topic) -> str:
    """The consumer group that reads one topic (see docs/decisions/0002)."""
    return f"{CONSUMER_GROUP}.{topic.name}"


BATCH_RECORDS_MAX = 200
"""Records a subscriber takes at most per poll (one transaction; the setting
``consume_batch_records``): whatever has arrived, with no wait for more, so a quiet topic keeps
its latency and a busy one is written in batches."""


def register_consumers(
    broker: KafkaBroker, reconciler: Reconciler, *, batch_records: int = BATCH_RECORDS_MAX
) -> None:
    """Subscribe to the topics it reads, one consumer group per topic, a batch at a time.

    One group for four differently-subscribed consumers rebalanced all four whenever one
    joined, failing commits in flight; a group per topic keeps them independent. A batch is
    one transaction (``Reconciler.record_batch``, each message claimed in the inbox on its
    own); its offsets commit after it, and a failure (database away) brings it all again.
    """

    async def on_statement(message: KafkaMessage) -> None:
        """A statement opens the account's period and gives its opening and statement balance."""
        await _consume(broker, reconciler, message, STATEMENTS)

    async def on_statement_line(message: KafkaMessage) -> None:
        """A statement line becomes a line of the account's period."""
        await _consume(broker, reconciler, message, STATEMENT_LINES)

    async def on_decision(message: KafkaMessage) -> None:
        """The matcher's decision gives a line its kind (match, suspense, ...)."""
        await _consume(broker, reconciler, message, DECISIONS)

    async def on_posting(message: KafkaMessage) -> None:
        """A bank-side posting that names a statement line reconciles it."""
        await _consume(broker, reconciler, message, POSTINGS)

    async def on_adjustment_refused(message: KafkaMessage) -> None:
        """The ledger refused an adjustment: the period shows it refused, with the reason."""
        await _consume(broker, reconciler, message, REFUSED_ADJUSTMENTS)

    async def on_match_settled(message: KafkaMessage) -> None:
        """The ledger applied or refused a manual match: the period shows it."""
        await _consume(broker, reconciler, message, MATCH_OUTCOMES)

    for topic, handler in (
        (STATEMENTS, on_statement),
        (STATEMENT_LINES, on_statement_line),
        (DECISIONS, on_decision),
        (POSTINGS, on_posting),
        (REFUSED_ADJUSTMENTS, on_adjustment_refused),
        (MATCH_OUTCOMES, on_match_settled),
    ):
        broker.subscriber(
            topic.name,
            **batch_options(batch_records),
            **subscriber_options(group_for(topic)),
        )(handler)


async def _consume(
    broker: KafkaBroker,
    reconciler: Reconciler,
    message: StreamKafkaMessage,
    topic: Topic,
) -> None:
    """Decode every record of the batch (an undecodable one is dead-lettered), record the rest
    in one transaction, dead-letter the ones the reconciler refused."""
    decoded = await decoded_records(
        broker, message, PAYLOAD_TYPES[topic.name], topic, CONSUMER_GROUP
    )
    results = await reconciler.record_batch([consumed.envelope for consumed in decoded])
    for consumed, result in zip(decoded, results, strict=True):
        if isinstance(result, ReconcilerError):
            await dead_letter_record(
                broker,
                consumed.record,
                consumed.body,
                topic,
                CONSUMER_GROUP,
                code=result.code,
                reason=result.message,
                tenant_id=consumed.envelope.tenant_id,
            )
