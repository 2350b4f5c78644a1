"""Many signed webhooks at once against the real app, PostgreSQL and Kafka (issue 8).

The soak at 10-20 webhooks/s ran ingest out of database connections ("QueuePool limit ...
reached"), logged "Task exception was never retrieved" for accepted files and left them
unread until a restart. Here 200 webhooks arrive at the same moment: every one must be
accepted, every file read and published, every line on the topic exactly once, and no pool
timeout or unretrieved task error logged. The figures (accepted and read per second) are
printed; services/ingest/README.md quotes them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI
from ingest_factories import Entry, LoopErrors, Statement, camt_file

from bankrec.contracts import STATEMENT_LINES
from bankrec.devstack.topics import json_object
from bankrec.ingest.bootstrap import create_app
from bankrec.ingest.domain.credentials import webhook_signature
from bankrec.ingest.settings import IngestSettings

pytestmark = pytest.mark.integration

ADMIN_TOKEN = "load-admin-token"
WEBHOOKS = 200
ENTRIES_PER_STATEMENT = 6  # as the soak's statements (the demo's six entries)
SETTLE_SECONDS = 120.0


def numbered_statement(number: int) -> bytes:
    """The ``number``-th statement of one account: its own id, sequence and bank references."""
    entries = [
        Entry(bank_reference=f"LOAD-{number:04d}-{n}", amount=f"{number + 1}.{n:02d}")
        for n in range(ENTRIES_PER_STATEMENT)
    ]
    return camt_file(
        Statement(
            entries=entries,
            statement_id=f"LOAD-{number:04d}",
            electronic_sequence_number=str(number + 1),
            legal_sequence_number=str(number + 1),
        )
    )


@pytest.fixture
async def loaded_app(
    kafka_bootstrap: str, database_url: Callable[[str], str], tmp_path: Path
) -> AsyncIterator[FastAPI]:
    settings = IngestSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        database_url=database_url("ingest"),
        spool_dir=tmp_path / "spool",
        admin_token=ADMIN_TOKEN,
        bank_pull_enabled=False,
        # the defaults (5 + 10 connections), with a pool timeout short enough that a pool
        # running dry fails this test within its time rather than after minutes
        database_pool_size=5,
        database_max_overflow=10,
        database_pool_timeout_seconds=5.0,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


async def tenant_lines(
    bootstrap: str, tenant_id: str, expected: int, timeout_seconds: float = 60.0
) -> list[str]:
    """Message ids of the tenant's statement lines on the topic: the ``expected`` ones and
    whatever else comes within 1.5 s after them (a duplicate would)."""
    consumer = AIOKafkaConsumer(
        STATEMENT_LINES.name,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",  # published before this reader subscribed
        enable_auto_commit=False,  # a reader, not a group member with offsets
        group_id=None,
    )
    await consumer.start()
    found: list[str] = []

    def take(batch: dict[Any, Any]) -> None:
        for records in batch.values():
            for record in records:
                value = json_object(record.value)
                if value is not None and value.get("tenant_id") == tenant_id:
                    found.append(str(value["message_id"]))

    try:
        async with asyncio.timeout(timeout_seconds):
            while len(found) < expected:
                take(await consumer.getmany(timeout_ms=500, max_records=5000))
        take(await consumer.getmany(timeout_ms=1500, max_records=5000))
    finally:
        await consumer.stop()
    return found


async def test_two_hundred_concurrent_webhooks_are_each_read_and_published_once(
    loaded_app: FastAPI,
    loop_errors: LoopErrors,
    kafka_bootstrap: str,
    tenant_id: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    transport = httpx.ASGITransport(app=loaded_app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://ingest", timeout=120.0
    ) as client:
        issued = await client.post(
            f"/v1/admin/tenants/{tenant_id}/api-keys",
            headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        client.headers["authorization"] = f"Bearer {issued.json()['api_key']}"
        secret = (await client.post(f"/v1/tenants/{tenant_id}/webhook-secret")).json()[
            "webhook_secret"
        ]
        bodies = [numbered_statement(n) for n in range(WEBHOOKS)]

        async def webhook(body: bytes) -> httpx.Response:
            moment = str(int(time.time()))
            return await client.post(
                f"/v1/webhooks/{tenant_id}/statements",
                content=body,
                headers={
                    "x-bankrec-timestamp": moment,
                    "x-bankrec-signature": webhook_signature(secret, moment, body),
                },
            )

        started = time.perf_counter()
        answers = await asyncio.gather(*(webhook(body) for body in bodies))
        accepted_seconds = time.perf_counter() - started
        assert [a.status_code for a in answers] == [202] * WEBHOOKS, [
            a.text for a in answers if a.status_code != 202
        ][:3]

        # drain: the readers finish every queued file (and stop); then each file's status
        async with asyncio.timeout(SETTLE_SECONDS):
            await loaded_app.state.ingest.drain()
        read_seconds = time.perf_counter() - started
        statuses = [
            (await client.get(str(answer.json()["status_url"]))).json()["status"]
            for answer in answers
        ]

    assert set(statuses) == {"published"}
    lines = await tenant_lines(kafka_bootstrap, tenant_id, WEBHOOKS * ENTRIES_PER_STATEMENT)
    published_seconds = time.perf_counter() - started
    assert len(lines) == WEBHOOKS * ENTRIES_PER_STATEMENT
    assert len(set(lines)) == len(lines)  # exactly once each

    logged = [record.getMessage() for record in caplog.records]
    assert not [m for m in logged if "never retrieved" in m or "QueuePool limit" in m]
    assert not [c for c in loop_errors.contexts if "exception" in c], loop_errors.contexts
    print(
        f"\n{WEBHOOKS} concurrent webhooks: all accepted in {accepted_seconds:.2f} s "
        f"({WEBHOOKS / accepted_seconds:.1f}/s), all read in {read_seconds:.2f} s "
        f"({WEBHOOKS / read_seconds:.1f}/s), all {len(lines)} lines on the topic in "
        f"{published_seconds:.2f} s"
    )
