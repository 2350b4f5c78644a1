"""The ledger on the real Kafka broker and real PostgreSQL: a KID payment decision closes
its invoice and posts the entry; a decision delivered or sent twice is posted once; a
suspense posting allocated later leaves the interim account at zero; a refused decision
reaches the refused-decisions topic. Postings and open-item states arrive on their topics."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from ledger_factories import TENANT_KEYS, auth_headers

from bankrec.contracts import (
    DEAD_LETTERS,
    DECISIONS,
    OPEN_ITEMS,
    POSTINGS,
    REFUSED_DECISIONS,
    Evidence,
)
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
    kafka_bootstrap: str, database_url: Callable[[str], str], tenant_id: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = LedgerSettings(
        database_url=database_url("ledger_kafka"), kafka_bootstrap_servers=kafka_bootstrap
    )
    # start where a caught-up ledger would be, not behind other tests' decisions
    await ensure_topics(kafka_bootstrap, (DECISIONS,))
    await commit_group_at_end(kafka_bootstrap, CONSUMER, DECISIONS.name)
    app = create_app(settings, tenant_keys=TENANT_KEYS)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://ledger", headers=auth_headers(tenant_id)
        ) as http:
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
    assert status == {
        "decisions_applied": 2,
        "decisions_refused": 0,
        "journal_entries": 2,
        "decisions_unmatched": 0,
    }
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


async def publish_decisions(bootstrap: str, key: str, *values: bytes) -> None:
    headers = [(name, value.encode()) for name, value in JSON_HEADERS.items()]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(DECISIONS.name, value, key=key.encode(), headers=headers)
    finally:
        await producer.stop()


def kid_match(make: Any, kid: str, amount: str, item_id: str) -> Any:
    """The decision the matcher's structured_reference rule makes for a KID payment."""
    return make.decision(
        "match",
        amount,
        [(item_id, amount)],
        rule="structured_reference",
        evidence=[
            Evidence(
                rule="structured_reference",
                field="structured_reference",
                line_value=kid,
                item_field="reference",
                item_value=kid,
                note="KID mod10 valid",
            )
        ],
    )


async def test_a_kid_payment_decision_closes_the_invoice_and_posts_the_entry(
    ledger_http: httpx.AsyncClient, kafka_bootstrap: str, tenant_id: str, make: Any
) -> None:
    base = f"/v1/tenants/{tenant_id}"
    created = await ledger_http.post(
        f"{base}/open-items",
        json={
            "item_id": "INV-10230",
            "kind": "invoice",
            "amount": "12500.00",
            "currency": "NOK",
            "reference": "1002345005",
            "counterparty_id": "C-1",
        },
    )
    assert (created.status_code, created.json()["reference_kind"]) == (201, "kid")
    decision = kid_match(make, "1002345005", "12500.00", "INV-10230")
    await publish_decisions(
        kafka_bootstrap,
        f"{tenant_id}:{ACCOUNT}",
        encode_envelope(make.envelope(decision, tenant_id)),
    )

    async def closed() -> Any:
        item = (await ledger_http.get(f"{base}/open-items/INV-10230")).json()
        return item if item["status"] == "paid" else None

    invoice = await wait_for(closed, "the invoice to be paid")
    assert (invoice["remaining"]["amount"], invoice["version"]) == ("0.00", 2)
    [entry] = (await ledger_http.get(f"{base}/journal")).json()["entries"]
    assert entry["idempotency_key"] == decision.decision_id
    assert [(x["account_code"], x["debit"], x["credit"]) for x in entry["lines"]] == [
        ("1920", "12500.00", "0.00"),
        ("1500", "0.00", "12500.00"),
    ]
    [(key, posted)] = await read_topic(kafka_bootstrap, POSTINGS.name, tenant_id, 1)
    assert key == f"{tenant_id}:{ACCOUNT}"
    assert posted["payload"]["entry_id"] == entry["entry_id"]
    states = await read_topic(kafka_bootstrap, OPEN_ITEMS.name, tenant_id, 2)
    assert [m["payload"]["status"] for _k, m in states] == ["open", "paid"]


async def test_the_same_decision_sent_twice_posts_once(
    ledger_http: httpx.AsyncClient, kafka_bootstrap: str, tenant_id: str, make: Any
) -> None:
    """The matcher re-sends a decision (a new envelope, the same decision id and content),
    and Kafka redelivers a message (the same envelope): one entry, one posting message."""
    base = f"/v1/tenants/{tenant_id}"
    body = {"item_id": "INV-1", "kind": "invoice", "amount": "2500.00", "currency": "NOK"}
    assert (await ledger_http.post(f"{base}/open-items", json=body)).status_code == 201
    decision = kid_match(make, "1002351003", "2500.00", "INV-1")
    first = make.envelope(decision, tenant_id)
    marker = make.decision("suspense", "1.00")  # same key, so handled after the copies
    await publish_decisions(
        kafka_bootstrap,
        f"{tenant_id}:{ACCOUNT}",
        encode_envelope(first),
        encode_envelope(make.envelope(decision, tenant_id)),  # re-sent in a new envelope
        encode_envelope(first),  # redelivered
        encode_envelope(make.envelope(marker, tenant_id)),
    )

    async def marker_applied() -> Any:
        status = (await ledger_http.get(f"{base}/status")).json()
        return status if status["decisions_applied"] >= 2 else None

    status = await wait_for(marker_applied, "the marker decision")
    assert (status["journal_entries"], status["decisions_refused"]) == (2, 0)
    postings = await read_topic(kafka_bootstrap, POSTINGS.name, tenant_id, 2)
    assert [m["payload"]["idempotency_key"] for _k, m in postings] == [
        decision.decision_id,
        marker.decision_id,
    ]
    with pytest.raises(TimeoutError):
        await read_topic(kafka_bootstrap, POSTINGS.name, tenant_id, 3, timeout_seconds=3)


async def test_a_suspense_posting_allocated_later_leaves_the_interim_account_at_zero(
    ledger_http: httpx.AsyncClient, kafka_bootstrap: str, tenant_id: str, make: Any
) -> None:
    base = f"/v1/tenants/{tenant_id}"
    unknown = make.decision("suspense", "4200.00")  # no KID, no open item yet
    await publish_decisions(
        kafka_bootstrap,
        f"{tenant_id}:{ACCOUNT}",
        encode_envelope(make.envelope(unknown, tenant_id)),
    )

    async def parked() -> Any:
        postings = (await ledger_http.get(f"{base}/suspense-postings?status=open")).json()
        return postings["suspense_postings"] or None

    [posting] = await wait_for(parked, "the suspense posting")
    assert posting["statement_line_id"] == unknown.line_id
    interim = {
        row["account_code"]: row["balance"]
        for row in (await ledger_http.get(f"{base}/trial-balance")).json()["accounts"]
    }
    assert interim["2900"] == "-4200.00"

    # the invoice turns up later; an accountant allocates the payment to it
    body = {"item_id": "INV-7", "kind": "invoice", "amount": "4200.00", "currency": "NOK"}
    assert (await ledger_http.post(f"{base}/open-items", json=body)).status_code == 201
    allocated = await ledger_http.post(
        f"{base}/suspense-postings/{posting['suspense_id']}/allocations",
        json={
            "target": "open_item",
            "target_id": "INV-7",
            "actor": "kari@example.no",
            "reason": "customer says it pays INV-7",
        },
    )
    assert allocated.status_code == 201, allocated.text
    trial = (await ledger_http.get(f"{base}/trial-balance")).json()
    assert trial["balanced"] is True
    balances = {row["account_code"]: row["balance"] for row in trial["accounts"]}
    assert (balances["2900"], balances["1920"], balances["1500"]) == (
        "0.00",
        "4200.00",
        "-4200.00",
    )
    invoice = (await ledger_http.get(f"{base}/open-items/INV-7")).json()
    assert invoice["status"] == "paid"

    postings = await read_topic(kafka_bootstrap, POSTINGS.name, tenant_id, 2)
    assert [m["payload"]["source"] for _k, m in postings] == ["decision", "manual"]
    manual = postings[1][1]["payload"]
    assert (manual["actor"], manual["reason"]) == ("kari@example.no", "customer says it pays INV-7")
    states = await read_topic(kafka_bootstrap, OPEN_ITEMS.name, tenant_id, 2)
    assert [m["payload"]["status"] for _k, m in states] == ["open", "paid"]
    [record] = (await ledger_http.get(f"{base}/audit-trail")).json()["audit_trail"]
    assert record["action"] == "allocate_suspense"


async def test_a_refused_decision_reaches_the_refused_decisions_topic(
    ledger_http: httpx.AsyncClient, kafka_bootstrap: str, tenant_id: str, make: Any
) -> None:
    base = f"/v1/tenants/{tenant_id}"
    body = {"item_id": "INV-1", "kind": "invoice", "amount": "100.00", "currency": "NOK"}
    assert (await ledger_http.post(f"{base}/open-items", json=body)).status_code == 201
    paid = make.decision("match", "100.00", [("INV-1", "100.00")])
    late = make.decision("match", "100.00", [("INV-1", "100.00")])  # another line, same invoice
    await publish_decisions(
        kafka_bootstrap,
        f"{tenant_id}:{ACCOUNT}",
        encode_envelope(make.envelope(paid, tenant_id)),
        encode_envelope(make.envelope(late, tenant_id)),
    )
    [(key, refused)] = await read_topic(kafka_bootstrap, REFUSED_DECISIONS.name, tenant_id, 1)
    assert key == f"{tenant_id}:{ACCOUNT}"
    assert refused["type"] == "decision.refused"
    assert (refused["payload"]["decision_id"], refused["payload"]["reason_code"]) == (
        late.decision_id,
        "over_allocation",
    )
    [state] = refused["payload"]["open_items"]
    assert (state["item_id"], state["status"], state["version"]) == ("INV-1", "paid", 2)
    status = (await ledger_http.get(f"{base}/status")).json()
    assert (status["decisions_applied"], status["decisions_refused"]) == (1, 1)
