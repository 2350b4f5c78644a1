"""What the use cases need from outside: a unit of work over periods, inbox and outbox.

An account has periods numbered from 1; its *current* period is the one with the highest
number (after a release, the period opened by it).
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol, Self

from bankrec.contracts import Envelope, Topic
from bankrec.reconciler.domain import ReconciliationPeriod


class ConcurrentUpdateError(Exception):
    """Another transaction changed or created the same period first; retry the whole unit."""


class PeriodRepository(Protocol):
    async def current(
        self, tenant_id: str, account_id: str, *, for_update: bool = False
    ) -> ReconciliationPeriod | None:
        """The account's current period; ``for_update`` holds it until the unit ends."""

    async def list_current(self, tenant_id: str) -> list[ReconciliationPeriod]:
        """Every account's current period, ordered by account id."""

    async def get(
        self, tenant_id: str, account_id: str, period_no: int, *, for_update: bool = False
    ) -> ReconciliationPeriod | None:
        """One period of the account by number; ``for_update`` holds it until the unit ends."""

    async def list_account(self, tenant_id: str, account_id: str) -> list[ReconciliationPeriod]:
        """Every period of the account, ordered by period number (not held)."""

    async def period_no_with_adjustment(
        self, tenant_id: str, account_id: str, adjustment_id: str
    ) -> int | None:
        """The number of the account's period an adjustment was requested from, if any."""

    async def save(
        self, period: ReconciliationPeriod, previous: ReconciliationPeriod | None
    ) -> None:
        """Store the period; ``previous`` is what ``current`` returned (None for a new one).

        Raises ConcurrentUpdateError when the stored period is no longer ``previous``.
        """


class UnitOfWork(Protocol):
    """One transaction: nothing is stored or staged unless ``commit`` is called."""

    @property
    def periods(self) -> PeriodRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    async def claim_message(self, consumer: str, message_id: str) -> bool:
        """Record the message as processed; False when it was processed before."""

    async def stage(self, topic: Topic, key: str, envelope: Envelope[Any]) -> None:
        """Stage a message for the outbox relay, published after commit."""

    async def commit(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
