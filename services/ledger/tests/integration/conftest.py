"""The ledger on a real database: the same suite runs on SQLite and on PostgreSQL.

One migrated database per backend per session; each test uses its own tenant.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from ledger_factories import TENANT_KEYS, auth_headers
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bankrec.contracts import (
    DEAD_LETTERS,
    DECISIONS,
    OPEN_ITEMS,
    POSTING_RULES,
    POSTINGS,
    REFUSED_DECISIONS,
    Topic,
)
from bankrec.ledger import LedgerSettings, create_app
from bankrec.ledger.adapters import SqlLedgerViews, sql_transactions
from bankrec.ledger.adapters.tables import outbox
from bankrec.ledger.bootstrap import MIGRATIONS_DIR
from bankrec.ledger.chart_book import ChartBook
from bankrec.ledger.manual_work import ManualWork
from bankrec.ledger.posting_rule_book import PostingRuleBook
from bankrec.ledger.use_cases import Ledger
from bankrec.runtime import (
    JSON_HEADERS,
    create_broker,
    create_engine,
    session_factory,
    upgrade_database,
)

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ACCOUNT = "acc-0000000000000000demo"
PUBLISHED_TOPICS = (OPEN_ITEMS, POSTINGS, REFUSED_DECISIONS, POSTING_RULES, DEAD_LETTERS)


@pytest.fixture(
    scope="session",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)],
)
def ledger_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A migrated ledger database: SQLite, and PostgreSQL from the repo's ``database_url``."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'ledger.sqlite'}"
    else:
        database_url: Callable[[str], str] = request.getfixturevalue("database_url")
        url = database_url("ledger")
    upgrade_database(url, MIGRATIONS_DIR)
    return url


@pytest.fixture(scope="session")
async def ledger_engine(ledger_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(ledger_database_url)
    yield engine
    await engine.dispose()


@dataclass
class Books:
    """The ledger's use cases plus a look at what they staged in the outbox."""

    ledger: Ledger
    sessions: async_sessionmaker[AsyncSession]
    tenant_id: str
    dialect: str
    manual: ManualWork
    rules: PostingRuleBook
    chart: ChartBook

    async def staged(self, topic: Topic) -> list[tuple[str, dict[str, Any]]]:
        """(key, envelope as JSON) of this tenant's staged messages on a topic, in order."""
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    select(outbox.c.message_key, outbox.c.value)
                    .where(
                        outbox.c.topic == topic.name,
                        outbox.c.message_key.startswith(f"{self.tenant_id}:"),
                    )
                    .order_by(outbox.c.id)
                )
            ).all()
        return [(row.message_key, json.loads(bytes(row.value))) for row in rows]

    async def gather(self, *calls: Any) -> list[Any]:
        return list(await asyncio.gather(*calls, return_exceptions=True))


@pytest.fixture
def books(ledger_engine: AsyncEngine, tenant_id: str) -> Books:
    sessions = session_factory(ledger_engine)
    transactions, views = sql_transactions(sessions), SqlLedgerViews(sessions)
    ledger = Ledger(transactions, views, clock=lambda: NOW)
    manual = ManualWork(transactions, views, clock=lambda: NOW)
    rules = PostingRuleBook(transactions, views, clock=lambda: NOW)
    chart = ChartBook(transactions, views, clock=lambda: NOW)
    return Books(ledger, sessions, tenant_id, ledger_engine.dialect.name, manual, rules, chart)


@dataclass
class Service:
    http: httpx.AsyncClient
    broker: KafkaBroker
    tenant_id: str
    published: dict[str, list[bytes]]

    def url(self, path: str) -> str:
        return f"/v1/tenants/{self.tenant_id}{path}"

    async def wait_published(self, topic: str, count: int, timeout_seconds: float = 10.0) -> None:
        """Wait until the outbox relay has sent ``count`` messages on ``topic``."""
        for _ in range(int(timeout_seconds / 0.02)):
            if len(self.published[topic]) >= count:
                return
            await asyncio.sleep(0.02)
        raise TimeoutError(f"{len(self.published[topic])} of {count} messages on {topic}")

    def mine(self, topic: str) -> list[dict[str, Any]]:
        """This tenant's messages the relay sent on ``topic`` (the database is shared by
        the session's tests, so the relay also sends what other tests staged)."""
        decoded = [json.loads(body) for body in self.published[topic]]
        return [message for message in decoded if message.get("tenant_id") == self.tenant_id]

    async def wait_mine(
        self, topic: str, count: int, timeout_seconds: float = 10.0
    ) -> list[dict[str, Any]]:
        """Wait until ``count`` of this tenant's messages are sent on ``topic``; return them."""
        for _ in range(int(timeout_seconds / 0.02)):
            if len(self.mine(topic)) >= count:
                return self.mine(topic)
            await asyncio.sleep(0.02)
        raise TimeoutError(f"{len(self.mine(topic))} of {count} messages on {topic}")

    async def deliver(self, body: bytes, key: str | None = None) -> None:
        """Deliver one message on the decisions topic, as Kafka would."""
        await self.broker.publish(
            body,
            topic=DECISIONS.name,
            key=(key or f"{self.tenant_id}:{ACCOUNT}").encode(),
            headers=JSON_HEADERS,
        )


@pytest.fixture
async def service(ledger_database_url: str, tenant_id: str) -> AsyncIterator[Service]:
    settings = LedgerSettings(database_url=ledger_database_url, import_bytes_max=64 * 1024)
    broker = create_broker("127.0.0.1:1", client_id="bankrec-ledger-test")
    published: dict[str, list[bytes]] = {t.name: [] for t in PUBLISHED_TOPICS}
    app = create_app(settings, broker=broker, create_topics=False, tenant_keys=TENANT_KEYS)

    for topic in published:

        @broker.subscriber(topic)
        async def collect(message: KafkaMessage) -> None:
            published[message.raw_message.topic].append(message.body)

    async with TestKafkaBroker(broker), app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://ledger", headers=auth_headers(tenant_id)
        ) as http:
            yield Service(http, broker, tenant_id, published)
