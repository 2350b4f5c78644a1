"""What the use cases need from outside: a unit of work over periods, inbox and outbox.

An account has periods numbered from 1; its *current* period is the one with the highest
number (after a release, the period opened by it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from bankrec.contracts import Envelope, Topic
from bankrec.reconciler.domain import ReconciliationPeriod


class ConcurrentUpdateError(Exception):
    """Another transaction changed or created the same period first; retry the whole unit."""


@dataclass(frozen=True, slots=True)
class TouchedItems:
    """The items of a period that messages may have changed, by id: ``save`` compares only
    these in their maps (and a map it names nothing of only by identity), so a message writes
    in O(what it touched), not O(period). A hint: where the counts do not add up, ``save``
    compares the whole map."""

    statements: frozenset[str] = frozenset()
    lines: frozenset[str] = frozenset()
    postings: frozenset[str] = frozenset()

    def __or__(self, other: TouchedItems) -> TouchedItems:
        return TouchedItems(
            self.statements | other.statements,
            self.lines | other.lines,
            self.postings | other.postings,
        )


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
        self,
        period: ReconciliationPeriod,
        previous: ReconciliationPeriod | None,
        touched: TouchedItems | None = None,
    ) -> None:
        """Store the period; ``previous`` is what ``current`` returned (None for a new one);
        ``touched`` (None: anything) names the statements, lines and postings that may differ.

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

    async def snapshot(self) -> None:
        """Make this unit a read of one committed state (first, before any read): a period
        loaded table by table never shows half of another unit's commit."""

    async def claim_messages(
        self,
        consumer: str,
        message_ids: Sequence[str],
        *,
        recorded_at: Mapping[str, datetime] | None = None,
    ) -> set[str]:
        """Record the messages as processed (ids distinct); returns those not processed before.
        ``recorded_at``: when a message was first recorded, for the ones a rebuild records
        again (the claim keeps that time, which routes the message in a later rebuild); the
        others are recorded now."""

    async def unclaim_messages(self, consumer: str, message_ids: Sequence[str]) -> None:
        """Take back claims of this unit (messages it refused, to be dead-lettered)."""

    async def stage(self, topic: Topic, key: str, envelope: Envelope[Any]) -> None:
        """Stage a message for the outbox relay, published after commit."""

    async def commit(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
