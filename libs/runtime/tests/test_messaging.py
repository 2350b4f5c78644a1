"""Inbox and outbox against SQLite and the real PostgreSQL; the relay against the real broker."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import MetaData, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bankrec.contracts import OPEN_ITEMS, Money, OpenItem, OpenItemKind, Topic, envelope_for
from bankrec.runtime import (
    OutboxRelay,
    claim_inbox,
    create_broker,
    create_engine,
    ensure_topics,
    inbox_table,
    messaging,
    outbox_table,
    session_factory,
    stage_message,
)

metadata = MetaData()
inbox = inbox_table(metadata)
outbox = outbox_table(metadata)


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'runtime.sqlite'}"
    else:  # only PostgreSQL runs need the server
        database_url: Callable[[str], str] = request.getfixturevalue("database_url")
        url = database_url("runtime")
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


def _item(item_id: str) -> OpenItem:
    amount = Money.of("100.00", "NOK")
    return OpenItem(item_id=item_id, kind=OpenItemKind.INVOICE, amount=amount, remaining=amount)


@pytest.mark.integration
async def test_a_message_is_claimed_once(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    message_id = str(uuid.uuid4())
    async with sessions() as session:
        assert await claim_inbox(session, inbox, "ledger", message_id) is True
        await session.commit()
    async with sessions() as session:
        assert await claim_inbox(session, inbox, "ledger", message_id) is False
        assert await claim_inbox(session, inbox, "matcher", message_id) is True
        await session.commit()


@pytest.mark.integration
async def test_a_rolled_back_effect_leaves_no_claim_and_no_message(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    message_id = str(uuid.uuid4())
    async with sessions() as session:
        assert await claim_inbox(session, inbox, "ledger", message_id)
        envelope = envelope_for(_item("INV-1"), tenant_id="t1", correlation_id="c")
        await stage_message(session, outbox, OPEN_ITEMS, "t1:INV-1", envelope)
        await session.rollback()
    async with sessions() as session:
        assert await claim_inbox(session, inbox, "ledger", message_id) is True
        staged = await session.scalar(select(func.count()).select_from(outbox))
        assert staged == 0


@pytest.mark.integration
async def test_relay_publishes_staged_messages_in_order(
    engine: AsyncEngine, kafka_bootstrap: str, tenant_id: str
) -> None:
    topic = Topic(
        name=f"bankrec.test.relay-{uuid.uuid4().hex[:8]}.v1",
        owner="test",
        payload=OpenItem,
        key="tenant_id:item_id",
        compacted=False,
        description="relay test",
        partitions=1,
    )
    await ensure_topics(kafka_bootstrap, (topic,))
    sessions = session_factory(engine)
    async with sessions() as session:
        for n in range(5):
            envelope = envelope_for(_item(f"INV-{n}"), tenant_id=tenant_id, correlation_id="c")
            await stage_message(session, outbox, topic, f"{tenant_id}:INV-{n}", envelope)
        await session.commit()

    broker = create_broker(kafka_bootstrap, client_id="runtime-test")
    await broker.start()
    try:
        relay = OutboxRelay(broker, sessions, outbox)
        assert await relay.relay_once() == 5
        assert await relay.relay_once() == 0  # marked published, not sent twice
    finally:
        await broker.stop()

    consumer = AIOKafkaConsumer(
        topic.name,
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        received: list[str] = []
        async with asyncio.timeout(30):
            while len(received) < 5:
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    received += [json.loads(r.value)["payload"]["item_id"] for r in records]
    finally:
        await consumer.stop()
    assert received == [f"INV-{n}" for n in range(5)]


class _AcceptingPublisher:
    """Takes every message at once (the relay's bookkeeping is under test, not the broker)."""

    def __init__(self) -> None:
        self.sent = 0

    async def publish(self, message: Any, topic: str = "", **_options: Any) -> None:
        self.sent += 1


@pytest.mark.integration
async def test_published_rows_are_forgotten_after_the_time_kept_and_unpublished_ones_never(
    engine: AsyncEngine, tenant_id: str
) -> None:
    sessions = session_factory(engine)

    async def stage(count: int) -> None:
        async with sessions() as session:
            for n in range(count):
                envelope = envelope_for(_item(f"INV-{n}"), tenant_id=tenant_id, correlation_id="c")
                await stage_message(session, outbox, OPEN_ITEMS, f"{tenant_id}:INV-{n}", envelope)
            await session.commit()

    async def rows() -> tuple[int, int]:
        async with sessions() as session:
            published = await session.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.published_at.is_not(None))
            )
            waiting = await session.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            )
        return int(published or 0), int(waiting or 0)

    publisher = _AcceptingPublisher()
    relay = OutboxRelay(publisher, sessions, outbox, keep_published_seconds=3600)
    await stage(7)
    assert await relay.relay_all() == 7
    await stage(2)  # staged, not yet published: kept however old
    assert await rows() == (7, 2)

    now = datetime.now(UTC)
    assert await relay.forget_published(now) == 0  # published just now: kept
    assert await relay.forget_published(now + timedelta(minutes=59)) == 0
    assert await rows() == (7, 2)
    with patch.object(messaging, "PURGE_BATCH_ROWS", 3):  # several short transactions
        assert await relay.forget_published(now + timedelta(hours=2)) == 7
    assert await rows() == (0, 2)
    assert await relay.relay_all() == 2
    assert publisher.sent == 9
