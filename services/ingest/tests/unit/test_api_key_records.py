"""Ingest publishes every API key's record on the credentials topic (decision 0004): through
its outbox, in the transaction that changes the key, and once more for every key at start-up."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bankrec.contracts import CREDENTIALS, ApiKeyRecord
from bankrec.ingest.adapters import MemoryBroker
from bankrec.ingest.bootstrap import create_app
from bankrec.ingest.settings import IngestSettings
from bankrec.runtime import decode_payload

ADMIN = {"authorization": "Bearer admin-token-for-tests"}


@pytest.fixture
def settings(tmp_path: Path) -> IngestSettings:
    return IngestSettings(
        database_url=f"sqlite:///{tmp_path / 'ingest.sqlite'}",
        spool_dir=tmp_path / "spool",
        admin_token="admin-token-for-tests",
    )


@pytest.fixture
def publisher() -> MemoryBroker:
    return MemoryBroker()


@pytest.fixture
def client(publisher: MemoryBroker, settings: IngestSettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, broker=publisher)) as test_client:
        yield test_client


def issue(client: TestClient, tenant_id: str) -> dict[str, Any]:
    response = client.post(f"/v1/admin/tenants/{tenant_id}/api-keys", headers=ADMIN)
    assert response.status_code == 201, response.text
    issued: dict[str, Any] = response.json()
    return issued


def key_records(publisher: MemoryBroker) -> list[tuple[str, ApiKeyRecord]]:
    """(Kafka key, record) of every message on the credentials topic, in order."""
    return [
        (m.key, decode_payload(ApiKeyRecord, m.envelope.model_dump_json()).payload)
        for m in publisher.on(CREDENTIALS)
    ]


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_a_new_key_publishes_its_record_keyed_by_key_id_with_only_the_hash(
    client: TestClient, publisher: MemoryBroker, tenant_id: str
) -> None:
    issued = issue(client, tenant_id)
    [(kafka_key, record)] = key_records(publisher)
    secret = issued["api_key"].split("_", 2)[2]
    assert kafka_key == issued["key_id"] == record.key_id
    assert record.tenant_id == tenant_id
    assert record.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert record.created_at.tzinfo is not None
    assert record.revoked_at is None
    [message] = publisher.on(CREDENTIALS)
    assert message.envelope.tenant_id == tenant_id
    assert message.envelope.type == "api_key.changed"
    assert secret not in message.envelope.model_dump_json()


def test_a_revocation_publishes_the_revoked_record(
    client: TestClient, publisher: MemoryBroker, tenant_id: str
) -> None:
    issued = issue(client, tenant_id)
    revoked = client.delete(
        f"/v1/admin/tenants/{tenant_id}/api-keys/{issued['key_id']}", headers=ADMIN
    )
    assert revoked.status_code == 204
    (_, created), (kafka_key, latest) = key_records(publisher)
    assert kafka_key == issued["key_id"]
    assert latest.revoked_at is not None
    assert latest.created_at == created.created_at
    assert latest.key_hash == created.key_hash


def test_revoking_an_unknown_key_publishes_nothing(
    client: TestClient, publisher: MemoryBroker, tenant_id: str
) -> None:
    missing = client.delete(f"/v1/admin/tenants/{tenant_id}/api-keys/nope", headers=ADMIN)
    assert missing.status_code == 404
    assert key_records(publisher) == []


def test_every_key_is_published_again_at_start_up(settings: IngestSettings, tenant_id: str) -> None:
    first = MemoryBroker()
    with TestClient(create_app(settings, broker=first)) as client:
        kept = issue(client, tenant_id)
        gone = issue(client, tenant_id)
        client.delete(f"/v1/admin/tenants/{tenant_id}/api-keys/{gone['key_id']}", headers=ADMIN)
    assert len(key_records(first)) == 3

    again = MemoryBroker()
    with TestClient(create_app(settings, broker=again)):
        wait_for(lambda: len(key_records(again)) == 2)
    records = {record.key_id: record for _, record in key_records(again)}
    assert records[kept["key_id"]].revoked_at is None
    assert records[gone["key_id"]].revoked_at is not None


def test_a_key_is_issued_while_the_broker_is_away_and_its_record_follows(
    client: TestClient, publisher: MemoryBroker, tenant_id: str
) -> None:
    publisher.fail_after = 0
    issued = issue(client, tenant_id)
    assert key_records(publisher) == []
    publisher.fail_after = None
    wait_for(lambda: len(key_records(publisher)) == 1)
    assert key_records(publisher)[0][0] == issued["key_id"]
