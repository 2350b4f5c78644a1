"""Consumer wiring with FastStream's TestKafkaBroker: each topic reaches its use case; bad
messages go to the dead-letter topic with a reason and do not stop the consumer."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from reconciler_factories import Messages

from bankrec.contracts import (
    DEAD_LETTERS,
    DECISIONS,
    PERIOD_EVENTS,
    POSTINGS,
    STATEMENT_LINES,
    STATEMENTS,
    DeadLetter,
    Envelope,
    Topic,
)
from bankrec.reconciler.adapters import MemoryStore
from bankrec.reconciler.consumers import register_consumers
from bankrec.reconciler.domain import figures
from bankrec.reconciler.use_cases import Reconciler
from bankrec.runtime import create_broker, decode_payload, encode_envelope


@dataclass
class Wired:
    broker: KafkaBroker
    store: MemoryStore
    reconciler: Reconciler
    dead_letters: list[DeadLetter]

    async def send(self, topic: Topic, value: bytes, key: str | None = None) -> None:
        """Publish keyed ``<tenant>:k`` as the producers key them, unless a key is given."""
        if key is None:
            found = re.search(rb'"tenant_id":"([^"]+)"', value)
            key = f"{found.group(1).decode() if found else 'unknown'}:k"
        await self.broker.publish(value, topic=topic.name, key=key.encode())


@pytest.fixture
async def wired() -> AsyncIterator[Wired]:
    broker = create_broker("127.0.0.1:9", client_id="bankrec-reconciler-test")
    store = MemoryStore()
    reconciler = Reconciler(store.units_of_work())
    register_consumers(broker, reconciler)
    dead: list[DeadLetter] = []

    async def collect(message: KafkaMessage) -> None:
        dead.append(decode_payload(DeadLetter, message.body).payload)

    broker.subscriber(DEAD_LETTERS.name)(collect)
    async with TestKafkaBroker(broker) as test_broker:
        yield Wired(test_broker, store, reconciler, dead)


def encoded(envelope: Envelope[Any]) -> bytes:
    return encode_envelope(envelope)


async def test_each_topic_reaches_its_use_case(wired: Wired, messages: Messages) -> None:
    key = f"{messages.tenant_id}:{messages.account_id}"
    await wired.send(STATEMENTS, encoded(messages.envelope(messages.header())), key)
    await wired.send(STATEMENT_LINES, encoded(messages.envelope(messages.line("l1", "5.00"))), key)
    await wired.send(DECISIONS, encoded(messages.envelope(messages.decision("l1", "5.00"))), key)
    await wired.send(POSTINGS, encoded(messages.envelope(messages.posting("l1", "5.00"))), key)

    result = figures(await wired.reconciler.period(messages.tenant_id, messages.account_id))
    assert (result.lines, result.matched, result.reconciled) == (1, 1, 1)
    assert result.statement_ids == ("stmt-1",)
    assert [m.topic for m in wired.store.outbox] == [PERIOD_EVENTS] * 4
    assert wired.dead_letters == []


async def test_undecodable_message_is_dead_lettered_and_the_next_one_processed(
    wired: Wired, messages: Messages
) -> None:
    await wired.send(STATEMENT_LINES, b"{not json", "t:acc")
    await wired.send(STATEMENT_LINES, encoded(messages.envelope(messages.header())))
    await wired.send(STATEMENT_LINES, encoded(messages.envelope(messages.line("l1", "5.00"))))

    assert [d.reason_code for d in wired.dead_letters] == ["undecodable_message"] * 2
    first = wired.dead_letters[0]
    assert first.source_topic == STATEMENT_LINES.name
    assert first.consumer == "bankrec-reconciler"
    assert first.original_value == "{not json"
    assert first.original_key == "t:acc"
    assert "StatementLine" in wired.dead_letters[1].reason
    period = await wired.reconciler.period(messages.tenant_id, messages.account_id)
    assert set(period.lines) == {"l1"}


async def test_refused_message_is_dead_lettered_with_its_reason_code(
    wired: Wired, messages: Messages
) -> None:
    await wired.send(STATEMENT_LINES, encoded(messages.envelope(messages.line("l1", "5.00"))))
    sek = Messages(tenant_id=messages.tenant_id, iban=messages.iban, currency="SEK")
    await wired.send(POSTINGS, encoded(sek.envelope(sek.posting("l1", "5.00"))))

    assert [d.reason_code for d in wired.dead_letters] == ["currency_mismatch"]
    assert "SEK" in wired.dead_letters[0].reason


async def test_a_message_keyed_for_another_tenant_is_dead_lettered(
    wired: Wired, messages: Messages
) -> None:
    line = encoded(messages.envelope(messages.line("l1", "5.00")))
    await wired.send(STATEMENT_LINES, line, f"intruder:{messages.account_id}")
    await wired.send(STATEMENT_LINES, encoded(messages.envelope(messages.line("l2", "6.00"))))

    assert [d.reason_code for d in wired.dead_letters] == ["tenant_key_mismatch"]
    assert "intruder" in wired.dead_letters[0].reason
    period = await wired.reconciler.period(messages.tenant_id, messages.account_id)
    assert set(period.lines) == {"l2"}
