"""The real matcher app (``create_app``) on the real Kafka broker: open items published
before it starts are indexed from the beginning of the compacted topic, statement lines get
their decisions on the decisions topic, bad lines are dead-lettered, and a restarted matcher
has the whole index before it matches a line."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from matcher_factories import TENANT_KEYS, Book, auth_headers

from bankrec.contracts import DEAD_LETTERS, DECISIONS, OPEN_ITEMS, STATEMENT_LINES, Topic
from bankrec.devstack.topics import json_object
from bankrec.matcher import MatcherSettings, create_app
from bankrec.matcher.bootstrap import TOPICS
from bankrec.runtime import encode_envelope, ensure_topics

pytestmark = pytest.mark.integration

KID_1 = "1002345005"
KID_5 = "1002351003"
TIMEOUT_SECONDS = 90.0


async def publish(bootstrap: str, messages: list[tuple[Topic, str, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for topic, key, value in messages:
            await producer.send_and_wait(topic.name, value, key=key.encode())
    finally:
        await producer.stop()


async def read_topic(
    bootstrap: str, topic: Topic, count: int, keep: Callable[[dict[str, Any]], bool]
) -> list[tuple[bytes, dict[str, Any]]]:
    """The first ``count`` messages of a topic that ``keep`` accepts, with their keys."""
    consumer = AIOKafkaConsumer(
        topic.name,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[tuple[bytes, dict[str, Any]]] = []
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            while len(found) < count:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for record in records:
                        message = json_object(record.value)
                        if message is not None and keep(message):
                            found.append((record.key, message))
    finally:
        await consumer.stop()
    return found


@asynccontextmanager
async def running_matcher(
    bootstrap: str, tenant_id: str, database_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The matcher app, started by its own lifespan, with an HTTP client on it that sends
    the tenant's API key."""
    app = create_app(
        MatcherSettings(
            kafka_bootstrap_servers=bootstrap,
            index_catch_up_seconds=60,
            database_url=database_url,
        ),
        tenant_keys=TENANT_KEYS,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://matcher", headers=auth_headers(tenant_id)
        ) as client:
            yield client


async def wait_for(client: httpx.AsyncClient, path: str, expected: dict[str, Any]) -> None:
    async with asyncio.timeout(TIMEOUT_SECONDS):
        while True:
            if (await client.get(path)).json() == expected:
                return
            await asyncio.sleep(0.2)


def open_item_messages(book: Book) -> list[tuple[Topic, str, bytes]]:
    invoice_5 = book.item("INV-5", "700.00", reference=KID_5)
    items = [
        book.item("INV-1", "12500.00", reference=KID_1),
        book.item("INV-2", "8900.00"),
        book.item("INV-3", "500.00"),
        book.item("INV-4", "500.00"),
        book.item("BILL-1", "-15000.00"),
        invoice_5,
        book.paid(invoice_5),  # the compacted topic's latest state: paid
    ]
    return [
        (OPEN_ITEMS, f"{book.tenant_id}:{item.item_id}", encode_envelope(book.envelope(item)))
        for item in items
    ]


async def test_lines_get_their_decisions_on_the_decisions_topic(
    kafka_bootstrap: str, tenant_id: str, database_url: Callable[[str], str]
) -> None:
    matcher_db = database_url("matcher")
    book = Book.for_tenant(tenant_id)
    await ensure_topics(kafka_bootstrap, TOPICS)
    await publish(kafka_bootstrap, open_item_messages(book))  # before the matcher starts

    lines = [
        book.line("l1", "12500.00", reference=KID_1),  # match by KID
        book.line("l2", "8900.00", text="Faktura INV-2"),  # match by the invoice number
        book.line("l3", "500.00"),  # two items with 500.00: suspense, both proposed
        book.line("l4", "700.00", reference=KID_5),  # KID of a paid invoice: suspense
        book.line("l5", "12500.00", reference=KID_1),  # INV-1 was just taken by l1: suspense
        book.line("l6", "-15000.00", text="Bill-1"),  # the supplier bill, by its number
    ]
    envelopes = [book.envelope(line, correlation_id="camt-file-1") for line in lines]
    async with running_matcher(kafka_bootstrap, tenant_id, matcher_db) as client:
        await wait_for(client, "/health", {"status": "ok", "index": "ready"})
        assert (await client.get(f"/v1/tenants/{tenant_id}/index")).json() == {
            "open_items": 6,
            "open": 5,
            "pending_lines": 0,
        }
        await publish(
            kafka_bootstrap,
            [
                (STATEMENT_LINES, book.key, encode_envelope(envelopes[0])),
                (STATEMENT_LINES, book.key, b'{"not": "an envelope"}'),
                *[(STATEMENT_LINES, book.key, encode_envelope(e)) for e in envelopes[1:]],
            ],
        )
        found = await read_topic(
            kafka_bootstrap, DECISIONS, len(lines), lambda m: m.get("tenant_id") == tenant_id
        )
        last = await client.get(f"/v1/tenants/{tenant_id}/decisions/l6")
        assert last.status_code == 200

    decisions = {message["payload"]["line_id"]: message for _, message in found}
    assert set(decisions) == {line.line_id for line in lines}
    expected = {
        "l1": ("match", "structured_reference", ["INV-1"]),
        "l2": ("match", "document_number", ["INV-2"]),
        "l3": ("suspense", "suspense", []),
        "l4": ("suspense", "suspense", []),
        "l5": ("suspense", "suspense", []),
        "l6": ("match", "document_number", ["BILL-1"]),
    }
    for line_id, (kind, rule, items) in expected.items():
        payload = decisions[line_id]["payload"]
        assert (payload["kind"], payload["rule"]) == (kind, rule), payload["explanation"]
        assert [a["item_id"] for a in payload["allocations"]] == items
        assert payload["explanation"]
    assert decisions["l1"]["payload"]["allocations"][0]["amount"] == {
        "amount": "12500.00",
        "currency": "NOK",
    }
    assert Decimal(decisions["l1"]["payload"]["confidence"]) == Decimal("1.0")
    assert [p["item_id"] for p in decisions["l3"]["payload"]["proposals"]] == ["INV-3", "INV-4"]
    assert "double payment" in decisions["l4"]["payload"]["explanation"]
    assert last.json()["decision_id"] == decisions["l6"]["payload"]["decision_id"]
    by_message = {e.payload.line_id: e for e in envelopes}
    for key, message in found:
        line_id = message["payload"]["line_id"]
        assert key == book.key.encode()
        assert message["message_id"] == message["payload"]["decision_id"]
        assert message["causation_id"] == by_message[line_id].message_id
        assert message["correlation_id"] == "camt-file-1"

    [(_, dead)] = await read_topic(
        kafka_bootstrap,
        DEAD_LETTERS,
        1,
        lambda m: (
            m["payload"]["original_key"] == book.key
            and m["payload"]["source_topic"] == STATEMENT_LINES.name
        ),
    )
    assert dead["payload"]["reason_code"] == "undecodable_message"
    assert dead["payload"]["consumer"] == "bankrec-matcher"


async def test_a_restarted_matcher_has_the_whole_index_before_it_matches(
    kafka_bootstrap: str, tenant_id: str, database_url: Callable[[str], str]
) -> None:
    matcher_db = database_url("matcher")
    book = Book.for_tenant(tenant_id)
    await ensure_topics(kafka_bootstrap, TOPICS)
    await publish(kafka_bootstrap, open_item_messages(book))
    async with running_matcher(kafka_bootstrap, tenant_id, matcher_db) as client:
        await wait_for(
            client,
            f"/v1/tenants/{tenant_id}/index",
            {"open_items": 6, "open": 5, "pending_lines": 0},
        )

    late = book.item("INV-9", "42.00")
    await publish(
        kafka_bootstrap,
        [(OPEN_ITEMS, f"{tenant_id}:INV-9", encode_envelope(book.envelope(late)))],
    )
    async with running_matcher(kafka_bootstrap, tenant_id, matcher_db) as client:
        await wait_for(client, "/health", {"status": "ok", "index": "ready"})
        # no waiting here: "ready" means everything the topic held at start-up is indexed
        index = await client.get(f"/v1/tenants/{tenant_id}/index")
        assert index.json() == {"open_items": 7, "open": 6, "pending_lines": 0}
        explained = await client.post(
            f"/v1/tenants/{tenant_id}/explain",
            json=book.line("l1", "42.00", text="Faktura INV-9").model_dump(mode="json"),
        )
        assert explained.json()["allocations"][0]["item_id"] == "INV-9"
