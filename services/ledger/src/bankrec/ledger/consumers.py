"""The ledger's Kafka subscribers: one short function each, calling one use case."""

from __future__ import annotations

import re
from typing import TypeVar

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
    record = message.raw_message
    key = getattr(record, "key", None)
    try:
        return decode_payload(payload_type, message.body)
    except MessageDecodeError as exc:
        await publish_dead_letter(
            broker,
            consumer=consumer,
            source_topic=topic.name,
            reason_code=exc.reason_code,
            reason=str(exc),
            raw_value=message.body,
            raw_key=key,
            partition=getattr(record, "partition", None),
            offset=getattr(record, "offset", None),
            tenant_id=_tenant_of(key),
        )
        return None


def register_consumers(broker: KafkaBroker, ledger: Ledger) -> None:
    """Subscribe the ledger to the decisions topic (consumer group ``bankrec-ledger``)."""

    async def on_match_decided(message: KafkaMessage) -> None:
        """A decided statement line is posted to the books; an undecodable one is
        dead-lettered and acknowledged. Any other failure is not acknowledged: it comes again."""
        envelope = await _decoded(broker, message, MatchDecision, DECISIONS, CONSUMER)
        if envelope is None:
            return
        await ledger.apply_decision(envelope)

    # options come as a dict, so the call form keeps mypy's view of the handler typed
    broker.subscriber(
        DECISIONS.name,
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
