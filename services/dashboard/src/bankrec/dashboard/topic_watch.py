"""The live flow, read from the topics: lines, decisions and dead letters per tenant, and each
service's consumer lag.

The watcher joins no consumer group and commits nothing: it only looks. At start it goes back
one flow window in time (``offsets_for_times``) so the page has the last hour at once, then
follows the topics. Lag is the committed offsets of the services' groups against the end
offsets, read every ``lag_refresh_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bankrec.contracts import (
    DEAD_LETTERS,
    DECISIONS,
    STATEMENT_LINES,
    DecisionKind,
)
from bankrec.dashboard.domain import (
    FlowSnapshot,
    FlowWindow,
    PartitionOffsets,
    ServiceLag,
    lag_by_service,
)

log = logging.getLogger(__name__)

CLIENT_ID = "bankrec-dashboard"
WATCHED_TOPICS = (STATEMENT_LINES.name, DECISIONS.name, DEAD_LETTERS.name)
TENANTS_MAX = 10_000  # flow windows kept in memory; the least recently fed go first

GROUP_PREFIX = "bankrec-"  # the services' consumer groups; found on the broker, not listed here


def record_time(timestamp_ms: int) -> datetime:
    return datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)


def decision_kind(payload: Mapping[str, Any]) -> DecisionKind | None:
    kind = payload.get("kind")
    try:
        return DecisionKind(kind) if isinstance(kind, str) else None
    except ValueError:
        return None


class TopicWatch:
    """Feeds one ``FlowWindow`` per tenant from the topics and keeps the latest lag."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        window_minutes: int,
        lag_refresh_seconds: float,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.window_minutes = window_minutes
        self.lag_refresh_seconds = lag_refresh_seconds
        self._windows: dict[str, FlowWindow] = {}
        self._dead_letters_total = 0
        self._lag: tuple[ServiceLag, ...] = ()
        self._lag_read_at: datetime | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.following = False  # True once the consumer reads the topics

    # -- what the page reads

    def snapshot(self, tenant_id: str, now: datetime) -> FlowSnapshot:
        return self._window(tenant_id).snapshot(now)

    @property
    def lag(self) -> tuple[ServiceLag, ...]:
        return self._lag

    @property
    def lag_read_at(self) -> datetime | None:
        return self._lag_read_at

    @property
    def dead_letters_total(self) -> int:
        """Dead letters of every tenant seen in the window's reading (operators' figure)."""
        return self._dead_letters_total

    # -- feeding (also used by tests without a broker)

    def _window(self, tenant_id: str) -> FlowWindow:
        window = self._windows.pop(tenant_id, None) or FlowWindow(self.window_minutes)
        self._windows[tenant_id] = window  # most recently used last
        while len(self._windows) > TENANTS_MAX:
            del self._windows[next(iter(self._windows))]
        return window

    def feed(self, topic: str, value: bytes | None, timestamp_ms: int) -> None:
        """Count one record; anything that is not an envelope is ignored (the services
        dead-letter it themselves)."""
        try:
            message = json.loads(value) if value is not None else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            return
        if not isinstance(message, dict) or not isinstance(message.get("tenant_id"), str):
            return
        at = record_time(timestamp_ms)
        window = self._window(message["tenant_id"])
        payload = message.get("payload")
        if topic == STATEMENT_LINES.name:
            window.record_line(at)
        elif topic == DECISIONS.name and isinstance(payload, dict):
            kind = decision_kind(payload)
            if kind is not None:
                window.record_decision(at, kind)
        elif topic == DEAD_LETTERS.name:
            self._dead_letters_total += 1
            window.record_dead_letter(at)

    # -- running

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._follow(), name="dashboard-follow-topics"),
            asyncio.create_task(self._read_lag_forever(), name="dashboard-read-lag"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            client_id=CLIENT_ID,
            group_id=None,  # only looks: joins no group, so it never takes a service's records
            enable_auto_commit=False,  # nothing to commit without a group
            auto_offset_reset="latest",  # after the time seek below, only new records matter
            isolation_level="read_committed",  # what the services themselves can read
        )
        while True:
            try:
                await consumer.start()
                break
            except Exception:  # broker not up yet: the page shows "no flow" meanwhile
                log.warning("dashboard: broker not reachable; retrying", exc_info=True)
                await asyncio.sleep(2.0)
        try:
            partitions = await self._partitions(list(WATCHED_TOPICS))
            while {tp.topic for tp in partitions} != set(WATCHED_TOPICS):
                await asyncio.sleep(2.0)  # the services create the topics as they start
                partitions = await self._partitions(list(WATCHED_TOPICS))
            consumer.assign(partitions)
            since_ms = int(
                (datetime.now(UTC) - timedelta(minutes=self.window_minutes)).timestamp() * 1000
            )
            starts = await consumer.offsets_for_times(dict.fromkeys(partitions, since_ms))
            ends = await consumer.end_offsets(partitions)
            for tp in partitions:
                found = starts.get(tp)
                consumer.seek(tp, found.offset if found is not None else ends[tp])
            self.following = True
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=2000)
                for tp, records in batches.items():
                    for record in records:
                        self.feed(tp.topic, record.value, record.timestamp)
        finally:
            self.following = False
            await consumer.stop()

    async def _partitions(self, topics: list[str]) -> list[TopicPartition]:
        """Every partition of ``topics`` that exists (asked of the admin client: a consumer
        knows the partitions of the topics it subscribes to only)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers, client_id=CLIENT_ID)
        await admin.start()
        try:
            # checked first: describing a missing topic would have the broker create it
            existing = set(await admin.list_topics())
            wanted = sorted(t for t in topics if t in existing)
            described = await admin.describe_topics(wanted) if wanted else []
        finally:
            await admin.close()
        return [
            TopicPartition(d["topic"], p["partition"])
            for d in described
            for p in sorted(d.get("partitions", []), key=lambda p: p["partition"])
        ]

    async def _read_lag_forever(self) -> None:
        while True:
            try:
                self._lag = await self.read_lag()
                self._lag_read_at = datetime.now(UTC)
            except Exception:  # a broker hiccup: keep the last figures, try again
                log.warning("dashboard: could not read consumer lag", exc_info=True)
            await asyncio.sleep(self.lag_refresh_seconds)

    async def read_lag(self) -> tuple[ServiceLag, ...]:
        """Each service's lag now: the committed offsets of every ``bankrec-*`` group on the
        broker (so a group a service adds is seen without a change here) against the end
        offsets of the topics it reads; a partition of those topics it never committed on
        counts from the log start."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers, client_id=CLIENT_ID)
        await admin.start()
        try:
            listed = await admin.list_consumer_groups()
            names = sorted(str(g[0]) for g in listed if str(g[0]).startswith(GROUP_PREFIX))
            committed_by_group = {
                group: await admin.list_consumer_group_offsets(group) for group in names
            }
        finally:
            await admin.close()
        topics_by_group = {
            group: sorted({tp.topic for tp in committed})
            for group, committed in committed_by_group.items()
        }
        topics = sorted({t for ts in topics_by_group.values() for t in ts})
        assigned = await self._partitions(topics) if topics else []
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            client_id=CLIENT_ID,
            group_id=None,  # only reads offsets
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        await consumer.start()
        try:
            starts = await consumer.beginning_offsets(assigned) if assigned else {}
            ends = await consumer.end_offsets(assigned) if assigned else {}
        finally:
            await consumer.stop()
        groups = {
            group: [
                PartitionOffsets(
                    topic=tp.topic,
                    partition=tp.partition,
                    log_start=starts[tp],
                    end=ends[tp],
                    committed=_committed_offset(committed_by_group[group].get(tp)),
                )
                for tp in assigned
                if tp.topic in group_topics
            ]
            for group, group_topics in topics_by_group.items()
        }
        return lag_by_service(groups)


def _committed_offset(found: Any) -> int | None:
    """aiokafka answers -1 (or nothing) for a partition the group never committed on."""
    if found is None or found.offset < 0:
        return None
    return int(found.offset)
