"""A statement pulled from a (local, real HTTP) bank API reaches the real Kafka broker, with
the pull's configuration and cursor in real PostgreSQL; pulling again publishes nothing.

Also checks the bank-pull migration against PostgreSQL: up, down to 0001, and up again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from alembic import command
from alembic.config import Config
from fake_bank import BANK_TOKEN, FakeBank, ServedStatement, at, serving
from fastapi import FastAPI
from ingest_factories import DEMO_STATEMENT
from sqlalchemy import create_engine, inspect

from bankrec.contracts import STATEMENT_LINES, STATEMENTS
from bankrec.devstack.topics import json_object
from bankrec.ingest.bootstrap import MIGRATIONS_DIR, create_app
from bankrec.ingest.settings import IngestSettings
from bankrec.runtime import sync_url

pytestmark = pytest.mark.integration

ADMIN_TOKEN = "integration-admin-token"
ACCOUNT = "acc-nordisk-7947"


@pytest.fixture
def bank() -> FakeBank:
    return FakeBank()


@pytest.fixture
def bank_url(bank: FakeBank) -> Iterator[str]:
    with serving(bank) as url:
        yield url


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
        database_url=database_url("ingest_pull"),
        spool_dir=tmp_path / "spool",
        admin_token=ADMIN_TOKEN,
        bank_pull_enabled=False,
        bank_pull_allow_plain_http=True,
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


async def tenant_messages(
    bootstrap: str, topic: str, tenant_id: str, *, settle_seconds: float = 3.0
) -> list[dict[str, Any]]:
    """Every message of the tenant on a topic, read from the beginning until no message
    (of any tenant: the shared topic is long to read through) came for ``settle_seconds``."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",  # the messages were published before we subscribed
        enable_auto_commit=False,  # a reader, not a consumer group member with offsets
        group_id=None,
    )
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        quiet_since = asyncio.get_running_loop().time()
        while asyncio.get_running_loop().time() - quiet_since < settle_seconds:
            batch = await consumer.getmany(timeout_ms=500)
            if batch:
                quiet_since = asyncio.get_running_loop().time()
            for records in batch.values():
                for record in records:
                    value = json_object(record.value)
                    if value is not None and value.get("tenant_id") == tenant_id:
                        found.append(value)
    finally:
        await consumer.stop()
    return found


async def test_a_pulled_statement_is_published_once(
    ingest_http: httpx.AsyncClient,
    bank: FakeBank,
    bank_url: str,
    kafka_bootstrap: str,
    tenant_id: str,
) -> None:
    bank.add(ACCOUNT, ServedStatement("st-321", at(20), DEMO_STATEMENT.read_bytes()))
    pulls = f"/v1/tenants/{tenant_id}/bank-pulls"
    created = await ingest_http.put(
        f"{pulls}/nordisk",
        json={
            "base_url": bank_url,
            "auth": {"type": "bearer", "token": BANK_TOKEN},
            "accounts": [ACCOUNT],
        },
    )
    assert created.status_code == 201, created.text

    run = (await ingest_http.post(f"{pulls}/nordisk/run")).json()
    assert run["status"] == "succeeded", run
    [pulled] = run["files"]
    status = (await ingest_http.get(pulled["status_url"])).json()
    assert (status["received_via"], status["lines_published"]) == ("pull", 7)

    again = (await ingest_http.post(f"{pulls}/nordisk/run")).json()
    assert (again["status"], again["files_fetched"]) == ("succeeded", 0)

    headers = await tenant_messages(kafka_bootstrap, STATEMENTS.name, tenant_id)
    lines = await tenant_messages(kafka_bootstrap, STATEMENT_LINES.name, tenant_id)
    assert len(headers) == 1
    assert len(lines) == 7
    assert len({line["message_id"] for line in lines}) == 7
    stored = (await ingest_http.get(f"{pulls}/nordisk")).json()
    assert stored["cursor"][ACCOUNT]["statement_ids"] == ["st-321"]
    assert BANK_TOKEN not in str(stored)


def test_the_bank_pull_migration_goes_down_and_up_on_postgresql(
    database_url: Callable[[str], str],
) -> None:
    url = sync_url(database_url("ingest_migration"))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    engine = create_engine(url)
    try:
        command.upgrade(config, "head")
        assert "bank_pulls" in inspect(engine).get_table_names()
        command.downgrade(config, "0001")
        assert "bank_pulls" not in inspect(engine).get_table_names()
        command.upgrade(config, "head")
        columns = {c["name"] for c in inspect(engine).get_columns("bank_pulls")}
        assert {"auth_secret", "cursor", "lease_expires_at", "last_run"} <= columns
    finally:
        engine.dispose()
