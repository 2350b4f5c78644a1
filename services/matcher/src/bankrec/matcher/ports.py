"""What the use cases need from outside, as protocols; adapters implement them.

The matcher's durable state is a unit of work over two books: the latest decision of every
line it decided (with the line itself, so a redelivered line gets the same decision and a
suspense line can be decided again later) and each tenant's matching settings. Messages
are staged in the same transaction (outbox) and published by the relay after commit.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self

from bankrec.contracts import (
    DecisionKind,
    Envelope,
    MatchDecision,
    MatchingSettings,
    StatementLine,
    Topic,
)

PARKING_KINDS = frozenset({DecisionKind.SUSPENSE, DecisionKind.PROPOSAL})
"""Decisions the ledger posts to the interim account: the line waits for its item."""


@dataclass(frozen=True, slots=True)
class DecidedLine:
    """A statement line with the latest decision taken for it.

    ``attempt`` counts the decisions taken for the line (1 for the first); ``pending`` says
    the line still waits on the interim account for an item that explains it;
    ``parked_decision_id`` names the suspense or proposal decision that put it there (the one
    a later match supersedes); ``refusals`` are the ledger's reasons for refusing decisions
    of the line, oldest first.
    """

    tenant_id: str
    line: StatementLine
    decision: MatchDecision
    attempt: int = 1
    pending: bool = False
    parked_decision_id: str | None = None
    refusals: tuple[str, ...] = ()

    @property
    def line_id(self) -> str:
        return self.line.line_id


class LineBook(Protocol):
    """The latest decision per (tenant, line)."""

    async def get(self, tenant_id: str, line_id: str) -> DecidedLine | None: ...

    async def get_many(
        self, keys: Collection[tuple[str, str]]
    ) -> dict[tuple[str, str], DecidedLine]:
        """The lines decided before among ``keys`` (tenant, line id), in one lookup; a key
        without a decision is absent from the answer."""
        ...

    async def add_many(self, decided: Sequence[DecidedLine]) -> set[tuple[str, str]]:
        """Insert the first decisions of several lines at once; returns the (tenant, line id)
        of those another instance inserted meanwhile, which keep that instance's decision and
        were not written."""
        ...

    async def save(self, decided: DecidedLine, *, replacing: int | None = None) -> None:
        """Insert the line's first decision (``replacing`` None) or replace the one taken at
        attempt ``replacing``; raises ``ConcurrentDecision`` when another instance got there
        first (the line exists already, or is at another attempt now)."""
        ...

    async def pending(self) -> list[DecidedLine]:
        """Every tenant's lines still waiting for their item (read once at start-up)."""
        ...


class SettingsBook(Protocol):
    """Each tenant's matching settings (a tenant without any matches with the defaults)."""

    async def get(self, tenant_id: str) -> MatchingSettings | None: ...

    async def save(self, tenant_id: str, settings: MatchingSettings) -> None: ...

    async def all(self) -> dict[str, MatchingSettings]: ...


class MatcherUnitOfWork(Protocol):
    """One transaction over the matcher's books and its outbox; rolled back unless committed."""

    @property
    def lines(self) -> LineBook: ...

    @property
    def settings(self) -> SettingsBook: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    async def stage(self, topic: Topic, key: str, envelope: Envelope[Any]) -> None: ...

    async def stage_many(self, messages: Sequence[tuple[Topic, str, Envelope[Any]]]) -> None:
        """Stage several (topic, key, envelope) in order, in one write."""
        ...

    async def commit(self) -> None: ...


UnitOfWorkFactory = Callable[[], MatcherUnitOfWork]
