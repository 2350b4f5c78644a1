"""Rebuild the reconciler's derived state from its topics (``bankrec-reconciler rebuild``).

Clears what the topics gave the periods and the inbox claims of the consumers, in one
transaction (``adapters.rebuild_sql``; the claims' times are kept apart until the rebuild has
finished, so a rebuild that fails half-way can simply be run again), then re-reads every consumed topic from its beginning
up to the end offsets taken at the start, through ``Reconciler.record_batch``, the path the
live consumers take, so the result is theirs by construction. What people entered is kept.
Each message goes to the period it went to live (``domain.replay``); released periods are
immutable and kept as they are. The replay publishes no period events: the live ones were
published, and the figures end where they were.

The service must be stopped: with its consumer groups active, it would record messages while
the rows are cleared, so the rebuild refuses (``ServiceRunningError``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from aiokafka.protocol.admin import (
    DescribeGroupsRequest_v0,
    DescribeGroupsRequest_v1,
    DescribeGroupsRequest_v2,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bankrec.contracts import PeriodStatus, Topic
from bankrec.reconciler.adapters import sql_units_of_work
from bankrec.reconciler.adapters.rebuild_sql import clear_derived_state, forget_kept_claims
from bankrec.reconciler.consumers import CONSUMED_TOPICS, PAYLOAD_TYPES, group_for
from bankrec.reconciler.domain import figures
from bankrec.reconciler.domain.replay import ReplayRoutes
from bankrec.reconciler.errors import ReconcilerError
from bankrec.reconciler.ports import PeriodRepository, UnitOfWork, UnitOfWorkFactory
from bankrec.reconciler.use_cases import (
    Outcome,
    PeriodChange,
    Reconciler,
    consumer_of,
)
from bankrec.runtime import MessageDecodeError, decode_payload, readable_end_offsets

CLIENT_ID = "bankrec-reconciler-rebuild"
READ_WAIT_MS = 1_000  # one poll's wait for records before it looks again


class ServiceRunningError(ReconcilerError):
    """The reconciler's consumer groups have members: the service is running."""

    code = "service_running"


@dataclass
class TopicReplay:
    """What the rebuild did with one topic's records."""

    topic: str
    records: int = 0
    applied: int = 0
    unchanged: int = 0
    duplicates: int = 0
    refused: int = 0  # refused live too (dead-lettered then), e.g. a currency mismatch
    undecodable: int = 0


@dataclass
class RebuildReport:
    topics: list[TopicReplay] = field(default_factory=list)
    rebalanced: int = 0  # periods saved balanced again (the replay had put them on hold)
    seconds: float = 0.0

    def render(self) -> str:
        rows = [
            f"{t.topic}: {t.records} records, {t.applied} applied, {t.unchanged} unchanged, "
            f"{t.duplicates} duplicates, {t.refused} refused, {t.undecodable} undecodable"
            for t in self.topics
        ]
        rows.append(f"{self.rebalanced} periods balanced again; rebuilt in {self.seconds:.1f} s")
        return "\n".join(rows) + "\n"


def consumer_groups(topics: Sequence[Topic] = CONSUMED_TOPICS) -> list[str]:
    return [group_for(topic) for topic in topics]


async def active_groups(bootstrap_servers: str, groups: Sequence[str]) -> list[str]:
    """The groups that have members now (a running consumer of the service)."""
    from aiokafka.admin import AIOKafkaAdminClient

    if not groups:
        return []
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id=CLIENT_ID)
    await admin.start()
    try:
        responses = []
        for group in groups:
            coordinator = await admin.find_coordinator(group)
            request = _DescribeGroupsUpToV2(groups=[group])
            responses.append(await admin._client.send(coordinator, request))
    finally:
        await admin.close()
    # each group: (error_code, group_id, state, protocol_type, protocol, members)
    return sorted(str(group[1]) for response in responses for group in response.groups if group[5])


class _DescribeGroupsUpToV2:
    """A DescribeGroups request of at most version 2: aiokafka's ``describe_consumer_groups``
    picks version 3 when the broker has it and decodes the answer with the version-2 schema
    ("Buffer underrun"). The connection only calls ``prepare`` with the broker's versions."""

    API_KEY = 15

    def __init__(self, groups: list[str]) -> None:
        self._groups = groups

    def prepare(self, versions: dict[int, tuple[int, int]]) -> Any:
        low, high = versions.get(self.API_KEY, (0, 2))
        for struct in (
            DescribeGroupsRequest_v2,
            DescribeGroupsRequest_v1,
            DescribeGroupsRequest_v0,
        ):
            if low <= struct.API_VERSION <= high:
                return struct(self._groups)
        raise ServiceRunningError(
            f"cannot tell whether the reconciler is running: the broker answers DescribeGroups "
            f"versions {low}-{high} only; stop the service and check its consumer groups by hand"
        )


async def rebuild_from_topics(
    sessions: async_sessionmaker[AsyncSession],
    bootstrap_servers: str,
    *,
    groups: Sequence[str] | None = None,
    start_offsets: Mapping[str, Mapping[int, int]] | None = None,
    batch_records: int = 200,
) -> RebuildReport:
    """Clear the derived state and replay the consumed topics into ``sessions``' database.

    ``groups``: the consumer groups that must be idle (default: the service's own).
    ``start_offsets``: topic -> partition -> offset to start from (default: the beginning;
    a test on a shared broker starts where the topics stood before it published).
    """
    started = time.monotonic()
    running = await active_groups(
        bootstrap_servers, consumer_groups() if groups is None else groups
    )
    if running:
        raise ServiceRunningError(
            f"the reconciler is running (consumer groups {', '.join(running)} have members); "
            "stop every instance of it, then run the rebuild again"
        )
    ends = {
        topic.name: await readable_end_offsets(bootstrap_servers, topic, client_id=CLIENT_ID)
        for topic in CONSUMED_TOPICS
    }
    consumers = [consumer_of(PAYLOAD_TYPES[topic.name]) for topic in CONSUMED_TOPICS]
    routes, balanced = await clear_derived_state(sessions, consumers)
    units_of_work = sql_units_of_work(sessions)
    reconciler = Reconciler(_without_events(units_of_work, routes))
    route = _Router(routes)
    report = RebuildReport()
    for topic in CONSUMED_TOPICS:
        replay = TopicReplay(topic.name)
        payload_type = PAYLOAD_TYPES[topic.name]
        starts = (start_offsets or {}).get(topic.name, {})
        async for bodies in _read(
            bootstrap_servers, topic.name, starts, ends[topic.name], batch_records
        ):
            replay.records += len(bodies)
            envelopes = []
            for body in bodies:
                try:
                    envelopes.append(decode_payload(payload_type, body))
                except MessageDecodeError:
                    replay.undecodable += 1
            for result in await reconciler.record_batch(envelopes, route=route):
                if isinstance(result, ReconcilerError):
                    replay.refused += 1
                elif result is Outcome.APPLIED:
                    replay.applied += 1
                elif result is Outcome.DUPLICATE:
                    replay.duplicates += 1
                else:
                    replay.unchanged += 1
        report.topics.append(replay)
    report.rebalanced = await _balance_again(units_of_work, balanced)
    await forget_kept_claims(sessions)
    report.seconds = time.monotonic() - started
    return report


@dataclass(frozen=True, slots=True)
class _Router:
    """Sends each change to the period its message went to live; a change for a period that
    is released now does nothing (the released period already holds it)."""

    routes: ReplayRoutes

    def __call__(self, consumer: str, envelope: Any, change: PeriodChange) -> PeriodChange:
        if change.period_no is not None or change.adjustment_id is not None:
            return change  # an answer to a period's own request: it names its period
        number = self.routes.period_no(
            envelope.tenant_id, change.account_id, consumer, envelope.message_id
        )
        if number is None:
            return change
        if self.routes.is_released(envelope.tenant_id, change.account_id, number):
            return dataclasses.replace(change, apply=_unchanged, touches=None)
        return dataclasses.replace(change, period_no=number)


def _unchanged(period: Any) -> Any:
    return period


async def _balance_again(
    units_of_work: UnitOfWorkFactory, balanced: frozenset[tuple[str, str]]
) -> int:
    """Periods that were balanced and whose difference is 0 again, balanced as they were
    (``revise_status`` put them on hold while the replay passed through other differences)."""
    count = 0
    for tenant_id, period_id in sorted(balanced):
        async with units_of_work() as uow:
            period = await _period_by_id(uow.periods, tenant_id, period_id)
            if period is None or period.status is not PeriodStatus.ON_HOLD:
                continue
            difference = figures(period).difference
            if difference is None or not difference.is_zero():
                continue
            await uow.periods.save(
                dataclasses.replace(period, status=PeriodStatus.BALANCED), period
            )
            await uow.commit()
            count += 1
    return count


async def _period_by_id(periods: PeriodRepository, tenant_id: str, period_id: str) -> Any:
    account_id, _, number = period_id.rpartition("-p")
    if not number.isdigit():
        return None
    return await periods.get(tenant_id, account_id, int(number), for_update=True)


class _WithoutEvents:
    """A unit of work that stages nothing (the replay's period events were published live) and
    claims each message at the time the live service recorded it (what routes it in a later
    rebuild)."""

    def __init__(self, inner: UnitOfWork, routes: ReplayRoutes) -> None:
        self._inner = inner
        self._routes = routes

    @property
    def periods(self) -> PeriodRepository:
        return self._inner.periods

    async def __aenter__(self) -> Self:
        await self._inner.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._inner.__aexit__(exc_type, exc, traceback)

    async def snapshot(self) -> None:
        await self._inner.snapshot()

    async def claim_messages(
        self,
        consumer: str,
        message_ids: Sequence[str],
        *,
        recorded_at: Mapping[str, datetime] | None = None,
    ) -> set[str]:
        claimed_at = self._routes.claimed_at
        live = {
            message_id: at
            for message_id in message_ids
            if (at := claimed_at.get((consumer, message_id))) is not None
        }
        return await self._inner.claim_messages(
            consumer, message_ids, recorded_at={**live, **(recorded_at or {})}
        )

    async def unclaim_messages(self, consumer: str, message_ids: Sequence[str]) -> None:
        await self._inner.unclaim_messages(consumer, message_ids)

    async def stage(self, topic: Topic, key: str, envelope: Any) -> None:
        return None

    async def commit(self) -> None:
        await self._inner.commit()


def _without_events(units_of_work: UnitOfWorkFactory, routes: ReplayRoutes) -> UnitOfWorkFactory:
    return lambda: _WithoutEvents(units_of_work(), routes)


async def _read(
    bootstrap_servers: str,
    topic: str,
    starts: Mapping[int, int],
    ends: Mapping[int, int],
    batch_records: int,
) -> AsyncIterator[list[bytes]]:
    """The topic's record values from ``starts`` (default: the beginning) up to ``ends``, a
    batch of at most ``batch_records`` at a time; no consumer group, nothing committed."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    partitions = [TopicPartition(topic, p) for p, end in sorted(ends.items()) if end > 0]
    if not partitions:
        return  # (a consumer stopped right after its start fails with CancelledError)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        client_id=CLIENT_ID,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",  # what the live consumers read
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        beginnings = await consumer.beginning_offsets(partitions)
        pending = set()
        for tp in partitions:
            start = max(starts.get(tp.partition, 0), beginnings[tp])
            if start < ends[tp.partition]:
                consumer.seek(tp, start)
                pending.add(tp)
        consumer.pause(*(tp for tp in partitions if tp not in pending))
        while pending:
            fetched = await consumer.getmany(
                *pending, timeout_ms=READ_WAIT_MS, max_records=batch_records
            )
            bodies: list[bytes] = []
            for tp, records in fetched.items():
                bodies += [
                    r.value
                    for r in records
                    if r.offset < ends[tp.partition] and r.value is not None
                ]
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp.partition]:
                    pending.discard(tp)
                    consumer.pause(tp)
            if bodies:
                yield bodies
    finally:
        await consumer.stop()


__all__ = [
    "RebuildReport",
    "ServiceRunningError",
    "TopicReplay",
    "active_groups",
    "consumer_groups",
    "rebuild_from_topics",
]
