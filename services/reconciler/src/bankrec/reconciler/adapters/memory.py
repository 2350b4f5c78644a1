"""Periods, inbox and outbox in memory: the same ports as the SQL adapter, for tests and
in-process use. A unit of work holds one lock for its lifetime (like SQLite's writer lock)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from bankrec.contracts import Envelope, Topic
from bankrec.reconciler.domain import ReconciliationPeriod
from bankrec.reconciler.ports import ConcurrentUpdateError, TouchedItems, UnitOfWorkFactory

PeriodKey = tuple[str, str, int]  # tenant, account, period number


@dataclass(frozen=True, slots=True)
class StagedMessage:
    topic: Topic
    key: str
    envelope: Envelope[Any]


@dataclass
class MemoryStore:
    """What a database would hold: periods by (tenant, account, number), inbox and outbox."""

    periods: dict[PeriodKey, ReconciliationPeriod] = field(default_factory=dict)
    inbox: set[tuple[str, str]] = field(default_factory=set)
    outbox: list[StagedMessage] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def units_of_work(self) -> UnitOfWorkFactory:
        return lambda: MemoryUnitOfWork(self)


class MemoryPeriodRepository:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.pending: dict[PeriodKey, ReconciliationPeriod] = {}

    def _merged(self) -> dict[PeriodKey, ReconciliationPeriod]:
        return {**self._store.periods, **self.pending}

    async def current(
        self, tenant_id: str, account_id: str, *, for_update: bool = False
    ) -> ReconciliationPeriod | None:
        numbers = [key[2] for key in self._merged() if key[:2] == (tenant_id, account_id)]
        if not numbers:
            return None
        return self._merged()[(tenant_id, account_id, max(numbers))]

    async def get(
        self, tenant_id: str, account_id: str, period_no: int, *, for_update: bool = False
    ) -> ReconciliationPeriod | None:
        return self._merged().get((tenant_id, account_id, period_no))

    async def list_current(self, tenant_id: str) -> list[ReconciliationPeriod]:
        latest: dict[str, ReconciliationPeriod] = {}
        for (tenant, account, number), period in sorted(self._merged().items()):
            if tenant == tenant_id and (
                account not in latest or latest[account].period_no < number
            ):
                latest[account] = period
        return [latest[account] for account in sorted(latest)]

    async def list_account(self, tenant_id: str, account_id: str) -> list[ReconciliationPeriod]:
        return [
            period
            for key, period in sorted(self._merged().items())
            if key[:2] == (tenant_id, account_id)
        ]

    async def period_no_with_adjustment(
        self, tenant_id: str, account_id: str, adjustment_id: str
    ) -> int | None:
        for period in await self.list_account(tenant_id, account_id):
            if adjustment_id in period.adjustments:
                return period.period_no
        return None

    async def save(
        self,
        period: ReconciliationPeriod,
        previous: ReconciliationPeriod | None,
        touched: TouchedItems | None = None,
    ) -> None:
        key = (period.tenant_id, period.account_id, period.period_no)
        if self._merged().get(key) is not previous:
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

    async def snapshot(self) -> None:
        return None  # the store's lock is held for the whole unit already

    async def claim_messages(
        self,
        consumer: str,
        message_ids: Sequence[str],
        *,
        recorded_at: Mapping[str, datetime] | None = None,  # no times kept in memory
    ) -> set[str]:
        claimed: set[str] = set()
        for message_id in message_ids:
            key = (consumer, message_id)
            if key not in self._store.inbox and key not in self._claimed:
                self._claimed.add(key)
                claimed.add(message_id)
        return claimed

    async def unclaim_messages(self, consumer: str, message_ids: Sequence[str]) -> None:
        self._claimed.difference_update((consumer, message_id) for message_id in message_ids)

    async def stage(self, topic: Topic, key: str, envelope: Envelope[Any]) -> None:
        self._staged.append(StagedMessage(topic, key, envelope))

    async def commit(self) -> None:
        self._store.periods.update(self.periods.pending)
        self._store.inbox.update(self._claimed)
        self._store.outbox.extend(self._staged)
        self.periods.pending.clear()
        self._claimed.clear()
        self._staged.clear()
