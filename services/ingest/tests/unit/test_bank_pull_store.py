"""The bank-pull store on SQLite, migrated by Alembic: configurations, cursors, the run lease
(one run at a time across instances), and the migration matching the table definition."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine as create_sync_engine

from bankrec.ingest.adapters.sql_bank_pulls import SqlBankPullStore
from bankrec.ingest.adapters.tables import metadata
from bankrec.ingest.bootstrap import MIGRATIONS_DIR
from bankrec.ingest.domain.bank_pulls import (
    AccountCursor,
    AuthKind,
    BankCredentials,
    BankPullSpec,
    ListedStatement,
    PullProblem,
    PullRun,
    RunTrigger,
)
from bankrec.runtime import create_engine, session_factory, sync_url, upgrade_database

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
LEASE = NOW + timedelta(minutes=10)
SPEC = BankPullSpec(
    base_url="https://api.bank.example/v1",
    credentials=BankCredentials(AuthKind.BEARER, "tok-0123456789abcdef"),
    accounts=("a1",),
    fetch_from=datetime(2026, 11, 1, tzinfo=UTC),
)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlBankPullStore]:
    url = f"sqlite:///{tmp_path / 'ingest.sqlite'}"
    await asyncio.to_thread(upgrade_database, url, MIGRATIONS_DIR)
    engine = create_engine(url)
    try:
        yield SqlBankPullStore(session_factory(engine))
    finally:
        await engine.dispose()


def test_the_migration_creates_the_table_as_tables_py_defines_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ingest.sqlite'}"
    upgrade_database(url, MIGRATIONS_DIR)
    engine = create_sync_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
    finally:
        engine.dispose()
    assert [d for d in differences if "bank_pulls" in repr(d)] == []


async def test_a_configuration_round_trips_and_keeps_its_cursor(store: SqlBankPullStore) -> None:
    assert await store.save("t1", "nordea", SPEC, now=NOW, reset_cursor=False) is True
    pull = await store.claim("t1", "nordea", owner="me", now=NOW, lease_until=LEASE)
    assert pull is not None
    assert pull.spec == SPEC
    assert pull.last_started_at == NOW
    cursor = AccountCursor().advanced(
        ListedStatement("st-1", NOW - timedelta(days=1), "https://api.bank.example/f/1")
    )
    await store.save_cursor("t1", "nordea", {"a1": cursor}, owner="me", lease_until=LEASE)
    await store.finish("t1", "nordea", PullRun(RunTrigger.MANUAL, NOW, NOW), owner="me")

    assert await store.save("t1", "nordea", SPEC, now=NOW, reset_cursor=False) is False
    stored = await store.get("t1", "nordea")
    assert stored is not None
    assert stored.cursors == {"a1": cursor}
    assert stored.leased_until is None
    assert stored.last_success_at == NOW
    assert stored.created_at == NOW  # times come back aware, in UTC

    await store.save("t1", "nordea", SPEC, now=NOW, reset_cursor=True)
    reset = await store.get("t1", "nordea")
    assert reset is not None
    assert reset.cursors == {}
    assert reset.cursor_of("a1") == AccountCursor(since=SPEC.fetch_from)


async def test_one_lease_at_a_time_until_it_ends_or_expires(store: SqlBankPullStore) -> None:
    await store.save("t1", "nordea", SPEC, now=NOW, reset_cursor=False)
    assert await store.claim("t1", "nordea", owner="a", now=NOW, lease_until=LEASE)
    assert await store.claim("t1", "nordea", owner="b", now=NOW, lease_until=LEASE) is None
    # the holder died: once its lease is past, another instance takes over
    later = LEASE + timedelta(seconds=1)
    taken = await store.claim(
        "t1", "nordea", owner="b", now=later, lease_until=later + timedelta(minutes=10)
    )
    assert taken is not None
    # the old holder's writes no longer land
    failed = PullRun(RunTrigger.MANUAL, NOW, later, problems=(PullProblem("x", "y"),))
    await store.finish("t1", "nordea", failed, owner="a")
    current = await store.get("t1", "nordea")
    assert current is not None
    assert current.last_run is None
    assert current.running(later)
    assert await store.claim("nope", "nordea", owner="a", now=NOW, lease_until=LEASE) is None


async def test_a_due_claim_loses_to_a_run_that_started_meanwhile(store: SqlBankPullStore) -> None:
    await store.save("t1", "nordea", SPEC, now=NOW, reset_cursor=False)
    [seen] = await store.enabled()
    # another instance runs it and finishes before this scheduler claims
    assert await store.claim("t1", "nordea", owner="other", now=NOW, lease_until=LEASE)
    await store.finish("t1", "nordea", PullRun(RunTrigger.SCHEDULED, NOW, NOW), owner="other")
    late = NOW + timedelta(seconds=5)
    lost = await store.claim_due(
        "t1",
        "nordea",
        last_started_at=seen.last_started_at,
        owner="me",
        now=late,
        lease_until=late + timedelta(minutes=10),
    )
    assert lost is None
    [again] = await store.enabled()
    won = await store.claim_due(
        "t1",
        "nordea",
        last_started_at=again.last_started_at,
        owner="me",
        now=late,
        lease_until=late + timedelta(minutes=10),
    )
    assert won is not None


async def test_disabled_and_deleted_pulls(store: SqlBankPullStore) -> None:
    await store.save("t1", "on", SPEC, now=NOW, reset_cursor=False)
    await store.save("t1", "off", replace(SPEC, enabled=False), now=NOW, reset_cursor=False)
    await store.save("t2", "on", SPEC, now=NOW, reset_cursor=False)
    assert sorted((p.tenant_id, p.name) for p in await store.enabled()) == [
        ("t1", "on"),
        ("t2", "on"),
    ]
    assert [p.name for p in await store.of_tenant("t1")] == ["off", "on"]
    assert await store.delete("t1", "on") is True
    assert await store.delete("t1", "on") is False
    assert await store.get("t1", "on") is None
    assert await store.get("t2", "on") is not None
