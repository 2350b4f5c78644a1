"""Inbox, outbox and dead letters: effects and the messages they cause leave together.

A consumer records the message id it processed in the same transaction as its effect
(inbox); a change that causes messages stages them in the same transaction (outbox), and
the relay publishes them afterwards. Together with at-least-once delivery this gives
exactly-once effects.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import json
import logging
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from faststream.kafka import KafkaBroker
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bankrec.contracts import DEAD_LETTERS, DECISIONS, DeadLetter, Envelope, Topic, envelope_for
from bankrec.runtime.kafka import JSON_HEADERS, encode_envelope, key_bytes, renew_producer
from bankrec.runtime.metrics import metrics_of
from bankrec.runtime.tracing import STAGED_TRACE_CONTEXTS, message_id_of

log = logging.getLogger(__name__)

DEAD_LETTER_VALUE_CHARS_MAX = 100_000
"""Longest original value a dead letter carries: even escaped six-fold in JSON it stays under
the producer's 1 MiB request limit."""
ORIGINAL_SHA256_HEADER = "bankrec-original-sha256"
ORIGINAL_HEADERS_HEADER = "bankrec-original-headers"
ACKNOWLEDGEMENT_SECONDS_MAX = 45.0
"""Longest the relay waits for the broker to acknowledge a batch: longer than the producer's
request timeout (30 s), so only a wedged producer reaches it."""
RELAY_BACKOFF_SECONDS = (0.5, 1.0, 2.0, 4.0)
"""Waits after consecutive failed relay passes (the last one repeats): short, so the relay
resumes within seconds of the broker or the database coming back."""
PUBLISHED_KEPT_SECONDS = 3600.0
"""How long a published outbox row stays, to look up what a service sent lately; the relay
deletes older ones, so the table holds the last hour's messages rather than every message ever
sent (the topics keep them). Measured before: the ledger's outbox grew by 68,000 rows, about
90 MB, per 20,000 statement lines, and never shrank."""
PURGE_EVERY_SECONDS = 60.0
"""How often the relay deletes the published rows older than it keeps them."""
PURGE_BATCH_ROWS = 5_000
"""Rows deleted per transaction: a backlog goes in short transactions, not one long one."""


class AcknowledgementTimeoutError(TimeoutError):
    """The broker did not acknowledge an outbox batch in time; the batch is sent again."""


def inbox_table(metadata: MetaData, name: str = "inbox") -> Table:
    """The processed message ids per consumer (``name``: another table of the same shape, e.g.
    the claims a rebuild keeps)."""
    return Table(
        name,
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
        # published_at's own index finds the rows old enough to delete (``forget_published``)
        Column("published_at", DateTime(timezone=True), nullable=True, index=True),
        # the relay's "next unpublished rows in id order": with published_at's index alone,
        # PostgreSQL walked the id order past every published row still kept (measured: 20,000
        # rows read per relay pass at 20,000 lines)
        Index(
            "ix_outbox_unpublished",
            "id",
            postgresql_where=text("published_at IS NULL"),
            sqlite_where=text("published_at IS NULL"),
        ),
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
    """Stage a message in the caller's transaction; the relay publishes it after commit,
    in the trace this runs in (when tracing is on)."""
    STAGED_TRACE_CONTEXTS.remember(envelope.message_id, caused_by=envelope.causation_id)
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


async def stage_many(
    session: AsyncSession,
    outbox: Table,
    messages: Sequence[tuple[Topic, str, Envelope[Any]]],
) -> None:
    """``stage_message`` for several (topic, key, envelope) in one executemany insert; the
    rows get ids in the order given, so the relay publishes them in that order."""
    if not messages:
        return
    staged_at = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for topic, key, envelope in messages:
        STAGED_TRACE_CONTEXTS.remember(envelope.message_id, caused_by=envelope.causation_id)
        rows.append(
            {
                "topic": topic.name,
                "message_key": key,
                "message_type": envelope.type,
                "value": encode_envelope(envelope),
                "created_at": staged_at,
                "published_at": None,
            }
        )
    await session.execute(insert(outbox), rows)


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
        keep_published_seconds: float = PUBLISHED_KEPT_SECONDS,
    ) -> None:
        self._broker = broker
        self._sessions = sessions
        self._outbox = outbox
        self._batch_size = batch_size
        self._idle_seconds = idle_seconds
        self._keep_published = timedelta(seconds=keep_published_seconds)
        self._purge_due = time.monotonic() + PURGE_EVERY_SECONDS
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
            traced = bool(STAGED_TRACE_CONTEXTS)
            message_ids: list[str] = []
            try:
                await self._publish(rows, message_ids, traced)
            except Exception:
                # a broker restart can leave the idempotent producer refusing every later
                # batch (OutOfOrderSequenceNumber): the next pass sends through a new one
                if isinstance(self._broker, KafkaBroker) and await renew_producer(self._broker):
                    log.warning("outbox relay: Kafka producer replaced after a failed batch")
                raise
            await session.execute(
                update(self._outbox)
                .where(self._outbox.c.id.in_([row.id for row in rows]))
                .values(published_at=datetime.now(UTC))
            )
            await session.commit()
            STAGED_TRACE_CONTEXTS.forget(message_ids)
            self._count_relayed(rows)
            return len(rows)

    async def _publish(self, rows: Any, message_ids: list[str], traced: bool) -> None:
        """Hand every row to the producer, then wait (bounded) until the broker has them all."""
        acknowledgements: list[Any] = []
        try:
            for row in rows:
                value = bytes(row.value)
                message_id = message_id_of(value) if traced else None
                if message_id is not None:
                    message_ids.append(message_id)
                with STAGED_TRACE_CONTEXTS.resumed(message_id):
                    acknowledgements.append(
                        await self._broker.publish(
                            value,
                            topic=row.topic,
                            key=key_bytes(row.message_key),
                            headers={**JSON_HEADERS, "bankrec-type": row.message_type},
                            no_confirm=True,  # the producer keeps per-partition order
                        )
                    )
        finally:
            # every acknowledgement is observed, even when handing over failed
            outcomes = await _acknowledgements(acknowledgements, ACKNOWLEDGEMENT_SECONDS_MAX)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    def _count_relayed(self, rows: Any) -> None:
        metrics = metrics_of(self._broker) or metrics_of(self)
        if metrics is None:
            return
        for topic, count in Counter(row.topic for row in rows).items():
            metrics.outbox_relayed.labels(topic=topic).inc(count)
        for row in rows:
            if row.topic == DECISIONS.name:  # decisions staged in an outbox, not published
                decision = _decision_kind_and_rule(bytes(row.value))
                if decision is not None:
                    metrics.record_decision(*decision)

    async def forget_published(self, now: datetime | None = None) -> int:
        """Delete the rows published longer ago than the relay keeps them (``now``: the time
        to count from, default the present); returns how many. Unpublished rows are never
        touched, however old."""
        cutoff = (now or datetime.now(UTC)) - self._keep_published
        outbox = self._outbox
        oldest = (
            select(outbox.c.id)
            .where(outbox.c.published_at < cutoff)
            .order_by(outbox.c.published_at)
            .limit(PURGE_BATCH_ROWS)
        )
        total = 0
        while True:
            async with self._sessions() as session:
                deleted = await session.execute(
                    delete(outbox).where(outbox.c.id.in_(oldest.scalar_subquery()))
                )
                await session.commit()
            count = int(getattr(deleted, "rowcount", 0) or 0)
            total += count
            if count < PURGE_BATCH_ROWS:
                return total

    async def _forget_published_when_due(self) -> None:
        """``forget_published`` every ``PURGE_EVERY_SECONDS``; a failure is logged and tried
        again at the next turn, never stopping the relay."""
        if time.monotonic() < self._purge_due:
            return
        self._purge_due = time.monotonic() + PURGE_EVERY_SECONDS
        try:
            forgotten = await self.forget_published()
        except Exception as exc:
            log.warning(
                "outbox: deleting published rows failed (%s: %s); tried again in %.0f s",
                type(exc).__name__,
                str(exc)[:300],
                PURGE_EVERY_SECONDS,
            )
            return
        if forgotten:
            log.info(
                "outbox: %d rows published over %s ago deleted", forgotten, self._keep_published
            )

    async def pending(self) -> int:
        """How many staged messages wait to be published."""
        async with self._sessions() as session:
            found = await session.execute(
                select(func.count())
                .select_from(self._outbox)
                .where(self._outbox.c.published_at.is_(None))
            )
            return int(found.scalar_one())

    async def run(self) -> None:
        """Relay until ``stop``: every failure (broker or database away, a producer that must
        be replaced) is logged and retried after a short backoff; only cancelling the task
        ends it early. Without a wake-up it still looks every ``idle_seconds * 20``."""
        failures = 0
        while not self._stopping:
            # cleared before the batch, so a wake() or stop() during it is not lost
            self._wake.clear()
            try:
                published = await self.relay_once()
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is None or task.cancelling():
                    raise  # stopping
                published = -1  # a cancelled future inside a pass: a failure like any other
                error: BaseException = asyncio.CancelledError()
            except Exception as exc:
                published, error = -1, exc
            if published < 0:
                backoff = RELAY_BACKOFF_SECONDS[min(failures, len(RELAY_BACKOFF_SECONDS) - 1)]
                failures += 1
                log.warning(
                    "outbox relay pass %d failed (%s: %s); retrying in %.1f s",
                    failures,
                    type(error).__name__,
                    str(error)[:300],
                    backoff,
                    exc_info=error if failures == 1 else None,  # the traceback once a streak
                )
                await asyncio.sleep(backoff)
                continue
            if failures:
                log.warning("outbox relay resumed after %d failed passes", failures)
                failures = 0
            await self._forget_published_when_due()
            if published == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._idle_seconds * 20)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()


def _decision_kind_and_rule(value: bytes) -> tuple[str, str] | None:
    try:
        payload = json.loads(value)["payload"]
        return str(payload["kind"]), str(payload.get("rule") or "")
    except (ValueError, KeyError, TypeError):
        return None  # not a decision envelope: nothing to count


async def _acknowledgements(handed_over: list[Any], timeout_seconds: float) -> list[Any]:
    """The outcome of each acknowledgement (a result or an exception), waiting at most
    ``timeout_seconds``: an idempotent aiokafka producer retries a batch without end, so an
    unbounded wait could hold the relay (and its lock) for ever."""
    waiting = [asyncio.ensure_future(a) for a in handed_over if inspect.isawaitable(a)]
    if not waiting:
        return []
    _done, late = await asyncio.wait(waiting, timeout=timeout_seconds)
    for future in late:
        # no one awaits it any more: observe its eventual exception so none goes unretrieved
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
    late_error = AcknowledgementTimeoutError(
        f"{len(late)} of {len(waiting)} outbox messages not acknowledged by Kafka within "
        f"{timeout_seconds:.0f} s; they are sent again"
    )
    return [late_error if future in late else _outcome(future) for future in waiting]


def _outcome(future: asyncio.Future[Any]) -> Any:
    if future.cancelled():  # raising CancelledError here would end the relay's task
        return AcknowledgementTimeoutError("the producer dropped an outbox message unsent")
    return future.exception() or future.result()


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
    """Send a refused message to the dead-letter topic with the reason.

    The original's Kafka headers (of the message the handler is consuming) and the SHA-256 of
    its bytes travel as headers of the dead letter, so a replay can restore the message and
    tell whether ``original_value`` still holds it exactly (it does not when the bytes were
    not UTF-8 or were cut to ``DEAD_LETTER_VALUE_CHARS_MAX``)."""
    raw = bytes(raw_value) if isinstance(raw_value, bytes | bytearray) else str(raw_value).encode()
    text = raw.decode("utf-8", errors="replace")
    if len(text) > DEAD_LETTER_VALUE_CHARS_MAX:
        # a value near the broker's size limit made a dead letter over it: publishing failed,
        # so the message was never acknowledged and came again for ever
        reason = f"{reason[:1500]} (original value cut from {len(raw)} bytes)"
        text = text[:DEAD_LETTER_VALUE_CHARS_MAX]
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
    try:
        await broker.publish(
            encode_envelope(envelope),
            topic=DEAD_LETTERS.name,
            key=key_bytes(key or "unknown"),
            headers={
                **JSON_HEADERS,
                ORIGINAL_SHA256_HEADER: hashlib.sha256(raw).hexdigest(),
                ORIGINAL_HEADERS_HEADER: json.dumps(_consumed_headers(broker)),
            },
        )
    except Exception:
        # the message comes again (not acknowledged); a wedged producer must not refuse it
        # for ever (see renew_producer)
        if isinstance(broker, KafkaBroker):
            await renew_producer(broker)
        raise
    metrics = metrics_of(broker)
    if metrics is not None:
        metrics.dead_letters.labels(
            consumer=consumer, source_topic=source_topic, reason_code=reason_code
        ).inc()
    log.warning("dead-lettered message from %s: %s (%s)", source_topic, reason_code, reason[:200])


def _consumed_headers(broker: KafkaBroker) -> dict[str, str]:
    """The Kafka headers of the message the calling handler consumes ({} outside a handler)."""
    context = getattr(broker, "context", None)  # a recording stand-in in tests has none
    message = context.get_local("message") if context is not None else None
    record = getattr(message, "raw_message", None)
    headers = getattr(record, "headers", None) or ()
    return {
        str(name): bytes(value).decode("utf-8", errors="replace")
        for name, value in headers
        if isinstance(value, bytes | bytearray)
    }
