"""The ledger's Kafka subscribers: one short function each, calling one use case."""

from __future__ import annotations

import re

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from bankrec.contracts import DECISIONS, MatchDecision
from bankrec.ledger.use_cases import CONSUMER, Ledger
from bankrec.runtime import (
    MessageDecodeError,
    decode_payload,
    publish_dead_letter,
    subscriber_options,
)

_TENANT_IN_KEY = re.compile(r"^([A-Za-z0-9_.-]{1,64}):")


def _tenant_of(key: bytes | None) -> str:
    """The tenant a refused message's key names, for the dead letter's envelope."""
    found = _TENANT_IN_KEY.match(key.decode("utf-8", errors="replace")) if key else None
    return found.group(1) if found else "unknown"


def register_consumers(broker: KafkaBroker, ledger: Ledger) -> None:
    """Subscribe the ledger to the decisions topic (consumer group ``bankrec-ledger``)."""

    async def on_match_decided(message: KafkaMessage) -> None:
        """A decided statement line is posted to the books; an undecodable one is
        dead-lettered and acknowledged. Any other failure is not acknowledged: it comes again."""
        record = message.raw_message
        key = getattr(record, "key", None)
        try:
            envelope = decode_payload(MatchDecision, message.body)
        except MessageDecodeError as exc:
            await publish_dead_letter(
                broker,
                consumer=CONSUMER,
                source_topic=DECISIONS.name,
                reason_code=exc.reason_code,
                reason=str(exc),
                raw_value=message.body,
                raw_key=key,
                partition=getattr(record, "partition", None),
                offset=getattr(record, "offset", None),
                tenant_id=_tenant_of(key),
            )
            return
        await ledger.apply_decision(envelope)

    # options come as a dict, so the call form keeps mypy's view of the handler typed
    broker.subscriber(
        DECISIONS.name,
        **subscriber_options(CONSUMER),
        title=f"{DECISIONS.name}:{CONSUMER}",
        description="Apply each match decision exactly once: post it, update its open items.",
    )(on_match_decided)
