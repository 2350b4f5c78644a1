"""Periods, inbox and outbox in memory: the same ports as the SQL adapter, for tests and
in-process use. A unit of work holds one lock for its lifetime (like SQLite's writer lock)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from bankrec.contracts import Envelope, Topic
from bankrec.reconciler.domain import ReconciliationPeriod
from bankrec.reconciler.ports import ConcurrentUpdateError, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class StagedMessage:
    topic: Topic
    key: str
    envelope: Envelope[Any]


@dataclass
class MemoryStore:
    """What a database would hold: periods by (tenant, account), inbox and outbox."""

    periods: dict[tuple[str, str], ReconciliationPeriod] = field(default_factory=dict)
    inbox: set[tuple[str, str]] = field(default_factory=set)
    outbox: list[StagedMessage] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def units_of_work(self) -> UnitOfWorkFactory:
        return lambda: MemoryUnitOfWork(self)


class MemoryPeriodRepository:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.pending: dict[tuple[str, str], ReconciliationPeriod] = {}

    async def current(
        self, tenant_id: str, account_id: str, *, for_update: bool = False
    ) -> ReconciliationPeriod | None:
        key = (tenant_id, account_id)
        if key in self.pending:
            return self.pending[key]
        return self._store.periods.get(key)

    async def list_current(self, tenant_id: str) -> list[ReconciliationPeriod]:
        merged = {**self._store.periods, **self.pending}
        return [merged[key] for key in sorted(merged) if key[0] == tenant_id]

    async def save(
        self, period: ReconciliationPeriod, previous: ReconciliationPeriod | None
    ) -> None:
        key = (period.tenant_id, period.account_id)
        if await self.current(*key) is not previous:
            raise ConcurrentUpdateError(f"period {period.period_id} changed since it was loaded")
        self.pending[key] = period


class MemoryUnitOfWork:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.periods = MemoryPeriodRepository(store)
        self._claimed: set[tuple[str, str]] = set()
        self._staged: list[StagedMessage] = []

    async def __aenter__(self) -> Self:
        await self._store.lock.acquire()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.periods.pending.clear()
        self._claimed.clear()
        self._staged.clear()
        self._store.lock.release()

    async def claim_message(self, consumer: str, message_id: str) -> bool:
        key = (consumer, message_id)
        if key in self._store.inbox or key in self._claimed:
            return False
        self._claimed.add(key)
        return True

    async def stage(self, topic: Topic, key: str, envelope: Envelope[Any]) -> None:
        self._staged.append(StagedMessage(topic, key, envelope))

    async def commit(self) -> None:
        self._store.periods.update(self.periods.pending)
        self._store.inbox.update(self._claimed)
        self._store.outbox.extend(self._staged)
        self.periods.pending.clear()
        self._claimed.clear()
        self._staged.clear()
