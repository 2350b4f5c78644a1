"""Listing dead letters and replaying chosen ones to their source topic after a fix.

``python -m bankrec.runtime.dead_letter_replay list|replay`` (see ``main``). It lives in the
runtime, not the dev stack, because an operator needs it where the services run, and every
service image carries the runtime.

A replay publishes the original bytes again to the source topic with the original key and
headers (``publish_dead_letter`` keeps them as headers of the dead letter), plus
``bankrec-replay-of: <dead letter id>``. Two layers keep a replay from doubling anything:

- the replay log (one JSON line per dead letter replayed, written after the broker
  acknowledged it) makes a second replay of the same dead letter do nothing;
- the replayed message keeps its original envelope, so its message id is the one the
  consumers' inboxes know: were the log lost, or a crash fell between the broker's
  acknowledgement and the log's line, a consumer that processed it already does nothing.

Every consumer group of the source topic sees a replayed message again, not only the one that
refused it; they all dedupe by message id. A dead letter whose ``original_value`` is not the
original exactly (bytes that were not UTF-8, or a value cut to fit the dead-letter topic) is
refused, and so is a compacted source topic: replaying an old state there would overwrite a
newer one under the same key (the topic's owner republishes the latest state instead).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bankrec.contracts import DEAD_LETTERS, DeadLetter
from bankrec.runtime.kafka import MessageDecodeError, decode_payload
from bankrec.runtime.messaging import ORIGINAL_HEADERS_HEADER, ORIGINAL_SHA256_HEADER

REPLAY_OF_HEADER = "bankrec-replay-of"
REPLAY_LOG_DEFAULT = Path("var/dead-letter-replays.jsonl")
CLIENT_ID = "bankrec-dead-letter-replay"
# headers of the dead letter itself that are not the original's
_DEAD_LETTER_OWN_HEADERS = frozenset({ORIGINAL_HEADERS_HEADER, ORIGINAL_SHA256_HEADER})


class DeadLetterReplayError(RuntimeError):
    """A replay that cannot be done as asked; the message says what to change."""


@dataclass(frozen=True, slots=True)
class StoredDeadLetter:
    """A dead letter as it lies on the dead-letter topic."""

    dead_letter_id: str
    partition: int
    offset: int
    letter: DeadLetter
    original_headers: dict[str, str] = field(default_factory=dict)
    original_sha256: str | None = None

    @property
    def original_bytes(self) -> bytes:
        return self.letter.original_value.encode("utf-8")

    def unfaithful_reason(self) -> str | None:
        """Why ``original_value`` is not the original message exactly, or None when it is."""
        if self.original_sha256 is None:
            return None  # dead-lettered before the digest was kept: taken as it is
        if hashlib.sha256(self.original_bytes).hexdigest() != self.original_sha256:
            return "the dead letter does not hold the original bytes (not UTF-8, or cut)"
        return None


@dataclass(frozen=True, slots=True)
class DeadLetterSelection:
    """Which dead letters to replay: every given criterion must hold (offsets inclusive)."""

    source_topic: str | None = None
    reason_code: str | None = None
    consumer: str | None = None
    source_partition: int | None = None
    offset_from: int | None = None
    offset_to: int | None = None
    dead_letter_ids: frozenset[str] = frozenset()

    def is_empty(self) -> bool:
        return self.source_topic is None and not self.dead_letter_ids

    def matches(self, stored: StoredDeadLetter) -> bool:
        letter = stored.letter
        offset = letter.source_offset
        return (
            (self.source_topic is None or letter.source_topic == self.source_topic)
            and (self.reason_code is None or letter.reason_code == self.reason_code)
            and (self.consumer is None or letter.consumer == self.consumer)
            and (self.source_partition is None or letter.source_partition == self.source_partition)
            and (self.offset_from is None or (offset is not None and offset >= self.offset_from))
            and (self.offset_to is None or (offset is not None and offset <= self.offset_to))
            and (not self.dead_letter_ids or stored.dead_letter_id in self.dead_letter_ids)
        )


@dataclass(frozen=True, slots=True)
class ReplayPlan:
    """What a replay will do with each selected dead letter."""

    to_replay: tuple[StoredDeadLetter, ...]
    already_replayed: tuple[StoredDeadLetter, ...]
    refused: tuple[tuple[StoredDeadLetter, str], ...]


def plan_replay(
    letters: Iterable[StoredDeadLetter],
    selection: DeadLetterSelection,
    replayed_ids: set[str],
    compacted_topics: set[str],
) -> ReplayPlan:
    """Split the selected dead letters into those to replay, those replayed before and those
    that cannot be replayed (with why). The same original dead-lettered by two consumers is
    replayed once: the second would reach every consumer group again anyway."""
    if selection.is_empty():
        raise DeadLetterReplayError(
            "name a source topic (--topic) or dead letter ids (--id): a replay of every dead "
            "letter at once is never what a fix calls for"
        )
    to_replay: list[StoredDeadLetter] = []
    already: list[StoredDeadLetter] = []
    refused: list[tuple[StoredDeadLetter, str]] = []
    planned_originals: set[tuple[str, int | None, int | None]] = set()
    for stored in letters:
        if not selection.matches(stored):
            continue
        letter = stored.letter
        original = (letter.source_topic, letter.source_partition, letter.source_offset)
        if stored.dead_letter_id in replayed_ids:
            already.append(stored)
        elif letter.source_topic in compacted_topics:
            refused.append(
                (
                    stored,
                    f"{letter.source_topic} is compacted: an old state replayed would replace a "
                    "newer one; have its owner republish the latest state instead",
                )
            )
        elif (why := stored.unfaithful_reason()) is not None:
            refused.append((stored, why))
        elif letter.source_offset is not None and original in planned_originals:
            already.append(stored)
        else:
            planned_originals.add(original)
            to_replay.append(stored)
    return ReplayPlan(tuple(to_replay), tuple(already), tuple(refused))


class ReplayLog:
    """The dead letters replayed so far: one JSON line each, appended after the broker's ack."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def replayed(self) -> dict[str, str]:
        """Dead letter id -> when it was replayed."""
        if not self.path.exists():
            return {}
        found: dict[str, str] = {}
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                entry = json.loads(line)
                found[str(entry["dead_letter_id"])] = str(entry["replayed_at"])
        return found

    def record(self, stored: StoredDeadLetter, replayed_at: datetime) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        entry = {
            "dead_letter_id": stored.dead_letter_id,
            "source_topic": stored.letter.source_topic,
            "source_partition": stored.letter.source_partition,
            "source_offset": stored.letter.source_offset,
            "replayed_at": replayed_at.isoformat(),
        }
        with self.path.open("a", encoding="utf-8") as log_file:
            log_file.write(json.dumps(entry) + "\n")
            log_file.flush()
            os.fsync(log_file.fileno())


def stored_dead_letter(
    partition: int, offset: int, value: bytes | None, headers: Sequence[tuple[str, bytes]]
) -> StoredDeadLetter | None:
    """A record of the dead-letter topic as a dead letter; None when it is not one."""
    if value is None:
        return None
    try:
        envelope = decode_payload(DeadLetter, value)
    except MessageDecodeError:
        return None
    own = {name: raw.decode("utf-8", errors="replace") for name, raw in headers}
    try:
        original_headers = json.loads(own.get(ORIGINAL_HEADERS_HEADER, "{}"))
    except ValueError:
        original_headers = {}
    if not isinstance(original_headers, dict):
        original_headers = {}
    return StoredDeadLetter(
        dead_letter_id=envelope.message_id,
        partition=partition,
        offset=offset,
        letter=envelope.payload,
        original_headers={str(k): str(v) for k, v in original_headers.items()},
        original_sha256=own.get(ORIGINAL_SHA256_HEADER),
    )


def replay_headers(stored: StoredDeadLetter) -> list[tuple[str, bytes]]:
    """The original's headers, plus which dead letter this replays."""
    headers = [
        (name, value.encode("utf-8"))
        for name, value in stored.original_headers.items()
        if name not in _DEAD_LETTER_OWN_HEADERS and name != REPLAY_OF_HEADER
    ]
    headers.append((REPLAY_OF_HEADER, stored.dead_letter_id.encode("utf-8")))
    return headers


# -- Kafka


async def read_dead_letters(bootstrap_servers: str) -> list[StoredDeadLetter]:
    """Every dead letter on the topic up to where it ends now, oldest first per partition."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        client_id=CLIENT_ID,
        group_id=None,  # only reads: joins no group, commits nothing
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        partitions = await _partitions_of(bootstrap_servers, DEAD_LETTERS.name)
        if not partitions:
            return []
        assigned = [TopicPartition(DEAD_LETTERS.name, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        found: list[StoredDeadLetter] = []
        remaining = {tp for tp in assigned if await consumer.position(tp) < ends[tp]}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        continue
                    stored = stored_dead_letter(
                        tp.partition, record.offset, record.value, list(record.headers or ())
                    )
                    if stored is not None:
                        found.append(stored)
            remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
        return found
    finally:
        await consumer.stop()


async def _partitions_of(bootstrap_servers: str, topic: str) -> list[int]:
    """The topic's partitions ([] when it does not exist). Asked of the admin client: a
    consumer's ``partitions_for_topic`` knows only topics it subscribes to."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id=CLIENT_ID)
    await admin.start()
    try:
        if topic not in await admin.list_topics():  # describing it would create it
            return []
        [description] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(p["partition"] for p in description.get("partitions", []))


async def compacted_topics(bootstrap_servers: str, names: set[str]) -> set[str]:
    """Which of the named topics the broker compacts (asked of the broker, not the registry,
    so a topic outside the registry is judged the same way)."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    if not names:
        return set()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id=CLIENT_ID)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = names - existing
        if missing:
            raise DeadLetterReplayError(
                f"source topic(s) {sorted(missing)} do not exist on {bootstrap_servers}; "
                "create them (start the owning service) before replaying"
            )
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in sorted(names)]
        )
    finally:
        await admin.close()
    compacted: set[str] = set()
    for response in responses:
        for _error, _message, _type, name, entries in response.resources:
            for entry in entries:
                if entry[0] == "cleanup.policy" and "compact" in str(entry[1]):
                    compacted.add(str(name))
    return compacted


@dataclass(frozen=True, slots=True)
class ReplayOutcome:
    plan: ReplayPlan
    replayed: tuple[StoredDeadLetter, ...]


async def replay_dead_letters(
    bootstrap_servers: str,
    selection: DeadLetterSelection,
    replay_log: ReplayLog,
    *,
    dry_run: bool = False,
) -> ReplayOutcome:
    """Replay the selected dead letters not replayed before; each is logged once acknowledged."""
    from aiokafka import AIOKafkaProducer

    letters = await read_dead_letters(bootstrap_servers)
    chosen_topics = {s.letter.source_topic for s in letters if selection.matches(s)}
    plan = plan_replay(
        letters,
        selection,
        set(replay_log.replayed()),
        await compacted_topics(bootstrap_servers, chosen_topics),
    )
    if dry_run or not plan.to_replay:
        return ReplayOutcome(plan, ())
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=CLIENT_ID,
        acks="all",  # the replay is logged only once every in-sync replica has it
        enable_idempotence=True,  # a retried send cannot duplicate it
    )
    await producer.start()
    replayed: list[StoredDeadLetter] = []
    try:
        for stored in plan.to_replay:
            key = stored.letter.original_key
            await producer.send_and_wait(
                stored.letter.source_topic,
                value=stored.original_bytes,
                key=key.encode("utf-8") if key is not None else None,
                headers=replay_headers(stored),
            )
            replay_log.record(stored, datetime.now(UTC))
            replayed.append(stored)
    finally:
        await producer.stop()
    return ReplayOutcome(plan, tuple(replayed))


# -- the command


def _selection(args: argparse.Namespace) -> DeadLetterSelection:
    return DeadLetterSelection(
        source_topic=args.topic,
        reason_code=args.reason,
        consumer=args.consumer,
        source_partition=args.partition,
        offset_from=args.from_offset,
        offset_to=args.to_offset,
        dead_letter_ids=frozenset(args.id or ()),
    )


def _line(stored: StoredDeadLetter, replayed_at: str | None) -> str:
    letter = stored.letter
    where = f"{letter.source_topic}[{letter.source_partition}:{letter.source_offset}]"
    state = f"replayed {replayed_at}" if replayed_at else "not replayed"
    reason = " ".join(letter.reason.split())[:100]
    return (
        f"{stored.dead_letter_id}  {letter.failed_at.isoformat(timespec='seconds')}  {where}  "
        f"{letter.consumer}  {letter.reason_code}  {state}  {reason}"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bankrec.runtime.dead_letter_replay",
        description="List dead letters, and replay chosen ones to their source topic after a fix.",
    )
    parser.add_argument(
        "--bootstrap-servers",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:9092)",
    )
    parser.add_argument(
        "--replay-log",
        type=Path,
        default=Path(os.environ.get("BANKREC_DEAD_LETTER_REPLAY_LOG", REPLAY_LOG_DEFAULT)),
        help=f"the replay log (default: $BANKREC_DEAD_LETTER_REPLAY_LOG or {REPLAY_LOG_DEFAULT})",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("list", "list dead letters: id, time, source topic[partition:offset], consumer, reason"),
        ("replay", "replay the chosen dead letters (a source topic or ids are required)"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--topic", help="source topic")
        command.add_argument("--reason", help="reason code, e.g. undecodable_message")
        command.add_argument("--consumer", help="the consumer (group) that refused it")
        command.add_argument("--partition", type=int, help="source partition")
        command.add_argument("--from-offset", type=int, help="first source offset (inclusive)")
        command.add_argument("--to-offset", type=int, help="last source offset (inclusive)")
        command.add_argument("--id", action="append", help="a dead letter id (repeatable)")
        if name == "replay":
            command.add_argument("--dry-run", action="store_true", help="only say what it would do")
    return parser


async def _run(args: argparse.Namespace) -> int:
    selection = _selection(args)
    log = ReplayLog(args.replay_log)
    if args.command == "list":
        replayed = log.replayed()
        shown = [s for s in await read_dead_letters(args.bootstrap_servers) if selection.matches(s)]
        for stored in shown:
            print(_line(stored, replayed.get(stored.dead_letter_id)))
        print(f"{len(shown)} dead letter(s)")
        return 0
    outcome = await replay_dead_letters(
        args.bootstrap_servers, selection, log, dry_run=args.dry_run
    )
    verb = "would replay" if args.dry_run else "replayed"
    for stored in outcome.plan.to_replay if args.dry_run else outcome.replayed:
        print(f"{verb} {_line(stored, None)}")
    for stored, why in outcome.plan.refused:
        print(f"refused {stored.dead_letter_id}: {why}")
    count = len(outcome.plan.to_replay) if args.dry_run else len(outcome.replayed)
    print(
        f"{verb} {count}, already replayed {len(outcome.plan.already_replayed)}, "
        f"refused {len(outcome.plan.refused)}"
    )
    return 1 if outcome.plan.refused else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return asyncio.run(_run(args))
    except DeadLetterReplayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
