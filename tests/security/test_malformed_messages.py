"""Malformed messages on every topic any service consumes reach the dead-letter topic with a
reason, and every consumer carries on.

The topics are read from the services' own subscribers (each app built by ``create_app``), and
checked against the contracts' registry, so neither a new topic nor a new subscriber is
forgotten. On each topic, in one partition (one key), in this order: not JSON, JSON of the
wrong shape, a valid envelope around a wrong payload, a valid payload with a float amount, an
oversized value (900 kB, not UTF-8), a valid payload under an invalid tenant id, a valid
message, and a last malformed one (the sentinel). Every subscriber must dead-letter each
malformed message once, with a reason; the valid message must not be dead-lettered as
undecodable (it may be refused on its merits); and the sentinel's dead letter proves the
consumer got past everything before it (a failing handler is redelivered, never skipped, so a
consumer stuck on an earlier message never reaches it). The services run as processes (SQLite
each) on a broker no other stack uses (``stack_kafka``).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter, defaultdict
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from hostile_inputs import smallest_valid, with_float_money
from service_surface import Subscription

from bankrec.contracts import (
    ALL_TOPICS,
    DEAD_LETTERS,
    MATCHING_SETTINGS,
    PERIOD_EVENTS,
    DeadLetter,
    Topic,
    topic_named,
)
from bankrec.devstack import StackConfig
from bankrec.runtime import MessageDecodeError, decode_payload

pytestmark = pytest.mark.integration

TENANT = "security-tests"
# Fixed keys: on a compacted topic (read from its start at every service start) the garbage of
# every run shares one key per topic, so compaction keeps one record of it, not one per run.
ENTITY = "garbage"
OVERSIZED_BYTES = 900_000  # under the producer's and the broker's 1 MiB limit
TIMEOUT_SECONDS = 120.0

# Topics in the registry that no service consumes, each with why.
NOT_CONSUMED = {
    DEAD_LETTERS.name: "read by operators (dead_letter_replay) and the dashboard, which only looks",
    PERIOD_EVENTS.name: "published for readers outside bankrec (reports, the dashboard's API)",
    MATCHING_SETTINGS.name: "the matcher's record of its settings; it reads them from its database",
}
MALFORMED = ("not_json", "wrong_shape", "wrong_payload", "float_money", "oversized", "bad_tenant")


def valid_envelope(topic: Topic, marker: str) -> dict[str, Any]:
    """A valid message of the topic (the smallest its payload's schema allows)."""
    schema = topic.payload.model_json_schema()
    payload = smallest_valid(schema)
    if "tenant_id" in payload:  # a key record names its tenant
        payload["tenant_id"] = TENANT
    if "key_id" in payload:
        payload["key_id"] = topic.key_for(TENANT, ENTITY)
    return {
        "message_id": str(uuid.uuid4()),
        "type": getattr(topic.payload, "MESSAGE_TYPE", topic.payload.__name__),
        "schema_version": 1,
        "tenant_id": TENANT,
        "correlation_id": marker,
        "occurred_at": "2026-11-23T10:00:00Z",
        "payload": payload,
    }


def messages_for(topic: Topic, run: str) -> list[tuple[str, bytes]]:
    """(kind, value) in the order they are published; each value carries its marker."""

    def marker(kind: str) -> str:
        return f"{run}|{topic.name}|{kind}"

    def encoded(value: Any) -> bytes:
        return json.dumps(value).encode()

    wrong_payload = valid_envelope(topic, marker("wrong_payload"))
    wrong_payload["payload"] = {"unexpected": marker("wrong_payload")}
    float_money = valid_envelope(topic, marker("float_money"))
    float_money["payload"], has_money = with_float_money(float_money["payload"])
    if not has_money:  # no amount in this payload: a float where its first string belongs
        name = next(n for n, v in float_money["payload"].items() if isinstance(v, str))
        float_money["payload"] = {**float_money["payload"], name: 1.5}
    bad_tenant = valid_envelope(topic, marker("bad_tenant"))
    bad_tenant["tenant_id"] = "t1' OR '1'='1"
    valid = valid_envelope(topic, marker("valid"))
    decode_payload(topic.payload, encoded(valid))  # the valid one must be valid
    for garbage in (wrong_payload, float_money, bad_tenant):
        with pytest.raises(MessageDecodeError):
            decode_payload(topic.payload, encoded(garbage))
    return [
        ("not_json", b"\xff\xfe not json " + marker("not_json").encode()),
        ("wrong_shape", encoded([marker("wrong_shape"), 1, {"payload": None}])),
        ("wrong_payload", encoded(wrong_payload)),
        ("float_money", encoded(float_money)),
        # not UTF-8 either: each byte becomes a 3-byte replacement character in the dead letter
        (
            "oversized",
            b'{"marker": "'
            + marker("oversized").encode()
            + b'", "padding": "'
            + b"\xff" * OVERSIZED_BYTES
            + b'"}',
        ),
        ("bad_tenant", encoded(bad_tenant)),
        ("valid", encoded(valid)),
        ("sentinel", b"{ sentinel, not json " + marker("sentinel").encode()),
    ]


def test_every_consumed_topic_is_in_the_registry_and_every_topic_is_consumed_or_excused(
    service_subscriptions: list[Subscription],
) -> None:
    consumed = {s.topic for s in service_subscriptions}
    for name in consumed:
        topic_named(name)  # KeyError: a service reads a topic the contracts do not know
    unexcused = {t.name for t in ALL_TOPICS} - consumed - set(NOT_CONSUMED)
    assert unexcused == set(), f"no service consumes {unexcused}: test it or excuse it here"
    # never vacuous: today's subscribers at least
    assert len(consumed) >= 10, sorted(consumed)
    assert len(service_subscriptions) >= 16, service_subscriptions


async def _dead_letter_offsets(bootstrap: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(DEAD_LETTERS.name, p) for p in range(DEAD_LETTERS.partitions)]
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def _dead_letters_since(
    bootstrap: str,
    start: dict[TopicPartition, int],
    run: str,
    done: Any,
) -> list[DeadLetter]:
    """This run's dead letters (their original value names the run), read until ``done``."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=16 * 1024 * 1024,
    )
    await consumer.start()
    found: list[DeadLetter] = []
    try:
        consumer.assign(list(start))
        for partition, offset in start.items():
            consumer.seek(partition, offset)
        async with asyncio.timeout(TIMEOUT_SECONDS):
            while not done(found):
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        letter = decode_payload(DeadLetter, record.value).payload
                        if run in letter.original_value:
                            found.append(letter)
    except TimeoutError:
        pass  # the assertions below say what is missing
    finally:
        await consumer.stop()
    return found


async def test_malformed_messages_on_every_topic_are_dead_lettered_and_consumers_carry_on(
    security_stack: StackConfig, service_subscriptions: list[Subscription]
) -> None:
    bootstrap = security_stack.kafka_bootstrap_servers
    run = f"security-run-{uuid.uuid4().hex[:10]}"
    readers: dict[str, int] = Counter(s.topic for s in service_subscriptions)
    topics = [topic_named(name) for name in sorted(readers)]
    print(f"run {run}: {len(topics)} topics, {len(service_subscriptions)} subscribers")
    start = await _dead_letter_offsets(bootstrap)

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", max_request_size=1024 * 1024
    )
    await producer.start()
    try:
        for topic in topics:
            key = topic.key_for(TENANT, ENTITY).encode()
            for _kind, value in messages_for(topic, run):
                await producer.send_and_wait(topic.name, value=value, key=key)
    finally:
        await producer.stop()

    def sentinels_in(found: list[DeadLetter]) -> bool:
        seen = Counter(f.source_topic for f in found if "|sentinel" in f.original_value)
        return all(seen[t.name] >= readers[t.name] for t in topics)

    found = await _dead_letters_since(bootstrap, start, run, sentinels_in)

    by_marker: dict[tuple[str, str], list[DeadLetter]] = defaultdict(list)
    for letter in found:
        kind = next(
            (k for k in (*MALFORMED, "valid", "sentinel") if f"|{k}" in letter.original_value), "?"
        )
        by_marker[(letter.source_topic, kind)].append(letter)
    wrong: list[str] = []
    for topic in topics:
        for kind in (*MALFORMED, "sentinel"):
            letters = by_marker[(topic.name, kind)]
            consumers = sorted(letter.consumer for letter in letters)
            if len(letters) != readers[topic.name] or len(set(consumers)) != len(consumers):
                wrong.append(
                    f"{topic.name} {kind}: {len(letters)} dead letter(s) by {consumers}, "
                    f"expected one by each of its {readers[topic.name]} reader(s)"
                )
            wrong.extend(
                f"{topic.name} {kind}: dead letter without a reason"
                for letter in letters
                if not (letter.reason_code and letter.reason)
            )
        for letter in by_marker[(topic.name, "valid")]:
            # the smallest valid message may be refused on its merits (a match decision
            # without allocations): it was decoded and judged, never taken for garbage
            refusal = (
                f"{topic.name} valid message refused by {letter.consumer}: {letter.reason_code}"
            )
            if letter.reason_code == "undecodable_message":
                wrong.append(f"{refusal} {letter.reason[:200]}")
            else:
                print(refusal)
    print(
        f"dead letters of this run: {len(found)} "
        f"({len(topics)} topics x {len(MALFORMED)} malformed + sentinel, per reader)"
    )
    assert wrong == [], "\n".join(wrong)
