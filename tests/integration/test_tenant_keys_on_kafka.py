"""Tenant keys across services on the real broker and PostgreSQL (decision 0004): ingest (the
real app) issues a key and publishes its record through its outbox; the ledger (the real app,
reading the credentials topic itself) accepts the key, refuses it on another tenant's path, and
refuses it once ingest has revoked it. A key issued before the ledger started is read from the
beginning of the topic at its start: while the ledger reads, the key gets 503, never 401."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from bankrec.contracts import CREDENTIALS, DECISIONS, ApiKeyRecord
from bankrec.devstack.topics import commit_group_at_end, json_object
from bankrec.ingest.bootstrap import create_app as create_ingest
from bankrec.ingest.settings import IngestSettings
from bankrec.ledger import LedgerSettings
from bankrec.ledger import create_app as create_ledger
from bankrec.ledger.use_cases import CONSUMER as LEDGER_GROUP
from bankrec.runtime import decode_payload, ensure_topics

pytestmark = pytest.mark.integration

ADMIN = {"authorization": "Bearer keys-admin-token"}
TIMEOUT_SECONDS = 60.0


@asynccontextmanager
async def running_ingest(
    bootstrap: str, database_url: str, spool_dir: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = IngestSettings(
        kafka_bootstrap_servers=bootstrap,
        database_url=database_url,
        spool_dir=spool_dir,
        admin_token="keys-admin-token",
        bank_pull_enabled=False,
    )
    app = create_ingest(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as http:
            yield http


@asynccontextmanager
async def running_ledger(bootstrap: str, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The ledger as deployed: no key ring passed in, it reads the credentials topic."""
    # start the decisions group where a caught-up ledger would be, not behind other tests
    await ensure_topics(bootstrap, (DECISIONS, CREDENTIALS))
    await commit_group_at_end(bootstrap, LEDGER_GROUP, DECISIONS.name)
    app = create_ledger(
        LedgerSettings(kafka_bootstrap_servers=bootstrap, database_url=database_url)
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ledger") as http:
            yield http


async def statuses_until(http: httpx.AsyncClient, url: str, api_key: str, wanted: int) -> list[int]:
    """GET ``url`` with the key until it answers ``wanted``; every status seen, in order."""
    seen: list[int] = []
    async with asyncio.timeout(TIMEOUT_SECONDS):
        while not seen or seen[-1] != wanted:
            response = await http.get(url, headers={"authorization": f"Bearer {api_key}"})
            seen.append(response.status_code)
            if seen[-1] != wanted:
                await asyncio.sleep(0.1)
    return seen


async def key_records_on_topic(bootstrap: str, key_id: str, count: int) -> list[ApiKeyRecord]:
    """The first ``count`` records of a key on the credentials topic, read as any client would."""
    consumer = AIOKafkaConsumer(
        CREDENTIALS.name,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    found: list[ApiKeyRecord] = []
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            while len(found) < count:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        if record.key == key_id.encode() and json_object(record.value):
                            found.append(decode_payload(ApiKeyRecord, record.value).payload)
    finally:
        await consumer.stop()
    return found


async def test_a_key_issued_by_ingest_works_in_the_ledger_until_ingest_revokes_it(
    kafka_bootstrap: str,
    database_url: Callable[[str], str],
    tenant_id: str,
    tmp_path: Path,
) -> None:
    async with running_ingest(kafka_bootstrap, database_url("ingest"), tmp_path) as ingest:
        early = (await ingest.post(f"/v1/admin/tenants/{tenant_id}/api-keys", headers=ADMIN)).json()
        async with running_ledger(kafka_bootstrap, database_url("ledger")) as ledger:
            status_url = f"/v1/tenants/{tenant_id}/status"
            # issued before the ledger started: 503 (retry) while it reads, then accepted
            seen = await statuses_until(ledger, status_url, early["api_key"], 200)
            assert set(seen) <= {503, 200}, seen

            # issued while the ledger runs: the record reaches it through the topic
            issued = await ingest.post(f"/v1/admin/tenants/{tenant_id}/api-keys", headers=ADMIN)
            assert issued.status_code == 201, issued.text
            key = issued.json()
            [record] = await key_records_on_topic(kafka_bootstrap, key["key_id"], 1)
            assert (record.tenant_id, record.revoked_at) == (tenant_id, None)
            await statuses_until(ledger, status_url, key["api_key"], 200)

            other = await ledger.get(
                f"/v1/tenants/{tenant_id}-other/status",
                headers={"authorization": f"Bearer {key['api_key']}"},
            )
            assert other.status_code == 403
            assert other.json()["error"]["message"] == (
                f"this key is not valid for tenant '{tenant_id}-other'"
            )

            revoked = await ingest.delete(
                f"/v1/admin/tenants/{tenant_id}/api-keys/{key['key_id']}", headers=ADMIN
            )
            assert revoked.status_code == 204
            await statuses_until(ledger, status_url, key["api_key"], 401)
            refused = await ledger.get(
                status_url, headers={"authorization": f"Bearer {key['api_key']}"}
            )
            assert refused.json()["error"]["code"] == "api_key_revoked"
            # the other key of the tenant is untouched
            still = await ledger.get(
                status_url, headers={"authorization": f"Bearer {early['api_key']}"}
            )
            assert still.status_code == 200
