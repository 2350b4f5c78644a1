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

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bankrec.contracts import Topic
from bankrec.ledger.adapters import SqlLedgerViews, sql_transactions
from bankrec.ledger.adapters.tables import outbox
from bankrec.ledger.bootstrap import MIGRATIONS_DIR
from bankrec.ledger.use_cases import Ledger
from bankrec.runtime import create_engine, session_factory, upgrade_database

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


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
    ledger = Ledger(sql_transactions(sessions), SqlLedgerViews(sessions), clock=lambda: NOW)
    return Books(ledger, sessions, tenant_id, ledger_engine.dialect.name)
