"""The matcher's books and outbox in memory: the same ports as the SQL adapter, for tests and
in-process use. Changes become visible at commit; staged messages are kept in order."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from bankrec.contracts import DECISIONS, Envelope, MatchDecision, MatchingSettings, Topic
from bankrec.matcher.errors import ConcurrentDecisionError
from bankrec.matcher.ports import DecidedLine, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class StagedMessage:
    topic: Topic
    key: str
    envelope: Envelope[Any]


@dataclass
class MemoryStore:
    """What the database would hold: decided lines, settings and the outbox."""

    lines: dict[tuple[str, str], DecidedLine] = field(default_factory=dict)
    settings: dict[str, MatchingSettings] = field(default_factory=dict)
    outbox: list[StagedMessage] = field(default_factory=list)

    def units_of_work(self) -> UnitOfWorkFactory:
        return lambda: MemoryUnitOfWork(self)

    @property
    def decisions(self) -> list[tuple[str, Envelope[MatchDecision]]]:
        """The decisions staged so far, with their keys, in order."""
        return [(m.key, m.envelope) for m in self.outbox if m.topic is DECISIONS]


class MemoryLineBook:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.changed: dict[tuple[str, str], DecidedLine] = {}

    async def get(self, tenant_id: str, line_id: str) -> DecidedLine | None:
        key = (tenant_id, line_id)
        return self.changed.get(key) or self._store.lines.get(key)

    async def get_many(
        self, keys: Collection[tuple[str, str]]
    ) -> dict[tuple[str, str], DecidedLine]:
        found = {key: await self.get(*key) for key in keys}
        return {key: decided for key, decided in found.items() if decided is not None}

    async def add_many(self, decided: Sequence[DecidedLine]) -> set[tuple[str, str]]:
        taken: set[tuple[str, str]] = set()
        for line in decided:
            key = (line.tenant_id, line.line_id)
            if await self.get(*key) is not None:
                taken.add(key)  # decided meanwhile (by another instance): kept as it is
            else:
                self.changed[key] = line
        return taken

    async def save(self, decided: DecidedLine, *, replacing: int | None = None) -> None:
        known = await self.get(decided.tenant_id, decided.line_id)
        if (known is None) != (replacing is None) or (
            known is not None and known.attempt != replacing
        ):
            raise ConcurrentDecisionError(f"line {decided.line_id} was decided meanwhile")
        self.changed[(decided.tenant_id, decided.line_id)] = decided

    async def pending(self) -> list[DecidedLine]:
        merged = {**self._store.lines, **self.changed}
        return [merged[key] for key in sorted(merged) if merged[key].pending]


class MemorySettingsBook:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.changed: dict[str, MatchingSettings] = {}

    async def get(self, tenant_id: str) -> MatchingSettings | None:
        return self.changed.get(tenant_id) or self._store.settings.get(tenant_id)

    async def save(self, tenant_id: str, settings: MatchingSettings) -> None:
        known = await self.get(tenant_id)
        if settings.version != (known.version + 1 if known is not None else 1):
            raise ConcurrentDecisionError(f"the matching settings of {tenant_id} changed meanwhile")
        self.changed[tenant_id] = settings

    async def all(self) -> dict[str, MatchingSettings]:
        return {**self._store.settings, **self.changed}


class MemoryUnitOfWork:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.lines = MemoryLineBook(store)
        self.settings = MemorySettingsBook(store)
        self._staged: list[StagedMessage] = []

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.lines.changed.clear()  # what was not committed is forgotten
        self.settings.changed.clear()
        self._staged.clear()

    async def stage(self, topic: Topic, key: str, envelope: Envelope[Any]) -> None:
        self._staged.append(StagedMessage(topic, key, envelope))

    async def stage_many(self, messages: Sequence[tuple[Topic, str, Envelope[Any]]]) -> None:
        self._staged.extend(
            StagedMessage(topic, key, envelope) for topic, key, envelope in messages
        )

    async def commit(self) -> None:
        self._store.lines.update(self.lines.changed)
        self._store.settings.update(self.settings.changed)
        self._store.outbox.extend(self._staged)
        self.lines.changed.clear()
        self.settings.changed.clear()
        self._staged.clear()
