"""A statement file uploaded over HTTP to the real app reaches the real Kafka broker.

The app runs with its real lifespan (topics created, idempotent producer started); the
messages are read back with a plain aiokafka consumer, as any other system would.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI
from ingest_factories import DEMO_STATEMENT, Entry, Statement, camt_file

from bankrec.contracts import STATEMENT_LINES, STATEMENTS, StatementHeader, StatementLine
from bankrec.devstack.topics import json_object
from bankrec.ingest.bootstrap import create_app
from bankrec.ingest.domain import file_sha256
from bankrec.ingest.domain.credentials import webhook_signature
from bankrec.ingest.settings import IngestSettings
from bankrec.runtime import decode_payload

pytestmark = pytest.mark.integration


ADMIN_TOKEN = "integration-admin-token"


@pytest.fixture
async def ingest_http(
    kafka_bootstrap: str,
    database_url: Callable[[str], str],
    tenant_id: str,
    tmp_path: Path,
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app on the real broker and PostgreSQL, with the tenant's API key set."""
    settings = IngestSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        database_url=database_url("ingest"),
        spool_dir=tmp_path / "spool",
        admin_token=ADMIN_TOKEN,
    )
    app: FastAPI = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
            issued = await client.post(
                f"/v1/admin/tenants/{tenant_id}/api-keys",
                headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
            )
            client.headers["authorization"] = f"Bearer {issued.json()['api_key']}"
            yield client


async def read_tenant_messages(
    bootstrap: str, topic: str, tenant_id: str, count: int, timeout_seconds: float = 60.0
) -> list[tuple[bytes, dict[str, str], dict[str, Any]]]:
    """(key, headers, JSON value) of the first ``count`` messages of a tenant on a topic."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",  # the messages were published before we subscribed
        enable_auto_commit=False,  # a reader, not a consumer group member with offsets
        group_id=None,
    )
    await consumer.start()
    found: list[tuple[bytes, dict[str, str], dict[str, Any]]] = []
    try:
        async with asyncio.timeout(timeout_seconds):
            while len(found) < count:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for record in records:
                        value = json_object(record.value)
                        # other suites on the shared broker also put non-envelopes here
                        if value is not None and value.get("tenant_id") == tenant_id:
                            headers = {k: v.decode() for k, v in record.headers}
                            found.append((record.key, headers, value))
        # anything more for this tenant would be a duplicate or a leak from a refused file
        extra = await consumer.getmany(timeout_ms=1500)
        for records in extra.values():
            for record in records:
                assert (json_object(record.value) or {}).get("tenant_id") != tenant_id
    finally:
        await consumer.stop()
    return found


async def test_uploaded_statement_is_on_the_statements_and_lines_topics(
    ingest_http: httpx.AsyncClient, kafka_bootstrap: str, tenant_id: str
) -> None:
    assert (await ingest_http.get("/health")).json() == {"status": "ok"}
    body = DEMO_STATEMENT.read_bytes()
    response = await ingest_http.post(
        f"/v1/tenants/{tenant_id}/statements",
        content=body,
        params={"filename": DEMO_STATEMENT.name},
        headers={"content-type": "application/xml"},
    )
    assert response.status_code == 202, response.text
    answer = response.json()
    account_id = answer["statements"][0]["account_id"]
    key = f"{tenant_id}:{account_id}".encode()

    [(header_key, header_headers, header_value)] = await read_tenant_messages(
        kafka_bootstrap, STATEMENTS.name, tenant_id, 1
    )
    header = decode_payload(StatementHeader, header_value)
    assert header_key == key
    assert header_headers["content-type"] == "application/json"
    assert header.type == "statement.received"
    assert header.correlation_id == file_sha256(body)
    assert header.payload.statement_id == answer["statements"][0]["statement_id"]
    assert header.payload.line_count == 7

    published = await read_tenant_messages(kafka_bootstrap, STATEMENT_LINES.name, tenant_id, 7)
    lines = [decode_payload(StatementLine, value) for _key, _headers, value in published]
    assert {record_key for record_key, _h, _v in published} == {key}
    assert [line.payload.sequence for line in lines] == list(range(7))  # one key, in order
    assert [line.message_id for line in lines] == [line.payload.line_id for line in lines]
    assert sum(line.payload.amount.amount for line in lines) == 14225


async def test_a_refused_file_publishes_nothing(
    ingest_http: httpx.AsyncClient, kafka_bootstrap: str, tenant_id: str
) -> None:
    good = Statement(entries=[Entry(), Entry()], statement_id="S-1")
    bad = Statement(entries=[Entry(amount="1,00")], statement_id="S-2", closing=None)
    refused = await ingest_http.post(
        f"/v1/tenants/{tenant_id}/statements", content=camt_file(good, bad)
    )
    assert refused.status_code == 422
    accepted_body = camt_file(good)
    accepted = await ingest_http.post(f"/v1/tenants/{tenant_id}/statements", content=accepted_body)
    assert accepted.status_code == 202

    # the same key and partition: had the refused file published anything, it came first
    published = await read_tenant_messages(kafka_bootstrap, STATEMENT_LINES.name, tenant_id, 2)
    assert {value["correlation_id"] for _k, _h, value in published} == {file_sha256(accepted_body)}


async def test_a_big_statement_keeps_its_line_order_on_the_topic(
    ingest_http: httpx.AsyncClient, kafka_bootstrap: str, tenant_id: str
) -> None:
    """The publisher hands every message over before awaiting the acknowledgements; the
    idempotent producer must still deliver one account's lines in statement order."""
    entries = [Entry(amount=f"{index + 1}.00", reference=str(index)) for index in range(1500)]
    response = await ingest_http.post(
        f"/v1/tenants/{tenant_id}/statements", content=camt_file(Statement(entries=entries))
    )
    assert response.status_code == 202, response.text
    published = await read_tenant_messages(kafka_bootstrap, STATEMENT_LINES.name, tenant_id, 1500)
    assert [value["payload"]["sequence"] for _k, _h, value in published] == list(range(1500))


async def _webhook(
    client: httpx.AsyncClient,
    tenant_id: str,
    body: bytes,
    secret: str,
    *,
    timestamp: int | None = None,
) -> httpx.Response:
    moment = str(int(time.time()) if timestamp is None else timestamp)
    return await client.post(
        f"/v1/webhooks/{tenant_id}/statements",
        content=body,
        headers={
            "x-bankrec-timestamp": moment,
            "x-bankrec-signature": webhook_signature(secret, moment, body),
        },
    )


async def _settled(client: httpx.AsyncClient, status_url: str) -> dict[str, Any]:
    async with asyncio.timeout(30):
        while True:
            status: dict[str, Any] = (await client.get(status_url)).json()
            if status["status"] != "received":
                return status
            await asyncio.sleep(0.1)


async def test_replayed_webhook_reupload_and_overlap_publish_no_line_twice(
    ingest_http: httpx.AsyncClient, kafka_bootstrap: str, tenant_id: str
) -> None:
    secret = (await ingest_http.post(f"/v1/tenants/{tenant_id}/webhook-secret")).json()[
        "webhook_secret"
    ]
    monday = camt_file(
        Statement(
            entries=[Entry(bank_reference=f"R{n}", amount=f"{n}.00") for n in (1, 2, 3)],
            statement_id="S-1",
            electronic_sequence_number="1",
        )
    )
    first = await _webhook(ingest_http, tenant_id, monday, secret)
    assert first.status_code == 202, first.text
    assert (await _settled(ingest_http, first.json()["status_url"]))["lines_published"] == 3
    replay = await _webhook(ingest_http, tenant_id, monday, secret)
    replayed = await _settled(ingest_http, replay.json()["status_url"])
    assert replayed["status"] == "duplicate"
    reupload = await ingest_http.post(f"/v1/tenants/{tenant_id}/statements", content=monday)
    assert reupload.json()["status"] == "duplicate"
    overlapping = camt_file(
        Statement(
            entries=[Entry(bank_reference=f"R{n}", amount=f"{n}.00") for n in (3, 4)],
            statement_id="S-2",
            electronic_sequence_number="2",
            opening="1006.00",
        )
    )
    answer = (
        await ingest_http.post(f"/v1/tenants/{tenant_id}/statements", content=overlapping)
    ).json()
    assert (answer["lines_published"], answer["lines_already_published"]) == (1, 1)

    # read_tenant_messages fails on any message of the tenant beyond the four expected
    published = await read_tenant_messages(kafka_bootstrap, STATEMENT_LINES.name, tenant_id, 4)
    amounts = sorted(value["payload"]["amount"]["amount"] for _k, _h, value in published)
    assert amounts == ["1.00", "2.00", "3.00", "4.00"]
    assert len({value["message_id"] for _k, _h, value in published}) == 4


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>'
)
XXE = b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>'


async def test_bad_signatures_and_hostile_files_are_refused_and_publish_nothing(
    ingest_http: httpx.AsyncClient, kafka_bootstrap: str, tenant_id: str
) -> None:
    secret = (await ingest_http.post(f"/v1/tenants/{tenant_id}/webhook-secret")).json()[
        "webhook_secret"
    ]
    body = camt_file(Statement(entries=[Entry(bank_reference="W1")], statement_id="S-W"))
    wrong = await _webhook(ingest_http, tenant_id, body, "not-the-secret")
    unsigned = await ingest_http.post(f"/v1/webhooks/{tenant_id}/statements", content=body)
    old = await _webhook(ingest_http, tenant_id, body, secret, timestamp=int(time.time()) - 3600)
    reasons = [r.json()["error"]["reason"] for r in (wrong, unsigned, old)]
    assert [r.status_code for r in (wrong, unsigned, old)] == [401, 401, 401]
    assert reasons == ["bad_signature", "missing_signature", "timestamp_out_of_window"]

    for hostile in (XXE, BILLION_LAUGHS):
        uploaded = await ingest_http.post(f"/v1/tenants/{tenant_id}/statements", content=hostile)
        assert uploaded.status_code == 422
        assert uploaded.json()["error"]["code"] == "forbidden_dtd"
        hooked = await _webhook(ingest_http, tenant_id, hostile, secret)
        status = await _settled(ingest_http, hooked.json()["status_url"])
        assert status["status"] == "refused"
        assert status["error"]["code"] == "forbidden_dtd"

    # one good file last: on the same key, anything the refused ones published came first
    accepted = await ingest_http.post(f"/v1/tenants/{tenant_id}/statements", content=body)
    assert accepted.status_code == 202
    published = await read_tenant_messages(kafka_bootstrap, STATEMENT_LINES.name, tenant_id, 1)
    assert published[0][2]["correlation_id"] == file_sha256(body)
