"""The outbox relay publishes every staged row after the broker and PostgreSQL restart
(issue 8: ~190 of 300 journal entries never reached the postings topic in the fault run).

The cause: aiokafka 0.14's idempotent producer fails a batch whose partition had no leader for
``request_timeout_ms`` (30 s: about one restart of the local broker) although the batch
already had its sequence number. The partition's next batch leaves a gap, which the broker
refuses with OutOfOrderSequenceNumber, and so every later one: the relay retried the same
rows for ever through a producer that could no longer write to that partition. Now a failed
pass gives the broker a new producer (``renew_producer``).

The first test makes that gap on purpose (it advances the producer's sequence number of one
partition, as the expired batch did) on the shared broker: deterministic, a few seconds.
The second restarts a private broker mid-stream and then a private PostgreSQL cluster (never
the shared ones) while rows are staged and a FastStream subscriber reads the topic; whether
a batch expires there depends on timing (it did in 2 of 4 runs before the fix). It takes
60-100 s on the shared 2-core machine, nearly all of it the broker starting twice (~30 s
each): a restart is the fault under test, so it cannot be shorter.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream.kafka import KafkaBroker
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bankrec.contracts import Money, OpenItem, OpenItemKind, Topic, envelope_for
from bankrec.devstack.private_infra import PrivateKafka, PrivatePostgres
from bankrec.runtime import (
    OutboxRelay,
    create_broker,
    create_engine,
    ensure_topics,
    outbox_table,
    session_factory,
    stage_message,
)
from bankrec.runtime.kafka import subscriber_options

pytestmark = pytest.mark.integration

metadata = MetaData()
outbox = outbox_table(metadata)
BACK_WITHIN_SECONDS = 30.0  # after the broker (and the database) are back
TOPIC = Topic(
    name="bankrec.test.relay-restarts.v1",
    owner="test",
    payload=OpenItem,
    key="tenant_id:item_id",
    compacted=False,
    description="outbox relay restart test",
)


def _item(number: int) -> OpenItem:
    amount = Money.of("10.00", "NOK")
    return OpenItem(
        item_id=f"INV-{number}", kind=OpenItemKind.INVOICE, amount=amount, remaining=amount
    )


async def _stage(
    sessions: async_sessionmaker[AsyncSession], tenant_id: str, numbers: range
) -> list[str]:
    """Stage one message per number, each in its own transaction (retried while the database
    restarts, as a service's request would be); returns their message ids."""
    staged: list[str] = []
    for number in numbers:
        envelope = envelope_for(_item(number), tenant_id=tenant_id, correlation_id="relay")
        for _attempt in range(120):
            try:
                async with sessions() as session:
                    key = TOPIC.key_for(tenant_id, f"INV-{number}")
                    await stage_message(session, outbox, TOPIC, key, envelope)
                    await session.commit()
                break
            except Exception:  # the database is restarting
                await asyncio.sleep(0.5)
        else:
            raise AssertionError(f"could not stage message {number}: the database stayed away")
        staged.append(envelope.message_id)
    return staged


async def _published_ids(bootstrap_servers: str, topic: str, tenant_id: str) -> list[str]:
    """Every message id of the tenant on the topic, from the beginning to its end now."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(TOPIC.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[str] = []
        remaining = {tp for tp, end in ends.items() if end > 0}
        while remaining:
            for tp, records in (await consumer.getmany(*remaining, timeout_ms=1000)).items():
                for record in records:
                    message = json.loads(record.value or b"{}")
                    if message.get("tenant_id") == tenant_id:
                        found.append(message["message_id"])
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return found
    finally:
        await consumer.stop()


async def _until_relayed(relay: OutboxRelay, timeout_seconds: float) -> float:
    """Seconds until nothing is pending; fails after ``timeout_seconds``."""
    started = time.monotonic()
    while (pending := await relay.pending()) > 0:
        if time.monotonic() - started > timeout_seconds:
            raise AssertionError(
                f"{pending} staged messages still unpublished after {timeout_seconds:.0f} s"
            )
        relay.wake()
        await asyncio.sleep(0.2)
    return time.monotonic() - started


def _aiokafka_producer(broker: KafkaBroker) -> Any:
    return broker.config.producer._producer.producer  # type: ignore[attr-defined]


async def test_a_producer_left_with_a_sequence_gap_is_replaced(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Before the fix every pass failed with OutOfOrderSequenceNumber and nothing after the
    gap was ever published."""
    engine = create_engine(f"sqlite:///{tmp_path / 'relay.sqlite'}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    sessions = session_factory(engine)
    await ensure_topics(kafka_bootstrap, (TOPIC,))
    broker = create_broker(kafka_bootstrap, client_id="relay-gap-test")
    await broker.start()
    tenant_id = f"gap-{uuid.uuid4().hex[:8]}"
    relay = OutboxRelay(broker, sessions, outbox)
    task = asyncio.create_task(relay.run())
    try:
        first = await _stage(sessions, tenant_id, range(0, 30))
        await _until_relayed(relay, 30)
        # what the expired batch left behind: the producer's next sequence number of every
        # partition is ahead of what the broker has
        producer = _aiokafka_producer(broker)
        for partition in range(TOPIC.partitions):
            producer._txn_manager.increment_sequence_number(
                TopicPartition(TOPIC.name, partition), 7
            )
        second = await _stage(sessions, tenant_id, range(30, 60))
        seconds = await _until_relayed(relay, BACK_WITHIN_SECONDS)
        print(f"published after a sequence gap in {seconds:.1f} s")
        assert _aiokafka_producer(broker) is not producer  # it was replaced
        published = await _published_ids(kafka_bootstrap, TOPIC.name, tenant_id)
        assert set(published) == set(first + second)
    finally:
        relay.stop()
        await asyncio.wait_for(task, timeout=10)
        await broker.stop()
        await engine.dispose()


@pytest.fixture
async def private_infra(tmp_path: Path) -> AsyncIterator[tuple[PrivateKafka, PrivatePostgres]]:
    kafka, postgres = PrivateKafka(tmp_path), PrivatePostgres()
    try:
        await asyncio.gather(asyncio.to_thread(kafka.start), asyncio.to_thread(postgres.start))
        yield kafka, postgres
    finally:
        try:
            await asyncio.to_thread(kafka.stop)
        finally:
            await asyncio.to_thread(postgres.remove)


@pytest.mark.timeout(300)
async def test_every_staged_row_is_published_after_broker_and_database_restarts(
    private_infra: tuple[PrivateKafka, PrivatePostgres],
) -> None:
    kafka, postgres = private_infra
    url = await asyncio.to_thread(postgres.create_database, "relay")
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    sessions = session_factory(engine)
    await ensure_topics(kafka.bootstrap_servers, (TOPIC,))
    tenant_id = f"restart-{uuid.uuid4().hex[:8]}"
    broker = create_broker(kafka.bootstrap_servers, client_id="relay-restart-test")
    received: set[str] = set()

    # the reader side: a FastStream subscriber in a group, as the services read
    @broker.subscriber(TOPIC.name, **subscriber_options(f"relay-restart-{tenant_id}"))
    async def on_message(body: Any) -> None:
        message = json.loads(body)
        if message.get("tenant_id") == tenant_id:
            received.add(message["message_id"])

    await broker.start()
    relay = OutboxRelay(broker, sessions, outbox)
    task = asyncio.create_task(relay.run())
    try:
        staged = await _stage(sessions, tenant_id, range(0, 50))
        await _until_relayed(relay, 30)
        # the broker stops while rows keep coming: the relay's batches wait in the producer
        stopping = asyncio.create_task(asyncio.to_thread(kafka.stop))
        staged += await _stage(sessions, tenant_id, range(50, 100))
        await stopping
        staged += await _stage(sessions, tenant_id, range(100, 150))
        await asyncio.to_thread(kafka.start)
        staged += await _stage(sessions, tenant_id, range(150, 200))
        broker_seconds = await _until_relayed(relay, BACK_WITHIN_SECONDS)
        # then PostgreSQL crash-restarts under the relay's pooled connections
        await asyncio.to_thread(postgres.restart)
        staged += await _stage(sessions, tenant_id, range(200, 250))
        database_seconds = await _until_relayed(relay, BACK_WITHIN_SECONDS)
        print(
            f"relayed {len(staged)} messages: {broker_seconds:.1f} s after the broker was back, "
            f"{database_seconds:.1f} s after PostgreSQL was back"
        )
        assert not task.done(), "the relay loop ended"
        published = await _published_ids(kafka.bootstrap_servers, TOPIC.name, tenant_id)
        assert set(staged) <= set(published)  # at least once; consumers dedupe by message id
        for _ in range(int(BACK_WITHIN_SECONDS / 0.5)):  # the subscriber catches up
            if set(staged) <= received:
                break
            await asyncio.sleep(0.5)
        assert set(staged) - received == set(), "the subscriber stopped reading"
    finally:
        relay.stop()
        await asyncio.wait_for(task, timeout=10)
        await broker.stop()
        await engine.dispose()
