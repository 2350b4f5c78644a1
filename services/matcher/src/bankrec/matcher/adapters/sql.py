"""The matcher's books and outbox in SQL (SQLite or PostgreSQL) through SQLAlchemy 2 async."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Insert, Row, Table, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bankrec.contracts import Envelope, MatchDecision, MatchingSettings, StatementLine, Topic
from bankrec.matcher.adapters.tables import decided_lines, matching_settings, outbox, schema_for
from bankrec.matcher.errors import ConcurrentDecisionError
from bankrec.matcher.ports import DecidedLine, UnitOfWorkFactory
from bankrec.runtime import create_engine, stage_message
from bankrec.runtime.messaging import stage_many


def matcher_engine(url: str) -> AsyncEngine:
    """An async engine whose default schema is the matcher's own on PostgreSQL."""
    engine = create_engine(url)
    schema = schema_for(engine.dialect.name)
    if schema is None:
        return engine
    return engine.execution_options(schema_translate_map={None: schema})


def sql_units_of_work(sessions: async_sessionmaker[AsyncSession]) -> UnitOfWorkFactory:
    return lambda: SqlUnitOfWork(sessions)


class SqlUnitOfWork:
    """One database transaction; rolled back on exit unless committed."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._session: AsyncSession | None = None
        self.lines = SqlLineBook(self._require_session)
        self.settings = SqlSettingsBook(self._require_session)

    def _require_session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("use the unit of work inside `async with`")
        return self._session

    async def __aenter__(self) -> Self:
        self._session = self._sessions()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        session = self._require_session()
        try:
            await session.rollback()  # nothing left after a commit
        finally:
            await session.close()
            self._session = None

    async def stage(self, topic: Topic, key: str, envelope: Envelope[Any]) -> None:
        await stage_message(self._require_session(), outbox, topic, key, envelope)

    async def stage_many(self, messages: Sequence[tuple[Topic, str, Envelope[Any]]]) -> None:
        await stage_many(self._require_session(), outbox, messages)

    async def commit(self) -> None:
        try:
            await self._require_session().commit()
        except IntegrityError as exc:  # another instance inserted the same line first
            raise ConcurrentDecisionError(
                f"the line was decided by another instance: {exc}"
            ) from exc


class SqlLineBook:
    def __init__(self, session: Callable[[], AsyncSession]) -> None:
        self._session = session

    async def get(self, tenant_id: str, line_id: str) -> DecidedLine | None:
        row = (
            await self._session().execute(
                select(decided_lines).where(
                    decided_lines.c.tenant_id == tenant_id, decided_lines.c.line_id == line_id
                )
            )
        ).first()
        return None if row is None else _decided(row)

    async def get_many(
        self, keys: Collection[tuple[str, str]]
    ) -> dict[tuple[str, str], DecidedLine]:
        found: dict[tuple[str, str], DecidedLine] = {}
        for tenant_id, line_ids in _line_ids_by_tenant(keys):
            rows = (
                await self._session().execute(
                    select(decided_lines).where(
                        decided_lines.c.tenant_id == tenant_id,
                        decided_lines.c.line_id.in_(line_ids),
                    )
                )
            ).all()
            for row in rows:
                found[(row.tenant_id, row.line_id)] = _decided(row)
        return found

    async def add_many(self, decided: Sequence[DecidedLine]) -> set[tuple[str, str]]:
        if not decided:
            return set()
        session = self._session()
        now = datetime.now(UTC)
        rows = [
            {"tenant_id": d.tenant_id, "line_id": d.line_id, **_columns(d, now)} for d in decided
        ]
        # one executemany insert; a line another instance inserted since the lookup is skipped
        # (not an error that would undo the whole batch) and reported to the caller. Not
        # RETURNING: that makes one statement of the whole batch, which psycopg parses anew
        # each time (a third of the consumer's time); the row count says whether any was
        # skipped, and only then are the rows read back (ours carry this insert's timestamp)
        statement = _insert_new(decided_lines, session.get_bind().dialect.name)
        inserted = await session.execute(statement, rows)
        if getattr(inserted, "rowcount", -1) == len(rows):
            return set()
        keys = {(d.tenant_id, d.line_id) for d in decided}
        ours: set[tuple[str, str]] = set()
        for tenant_id, line_ids in _line_ids_by_tenant(keys):
            stored = await session.execute(
                select(decided_lines.c.tenant_id, decided_lines.c.line_id).where(
                    decided_lines.c.tenant_id == tenant_id,
                    decided_lines.c.line_id.in_(line_ids),
                    decided_lines.c.decided_at == now,
                )
            )
            ours.update((row.tenant_id, row.line_id) for row in stored)
        return keys - ours

    async def save(self, decided: DecidedLine, *, replacing: int | None = None) -> None:
        values = _columns(decided, datetime.now(UTC))
        session = self._session()
        if replacing is None:
            await session.execute(
                insert(decided_lines).values(
                    tenant_id=decided.tenant_id, line_id=decided.line_id, **values
                )
            )
            return
        result = await session.execute(
            update(decided_lines)
            .where(
                decided_lines.c.tenant_id == decided.tenant_id,
                decided_lines.c.line_id == decided.line_id,
                decided_lines.c.attempt == replacing,
            )
            .values(**values)
        )
        if getattr(result, "rowcount", 0) != 1:
            raise ConcurrentDecisionError(
                f"line {decided.line_id} is no longer at attempt {replacing}: another instance "
                "decided it meanwhile"
            )

    async def pending(self) -> list[DecidedLine]:
        rows = (
            await self._session().execute(
                select(decided_lines)
                .where(decided_lines.c.pending.is_(True))
                .order_by(decided_lines.c.tenant_id, decided_lines.c.line_id)
            )
        ).all()
        return [_decided(row) for row in rows]


class SqlSettingsBook:
    def __init__(self, session: Callable[[], AsyncSession]) -> None:
        self._session = session

    async def get(self, tenant_id: str) -> MatchingSettings | None:
        row = (
            await self._session().execute(
                select(matching_settings.c.settings).where(
                    matching_settings.c.tenant_id == tenant_id
                )
            )
        ).first()
        return None if row is None else MatchingSettings.model_validate_json(row.settings)

    async def save(self, tenant_id: str, settings: MatchingSettings) -> None:
        values = {
            "version": settings.version,
            "settings": settings.model_dump_json(),
            "updated_at": settings.updated_at or datetime.now(UTC),
        }
        session = self._session()
        if settings.version == 1:
            await session.execute(insert(matching_settings).values(tenant_id=tenant_id, **values))
            return
        result = await session.execute(
            update(matching_settings)
            .where(
                matching_settings.c.tenant_id == tenant_id,
                matching_settings.c.version == settings.version - 1,
            )
            .values(**values)
        )
        if getattr(result, "rowcount", 0) != 1:
            raise ConcurrentDecisionError(
                f"the matching settings of {tenant_id} were changed meanwhile; read them again"
            )

    async def all(self) -> dict[str, MatchingSettings]:
        rows = (
            await self._session().execute(
                select(matching_settings.c.tenant_id, matching_settings.c.settings)
            )
        ).all()
        return {row.tenant_id: MatchingSettings.model_validate_json(row.settings) for row in rows}


LOOKUP_KEYS_MAX = 1_000
"""Keys per lookup query: a batch is 200 lines, so one query, well under any bind limit."""


def _line_ids_by_tenant(keys: Iterable[tuple[str, str]]) -> Iterator[tuple[str, list[str]]]:
    """(tenant, up to LOOKUP_KEYS_MAX line ids) per lookup query. Why not one
    ``(tenant_id, line_id) IN (...)``: PostgreSQL turns a row-value list into ORs it cannot
    search the key with, so it read every line of the tenant and filtered (measured: 8,195
    rows read per lookup at 20,000 lines); ``tenant_id = t AND line_id IN (...)`` is a key
    lookup per id."""
    by_tenant: dict[str, list[str]] = {}
    for tenant_id, line_id in sorted(set(keys)):
        by_tenant.setdefault(tenant_id, []).append(line_id)
    for tenant_id, line_ids in by_tenant.items():
        for start in range(0, len(line_ids), LOOKUP_KEYS_MAX):
            yield tenant_id, line_ids[start : start + LOOKUP_KEYS_MAX]


def _columns(decided: DecidedLine, decided_at: datetime) -> dict[str, Any]:
    """The row of a decided line, without its key."""
    return {
        "account_id": decided.line.account.account_id,
        "decision_id": decided.decision.decision_id,
        "kind": decided.decision.kind.value,
        "attempt": decided.attempt,
        "pending": decided.pending,
        "parked_decision_id": decided.parked_decision_id,
        "refusals": json.dumps(list(decided.refusals)),
        "line": decided.line.model_dump_json(),
        "decision": decided.decision.model_dump_json(),
        "decided_at": decided_at,
    }


def _insert_new(table: Table, dialect_name: str) -> Insert:
    """An insert that skips rows whose key exists (PostgreSQL and SQLite say it alike)."""
    if dialect_name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect_name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise ValueError(f"the matcher stores lines on PostgreSQL or SQLite, not {dialect_name}")


def _decided(row: Row[Any]) -> DecidedLine:
    return DecidedLine(
        tenant_id=row.tenant_id,
        line=StatementLine.model_validate_json(row.line),
        decision=MatchDecision.model_validate_json(row.decision),
        attempt=row.attempt,
        pending=bool(row.pending),
        parked_decision_id=row.parked_decision_id,
        refusals=tuple(json.loads(row.refusals)),
    )
