"""Large uploads through the HTTP API (real SQLite store and outbox relay, recording broker):
stored batch by batch in one transaction, so an error late in a file stores and publishes
nothing, and a good file publishes header then lines in order."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from ingest_factories import Detail, Entry, Statement, camt_file

from bankrec.contracts import STATEMENT_LINES, STATEMENTS
from bankrec.ingest.adapters import MemoryBroker
from bankrec.ingest.bootstrap import create_app
from bankrec.ingest.domain import file_sha256
from bankrec.ingest.domain.credentials import webhook_signature
from bankrec.ingest.settings import IngestSettings

ADMIN_TOKEN = "admin-token-for-streaming-tests"
LINES = 1_600  # four batches of the reader, several of the store


@pytest.fixture
def broker() -> MemoryBroker:
    return MemoryBroker(topics=(STATEMENTS, STATEMENT_LINES))  # not the API key records


@pytest.fixture
def settings(tmp_path: Path) -> IngestSettings:
    return IngestSettings(
        upload_bytes_max=5_000_000,
        database_url=f"sqlite:///{tmp_path / 'ingest.sqlite'}",
        spool_dir=tmp_path / "spool",
        admin_token=ADMIN_TOKEN,
    )


@pytest.fixture
def client(broker: MemoryBroker, settings: IngestSettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, broker=broker)) as test_client:
        yield test_client


def _key(client: TestClient, tenant_id: str) -> dict[str, str]:
    issued = client.post(
        f"/v1/admin/tenants/{tenant_id}/api-keys",
        headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    return {"authorization": f"Bearer {issued.json()['api_key']}"}


def _entries(count: int) -> list[Entry]:
    return [
        Entry(
            amount=f"{index % 89 + 1}.00",
            bank_reference=f"BIG-{index}",
            details=[Detail(debtor="KARI HANSEN", unstructured=[f"Faktura {index}"])],
        )
        for index in range(count)
    ]


def test_an_error_in_the_last_entry_of_a_large_upload_stores_and_publishes_nothing(
    client: TestClient, broker: MemoryBroker, settings: IngestSettings, tenant_id: str
) -> None:
    headers = _key(client, tenant_id)
    good = _entries(LINES)
    bad_file = camt_file(Statement(entries=[*good, Entry(amount="1,00")], closing=None))
    refused = client.post(f"/v1/tenants/{tenant_id}/statements", content=bad_file, headers=headers)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "invalid_value"
    assert broker.messages == []
    assert list(settings.spool_dir.iterdir()) == []  # the spooled upload is gone

    # nothing of the refused file was kept: the same lines in a good file are all new
    good_file = camt_file(Statement(entries=good))
    accepted = client.post(
        f"/v1/tenants/{tenant_id}/statements", content=good_file, headers=headers
    )
    assert accepted.status_code == 202, accepted.text
    answer = accepted.json()
    assert (answer["lines_published"], answer["lines_already_published"]) == (LINES, 0)
    assert answer["lines"] == LINES
    assert [m.topic for m in broker.messages] == [STATEMENTS] + [STATEMENT_LINES] * LINES
    sequences = [m.envelope.payload["sequence"] for m in broker.messages[1:]]
    assert sequences == list(range(LINES))
    assert {m.envelope.correlation_id for m in broker.messages} == {file_sha256(good_file)}


def test_a_large_overlapping_statement_publishes_only_its_new_lines(
    client: TestClient, broker: MemoryBroker, tenant_id: str
) -> None:
    headers = _key(client, tenant_id)
    entries = _entries(LINES)
    first = camt_file(Statement(entries=entries[:1_000], statement_id="S-1"))
    second = camt_file(
        Statement(entries=entries[600:], statement_id="S-2", opening="1000.00", closing=None)
    )
    for body in (first, second):
        response = client.post(f"/v1/tenants/{tenant_id}/statements", content=body, headers=headers)
        assert response.status_code == 202, response.text
    answer = response.json()
    assert (answer["lines_published"], answer["lines_already_published"]) == (600, 400)
    line_ids = [m.envelope.message_id for m in broker.on(STATEMENT_LINES)]
    assert len(line_ids) == len(set(line_ids)) == LINES
    [header] = [
        m for m in broker.on(STATEMENTS) if m.envelope.payload["bank_statement_id"] == "S-2"
    ]
    assert (
        header.envelope.payload["line_count"],
        header.envelope.payload["lines_already_received"],
    ) == (
        600,
        400,
    )


def test_a_webhook_body_is_spooled_signed_and_read_from_disk(
    client: TestClient, broker: MemoryBroker, settings: IngestSettings, tenant_id: str
) -> None:
    headers = _key(client, tenant_id)
    secret = client.post(f"/v1/tenants/{tenant_id}/webhook-secret", headers=headers).json()[
        "webhook_secret"
    ]
    body = camt_file(Statement(entries=_entries(700)))
    moment = str(int(time.time()))
    hooked = client.post(
        f"/v1/webhooks/{tenant_id}/statements",
        content=body,
        headers={
            "x-bankrec-timestamp": moment,
            "x-bankrec-signature": webhook_signature(secret, moment, body),
        },
    )
    assert hooked.status_code == 202, hooked.text
    tampered = client.post(
        f"/v1/webhooks/{tenant_id}/statements",
        content=body + b" ",
        headers={
            "x-bankrec-timestamp": moment,
            "x-bankrec-signature": webhook_signature(secret, moment, body),
        },
    )
    assert tampered.status_code == 401
    assert tampered.json()["error"]["reason"] == "bad_signature"
    status_url = hooked.json()["status_url"]
    for _attempt in range(200):
        status = client.get(status_url, headers=headers).json()
        if status["status"] != "received":
            break
        time.sleep(0.05)
    assert status["status"] == "published"
    assert status["lines_published"] == 700
    assert status["file_sha256"] == file_sha256(body)
    for _attempt in range(200):  # a webhook's reader wakes the relay rather than waits for it
        if len(broker.on(STATEMENT_LINES)) == 700:
            break
        time.sleep(0.05)
    assert len(broker.on(STATEMENT_LINES)) == 700
    assert list(settings.spool_dir.iterdir()) == []  # read, then removed; the refused one too
