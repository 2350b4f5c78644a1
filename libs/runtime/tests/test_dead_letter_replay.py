"""Dead-letter replay: which dead letters a replay picks (pure), and on the real broker and
PostgreSQL a message refused by a consumer, dead-lettered, replayed after the fix and processed
once; replayed again, still processed once (by the replay log, and without it by the inbox)."""

from __future__ import annotations

import asyncio
import hashlib
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from sqlalchemy import Column, MetaData, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bankrec.contracts import DeadLetter, Money, OpenItem, OpenItemKind, envelope_for
from bankrec.runtime import (
    MessageDecodeError,
    claim_inbox,
    create_broker,
    create_engine,
    decode_payload,
    encode_envelope,
    inbox_table,
    publish_dead_letter,
    session_factory,
    subscriber_options,
)
from bankrec.runtime.dead_letter_replay import (
    REPLAY_OF_HEADER,
    DeadLetterReplayError,
    DeadLetterSelection,
    ReplayLog,
    StoredDeadLetter,
    plan_replay,
    read_dead_letters,
    replay_dead_letters,
)

TIMEOUT_SECONDS = 60.0


def _stored(
    dead_letter_id: str,
    *,
    topic: str = "bankrec.ingest.statement-lines.v1",
    offset: int = 7,
    reason_code: str = "undecodable_message",
    value: str = '{"ok": true}',
    sha256: str | None = None,
) -> StoredDeadLetter:
    letter = DeadLetter(
        source_topic=topic,
        source_partition=0,
        source_offset=offset,
        consumer="bankrec-reconciler",
        reason_code=reason_code,
        reason="why",
        original_key="t1:acct",
        original_value=value,
        failed_at=datetime(2026, 11, 23, tzinfo=UTC),
    )
    return StoredDeadLetter(dead_letter_id, 0, offset, letter, {}, sha256)


def test_a_replay_picks_the_selected_letters_once_and_refuses_what_it_cannot_restore() -> None:
    lines = "bankrec.ingest.statement-lines.v1"
    letters = [
        _stored("a", offset=1),
        _stored("b", offset=2, reason_code="currency_mismatch"),
        _stored("c", offset=3),
        _stored("d", offset=4, sha256=hashlib.sha256(b"other bytes").hexdigest()),
        _stored("e", offset=5, sha256=hashlib.sha256(b'{"ok": true}').hexdigest()),
        _stored("f", offset=5),  # the same original, refused by a second consumer
        _stored("g", topic="bankrec.ledger.open-items.v1", offset=1),
        _stored("h", topic="bankrec.matcher.decisions.v1", offset=2),
    ]
    selection = DeadLetterSelection(source_topic=lines, offset_from=1, offset_to=5)
    plan = plan_replay(letters, selection, {"c"}, {"bankrec.ledger.open-items.v1"})
    assert [s.dead_letter_id for s in plan.to_replay] == ["a", "b", "e"]
    assert [s.dead_letter_id for s in plan.already_replayed] == ["c", "f"]
    assert [(s.dead_letter_id, "original bytes" in why) for s, why in plan.refused] == [("d", True)]

    by_reason = DeadLetterSelection(source_topic=lines, reason_code="currency_mismatch")
    assert [s.dead_letter_id for s in plan_replay(letters, by_reason, set(), set()).to_replay] == [
        "b"
    ]
    compacted = plan_replay(
        letters,
        DeadLetterSelection(dead_letter_ids=frozenset({"g"})),
        set(),
        {letters[6].letter.source_topic},
    )
    assert compacted.to_replay == ()
    assert "compacted" in compacted.refused[0][1]
    with pytest.raises(DeadLetterReplayError, match="--topic"):
        plan_replay(letters, DeadLetterSelection(reason_code="x"), set(), set())


def test_the_replay_log_remembers_what_was_replayed(tmp_path: Path) -> None:
    log = ReplayLog(tmp_path / "replays.jsonl")
    assert log.replayed() == {}
    log.record(_stored("a"), datetime(2026, 11, 23, 12, tzinfo=UTC))
    assert log.replayed() == {"a": "2026-11-23T12:00:00+00:00"}
    assert ReplayLog(tmp_path / "replays.jsonl").replayed().keys() == {"a"}


# -- on the real broker and PostgreSQL

metadata = MetaData()
inbox = inbox_table(metadata)
effects = Table(
    "effects",
    metadata,
    Column("message_id", String(100), primary_key=True),
    Column("item_id", String(100), nullable=False),
)


@dataclass
class RefusingThenFixedConsumer:
    """A consumer as the services write them (decode, inbox and effect in one transaction,
    dead letter for a refusal) whose refusal a "fix" turns off."""

    broker: KafkaBroker
    topic: str
    group: str
    sessions: async_sessionmaker  # type: ignore[type-arg]
    fixed: bool = False
    seen_headers: list[dict[str, str]] = field(default_factory=list)

    async def on_item(self, message: KafkaMessage) -> None:
        try:
            await self._handle(message)
        finally:  # after the effect's transaction: a test that saw it may count effects
            self.seen_headers.append(dict(message.headers))

    async def _handle(self, message: KafkaMessage) -> None:
        record = message.raw_message
        try:
            envelope = decode_payload(OpenItem, message.body)
        except MessageDecodeError as exc:
            reason_code, reason = exc.reason_code, str(exc)
        else:
            if self.fixed:
                async with self.sessions() as session:
                    if await claim_inbox(session, inbox, self.group, envelope.message_id):
                        await session.execute(
                            insert(effects).values(
                                message_id=envelope.message_id, item_id=envelope.payload.item_id
                            )
                        )
                    await session.commit()
                return
            reason_code, reason = "item_kind_unsupported", "bills are not supported yet"
        await publish_dead_letter(
            self.broker,
            consumer=self.group,
            source_topic=self.topic,
            reason_code=reason_code,
            reason=reason,
            raw_value=message.body,
            raw_key=getattr(record, "key", None),
            partition=getattr(record, "partition", None),
            offset=getattr(record, "offset", None),
            tenant_id=envelope.tenant_id if reason_code != "undecodable_message" else "unknown",
        )


@pytest.fixture
async def engine(database_url: Callable[[str], str]) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url("replay"))
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


async def _letters_of(bootstrap: str, topic: str, count: int) -> list[StoredDeadLetter]:
    async with asyncio.timeout(TIMEOUT_SECONDS):
        while True:
            found = [
                s for s in await read_dead_letters(bootstrap) if s.letter.source_topic == topic
            ]
            if len(found) >= count:
                return found
            await asyncio.sleep(0.3)


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(TIMEOUT_SECONDS):
        while True:
            if condition():
                return
            await asyncio.sleep(0.1)


async def _effects(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(effects))).scalar_one())


@pytest.mark.integration
async def test_a_dead_letter_replayed_after_the_fix_is_processed_once_however_often_replayed(
    kafka_bootstrap: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    topic = f"bankrec.test.replay-{uuid.uuid4().hex[:8]}.v1"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    broker = create_broker(kafka_bootstrap, client_id="bankrec-test-replay")
    consumer = RefusingThenFixedConsumer(
        broker, topic, f"bankrec-test-replay-{uuid.uuid4().hex[:6]}", session_factory(engine)
    )
    broker.subscriber(topic, **subscriber_options(consumer.group))(consumer.on_item)
    amount = Money.of("-250.00", "NOK")
    item = OpenItem(item_id="BILL-1", kind=OpenItemKind.BILL, amount=amount, remaining=amount)
    envelope = envelope_for(item, tenant_id="t-replay", correlation_id="replay-test")
    log = ReplayLog(tmp_path / "replays.jsonl")
    selection = DeadLetterSelection(source_topic=topic)
    async with broker:
        await broker.start()
        await broker.publish(
            encode_envelope(envelope),
            topic=topic,
            key=b"t-replay:BILL-1",
            headers={"bankrec-type": envelope.type, "x-trace-note": "kept"},
        )
        [dead] = await _letters_of(kafka_bootstrap, topic, 1)
        assert (dead.letter.reason_code, dead.letter.original_key) == (
            "item_kind_unsupported",
            "t-replay:BILL-1",
        )
        assert dead.original_headers["x-trace-note"] == "kept"
        assert dead.unfaithful_reason() is None

        listed = await _command(
            kafka_bootstrap, "--replay-log", str(log.path), "list", "--topic", topic
        )
        assert f"{dead.dead_letter_id}  " in listed
        assert "item_kind_unsupported  not replayed" in listed
        assert listed.endswith("1 dead letter(s)\n")

        consumer.fixed = True  # the fix is deployed
        first = await replay_dead_letters(kafka_bootstrap, selection, log)
        assert [s.dead_letter_id for s in first.replayed] == [dead.dead_letter_id]
        await _until(lambda: len(consumer.seen_headers) == 2)
        replayed_headers = consumer.seen_headers[1]
        assert replayed_headers[REPLAY_OF_HEADER] == dead.dead_letter_id
        assert replayed_headers["x-trace-note"] == "kept"
        assert replayed_headers["bankrec-type"] == envelope.type
        await _until_effects(engine, 1)

        second = await replay_dead_letters(kafka_bootstrap, selection, log)
        assert (second.replayed, len(second.plan.already_replayed)) == ((), 1)

        # the log lost: replayed again, the consumer's inbox knows the message id
        lost = await replay_dead_letters(kafka_bootstrap, selection, ReplayLog(tmp_path / "new"))
        assert len(lost.replayed) == 1
        await _until(lambda: len(consumer.seen_headers) == 3)
        assert await _effects(engine) == 1
        # nothing the replays sent was dead-lettered again
        assert len(await _letters_of(kafka_bootstrap, topic, 1)) == 1


async def _until_effects(engine: AsyncEngine, count: int) -> None:
    async with asyncio.timeout(TIMEOUT_SECONDS):
        while True:
            if await _effects(engine) == count:
                return
            await asyncio.sleep(0.1)


async def _command(bootstrap: str, *args: str) -> str:
    """The command's output, run as an operator runs it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bankrec.runtime.dead_letter_replay",
        *args,
        stdout=asyncio.subprocess.PIPE,
        env={"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "PATH": "/usr/bin:/bin"},
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, output
    return output.decode()
