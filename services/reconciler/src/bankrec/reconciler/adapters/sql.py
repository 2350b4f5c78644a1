"""Periods, inbox and outbox in SQL (SQLite or PostgreSQL) through SQLAlchemy 2 async."""

from __future__ import annotations

import asyncio
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Self, cast

from sqlalchemy import CursorResult, Row, Table, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bankrec.contracts import (
    AdjustmentKind,
    Balance,
    DecisionKind,
    EntrySource,
    Envelope,
    ManualMatchKind,
    ManualMatchOutcome,
    Money,
    PeriodStatus,
    Topic,
)
from bankrec.reconciler.adapters.tables import (
    inbox,
    outbox,
    period_adjustments,
    period_audit,
    period_item_marks,
    period_lines,
    period_match_requests,
    period_postings,
    period_removed_lines,
    period_statements,
    periods,
    schema_for,
)
from bankrec.reconciler.domain import (
    Adjustment,
    AuditAction,
    AuditRecord,
    BankPosting,
    ItemKind,
    ItemMark,
    LineDecision,
    LineOrigin,
    MatchRequest,
    PeriodLine,
    PostingPart,
    ReconciliationPeriod,
    StatementBalances,
)
from bankrec.reconciler.ports import ConcurrentUpdateError, TouchedItems, UnitOfWorkFactory
from bankrec.runtime import begin_snapshot, create_engine, encode_envelope
from bankrec.runtime.tracing import STAGED_TRACE_CONTEXTS


def reconciler_engine(url: str) -> AsyncEngine:
    """An async engine whose default schema is the reconciler's own on PostgreSQL."""
    engine = create_engine(url)
    schema = schema_for(engine.dialect.name)
    if schema is None:
        return engine
    return engine.execution_options(schema_translate_map={None: schema})


def sql_units_of_work(
    sessions: async_sessionmaker[AsyncSession], cache: PeriodCache | None = None
) -> UnitOfWorkFactory:
    """Units of work sharing one period cache (one per process)."""
    shared = cache if cache is not None else PeriodCache()
    return lambda: SqlUnitOfWork(sessions, shared)


PERIODS_CACHED_MAX = 256
ROWS_CACHED_MAX = 100_000  # lines and postings of the cached periods: ~4.4 KiB each in memory


class PeriodCache:
    """Periods as last committed, each with its ``periods.version``; least recently used go.

    Every write of a period or of any of its rows bumps the version (``SqlPeriodRepository``
    does), so a cached period is used only while the locked row still has its version: a write
    by another instance, or anything this one rolled back, makes it a miss and it is reloaded.

    Bounded by periods and by the lines and postings they hold together: a period is held
    whole until it is released, so its lines grow with the month, and the count of periods
    alone would not bound memory. The period used last stays even when it alone passes the
    bound: it was whole in memory to be worked on anyway, and reading a period of 100,000
    lines back for every batch of its account's messages would cost as much as the batch.
    """

    def __init__(self, size: int = PERIODS_CACHED_MAX, rows_max: int = ROWS_CACHED_MAX) -> None:
        self._size = size
        self._rows_max = rows_max
        self._rows = 0
        self._entries: OrderedDict[tuple[str, str], tuple[int, ReconciliationPeriod, int]] = (
            OrderedDict()
        )
        # periods a transaction of this process is committing, see ``committing``
        self._committing: dict[tuple[str, str], _Committing] = {}

    @property
    def rows(self) -> int:
        return self._rows

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: tuple[str, str], version: int) -> ReconciliationPeriod | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] != version:
            return None
        self._entries.move_to_end(key)
        return entry[1]

    async def get_committed(
        self, key: tuple[str, str], version: int
    ) -> ReconciliationPeriod | None:
        """``get``, waiting first when the version asked for is one another transaction of
        this process is committing: the database lets a waiting transaction read the new
        version the moment that commit lands, before the committing coroutine has run again
        to put the period here, and the miss would read the whole period back."""
        committing = self._committing.get(key)
        if committing is not None and committing.version == version:
            await committing.settled.wait()
        return self.get(key, version)

    def committing(
        self, key: tuple[str, str], version: int, period: ReconciliationPeriod
    ) -> _Committing | None:
        """Announce a period about to be committed at ``version`` (None when nothing is
        cached); ``settle`` says whether the commit held."""
        if self._size <= 0:
            return None
        committing = self._committing[key] = _Committing(version, period, asyncio.Event())
        return committing

    def settle(self, key: tuple[str, str], committing: _Committing, *, held: bool) -> None:
        """The commit announced by ``committing`` ended: cache the period if it held."""
        if self._committing.get(key) is committing:
            del self._committing[key]
        if held:
            self.put(key, committing.version, committing.period)
        committing.settled.set()

    def put(self, key: tuple[str, str], version: int, period: ReconciliationPeriod) -> None:
        self._forget(key)
        if self._size <= 0:
            return
        rows = len(period.lines) + len(period.postings)
        self._entries[key] = (version, period, rows)
        self._rows += rows
        # the least recently used go first; the one just put (used last) stays
        while len(self._entries) > 1 and (
            len(self._entries) > self._size or self._rows > self._rows_max
        ):
            _, (_, _, gone) = self._entries.popitem(last=False)
            self._rows -= gone

    def _forget(self, key: tuple[str, str]) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._rows -= entry[2]


@dataclass(frozen=True, slots=True)
class _Committing:
    version: int
    period: ReconciliationPeriod
    settled: asyncio.Event


class SqlUnitOfWork:
    """One database transaction; rolled back on exit unless committed."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], cache: PeriodCache | None = None
    ) -> None:
        self._sessions = sessions
        self._session: AsyncSession | None = None
        self._cache = cache if cache is not None else PeriodCache(size=0)
        self.periods = SqlPeriodRepository(self._require_session, self._cache)
        self._staged: list[dict[str, Any]] = []  # outbox rows, written in one go at commit

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
        self._staged.clear()
        try:
            await session.rollback()  # nothing left after a commit
        finally:
            await session.close()
            self._session = None

    async def snapshot(self) -> None:
        await begin_snapshot(self._require_session())

    async def claim_messages(
        self,
        consumer: str,
        message_ids: Sequence[str],
        *,
        recorded_at: Mapping[str, datetime] | None = None,
    ) -> set[str]:
        """One INSERT .. ON CONFLICT DO NOTHING for all of them: a claim another transaction
        holds waits for it, and then counts only if that one rolled back."""
        if not message_ids:
            return set()
        session = self._require_session()
        assert session.bind is not None
        dialect_insert = (
            postgresql_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
        )
        now = datetime.now(UTC)
        at = recorded_at or {}
        claimed = await session.execute(
            dialect_insert(inbox)
            .values(
                [
                    {
                        "consumer": consumer,
                        "message_id": message_id,
                        "processed_at": at.get(message_id, now),
                    }
                    for message_id in message_ids
                ]
            )
            .on_conflict_do_nothing()
            .returning(inbox.c.message_id)
        )
        return set(claimed.scalars())

    async def unclaim_messages(self, consumer: str, message_ids: Sequence[str]) -> None:
        if message_ids:
            await self._require_session().execute(
                delete(inbox).where(
                    inbox.c.consumer == consumer, inbox.c.message_id.in_(message_ids)
                )
            )

    async def stage(self, topic: Topic, key: str, envelope: Envelope[Any]) -> None:
        """As ``bankrec.runtime.stage_message``, but the rows go in at commit, all in one
        statement (a batch of messages stages one event each)."""
        STAGED_TRACE_CONTEXTS.remember(envelope.message_id, caused_by=envelope.causation_id)
        self._staged.append(
            {
                "topic": topic.name,
                "message_key": key,
                "message_type": envelope.type,
                "value": encode_envelope(envelope),
                "created_at": datetime.now(UTC),
                "published_at": None,
            }
        )

    async def commit(self) -> None:
        session = self._require_session()
        committing = [
            (key, announced)
            for key, (version, period) in self.periods.saved.items()
            if (announced := self._cache.committing(key, version, period)) is not None
        ]
        held = False
        try:
            if self._staged:
                await session.execute(insert(outbox), self._staged)
                self._staged.clear()
            await session.commit()
            held = True
        except IntegrityError as exc:  # a concurrent transaction inserted the same rows
            raise ConcurrentUpdateError(str(exc)) from exc
        finally:
            for key, announced in committing:
                self._cache.settle(key, announced, held=held)
            self.periods.saved.clear()


class SqlPeriodRepository:
    """Loads a period with all its rows; saves only the rows that changed."""

    def __init__(self, session: Callable[[], AsyncSession], cache: PeriodCache) -> None:
        self._session = session
        self._cache = cache
        self._versions: dict[tuple[str, str], int] = {}
        self.saved: dict[tuple[str, str], tuple[int, ReconciliationPeriod]] = {}

    async def current(
        self, tenant_id: str, account_id: str, *, for_update: bool = False
    ) -> ReconciliationPeriod | None:
        query = (
            select(periods)
            .where(periods.c.tenant_id == tenant_id, periods.c.account_id == account_id)
            .order_by(periods.c.period_no.desc())
            .limit(1)
        )
        return await self._one(tenant_id, query, for_update=for_update)

    async def get(
        self, tenant_id: str, account_id: str, period_no: int, *, for_update: bool = False
    ) -> ReconciliationPeriod | None:
        query = select(periods).where(
            periods.c.tenant_id == tenant_id,
            periods.c.account_id == account_id,
            periods.c.period_no == period_no,
        )
        return await self._one(tenant_id, query, for_update=for_update)

    async def list_account(self, tenant_id: str, account_id: str) -> list[ReconciliationPeriod]:
        rows = (
            await self._session().execute(
                select(periods)
                .where(periods.c.tenant_id == tenant_id, periods.c.account_id == account_id)
                .order_by(periods.c.period_no)
            )
        ).all()
        for row in rows:
            self._versions.setdefault((tenant_id, row.period_id), row.version)
        return await self._load(tenant_id, list(rows))

    async def period_no_with_adjustment(
        self, tenant_id: str, account_id: str, adjustment_id: str
    ) -> int | None:
        found = await self._session().execute(
            select(periods.c.period_no)
            .join(
                period_adjustments,
                (period_adjustments.c.tenant_id == periods.c.tenant_id)
                & (period_adjustments.c.period_id == periods.c.period_id),
            )
            .where(
                period_adjustments.c.tenant_id == tenant_id,
                period_adjustments.c.account_id == account_id,
                period_adjustments.c.adjustment_id == adjustment_id,
            )
        )
        number = found.scalar_one_or_none()
        return None if number is None else int(number)

    async def _one(
        self, tenant_id: str, query: Any, *, for_update: bool
    ) -> ReconciliationPeriod | None:
        if for_update:  # PostgreSQL locks the row; SQLite's BEGIN IMMEDIATE already did
            query = query.with_for_update()
        row = (await self._session().execute(query)).first()
        if row is None:
            return None
        key = (tenant_id, row.period_id)
        self._versions[key] = row.version
        cached = await self._cache.get_committed(key, row.version) if for_update else None
        if cached is not None:
            return cached
        (period,) = await self._load(tenant_id, [row])
        if for_update:  # read under the row lock: exactly what is stored at this version
            self._cache.put(key, row.version, period)
        return period

    async def list_current(self, tenant_id: str) -> list[ReconciliationPeriod]:
        rows = (
            await self._session().execute(
                select(periods)
                .where(periods.c.tenant_id == tenant_id)
                .order_by(periods.c.account_id, periods.c.period_no.desc())
            )
        ).all()
        current: dict[str, Row[Any]] = {}
        for row in rows:
            current.setdefault(row.account_id, row)
        return await self._load(tenant_id, list(current.values()))

    async def save(
        self,
        period: ReconciliationPeriod,
        previous: ReconciliationPeriod | None,
        touched: TouchedItems | None = None,
    ) -> None:
        try:
            await self._save(period, previous, touched)
        except IntegrityError as exc:  # another transaction created the same period first
            raise ConcurrentUpdateError(str(exc.orig)) from exc

    async def _save(
        self,
        period: ReconciliationPeriod,
        previous: ReconciliationPeriod | None,
        touched: TouchedItems | None,
    ) -> None:
        session = self._session()
        key = (period.tenant_id, period.period_id)
        now = datetime.now(UTC)
        if previous is None:
            await session.execute(
                insert(periods).values(
                    **_period_values(period), version=1, created_at=now, updated_at=now
                )
            )
            self._versions[key] = 1
        else:
            version = self._versions[key]
            result = await session.execute(
                update(periods)
                .where(
                    periods.c.tenant_id == period.tenant_id,
                    periods.c.period_id == period.period_id,
                    periods.c.version == version,
                )
                .values(**_period_values(period), version=version + 1, updated_at=now)
            )
            if cast(CursorResult[Any], result).rowcount != 1:
                raise ConcurrentUpdateError(
                    f"period {period.period_id} changed since it was loaded (version {version})"
                )
            self._versions[key] = version + 1
        scope = {"tenant_id": period.tenant_id, "period_id": period.period_id}
        empty: Mapping[str, Any] = {}
        await _save_children(
            session,
            period_statements,
            "statement_id",
            scope,
            previous.statements if previous is not None else empty,
            period.statements,
            _statement_rows,
            touched.statements if touched is not None else None,
        )
        await _save_children(
            session,
            period_lines,
            "line_id",
            scope,
            previous.lines if previous is not None else empty,
            period.lines,
            _line_rows,
            touched.lines if touched is not None else None,
        )
        await _save_children(
            session,
            period_postings,
            "entry_id",
            scope,
            previous.postings if previous is not None else empty,
            period.postings,
            _posting_rows,
            touched.postings if touched is not None else None,
        )
        await _save_children(
            session,
            period_removed_lines,
            "line_id",
            scope,
            previous.removed_lines if previous is not None else empty,
            period.removed_lines,
            _line_rows,
        )
        for kind, before_marks, after_marks in (
            (
                ItemKind.STATEMENT_LINE,
                previous.line_marks if previous is not None else empty,
                period.line_marks,
            ),
            (
                ItemKind.LEDGER_ENTRY,
                previous.entry_marks if previous is not None else empty,
                period.entry_marks,
            ),
        ):
            await _save_children(
                session,
                period_item_marks,
                "item_id",
                {**scope, "item_kind": kind.value},
                before_marks,
                after_marks,
                _mark_rows,
            )
        await _save_children(
            session,
            period_adjustments,
            "adjustment_id",
            scope,
            previous.adjustments if previous is not None else empty,
            period.adjustments,
            lambda adjustment: _adjustment_rows(period.account_id, adjustment),
        )
        await _save_children(
            session,
            period_match_requests,
            "request_id",
            scope,
            previous.match_requests if previous is not None else empty,
            period.match_requests,
            _match_request_rows,
        )
        await _append_audit(session, scope, previous.audit if previous else (), period.audit)
        self.saved[key] = (self._versions[key], period)

    async def _load(self, tenant_id: str, rows: list[Row[Any]]) -> list[ReconciliationPeriod]:
        if not rows:
            return []
        session = self._session()
        period_ids = [row.period_id for row in rows]

        async def children(table: Table) -> dict[str, list[Row[Any]]]:
            found = await session.execute(
                select(table).where(
                    table.c.tenant_id == tenant_id, table.c.period_id.in_(period_ids)
                )
            )
            grouped: dict[str, list[Row[Any]]] = defaultdict(list)
            for child in found:
                grouped[child.period_id].append(child)
            return grouped

        statements = await children(period_statements)
        lines = await children(period_lines)
        postings = await children(period_postings)
        removed = await children(period_removed_lines)
        marks = await children(period_item_marks)
        adjustments = await children(period_adjustments)
        match_requests = await children(period_match_requests)
        audit = await children(period_audit)
        loaded = []
        for row in rows:
            period = _period_from_rows(
                row, statements[row.period_id], lines[row.period_id], postings[row.period_id]
            )
            period = _with_workflow_rows(
                period,
                removed[row.period_id],
                marks[row.period_id],
                adjustments[row.period_id],
                audit[row.period_id],
            )
            loaded.append(_with_match_requests(period, match_requests[row.period_id]))
        return loaded


# ------------------------------------------------------------------------------ rows


async def _save_children(
    session: AsyncSession,
    table: Table,
    key_column: str,
    scope: Mapping[str, Any],
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    rows_of: Callable[[Any], list[dict[str, Any]]],
    touched: frozenset[str] | None = None,
) -> None:
    """Write the children that changed: the domain shares unchanged maps and children between
    versions of a period, so ``is`` finds the changes without building a row for every child;
    with ``touched`` (the keys that may differ) only those are compared, unless the map's size
    says others changed too."""
    if before is after:
        return
    if touched is not None:
        added = sum(1 for key in touched if key in after and key not in before)
        gone = sum(1 for key in touched if key in before and key not in after)
        if len(after) != len(before) + added - gone:
            touched = None  # more changed than the hint says: compare everything
    keys: Iterable[str] = after if touched is None else (k for k in touched if k in after)
    inserts: list[dict[str, Any]] = []
    deletes: list[str] = []
    for key in keys:
        child = after[key]
        old = before.get(key)
        if old is child:
            continue
        if old is not None:
            if old == child:
                continue
            deletes.append(key)
        inserts += [{**scope, key_column: key, **row} for row in rows_of(child)]
    deletes += [
        key
        for key in (before if touched is None else touched)
        if key in before and key not in after
    ]
    if deletes:
        await session.execute(
            delete(table).where(
                *(table.c[name] == value for name, value in scope.items()),
                table.c[key_column].in_(deletes),
            )
        )
    if inserts:
        await session.execute(insert(table), inserts)


def _period_values(period: ReconciliationPeriod) -> dict[str, Any]:
    return {
        "tenant_id": period.tenant_id,
        "period_id": period.period_id,
        "account_id": period.account_id,
        "period_no": period.period_no,
        "currency": period.currency,
        "status": period.status.value,
        "account_number": period.account_number,
        "manual_opening_balance": _amount(period.manual_opening_balance),
        "manual_statement_balance": _amount(period.manual_statement_balance),
        "sequence_no": period.sequence_no,
        "opening_from_previous": _amount(period.opening_from_previous),
    }


def _amount(money: Money | None) -> Any:
    return None if money is None else money.amount


def _statement_rows(statement: StatementBalances) -> list[dict[str, Any]]:
    return [
        {
            "statement_id": statement.statement_id,
            "opening_amount": _amount(statement.opening.amount if statement.opening else None),
            "opening_date": statement.opening.date if statement.opening else None,
            "closing_amount": _amount(statement.closing.amount if statement.closing else None),
            "closing_date": statement.closing.date if statement.closing else None,
            "sequence_no": statement.sequence_no,
            "statement_created_at": statement.created_at,
        }
    ]


def _line_rows(line: PeriodLine) -> list[dict[str, Any]]:
    return [
        {
            "line_id": line.line_id,
            "statement_id": line.statement_id,
            "amount": line.amount.amount,
            "booking_date": line.booking_date,
            "received": line.received,
            "decision_id": line.decision.decision_id if line.decision else None,
            "decision_kind": line.decision.kind.value if line.decision else None,
            "decided_at": line.decision.decided_at if line.decision else None,
            "decision_counterparty_id": line.decision.counterparty_id if line.decision else None,
            "origin": line.origin.value,
            "counterparty": line.counterparty,
            "line_text": line.text,
            "charge_kind": line.charge_kind.value if line.charge_kind else None,
        }
    ]


def _posting_rows(posting: BankPosting) -> list[dict[str, Any]]:
    return [
        {
            "entry_id": posting.entry_id,
            "part_no": part_no,
            "statement_line_id": part.statement_line_id,
            "amount": part.amount.amount,
            "posting_date": posting.posting_date,
            "reverses_entry_id": posting.reverses_entry_id,
            "source": posting.source.value if posting.source else None,
            "source_ref": posting.source_ref,
            "adjustment_kind": posting.adjustment_kind.value if posting.adjustment_kind else None,
            "counterparty_id": posting.counterparty_id,
            "description": posting.description,
            "carried_from": posting.carried_from,
        }
        for part_no, part in enumerate(posting.parts)
    ]


def _mark_rows(mark: ItemMark) -> list[dict[str, Any]]:
    return [
        {
            "cleared": mark.cleared,
            "reconciled": mark.reconciled,
            "marked_by": mark.marked_by,
            "marked_at": mark.marked_at,
        }
    ]


def _adjustment_rows(account_id: str, adjustment: Adjustment) -> list[dict[str, Any]]:
    return [
        {
            "adjustment_id": adjustment.adjustment_id,
            "account_id": account_id,
            "kind": adjustment.kind.value,
            "amount": adjustment.amount.amount,
            "requested_by": adjustment.requested_by,
            "requested_at": adjustment.requested_at,
            "reason": adjustment.reason,
            "statement_line_id": adjustment.statement_line_id,
            "gl_account": adjustment.gl_account,
            "description": adjustment.description,
            "posting_date": adjustment.posting_date,
            "refusal_code": adjustment.refusal_code,
            "refusal_reason": adjustment.refusal_reason,
            "refused_at": adjustment.refused_at,
        }
    ]


def _match_request_rows(request: MatchRequest) -> list[dict[str, Any]]:
    return [
        {
            "kind": request.kind.value,
            "line_id": request.line_id,
            "decision_id": request.decision_id,
            "requested_by": request.requested_by,
            "requested_at": request.requested_at,
            "reason": request.reason,
            "allocations": [
                [item_id, format(amount.amount, "f")] for item_id, amount in request.allocations
            ],
            "undoes_request_id": request.undoes_request_id,
            "outcome": request.outcome.value if request.outcome else None,
            "entry_ids": list(request.entry_ids),
            "refusal_code": request.refusal_code,
            "refusal_reason": request.refusal_reason,
            "settled_at": request.settled_at,
        }
    ]


def _with_match_requests(
    period: ReconciliationPeriod, rows: Iterable[Row[Any]]
) -> ReconciliationPeriod:
    requests = {
        r.request_id: MatchRequest(
            request_id=r.request_id,
            kind=ManualMatchKind(r.kind),
            line_id=r.line_id,
            decision_id=r.decision_id,
            requested_by=r.requested_by,
            requested_at=r.requested_at,
            reason=r.reason,
            allocations=tuple(
                (item_id, Money(amount=Decimal(amount), currency=period.currency))
                for item_id, amount in r.allocations
            ),
            undoes_request_id=r.undoes_request_id,
            outcome=ManualMatchOutcome(r.outcome) if r.outcome else None,
            entry_ids=tuple(r.entry_ids),
            refusal_code=r.refusal_code,
            refusal_reason=r.refusal_reason,
            settled_at=r.settled_at,
        )
        for r in rows
    }
    return replace(period, match_requests=requests) if requests else period


async def _append_audit(
    session: AsyncSession,
    scope: Mapping[str, Any],
    before: tuple[AuditRecord, ...],
    after: tuple[AuditRecord, ...],
) -> None:
    """The audit trail only grows: write the records after the ones stored."""
    if after is before:
        return
    if after[: len(before)] != before:
        raise ValueError("a period's audit trail is append-only; its stored records changed")
    rows = [
        {
            **scope,
            "record_no": record_no,
            "action": record.action.value,
            "actor": record.actor,
            "at": record.at,
            "reason": record.reason,
            "subject_id": record.subject_id,
            "sequence_no": record.sequence_no,
            "amount": _amount(record.amount),
            "opening_balance": _amount(record.opening_balance),
            "reconciliation_date": record.reconciliation_date,
        }
        for record_no, record in enumerate(after[len(before) :], start=len(before))
    ]
    if rows:
        await session.execute(insert(period_audit), rows)


def _period_from_rows(
    row: Row[Any],
    statement_rows: Iterable[Row[Any]],
    line_rows: Iterable[Row[Any]],
    posting_rows: Iterable[Row[Any]],
) -> ReconciliationPeriod:
    currency: str = row.currency

    def money(amount: Any) -> Money:
        return Money(amount=amount, currency=currency)

    def balance(amount: Any, on: Any) -> Balance | None:
        return None if amount is None else Balance(amount=money(amount), date=on)

    statements = {
        s.statement_id: StatementBalances(
            statement_id=s.statement_id,
            opening=balance(s.opening_amount, s.opening_date),
            closing=balance(s.closing_amount, s.closing_date),
            sequence_no=s.sequence_no,
            created_at=s.statement_created_at,
        )
        for s in statement_rows
    }
    lines = {line.line_id: _line_from_row(line, currency) for line in line_rows}
    parts: dict[str, list[Row[Any]]] = defaultdict(list)
    for part in sorted(posting_rows, key=lambda p: (p.entry_id, p.part_no)):
        parts[part.entry_id].append(part)
    postings = {
        entry_id: BankPosting(
            entry_id=entry_id,
            posting_date=entry_parts[0].posting_date,
            reverses_entry_id=entry_parts[0].reverses_entry_id,
            parts=tuple(PostingPart(p.statement_line_id, money(p.amount)) for p in entry_parts),
            source=None if entry_parts[0].source is None else EntrySource(entry_parts[0].source),
            source_ref=entry_parts[0].source_ref,
            adjustment_kind=None
            if entry_parts[0].adjustment_kind is None
            else AdjustmentKind(entry_parts[0].adjustment_kind),
            counterparty_id=entry_parts[0].counterparty_id,
            description=entry_parts[0].description,
            carried_from=entry_parts[0].carried_from,
        )
        for entry_id, entry_parts in parts.items()
    }
    return ReconciliationPeriod(
        tenant_id=row.tenant_id,
        account_id=row.account_id,
        currency=currency,
        period_no=row.period_no,
        status=PeriodStatus(row.status),
        account_number=row.account_number,
        manual_opening_balance=None
        if row.manual_opening_balance is None
        else money(row.manual_opening_balance),
        manual_statement_balance=None
        if row.manual_statement_balance is None
        else money(row.manual_statement_balance),
        statements=statements,
        lines=lines,
        postings=postings,
        sequence_no=row.sequence_no,
        opening_from_previous=None
        if row.opening_from_previous is None
        else money(row.opening_from_previous),
    )


def _line_from_row(line: Row[Any], currency: str) -> PeriodLine:
    return PeriodLine(
        line_id=line.line_id,
        statement_id=line.statement_id,
        amount=Money(amount=line.amount, currency=currency),
        booking_date=line.booking_date,
        received=bool(line.received),
        decision=None
        if line.decision_id is None
        else LineDecision(
            line.decision_id,
            DecisionKind(line.decision_kind),
            line.decided_at,
            line.decision_counterparty_id,
        ),
        origin=LineOrigin(line.origin) if line.origin else LineOrigin.BANK,
        counterparty=line.counterparty,
        text=line.line_text,
        charge_kind=None if line.charge_kind is None else AdjustmentKind(line.charge_kind),
    )


def _with_workflow_rows(
    period: ReconciliationPeriod,
    removed_rows: Iterable[Row[Any]],
    mark_rows: Iterable[Row[Any]],
    adjustment_rows: Iterable[Row[Any]],
    audit_rows: Iterable[Row[Any]],
) -> ReconciliationPeriod:
    currency = period.currency

    def money(amount: Any) -> Money | None:
        return None if amount is None else Money(amount=amount, currency=currency)

    marks: dict[str, dict[str, ItemMark]] = {kind.value: {} for kind in ItemKind}
    for mark in mark_rows:
        marks[mark.item_kind][mark.item_id] = ItemMark(
            cleared=mark.cleared,
            reconciled=mark.reconciled,
            marked_by=mark.marked_by,
            marked_at=mark.marked_at,
        )
    adjustments = {
        a.adjustment_id: Adjustment(
            adjustment_id=a.adjustment_id,
            kind=AdjustmentKind(a.kind),
            amount=Money(amount=a.amount, currency=currency),
            requested_by=a.requested_by,
            requested_at=a.requested_at,
            reason=a.reason,
            statement_line_id=a.statement_line_id,
            gl_account=a.gl_account,
            description=a.description,
            posting_date=a.posting_date,
            refusal_code=a.refusal_code,
            refusal_reason=a.refusal_reason,
            refused_at=a.refused_at,
        )
        for a in adjustment_rows
    }
    audit = tuple(
        AuditRecord(
            action=AuditAction(r.action),
            actor=r.actor,
            at=r.at,
            reason=r.reason,
            subject_id=r.subject_id,
            sequence_no=r.sequence_no,
            amount=money(r.amount),
            opening_balance=money(r.opening_balance),
            reconciliation_date=r.reconciliation_date,
        )
        for r in sorted(audit_rows, key=lambda r: r.record_no)
    )
    return replace(
        period,
        removed_lines={r.line_id: _line_from_row(r, currency) for r in removed_rows},
        line_marks=marks[ItemKind.STATEMENT_LINE.value],
        entry_marks=marks[ItemKind.LEDGER_ENTRY.value],
        adjustments=adjustments,
        audit=audit,
    )


__all__ = [
    "PeriodCache",
    "SqlPeriodRepository",
    "SqlUnitOfWork",
    "reconciler_engine",
    "sql_units_of_work",
]
