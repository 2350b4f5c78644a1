"""The ledger's Kafka subscribers: one short function each, calling one use case.

The decisions subscriber takes a batch at a time (``Ledger.apply_decisions``: one
transaction); the manual requests, which come one at a time from people, are taken singly.
"""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from bankrec.contracts import (
    ADJUSTMENT_REQUESTS,
    DECISIONS,
    MATCH_REQUESTS,
    ManualMatchCommand,
    MatchDecision,
    PostAdjustment,
)
from bankrec.ledger.adjustment_requests import ADJUSTMENT_CONSUMER, AdjustmentRequests
from bankrec.ledger.match_requests import MATCH_CONSUMER, MatchRequests
from bankrec.ledger.use_cases import CONSUMER, Ledger
from bankrec.runtime import decoded_envelope, decoded_envelopes, subscriber_options
from bankrec.runtime.kafka import batch_options

DECISION_BATCH_RECORDS_MAX = 200
"""Decisions a poll takes at most: whatever has arrived, applied in one transaction, so a
quiet topic keeps its latency and a busy one is written in batches."""


def register_consumers(
    broker: KafkaBroker, ledger: Ledger, *, batch_records: int = DECISION_BATCH_RECORDS_MAX
) -> None:
    """Subscribe the ledger to the decisions topic (consumer group ``bankrec-ledger``), a
    batch at a time: one transaction per batch, its offsets committed after it."""

    async def on_match_decided(message: KafkaMessage) -> None:
        """Decided statement lines are posted to the books, a batch in one transaction; an
        undecodable record is dead-lettered and acknowledged. Any other failure is not
        acknowledged: the batch comes again (each decision is applied once all the same)."""
        envelopes = await decoded_envelopes(broker, message, MatchDecision, DECISIONS, CONSUMER)
        await ledger.apply_decisions(envelopes)

    # options come as a dict, so the call form keeps mypy's view of the handler typed
    broker.subscriber(
        DECISIONS.name,
        **batch_options(batch_records),
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
        envelope = await decoded_envelope(
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
        envelope = await decoded_envelope(
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
