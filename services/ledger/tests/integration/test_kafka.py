"""The ledger on the real Kafka broker and real PostgreSQL: a decision delivered twice is
posted once, and its posting and open-item state arrive on their topics."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bankrec.contracts import DEAD_LETTERS, DECISIONS, OPEN_ITEMS, POSTINGS
from bankrec.devstack.topics import commit_group_at_end
from bankrec.ledger import LedgerSettings, create_app
from bankrec.ledger.use_cases import CONSUMER
from bankrec.runtime import JSON_HEADERS, encode_envelope, ensure_topics

pytestmark = pytest.mark.integration

ACCOUNT = "acc-0000000000000000demo"


async def read_topic(
    bootstrap: str, topic: str, tenant_id: str, count: int, timeout_seconds: float = 60.0
) -> list[tuple[str, dict[str, Any]]]:
    """(key, message) of the first ``count`` messages of a tenant on a topic."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",  # the messages are there before we look
        enable_auto_commit=False,  # a reader, not a member of any service's group
        group_id=None,
    )
    await consumer.start()
    found: list[tuple[str, dict[str, Any]]] = []
    try:
        async with asyncio.timeout(timeout_seconds):
            while len(found) < count:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for record in records:
                        key = (record.key or b"").decode()
                        if key.startswith(f"{tenant_id}:"):
                            found.append((key, json.loads(record.value)))
    finally:
        await consumer.stop()
    return found


async def wait_for(
    probe: Callable[[], Awaitable[Any]], what: str, timeout_seconds: float = 90.0
) -> Any:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        result = await probe()
        if result:
            return result
        await asyncio.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what}")


@pytest.fixture
async def ledger_http(
    kafka_bootstrap: str, database_url: Callable[[str], str]
) -> AsyncIterator[httpx.AsyncClient]:
    settings = LedgerSettings(
        database_url=database_url("ledger_kafka"), kafka_bootstrap_servers=kafka_bootstrap
    )
    # start where a caught-up ledger would be, not behind other tests' decisions
    await ensure_topics(kafka_bootstrap, (DECISIONS,))
    await commit_group_at_end(kafka_bootstrap, CONSUMER, DECISIONS.name)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ledger") as http:
            yield http


async def test_a_redelivered_decision_is_posted_once(
    ledger_http: httpx.AsyncClient, kafka_bootstrap: str, tenant_id: str, make: Any
) -> None:
    base = f"/v1/tenants/{tenant_id}"
    created = await ledger_http.post(
        f"{base}/open-items",
        json={
            "item_id": "INV-1",
            "kind": "invoice",
            "amount": "12500.00",
            "currency": "NOK",
            "reference": "1002345005",
            "counterparty_id": "C-1",
        },
    )
    assert created.status_code == 201, created.text

    match = make.decision("match", "12500.00", [("INV-1", "12500.00")])
    marker = make.decision("suspense", "4200.00")  # same key: handled after the two copies
    key = f"{tenant_id}:{ACCOUNT}".encode()
    headers = [(name, value.encode()) for name, value in JSON_HEADERS.items()]
    match_bytes = encode_envelope(make.envelope(match, tenant_id))
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        for value in (
            match_bytes,
            match_bytes,  # the redelivery: same envelope, same message id
            b"{not json",
            encode_envelope(make.envelope(marker, tenant_id)),
        ):
            await producer.send_and_wait(DECISIONS.name, value, key=key, headers=headers)
    finally:
        await producer.stop()

    async def both_applied() -> Any:
        status = (await ledger_http.get(f"{base}/status")).json()
        return status if status["decisions_applied"] >= 2 else None

    status = await wait_for(both_applied, "the ledger to apply the decisions")
    assert status == {"decisions_applied": 2, "decisions_refused": 0, "journal_entries": 2}
    entries = (await ledger_http.get(f"{base}/journal")).json()["entries"]
    assert [entry["idempotency_key"] for entry in entries] == [
        match.decision_id,
        marker.decision_id,
    ]
    invoice = (await ledger_http.get(f"{base}/open-items/INV-1")).json()
    assert (invoice["status"], invoice["remaining"]["amount"]) == ("paid", "0.00")
    assert (await ledger_http.get(f"{base}/trial-balance")).json()["balanced"] is True

    postings = await read_topic(kafka_bootstrap, POSTINGS.name, tenant_id, 2)
    assert [key for key, _message in postings] == [f"{tenant_id}:{ACCOUNT}"] * 2
    posted = postings[0][1]
    assert posted["type"] == "journal_entry.posted"
    assert posted["payload"]["idempotency_key"] == match.decision_id
    assert [line["account_code"] for line in posted["payload"]["lines"]] == ["1920", "1500"]

    items = await read_topic(kafka_bootstrap, OPEN_ITEMS.name, tenant_id, 2)
    assert [key for key, _message in items] == [f"{tenant_id}:INV-1"] * 2
    assert [(m["payload"]["version"], m["payload"]["status"]) for _key, m in items] == [
        (1, "open"),
        (2, "paid"),
    ]

    [(_key, dead)] = await read_topic(kafka_bootstrap, DEAD_LETTERS.name, tenant_id, 1)
    assert dead["payload"]["reason_code"] == "undecodable_message"
    assert dead["payload"]["original_value"] == "{not json"

    # the redelivery published nothing: no third posting for this tenant
    with pytest.raises(TimeoutError):
        await read_topic(kafka_bootstrap, POSTINGS.name, tenant_id, 3, timeout_seconds=3)
