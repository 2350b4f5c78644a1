"""Consumer wiring with FastStream's TestKafkaBroker: open items reach the index, each line
gets its decision on the decisions topic, bad messages are dead-lettered and do not stop the
consumer. Also the whole app (``create_app``) under TestKafkaBroker, through its HTTP API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from matcher_factories import Book, api_key_record

from bankrec.contracts import (
    CREDENTIALS,
    DEAD_LETTERS,
    DECISIONS,
    OPEN_ITEMS,
    STATEMENT_LINES,
    DeadLetter,
    DecisionKind,
    Envelope,
    MatchDecision,
    Topic,
    envelope_for,
)
from bankrec.matcher import create_app
from bankrec.matcher.adapters import KafkaDecisionPublisher, RecentDecisions
from bankrec.matcher.consumers import open_items_options, register_consumers
from bankrec.matcher.settings import MatcherSettings
from bankrec.matcher.use_cases import Matcher
from bankrec.runtime import JSON_HEADERS, create_broker, decode_payload, encode_envelope

KID = "1002345005"


@dataclass
class Wired:
    broker: KafkaBroker
    matcher: Matcher
    decisions: list[tuple[bytes | None, Envelope[MatchDecision]]] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)

    async def send(
        self, topic: Topic, value: bytes, key: str = "k", headers: dict[str, str] | None = None
    ) -> None:
        await self.broker.publish(value, topic=topic.name, key=key.encode(), headers=headers)


def listen(broker: KafkaBroker, wired: Wired) -> None:
    async def on_decision(message: KafkaMessage) -> None:
        key = message.raw_message.key if not isinstance(message.raw_message, tuple) else None
        wired.decisions.append((key, decode_payload(MatchDecision, message.body)))

    async def on_dead_letter(message: KafkaMessage) -> None:
        wired.dead_letters.append(decode_payload(DeadLetter, message.body).payload)

    broker.subscriber(DECISIONS.name)(on_decision)
    broker.subscriber(DEAD_LETTERS.name)(on_dead_letter)


@pytest.fixture
async def wired() -> AsyncIterator[Wired]:
    broker = create_broker("127.0.0.1:9", client_id="bankrec-matcher-test")
    matcher = Matcher(KafkaDecisionPublisher(broker), RecentDecisions())
    register_consumers(broker, matcher)
    result = Wired(broker, matcher)
    listen(broker, result)
    async with TestKafkaBroker(broker) as test_broker:
        result.broker = test_broker
        yield result


def encoded(envelope: Envelope[Any]) -> bytes:
    return encode_envelope(envelope)


def test_the_open_items_reader_has_no_group_reads_from_the_start_and_never_commits() -> None:
    options = open_items_options()
    assert options["group_id"] is None
    assert options["auto_offset_reset"] == "earliest"
    assert options["ack_policy"] is AckPolicy.MANUAL


async def test_an_open_item_and_a_line_give_a_decision_on_the_decisions_topic(
    wired: Wired, book: Book
) -> None:
    item = book.item("INV-1", "12500.00", reference=KID)
    await wired.send(OPEN_ITEMS, encoded(book.envelope(item)), f"{book.tenant_id}:INV-1")
    line = book.envelope(book.line("l1", "12500.00", reference=KID))
    await wired.send(STATEMENT_LINES, encoded(line), book.key)

    [(key, decision)] = wired.decisions
    assert key == book.key.encode()
    assert decision.message_id == decision.payload.decision_id
    assert decision.causation_id == line.message_id
    assert decision.correlation_id == line.correlation_id
    assert (decision.payload.kind, decision.payload.rule) == (
        DecisionKind.MATCH,
        "structured_reference",
    )
    assert [a.item_id for a in decision.payload.allocations] == ["INV-1"]
    assert wired.dead_letters == []


async def test_an_undecodable_line_is_dead_lettered_and_the_next_one_decided(
    wired: Wired, book: Book
) -> None:
    await wired.send(STATEMENT_LINES, b"{not json", "t:acc")
    await wired.send(STATEMENT_LINES, encoded(book.envelope(book.item("INV-1", "5.00"))))
    await wired.send(STATEMENT_LINES, encoded(book.envelope(book.line("l1", "5.00"))), book.key)

    assert [d.reason_code for d in wired.dead_letters] == ["undecodable_message"] * 2
    first = wired.dead_letters[0]
    assert (first.source_topic, first.consumer) == (STATEMENT_LINES.name, "bankrec-matcher")
    assert (first.original_value, first.original_key) == ("{not json", "t:acc")
    assert "StatementLine" in wired.dead_letters[1].reason
    assert [d.payload.line_id for _, d in wired.decisions] == ["l1"]


async def test_an_undecodable_open_item_is_dead_lettered_and_the_next_one_indexed(
    wired: Wired, book: Book
) -> None:
    float_amount = encoded(book.envelope(book.item("INV-1", "5.00"))).replace(
        b'"amount":"5.00"', b'"amount":5.0', 1
    )
    await wired.send(OPEN_ITEMS, float_amount)
    await wired.send(OPEN_ITEMS, encoded(book.envelope(book.item("INV-2", "6.00"))))

    [dead] = wired.dead_letters
    assert (dead.source_topic, dead.consumer) == (OPEN_ITEMS.name, "bankrec-matcher-index")
    assert "decimal strings" in dead.reason
    assert wired.matcher.index_summary(book.tenant_id).open_items == 1


@pytest.mark.parametrize("topic", [OPEN_ITEMS, STATEMENT_LINES], ids=["open-items", "lines"])
async def test_malformed_json_with_a_json_content_type_is_dead_lettered(
    wired: Wired, book: Book, topic: Topic
) -> None:
    # FastStream json-decodes a body sent as application/json before the handler runs; the
    # subscribers must take the raw bytes, or such a body never reaches the dead letters
    await wired.send(topic, b"{not json", "t:x", headers=JSON_HEADERS)
    await wired.send(OPEN_ITEMS, encoded(book.envelope(book.item("INV-1", "5.00"))))

    assert [(d.source_topic, d.original_value) for d in wired.dead_letters] == [
        (topic.name, "{not json")
    ]
    assert wired.matcher.index_summary(book.tenant_id).open_items == 1


@pytest.fixture
async def app_client(tenant_id: str) -> AsyncIterator[tuple[httpx.AsyncClient, Wired]]:
    """The whole app; the tenant's API key reaches it on the credentials topic, as in
    production (no key ring is passed in)."""
    broker = create_broker("127.0.0.1:9", client_id="bankrec-matcher-test")
    app = create_app(MatcherSettings(), broker=broker, kafka_admin=False)
    wired = Wired(broker, app.state.matcher)
    listen(broker, wired)
    api_key, record = api_key_record(tenant_id)
    async with TestKafkaBroker(broker) as test_broker:
        wired.broker = test_broker
        async with app.router.lifespan_context(app):
            await wired.send(
                CREDENTIALS,
                encoded(envelope_for(record, tenant_id=tenant_id, correlation_id="key")),
                record.key_id,
            )
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport,
                base_url="http://matcher",
                headers={"authorization": f"Bearer {api_key}"},
            ) as client:
                yield client, wired


async def test_the_app_wires_consumers_and_api_together(
    app_client: tuple[httpx.AsyncClient, Wired], book: Book
) -> None:
    client, wired = app_client
    assert (await client.get("/health")).json() == {"status": "ok", "index": "ready"}

    for item in (book.item("INV-1", "500.00"), book.item("INV-2", "500.00")):
        await wired.send(OPEN_ITEMS, encoded(book.envelope(item)))
    index = await client.get(f"/v1/tenants/{book.tenant_id}/index")
    assert index.json() == {"open_items": 2, "open": 2}

    line = book.line("l1", "500.00")
    explained = await client.post(
        f"/v1/tenants/{book.tenant_id}/explain", json=line.model_dump(mode="json")
    )
    assert explained.status_code == 200
    assert explained.json()["kind"] == "suspense"
    assert explained.json()["explanation"].endswith("2 items with amount 500.00 NOK: INV-1, INV-2")
    assert wired.decisions == []

    await wired.send(STATEMENT_LINES, encoded(book.envelope(line)), book.key)
    last = await client.get(f"/v1/tenants/{book.tenant_id}/decisions/l1")
    assert last.status_code == 200
    assert last.json()["decision_id"] == wired.decisions[0][1].payload.decision_id
