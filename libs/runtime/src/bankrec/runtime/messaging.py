"""Inbox, outbox and dead letters: effects and the messages they cause leave together.

A consumer records the message id it processed in the same transaction as its effect
(inbox); a change that causes messages stages them in the same transaction (outbox), and
the relay publishes them afterwards. Together with at-least-once delivery this gives
exactly-once effects.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from datetime import UTC, datetime
from typing import Any, Protocol

from faststream.kafka import KafkaBroker
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bankrec.contracts import DEAD_LETTERS, DeadLetter, Envelope, Topic, envelope_for
from bankrec.runtime.kafka import JSON_HEADERS, encode_envelope, key_bytes

log = logging.getLogger(__name__)


def inbox_table(metadata: MetaData) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("message_id", String(100), primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False),
    )


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column(
            "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
        Column("topic", String(200), nullable=False),
        Column("message_key", String(200), nullable=False),
        Column("message_type", String(100), nullable=False),
        Column("value", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("published_at", DateTime(timezone=True), nullable=True, index=True),
    )


async def claim_inbox(session: AsyncSession, inbox: Table, consumer: str, message_id: str) -> bool:
    """Record a message as processed in the caller's transaction.

    Returns False when it was processed before (the caller then does nothing).
    """
    found = await session.execute(
        select(inbox.c.message_id).where(
            inbox.c.consumer == consumer, inbox.c.message_id == message_id
        )
    )
    if found.first() is not None:
        return False
    try:
        async with session.begin_nested():
            await session.execute(
                insert(inbox).values(
                    consumer=consumer, message_id=message_id, processed_at=datetime.now(UTC)
                )
            )
    except IntegrityError:
        return False
    return True


async def stage_message(
    session: AsyncSession, outbox: Table, topic: Topic, key: str, envelope: Envelope[Any]
) -> None:
    """Stage a message in the caller's transaction; the relay publishes it after commit."""
    await session.execute(
        insert(outbox).values(
            topic=topic.name,
            message_key=key,
            message_type=envelope.type,
            value=encode_envelope(envelope),
            created_at=datetime.now(UTC),
            published_at=None,
        )
    )


class RawPublisher(Protocol):
    """What the relay publishes through: a FastStream ``KafkaBroker``, or a recorder in tests.

    With ``no_confirm=True`` the broker returns the acknowledgement as an awaitable instead
    of waiting for it, so a batch is pipelined rather than sent one round trip at a time.
    """

    async def publish(
        self,
        message: Any,
        topic: str = ...,
        *,
        key: bytes | Any = ...,
        headers: dict[str, str] | None = ...,
        no_confirm: bool = ...,
    ) -> Any: ...


class OutboxRelay:
    """Publishes staged messages in order, marking each batch published after the broker acks.

    A crash between publish and mark re-publishes the batch: consumers dedupe by message id.
    One relay pass runs at a time per process (``relay_once`` may be called from a request
    that wants its messages out now while the background loop runs), so no row is sent twice
    by the same process.
    """

    def __init__(
        self,
        broker: KafkaBroker | RawPublisher,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Table,
        *,
        batch_size: int = 500,
        idle_seconds: float = 0.05,
    ) -> None:
        self._broker = broker
        self._sessions = sessions
        self._outbox = outbox
        self._batch_size = batch_size
        self._idle_seconds = idle_seconds
        self._wake = asyncio.Event()
        self._stopping = False
        self._lock = asyncio.Lock()

    def wake(self) -> None:
        self._wake.set()

    async def relay_once(self) -> int:
        """Publish one batch of staged messages; returns how many were published."""
        async with self._lock:
            return await self._relay_batch()

    async def relay_all(self) -> int:
        """Publish every staged message; returns how many were published."""
        total = 0
        while published := await self.relay_once():
            total += published
        return total

    async def _relay_batch(self) -> int:
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(
                        self._outbox.c.id,
                        self._outbox.c.topic,
                        self._outbox.c.message_key,
                        self._outbox.c.message_type,
                        self._outbox.c.value,
                    )
                    .where(self._outbox.c.published_at.is_(None))
                    .order_by(self._outbox.c.id)
                    .limit(self._batch_size)
                )
            ).all()
            if not rows:
                return 0
            acknowledgements: list[Any] = []
            try:
                for row in rows:
                    acknowledgements.append(
                        await self._broker.publish(
                            bytes(row.value),
                            topic=row.topic,
                            key=key_bytes(row.message_key),
                            headers={**JSON_HEADERS, "bankrec-type": row.message_type},
                            no_confirm=True,  # the producer keeps per-partition order
                        )
                    )
            finally:
                # every acknowledgement is observed, even when handing over failed
                outcomes = await asyncio.gather(
                    *(a for a in acknowledgements if inspect.isawaitable(a)),
                    return_exceptions=True,
                )
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome
            await session.execute(
                update(self._outbox)
                .where(self._outbox.c.id.in_([row.id for row in rows]))
                .values(published_at=datetime.now(UTC))
            )
            await session.commit()
            return len(rows)

    async def run(self) -> None:
        while not self._stopping:
            # cleared before the batch, so a wake() or stop() during it is not lost
            self._wake.clear()
            try:
                published = await self.relay_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the broker or database is away; try again shortly
                log.exception("outbox relay failed; retrying")
                await asyncio.sleep(1.0)
                continue
            if published == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._idle_seconds * 20)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()


async def publish_dead_letter(
    broker: KafkaBroker,
    *,
    consumer: str,
    source_topic: str,
    reason_code: str,
    reason: str,
    raw_value: bytes | str | Any,
    raw_key: bytes | None = None,
    partition: int | None = None,
    offset: int | None = None,
    tenant_id: str = "unknown",
) -> None:
    """Send a refused message to the dead-letter topic with the reason."""
    if isinstance(raw_value, bytes | bytearray):
        text = bytes(raw_value).decode("utf-8", errors="replace")
    else:
        text = str(raw_value)
    key = raw_key.decode("utf-8", errors="replace") if raw_key else None
    dead = DeadLetter(
        source_topic=source_topic,
        source_partition=partition,
        source_offset=offset,
        consumer=consumer,
        reason_code=reason_code,
        reason=reason[:2000],
        original_key=key,
        original_value=text,
        failed_at=datetime.now(UTC),
    )
    envelope = envelope_for(dead, tenant_id=tenant_id, correlation_id=f"{source_topic}:{offset}")
    await broker.publish(
        encode_envelope(envelope),
        topic=DEAD_LETTERS.name,
        key=key_bytes(key or "unknown"),
        headers=JSON_HEADERS,
    )
    log.warning("dead-lettered message from %s: %s (%s)", source_topic, reason_code, reason[:200])
