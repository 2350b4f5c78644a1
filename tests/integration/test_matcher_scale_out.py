"""Three matcher instances in one consumer group on the real broker, one killed with SIGKILL
mid-run (issue 9): every statement line is decided exactly once, and no open item is
allocated beyond its amount.

The instances are separate processes (``bankrec-matcher serve``) sharing one PostgreSQL
database, as deployed instances do. The lines of six accounts (one generated tenant each,
from the matcher's quality generator: KID and OCR payments, instalments, partial and
multi-invoice payments, decoys) go onto the 3-partition statement-lines topic keyed by
account, so each instance owns one partition; when one dies, its partition moves to a
survivor, which must neither decide a committed line again nor give an item a second time.

"Exactly once" is read from the decisions topic as the ledger reads it: a decision id may come
twice (the outbox publishes at least once; the ledger dedupes by id), but then with the same
content, and a line's decisions form one chain, each later one naming the one it supersedes,
so that exactly one final decision is left per line.

It takes longer than most tests (three processes start, and the group waits out the killed
member's session timeout, 10 s, before its partition moves): 120-160 s on the shared 2-core
machine at a load average of 11-16, where a matcher decides about 10 lines/s per instance.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import CommitFailedError

from bankrec.contracts import (
    ALL_TOPICS,
    DECISIONS,
    OPEN_ITEMS,
    POSTINGS,
    REFUSED_DECISIONS,
    STATEMENT_LINES,
    envelope_for,
)
from bankrec.devstack import ServiceProcess, StackConfig, free_port
from bankrec.devstack.topics import commit_group_at_end, json_object, topic_end_offsets
from bankrec.matcher.consumers import group_for
from bankrec.matcher.quality.generator import generate_case
from bankrec.matcher.quality.truth import QualityCase
from bankrec.runtime import ensure_topics

pytestmark = pytest.mark.integration

INSTANCES = 3
ACCOUNTS = 6
LINES_PER_ACCOUNT = 200
KILL_AFTER_SHARE = 0.25  # of the lines decided
TIMEOUT_SECONDS = 240.0  # a shared 2-core machine decides ~30 lines/s with three instances


def _seed() -> int:
    seed = int(os.environ.get("BANKREC_TEST_SEED", random.randrange(1_000_000)))
    print(f"matcher scale-out seed: {seed} (BANKREC_TEST_SEED={seed} repeats it)")
    return seed


@pytest.fixture
def cases(tenant_id: str) -> list[QualityCase]:
    seed = _seed()
    return [
        generate_case(LINES_PER_ACCOUNT, seed + number, tenant_id=f"{tenant_id}-a{number}")
        for number in range(ACCOUNTS)
    ]


@pytest.fixture
def matchers(
    kafka_bootstrap: str, database_url: Callable[[str], str], tmp_path: Path
) -> Iterator[list[ServiceProcess]]:
    """Three matcher processes on one database, not started (the test starts them)."""
    shared_database = database_url("matcher_scale")
    processes = [
        ServiceProcess(
            "matcher",
            StackConfig(
                kafka_bootstrap_servers=kafka_bootstrap,
                state_dir=tmp_path / f"matcher-{number}",
                ports={"matcher": free_port()},
                database_urls={"matcher": shared_database},
                log_level="WARNING",
            ),
        )
        for number in range(INSTANCES)
    ]
    yield processes
    for process in processes:
        process.stop()


async def _commit_at_end_when_idle(bootstrap: str, group: str, topic: str) -> None:
    """Commit the group at the topic's end once no member is in it: on a shared broker another
    test's matcher may be in the group for a moment (the broker refuses the commit then)."""
    for attempt in range(30):
        try:
            await commit_group_at_end(bootstrap, group, topic)
            return
        except CommitFailedError:
            print(f"{group} has a live member elsewhere (attempt {attempt + 1}); waiting")
            await asyncio.sleep(2)
    pytest.fail(f"consumer group {group} stayed busy for 60 s: another matcher is running")


async def _publish_case(
    producer: AIOKafkaProducer,
    case: QualityCase,
    topic: str,
    where: dict[tuple[str, str], Any] | None = None,
) -> None:
    """The case's open items, or its lines (``where`` gets each line's delivery future)."""
    where = {} if where is None else where
    if topic == OPEN_ITEMS.name:
        for item in case.items:
            envelope = envelope_for(item, tenant_id=case.tenant_id, correlation_id="scale-out")
            await producer.send(
                topic,
                envelope.model_dump_json().encode(),
                key=f"{case.tenant_id}:{item.item_id}".encode(),
            )
        return
    key = f"{case.tenant_id}:{case.account.account_id}".encode()
    for line in case.iter_lines():
        envelope = envelope_for(line, tenant_id=case.tenant_id, correlation_id="scale-out")
        sent = await producer.send(topic, envelope.model_dump_json().encode(), key=key)
        where[(case.tenant_id, line.line_id)] = sent


class DecisionReader:
    """Reads the decisions topic from its current end, keeping our tenants' decisions."""

    def __init__(self, bootstrap: str, tenants: set[str]) -> None:
        self.bootstrap, self.tenants = bootstrap, tenants
        self.decisions: list[dict[str, Any]] = []
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
        )

    async def start(self) -> None:
        await self.consumer.start()
        partitions = [
            TopicPartition(DECISIONS.name, p)
            for p in await topic_end_offsets(self.bootstrap, DECISIONS.name)
        ]
        self.consumer.assign(partitions)
        await self.consumer.seek_to_end(*partitions)
        for partition in partitions:
            await self.consumer.position(partition)

    async def read(self, seconds: float) -> None:
        batch = await self.consumer.getmany(timeout_ms=int(seconds * 1000))
        for records in batch.values():
            for record in records:
                message = json_object(record.value)
                if message is not None and message.get("tenant_id") in self.tenants:
                    self.decisions.append(message)

    def lines_decided(self) -> set[tuple[str, str]]:
        return {(d["tenant_id"], d["payload"]["line_id"]) for d in self.decisions}


def _undecided(
    missing: set[tuple[str, str]], delivered: dict[tuple[str, str], Any], matchers: list[Any]
) -> str:
    """Where the undecided lines were (partition, offset) and what each instance logged of
    those offsets and of its statement-lines assignments."""
    places = []
    for line in sorted(missing)[:5]:
        metadata = delivered[line].result()
        places.append(f"{line} at partition {metadata.partition} offset {metadata.offset}")
    offsets = {f"| {delivered[line].result().offset}-" for line in missing}
    logs = []
    for number, matcher in enumerate(matchers):
        text = matcher.log_path.read_text(errors="replace") if matcher.log_path.exists() else ""
        relevant = [
            row[:300]
            for row in text.splitlines()
            if any(o in row for o in offsets)
            or ("statement-lines" in row and "assigned" in row)
            or "ERROR" in row
        ]
        logs.append(f"instance {number}:\n" + "\n".join(relevant[-15:]))
    return "undecided: " + "; ".join(places) + "\n" + "\n".join(logs)


def final_decisions(decisions: list[dict[str, Any]]) -> tuple[dict[Any, Any], list[str]]:
    """Each line's one final decision, and what breaks exactly-once (empty when nothing)."""
    problems: list[str] = []
    by_id: dict[str, dict[str, Any]] = {}
    for message in decisions:
        decision = message["payload"]
        seen = by_id.setdefault(decision["decision_id"], decision)
        if seen != decision:
            problems.append(f"decision {decision['decision_id']} published with two contents")
    by_line: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    tenant_of = {m["payload"]["decision_id"]: m["tenant_id"] for m in decisions}
    for decision_id, decision in by_id.items():
        by_line[(tenant_of[decision_id], decision["line_id"])].append(decision)
    finals: dict[tuple[str, str], dict[str, Any]] = {}
    for line, chain in by_line.items():
        ids = {d["decision_id"] for d in chain}
        superseded = {d["supersedes_decision_id"] for d in chain if d.get("supersedes_decision_id")}
        if not superseded <= ids:
            problems.append(f"line {line} supersedes a decision never published")
        left = [d for d in chain if d["decision_id"] not in superseded]
        if len(left) != 1:
            problems.append(f"line {line} has {len(left)} final decisions: {sorted(ids)}")
        else:
            finals[line] = left[0]
    return finals, problems


def over_allocated(
    finals: dict[Any, dict[str, Any]], cases: list[QualityCase]
) -> list[tuple[str, str, Decimal, Decimal]]:
    """Items whose final allocations add up to more than the item's amount."""
    amounts = {
        (case.tenant_id, item.item_id): abs(item.amount.amount)
        for case in cases
        for item in case.items
    }
    allocated: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for (tenant, _line), decision in finals.items():
        for allocation in decision["allocations"]:
            allocated[(tenant, allocation["item_id"])] += abs(
                Decimal(allocation["amount"]["amount"])
            )
    return [
        (tenant, item, total, amounts[(tenant, item)])
        for (tenant, item), total in allocated.items()
        if total > amounts[(tenant, item)]
    ]


async def test_three_matchers_one_killed_decide_every_line_once(
    kafka_bootstrap: str, cases: list[QualityCase], matchers: list[ServiceProcess]
) -> None:
    began = time.monotonic()
    # the matcher's groups start at their topics' ends: other tests' messages are not ours
    # (only the matcher's: other services' groups may have live members on a shared broker)
    await ensure_topics(kafka_bootstrap, ALL_TOPICS)
    for topic in (STATEMENT_LINES, POSTINGS, REFUSED_DECISIONS):
        await _commit_at_end_when_idle(kafka_bootstrap, group_for(topic), topic.name)
    partitions = await topic_end_offsets(kafka_bootstrap, STATEMENT_LINES.name)
    assert len(partitions) >= INSTANCES, f"{STATEMENT_LINES.name} has {len(partitions)} partitions"

    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    reader = DecisionReader(kafka_bootstrap, {case.tenant_id for case in cases})
    await reader.start()
    try:
        for case in cases:  # the items first: each instance reads them all before matching
            await _publish_case(producer, case, OPEN_ITEMS.name)
        await producer.flush()
        # one first, so that it alone creates the shared database's tables (migrations)
        matchers[0].start()
        await asyncio.to_thread(matchers[0].wait_healthy, 90)
        for matcher in matchers[1:]:
            matcher.start()
        for matcher in matchers[1:]:
            await asyncio.to_thread(matcher.wait_healthy, 90)
        print(f"{INSTANCES} instances healthy after {time.monotonic() - began:.1f} s")
        delivered: dict[tuple[str, str], Any] = {}
        for case in cases:
            await _publish_case(producer, case, STATEMENT_LINES.name, delivered)
        await producer.flush()
        lines = {(c.tenant_id, line.line_id) for c in cases for line in c.iter_lines()}

        victim = matchers[1]
        killed_at = None
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while not lines <= reader.lines_decided():
            assert time.monotonic() < deadline, (
                f"{len(reader.lines_decided())} of {len(lines)} lines decided after "
                f"{TIMEOUT_SECONDS:.0f} s; "
                + _undecided(lines - reader.lines_decided(), delivered, matchers)
            )
            await reader.read(0.5)
            if killed_at is None and len(reader.lines_decided()) >= KILL_AFTER_SHARE * len(lines):
                assert victim.process is not None
                os.killpg(victim.process.pid, signal.SIGKILL)
                killed_at = len(reader.lines_decided())
                print(f"killed {victim.config.base_url('matcher')} after {killed_at} lines")
        for _ in range(4):  # what a duplicate would look like arrives shortly after
            await reader.read(0.5)
    finally:
        await reader.consumer.stop()
        await producer.stop()

    assert killed_at is not None, "no line was decided: nothing to kill the instance during"
    assert killed_at < len(lines), "the kill came after the last line: it tested nothing"
    assert victim.process is not None
    assert victim.process.poll() == -signal.SIGKILL
    survivors = [m for m in matchers if m is not victim]
    assert all(m.process is not None and m.process.poll() is None for m in survivors)
    finals, problems = final_decisions(reader.decisions)
    assert problems == []
    assert set(finals) == lines
    assert over_allocated(finals, cases) == []
    decided_kinds = {d["kind"] for d in finals.values()}
    assert {"match", "suspense"} <= decided_kinds  # a real mix, not all suspense
    print(
        f"{len(lines)} lines, {len(reader.decisions)} decision messages, killed one of "
        f"{INSTANCES} after {killed_at} lines, {time.monotonic() - began:.1f} s"
    )
