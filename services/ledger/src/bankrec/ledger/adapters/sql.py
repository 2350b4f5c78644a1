"""The ledger's ports on SQLAlchemy 2 async: SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from itertools import groupby
from typing import Any

from sqlalchemy import Column, ColumnElement, Row, Table, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction, async_sessionmaker
from sqlalchemy.sql import Executable, Update

from bankrec.contracts import (
    AccountRole,
    AdjustmentKind,
    EntrySource,
    Envelope,
    JournalEntryPosted,
    Money,
    OpenItem,
    OpenItemKind,
    OpenItemStatus,
    PostingLine,
    PostingRule,
    PostingRuleAction,
    PostingRuleConditions,
    PostingRuleStatus,
    ReferenceKind,
    Topic,
    currency_exponent,
)
from bankrec.ledger.adapters import tables
from bankrec.ledger.domain import Account, BankAccountLink, Chart, ChartChange, JournalEntry
from bankrec.ledger.domain.audit import AuditRecord, ManualAction
from bankrec.ledger.domain.payments import RegisteredPayment
from bankrec.ledger.domain.suspense import (
    AllocationTarget,
    SuspenseAllocation,
    SuspensePosting,
    SuspenseStatus,
)
from bankrec.ledger.errors import ConcurrentUpdate
from bankrec.ledger.ports import (
    AccountTotals,
    DecisionOutcome,
    DecisionRecord,
    LedgerCounts,
    PostedEntry,
    StoredEntry,
    TransactionFactory,
)
from bankrec.runtime import begin_snapshot, claim_inbox
from bankrec.runtime.messaging import stage_many

NAMES_SHOWN_MAX = 5  # items named in a conflict's message


def _amount(value: Decimal, currency: str) -> Decimal:
    """A stored amount written with its currency's minor-unit digits (exact: see domain)."""
    return value.quantize(Decimal(1).scaleb(-currency_exponent(currency)))


def _money(value: Decimal, currency: str) -> Money:
    return Money(amount=_amount(value, currency), currency=currency)


def _item_values(item: OpenItem) -> dict[str, Any]:
    return {
        "kind": item.kind.value,
        "counterparty_id": item.counterparty_id,
        "counterparty_name": item.counterparty_name,
        "counterparty_accounts": list(item.counterparty_accounts),
        "document_no": item.document_no,
        "external_document_no": item.external_document_no,
        "reference": item.reference,
        "reference_kind": item.reference_kind.value if item.reference_kind else None,
        "description": item.description,
        "amount": item.amount.amount,
        "remaining": item.remaining.amount,
        "currency": item.amount.currency,
        "posting_date": item.posting_date,
        "due_date": item.due_date,
        "status": item.status.value,
        "bank_account_id": item.bank_account_id,
        "version": item.version,
    }


def _item_from_row(row: Row[Any]) -> OpenItem:
    return OpenItem(
        item_id=row.item_id,
        kind=OpenItemKind(row.kind),
        counterparty_id=row.counterparty_id,
        counterparty_name=row.counterparty_name,
        counterparty_accounts=list(row.counterparty_accounts or []),
        document_no=row.document_no,
        external_document_no=row.external_document_no,
        reference=row.reference,
        reference_kind=ReferenceKind(row.reference_kind) if row.reference_kind else None,
        description=row.description,
        amount=_money(row.amount, row.currency),
        remaining=_money(row.remaining, row.currency),
        posting_date=row.posting_date,
        due_date=row.due_date,
        status=OpenItemStatus(row.status),
        bank_account_id=row.bank_account_id,
        version=row.version,
    )


def _line_from_row(row: Row[Any]) -> PostingLine:
    return PostingLine(
        account_code=row.account_code,
        account_role=AccountRole(row.account_role),
        debit=_amount(row.debit, row.currency),
        credit=_amount(row.credit, row.currency),
        currency=row.currency,
        bank_account_id=row.bank_account_id,
        open_item_id=row.open_item_id,
        counterparty_id=row.counterparty_id,
        statement_line_id=row.statement_line_id,
    )


async def _chart(session: AsyncSession, tenant_id: str) -> Chart | None:
    rows = (
        await session.execute(
            select(tables.accounts)
            .where(tables.accounts.c.tenant_id == tenant_id)
            .order_by(tables.accounts.c.code)
        )
    ).all()
    if not rows:
        return None
    links = (
        await session.execute(
            select(
                tables.bank_accounts.c.account_code,
                tables.bank_accounts.c.bank_account_id,
                tables.bank_accounts.c.iban,
                tables.bank_accounts.c.bban,
            ).where(tables.bank_accounts.c.tenant_id == tenant_id)
        )
    ).all()
    link_by_code = {link.account_code: link for link in links}
    accounts = []
    for row in rows:
        link = link_by_code.get(row.code)
        accounts.append(
            Account(
                code=row.code,
                name=row.name,
                role=AccountRole(row.role),
                currency=row.currency,
                bank_account_id=link.bank_account_id if link is not None else None,
                iban=link.iban if link is not None else None,
                bban=link.bban if link is not None else None,
                active=bool(row.active),
            )
        )
    return Chart(tuple(accounts))


def _allocation_from_row(row: Row[Any]) -> SuspenseAllocation:
    return SuspenseAllocation(
        allocation_id=row.allocation_id,
        suspense_id=row.suspense_id,
        target=AllocationTarget(row.target),
        target_id=row.target_id,
        amount=_money(row.amount, row.currency),
        entry_id=row.entry_id,
        reversal_entry_id=row.reversal_entry_id,
    )


def _entry_from_row(row: Row[Any], lines: list[PostingLine]) -> JournalEntryPosted:
    return JournalEntryPosted(
        entry_id=row.entry_id,
        idempotency_key=row.idempotency_key,
        posting_date=row.posting_date,
        source=EntrySource(row.source),
        source_ref=row.source_ref,
        decision_kind=row.decision_kind,
        description=row.description,
        lines=lines,
        bank_account_id=row.bank_account_id,
        statement_line_id=row.statement_line_id,
        reverses_entry_id=row.reverses_entry_id,
        adjustment_kind=AdjustmentKind(row.adjustment_kind) if row.adjustment_kind else None,
        actor=row.actor,
        reason=row.reason,
        posting_rule_id=row.posting_rule_id,
        posting_rule_version=row.posting_rule_version,
    )


async def _entries(
    session: AsyncSession,
    tenant_id: str,
    condition: ColumnElement[bool] | None,
    *,
    limit: int | None = None,
    offset: int = 0,
) -> list[PostedEntry]:
    """Journal entries with their lines, in posting order."""
    entries_table, lines_table = tables.journal_entries, tables.journal_lines
    query = select(entries_table).where(entries_table.c.tenant_id == tenant_id)
    if condition is not None:
        query = query.where(condition)
    query = query.order_by(entries_table.c.id).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    entries = (await session.execute(query)).all()
    if not entries:
        return []
    lines = (
        await session.execute(
            select(lines_table)
            .where(
                lines_table.c.tenant_id == tenant_id,
                lines_table.c.entry_id.in_([entry.entry_id for entry in entries]),
            )
            .order_by(lines_table.c.entry_id, lines_table.c.line_no)
        )
    ).all()
    lines_by_entry: dict[str, list[PostingLine]] = {}
    for line in lines:
        lines_by_entry.setdefault(line.entry_id, []).append(_line_from_row(line))
    return [
        PostedEntry(
            entry=_entry_from_row(row, lines_by_entry.get(row.entry_id, [])),
            posted_at=row.posted_at,
        )
        for row in entries
    ]


def _decision_from_row(row: Row[Any]) -> DecisionRecord:
    allocations = (
        None
        if row.allocations is None
        else tuple(
            (a["item_id"], Money(amount=Decimal(a["amount"]), currency=a["currency"]))
            for a in row.allocations
        )
    )
    return DecisionRecord(
        decision_id=row.decision_id,
        message_id=row.message_id,
        kind=row.kind,
        fingerprint=row.fingerprint,
        outcome=DecisionOutcome(row.outcome),
        decided_at=row.decided_at,
        entry_id=row.entry_id,
        reason_code=row.reason_code,
        reason=row.reason,
        line_id=row.line_id,
        bank_account_id=row.bank_account_id,
        allocations=allocations,
        unmatched_at=row.unmatched_at,
        unmatch_audit_id=row.unmatch_audit_id,
    )


async def _decision(
    session: AsyncSession, tenant_id: str, decision_id: str
) -> DecisionRecord | None:
    row = (
        await session.execute(
            select(tables.decisions).where(
                tables.decisions.c.tenant_id == tenant_id,
                tables.decisions.c.decision_id == decision_id,
            )
        )
    ).first()
    return _decision_from_row(row) if row is not None else None


def _suspense_values(posting: SuspensePosting) -> dict[str, Any]:
    return {
        "entry_id": posting.entry_id,
        "decision_id": posting.decision_id,
        "bank_account_id": posting.bank_account_id,
        "statement_line_id": posting.statement_line_id,
        "currency": posting.amount.currency,
        "amount": posting.amount.amount,
        "remaining": posting.remaining.amount,
        "posting_date": posting.posting_date,
        "status": posting.status.value,
        "version": posting.version,
    }


def _suspense_from_row(row: Row[Any]) -> SuspensePosting:
    return SuspensePosting(
        suspense_id=row.suspense_id,
        entry_id=row.entry_id,
        amount=_money(row.amount, row.currency),
        remaining=_money(row.remaining, row.currency),
        posting_date=row.posting_date,
        bank_account_id=row.bank_account_id,
        statement_line_id=row.statement_line_id,
        decision_id=row.decision_id,
        status=SuspenseStatus(row.status),
        version=row.version,
    )


async def _suspense_posting(
    session: AsyncSession, tenant_id: str, suspense_id: str
) -> SuspensePosting | None:
    postings = tables.suspense_postings
    row = (
        await session.execute(
            select(postings).where(
                postings.c.tenant_id == tenant_id, postings.c.suspense_id == suspense_id
            )
        )
    ).first()
    return _suspense_from_row(row) if row is not None else None


def _payment_from_row(row: Row[Any]) -> RegisteredPayment:
    return RegisteredPayment(
        payment_id=row.payment_id,
        item_id=row.item_id,
        amount=_money(row.amount, row.currency),
        bank_account_id=row.bank_account_id,
        entry_id=row.entry_id,
        removed=row.removed_at is not None,
    )


def _audit_from_row(row: Row[Any]) -> AuditRecord:
    return AuditRecord(
        audit_id=row.audit_id,
        action=ManualAction(row.action),
        subject_id=row.subject_id,
        actor=row.actor,
        reason=row.reason,
        occurred_at=row.occurred_at,
        entry_ids=tuple(row.entry_ids or ()),
        fingerprint=row.fingerprint,
        idempotency_key=row.idempotency_key,
        result=dict(row.result or {}),
    )


def _rule_from_row(row: Row[Any]) -> PostingRule:
    return PostingRule(
        rule_id=row.rule_id,
        version=row.version,
        name=row.name,
        priority=row.priority,
        status=PostingRuleStatus(row.status),
        conditions=PostingRuleConditions.model_validate(row.conditions),
        action=PostingRuleAction.model_validate(row.action),
        changed_at=row.changed_at,
        changed_by=row.changed_by,
    )


async def _posting_rule(
    session: AsyncSession, tenant_id: str, rule_id: str, version: int | None
) -> PostingRule | None:
    rules = tables.posting_rules
    query = select(rules).where(rules.c.tenant_id == tenant_id, rules.c.rule_id == rule_id)
    if version is not None:
        query = query.where(rules.c.version == version)
    row = (await session.execute(query.order_by(rules.c.version.desc()).limit(1))).first()
    return _rule_from_row(row) if row is not None else None


class SqlLedgerTransaction:
    """``LedgerTransaction`` on one SQLAlchemy session (one database transaction).

    The decision path's writes are kept back and written together (write-behind): inbox
    claims, journal entries and lines, decision records and suspense postings as one
    multi-row insert per table, open-item updates as one executemany whose row count checks
    every expected version. They are written before any other statement runs (so every read
    of this transaction sees them) and at commit. A savepoint costs nothing until a
    statement runs inside it: a decision that only queued writes rolls back by dropping
    them. Staged messages are written to the outbox at commit, in one insert in the order
    staged (a savepoint rolled back drops its own). Why: a batch of 200 decisions used to
    send some 1,800 statements, each a round trip and a statement built in Python.
    """

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._staged: list[tuple[Topic, str, Envelope[Any]]] = []
        self._pending: list[_PendingWrite] = []  # in the order made
        self._savepoints: list[_SavepointScope] = []  # open scopes, innermost last

    async def _db(self) -> AsyncSession:
        """The session, ready for a statement: the scopes that have not touched the database
        begin their savepoint (the writes kept back before each written outside it), then
        the rest of the kept-back writes are written."""
        for scope in self._savepoints:
            if scope.nested is None:
                written = await self._flush(scope.mark)
                for open_scope in self._savepoints:
                    open_scope.mark = max(0, open_scope.mark - written)  # outer ones: 0
                scope.nested = await self._session.begin_nested()
        await self._flush(len(self._pending))
        for scope in self._savepoints:
            scope.mark = 0
        return self._session

    async def _execute(self, statement: Executable, parameters: Any = None) -> Any:
        session = await self._db()
        return await session.execute(statement, parameters)

    async def _flush(self, count: int) -> int:
        """Write the first ``count`` kept-back writes: inserts per table in the order the
        foreign keys need (rows of one table in the order made), then the versioned updates
        in the order made. Returns how many were written."""
        writes = self._pending[:count]
        if not writes:
            return 0
        del self._pending[:count]
        inserts: dict[tuple[Table, tuple[str, ...]], list[dict[str, Any]]] = {}
        updates: list[_PendingUpdate] = []
        for write in writes:
            if isinstance(write, _PendingInsert):
                inserts.setdefault((write.table, tuple(write.row)), []).append(write.row)
            else:
                updates.append(write)
        for table in tables.metadata.sorted_tables:
            for (of_table, _), rows in inserts.items():
                if of_table is table:
                    await self._session.execute(insert(table), rows)
        for statement, group in groupby(updates, key=lambda update: update.statement):
            made = list(group)
            result = await self._session.execute(statement, [update.row for update in made])
            if getattr(result, "rowcount", 0) != len(made):
                changed = ", ".join(update.subject for update in made[:NAMES_SHOWN_MAX])
                raise ConcurrentUpdate(
                    f"{changed if len(made) == 1 else 'one of ' + changed} changed while "
                    "this update was prepared; retry"
                )
        return len(writes)

    def _insert_later(self, table: Table, row: dict[str, Any]) -> None:
        self._pending.append(_PendingInsert(table, row))

    async def claim_message(self, consumer: str, message_id: str) -> bool:
        return await claim_inbox(await self._db(), tables.inbox, consumer, message_id)

    async def processed_messages(self, consumer: str, message_ids: Iterable[str]) -> set[str]:
        inbox = tables.inbox
        return await self._which_exist(
            inbox.c.message_id, inbox.c.consumer == consumer, message_ids
        )

    async def _which_exist(
        self, key: Column[str], scope: ColumnElement[bool], values: Iterable[str]
    ) -> set[str]:
        """Which of ``values`` the ``key`` column holds among the rows ``scope`` selects."""
        wanted = sorted(set(values))
        if not wanted:
            return set()
        rows = await self._execute(select(key).where(scope, key.in_(wanted)))
        return {row[0] for row in rows}

    async def add_processed_message(self, consumer: str, message_id: str) -> None:
        # a concurrent claim's IntegrityError (at the write, or at commit) ends the
        # transaction, which ``sql_transactions`` turns into ConcurrentUpdate
        self._insert_later(
            tables.inbox,
            {"consumer": consumer, "message_id": message_id, "processed_at": datetime.now(UTC)},
        )

    async def load_chart(self, tenant_id: str) -> Chart | None:
        return await _chart(await self._db(), tenant_id)

    async def create_chart(self, tenant_id: str, chart: Chart) -> None:
        now = datetime.now(UTC)
        rows = [
            {
                "tenant_id": tenant_id,
                "code": account.code,
                "name": account.name,
                "role": account.role.value,
                "currency": account.currency,
                "created_at": now,
                "active": account.active,
            }
            for account in chart.accounts
        ]
        # two first uses of a tenant at once: the second one keeps the first one's chart
        dialect = self._session.get_bind().dialect.name
        statement: Any
        if dialect == "postgresql":
            statement = postgresql.insert(tables.accounts).on_conflict_do_nothing()
        elif dialect == "sqlite":
            statement = sqlite.insert(tables.accounts).on_conflict_do_nothing()
        else:  # pragma: no cover - only SQLite and PostgreSQL are supported
            statement = insert(tables.accounts)
        await self._execute(statement, rows)

    async def link_bank_account(self, tenant_id: str, link: BankAccountLink) -> None:
        account = link.account
        assert account.bank_account_id is not None
        assert account.currency is not None
        now = datetime.now(UTC)
        if link.account_created:
            await self._execute(
                insert(tables.accounts).values(
                    tenant_id=tenant_id,
                    code=account.code,
                    name=account.name,
                    role=account.role.value,
                    currency=account.currency,
                    created_at=now,
                )
            )
        else:
            await self._execute(
                update(tables.accounts)
                .where(
                    tables.accounts.c.tenant_id == tenant_id,
                    tables.accounts.c.code == account.code,
                )
                .values(currency=account.currency)
            )
        await self._execute(
            insert(tables.bank_accounts).values(
                tenant_id=tenant_id,
                bank_account_id=account.bank_account_id,
                account_code=account.code,
                currency=account.currency,
                linked_at=now,
            )
        )

    async def save_chart_change(self, tenant_id: str, change: ChartChange) -> None:
        now = datetime.now(UTC)
        accounts = tables.accounts
        for before, after in change.accounts:
            values = {
                "name": after.name,
                "role": after.role.value,
                "currency": after.currency,
                "active": after.active,
            }
            if before is None:
                await self._execute(
                    insert(accounts).values(
                        tenant_id=tenant_id, code=after.code, created_at=now, **values
                    )
                )
                continue
            # optimistic: the row must still be as the change was decided on (two role
            # moves at once must not leave two accounts holding one role)
            result = await self._execute(
                update(accounts)
                .where(
                    accounts.c.tenant_id == tenant_id,
                    accounts.c.code == before.code,
                    accounts.c.name == before.name,
                    accounts.c.role == before.role.value,
                    accounts.c.active == before.active,
                )
                .values(**values)
            )
            if getattr(result, "rowcount", 0) != 1:
                raise ConcurrentUpdate(
                    f"GL account {before.code} changed while this change was prepared; retry"
                )
        if change.link is None:
            return
        was, link = change.link
        assert link.bank_account_id is not None
        assert link.currency is not None
        links = tables.bank_accounts
        if was is None:
            await self._execute(
                insert(links).values(
                    tenant_id=tenant_id,
                    bank_account_id=link.bank_account_id,
                    account_code=link.code,
                    currency=link.currency,
                    linked_at=now,
                    iban=link.iban,
                    bban=link.bban,
                )
            )
            return
        result = await self._execute(
            update(links)
            .where(
                links.c.tenant_id == tenant_id,
                links.c.bank_account_id == link.bank_account_id,
                links.c.iban.is_(None) if was.iban is None else links.c.iban == was.iban,
            )
            .values(iban=link.iban, bban=link.bban)
        )
        if getattr(result, "rowcount", 0) != 1:
            raise ConcurrentUpdate(
                f"bank account {link.bank_account_id} changed while this change was prepared; retry"
            )

    async def account_balances(self, tenant_id: str, code: str) -> dict[str, Decimal]:
        lines = tables.journal_lines
        rows = (
            await self._execute(
                select(
                    lines.c.currency,
                    func.sum(lines.c.debit).label("debit"),
                    func.sum(lines.c.credit).label("credit"),
                )
                .where(lines.c.tenant_id == tenant_id, lines.c.account_code == code)
                .group_by(lines.c.currency)
            )
        ).all()
        return {
            row.currency: _amount(row.debit, row.currency) - _amount(row.credit, row.currency)
            for row in rows
        }

    async def open_item(self, tenant_id: str, item_id: str) -> OpenItem | None:
        found = await self.open_items(tenant_id, [item_id])
        return found.get(item_id)

    async def open_items(self, tenant_id: str, item_ids: Iterable[str]) -> dict[str, OpenItem]:
        wanted = sorted(set(item_ids))
        if not wanted:
            return {}
        rows = (
            await self._execute(
                select(tables.open_items).where(
                    tables.open_items.c.tenant_id == tenant_id,
                    tables.open_items.c.item_id.in_(wanted),
                )
            )
        ).all()
        return {row.item_id: _item_from_row(row) for row in rows}

    async def add_open_item(self, tenant_id: str, item: OpenItem) -> None:
        now = datetime.now(UTC)
        self._insert_later(
            tables.open_items,
            {
                "tenant_id": tenant_id,
                "item_id": item.item_id,
                "created_at": now,
                "updated_at": now,
                **_item_values(item),
            },
        )

    async def update_open_item(
        self, tenant_id: str, item: OpenItem, *, expected_version: int
    ) -> None:
        self._pending.append(
            _PendingUpdate(
                _OPEN_ITEM_UPDATE,
                {
                    "w_tenant_id": tenant_id,
                    "w_item_id": item.item_id,
                    "w_version": expected_version,
                    "updated_at": datetime.now(UTC),
                    **_item_values(item),
                },
                f"open item {item.item_id} (expected version {expected_version})",
            )
        )

    async def decision_record(self, tenant_id: str, decision_id: str) -> DecisionRecord | None:
        return await _decision(await self._db(), tenant_id, decision_id)

    async def decision_records(
        self, tenant_id: str, decision_ids: Iterable[str]
    ) -> dict[str, DecisionRecord]:
        wanted = sorted(set(decision_ids))
        if not wanted:
            return {}
        decisions = tables.decisions
        rows = await self._execute(
            select(decisions).where(
                decisions.c.tenant_id == tenant_id, decisions.c.decision_id.in_(wanted)
            )
        )
        return {row.decision_id: _decision_from_row(row) for row in rows}

    async def record_decision(self, tenant_id: str, record: DecisionRecord) -> None:
        allocations = (
            None
            if record.allocations is None
            else [
                {
                    "item_id": item_id,
                    "amount": format(money.amount, "f"),
                    "currency": money.currency,
                }
                for item_id, money in record.allocations
            ]
        )
        self._insert_later(
            tables.decisions,
            {
                "tenant_id": tenant_id,
                "decision_id": record.decision_id,
                "message_id": record.message_id,
                "kind": record.kind,
                "fingerprint": record.fingerprint,
                "outcome": record.outcome.value,
                "entry_id": record.entry_id,
                "reason_code": record.reason_code,
                "reason": record.reason[:2000] if record.reason else None,
                "decided_at": record.decided_at,
                "line_id": record.line_id,
                "bank_account_id": record.bank_account_id,
                "allocations": allocations,
            },
        )

    async def mark_decision_unmatched(
        self, tenant_id: str, decision_id: str, at: datetime, audit_id: str
    ) -> None:
        decisions = tables.decisions
        result = await self._execute(
            update(decisions)
            .where(
                decisions.c.tenant_id == tenant_id,
                decisions.c.decision_id == decision_id,
                decisions.c.unmatched_at.is_(None),
            )
            .values(unmatched_at=at, unmatch_audit_id=audit_id)
        )
        if getattr(result, "rowcount", 0) != 1:
            raise ConcurrentUpdate(f"decision {decision_id} was unmatched meanwhile; retry")

    async def entry(self, tenant_id: str, entry_id: str) -> JournalEntry | None:
        found = await _entries(
            await self._db(), tenant_id, tables.journal_entries.c.entry_id == entry_id
        )
        return JournalEntry.from_event(found[0].entry) if found else None

    async def entry_by_key(self, tenant_id: str, idempotency_key: str) -> StoredEntry | None:
        row = (
            await self._execute(
                select(
                    tables.journal_entries.c.entry_id, tables.journal_entries.c.fingerprint
                ).where(
                    tables.journal_entries.c.tenant_id == tenant_id,
                    tables.journal_entries.c.idempotency_key == idempotency_key,
                )
            )
        ).first()
        return StoredEntry(row.entry_id, row.fingerprint) if row is not None else None

    async def entries_by_keys(
        self, tenant_id: str, idempotency_keys: Iterable[str]
    ) -> dict[str, StoredEntry]:
        wanted = sorted(set(idempotency_keys))
        if not wanted:
            return {}
        entries = tables.journal_entries
        rows = await self._execute(
            select(entries.c.idempotency_key, entries.c.entry_id, entries.c.fingerprint).where(
                entries.c.tenant_id == tenant_id, entries.c.idempotency_key.in_(wanted)
            )
        )
        return {row.idempotency_key: StoredEntry(row.entry_id, row.fingerprint) for row in rows}

    async def append_entry(self, tenant_id: str, entry: JournalEntry, posted_at: datetime) -> None:
        self._insert_later(
            tables.journal_entries,
            {
                "tenant_id": tenant_id,
                "entry_id": entry.entry_id,
                "idempotency_key": entry.idempotency_key,
                "fingerprint": entry.fingerprint,
                "posting_date": entry.posting_date,
                "source": entry.source.value,
                "source_ref": entry.source_ref,
                "decision_kind": entry.decision_kind,
                "description": entry.description,
                "bank_account_id": entry.bank_account_id,
                "statement_line_id": entry.statement_line_id,
                "reverses_entry_id": entry.reverses_entry_id,
                "posted_at": posted_at,
                "adjustment_kind": entry.adjustment_kind.value if entry.adjustment_kind else None,
                "actor": entry.actor,
                "reason": entry.reason,
                "posting_rule_id": entry.posting_rule_id,
                "posting_rule_version": entry.posting_rule_version,
            },
        )
        for number, line in enumerate(entry.lines, start=1):
            self._insert_later(
                tables.journal_lines,
                {
                    "tenant_id": tenant_id,
                    "entry_id": entry.entry_id,
                    "line_no": number,
                    "account_code": line.account_code,
                    "account_role": line.account_role.value,
                    "debit": line.debit,
                    "credit": line.credit,
                    "currency": line.currency,
                    "bank_account_id": line.bank_account_id,
                    "open_item_id": line.open_item_id,
                    "counterparty_id": line.counterparty_id,
                    "statement_line_id": line.statement_line_id,
                },
            )

    async def suspense_posting(self, tenant_id: str, suspense_id: str) -> SuspensePosting | None:
        return await _suspense_posting(await self._db(), tenant_id, suspense_id)

    async def suspense_postings_of_line(
        self, tenant_id: str, statement_line_id: str
    ) -> list[SuspensePosting]:
        postings = tables.suspense_postings
        rows = (
            await self._execute(
                select(postings)
                .where(
                    postings.c.tenant_id == tenant_id,
                    postings.c.statement_line_id == statement_line_id,
                )
                .order_by(postings.c.created_at, postings.c.suspense_id)
            )
        ).all()
        return [_suspense_from_row(row) for row in rows]

    async def decisions_of_line(self, tenant_id: str, line_id: str) -> list[DecisionRecord]:
        decisions = tables.decisions
        rows = (
            await self._execute(
                select(decisions)
                .where(decisions.c.tenant_id == tenant_id, decisions.c.line_id == line_id)
                .order_by(decisions.c.decided_at, decisions.c.decision_id)
            )
        ).all()
        return [_decision_from_row(row) for row in rows]

    async def add_suspense_posting(
        self, tenant_id: str, posting: SuspensePosting, at: datetime
    ) -> None:
        self._insert_later(
            tables.suspense_postings,
            {
                "tenant_id": tenant_id,
                "suspense_id": posting.suspense_id,
                "created_at": at,
                "updated_at": at,
                **_suspense_values(posting),
            },
        )

    async def update_suspense_posting(
        self, tenant_id: str, posting: SuspensePosting, *, expected_version: int
    ) -> None:
        postings = tables.suspense_postings
        result = await self._execute(
            update(postings)
            .where(
                postings.c.tenant_id == tenant_id,
                postings.c.suspense_id == posting.suspense_id,
                postings.c.version == expected_version,
            )
            .values(updated_at=datetime.now(UTC), **_suspense_values(posting))
        )
        if getattr(result, "rowcount", 0) != 1:
            raise ConcurrentUpdate(
                f"suspense posting {posting.suspense_id} changed while this update was prepared "
                f"(expected version {expected_version}); retry"
            )

    async def add_suspense_allocation(
        self, tenant_id: str, allocation: SuspenseAllocation, at: datetime
    ) -> None:
        await self._execute(
            insert(tables.suspense_allocations).values(
                tenant_id=tenant_id,
                allocation_id=allocation.allocation_id,
                suspense_id=allocation.suspense_id,
                target=allocation.target.value,
                target_id=allocation.target_id,
                currency=allocation.amount.currency,
                amount=allocation.amount.amount,
                entry_id=allocation.entry_id,
                allocated_at=at,
            )
        )

    async def suspense_allocation(
        self, tenant_id: str, allocation_id: str
    ) -> SuspenseAllocation | None:
        allocations = tables.suspense_allocations
        row = (
            await self._execute(
                select(allocations)
                .where(
                    allocations.c.tenant_id == tenant_id,
                    allocations.c.allocation_id == allocation_id,
                )
                # locked to the end of the transaction (PostgreSQL; SQLite writes one at a
                # time anyway): a second reversal waits, then reads it reversed, instead of
                # reading the item the first one reopened next to a stale allocation
                .with_for_update()
            )
        ).first()
        return _allocation_from_row(row) if row is not None else None

    async def mark_allocation_reversed(
        self, tenant_id: str, allocation: SuspenseAllocation, at: datetime, audit_id: str
    ) -> None:
        allocations = tables.suspense_allocations
        result = await self._execute(
            update(allocations)
            .where(
                allocations.c.tenant_id == tenant_id,
                allocations.c.allocation_id == allocation.allocation_id,
                allocations.c.reversal_entry_id.is_(None),
            )
            .values(
                reversal_entry_id=allocation.reversal_entry_id,
                reversed_at=at,
                reversal_audit_id=audit_id,
            )
        )
        if getattr(result, "rowcount", 0) != 1:
            raise ConcurrentUpdate(
                f"allocation {allocation.allocation_id} was reversed meanwhile; retry"
            )

    async def registered_payment(self, tenant_id: str, payment_id: str) -> RegisteredPayment | None:
        payments = tables.registered_payments
        row = (
            await self._execute(
                select(payments).where(
                    payments.c.tenant_id == tenant_id, payments.c.payment_id == payment_id
                )
            )
        ).first()
        return _payment_from_row(row) if row is not None else None

    async def registered_payment_ids(self, tenant_id: str, item_ids: Iterable[str]) -> set[str]:
        payments = tables.registered_payments
        return await self._which_exist(
            payments.c.payment_id, payments.c.tenant_id == tenant_id, item_ids
        )

    async def add_registered_payment(
        self, tenant_id: str, payment: RegisteredPayment, at: datetime
    ) -> None:
        await self._execute(
            insert(tables.registered_payments).values(
                tenant_id=tenant_id,
                payment_id=payment.payment_id,
                item_id=payment.item_id,
                currency=payment.amount.currency,
                amount=payment.amount.amount,
                bank_account_id=payment.bank_account_id,
                entry_id=payment.entry_id,
                registered_at=at,
            )
        )

    async def mark_payment_removed(self, tenant_id: str, payment_id: str, at: datetime) -> None:
        payments = tables.registered_payments
        result = await self._execute(
            update(payments)
            .where(
                payments.c.tenant_id == tenant_id,
                payments.c.payment_id == payment_id,
                payments.c.removed_at.is_(None),
            )
            .values(removed_at=at)
        )
        if getattr(result, "rowcount", 0) != 1:
            raise ConcurrentUpdate(f"payment {payment_id} was removed meanwhile; retry")

    async def audit_record(self, tenant_id: str, audit_id: str) -> AuditRecord | None:
        trail = tables.audit_trail
        row = (
            await self._execute(
                select(trail).where(trail.c.tenant_id == tenant_id, trail.c.audit_id == audit_id)
            )
        ).first()
        return _audit_from_row(row) if row is not None else None

    async def add_audit_record(self, tenant_id: str, record: AuditRecord) -> None:
        await self._execute(
            insert(tables.audit_trail).values(
                tenant_id=tenant_id,
                audit_id=record.audit_id,
                action=record.action.value,
                subject_id=record.subject_id[:200],
                actor=record.actor,
                reason=record.reason,
                occurred_at=record.occurred_at,
                entry_ids=list(record.entry_ids),
                fingerprint=record.fingerprint,
                idempotency_key=record.idempotency_key,
                result=dict(record.result),
            )
        )

    async def posting_rule(
        self, tenant_id: str, rule_id: str, version: int | None = None
    ) -> PostingRule | None:
        return await _posting_rule(await self._db(), tenant_id, rule_id, version)

    async def add_posting_rule(self, tenant_id: str, rule: PostingRule) -> None:
        await self._execute(
            insert(tables.posting_rules).values(
                tenant_id=tenant_id,
                rule_id=rule.rule_id,
                version=rule.version,
                name=rule.name,
                priority=rule.priority,
                status=rule.status.value,
                conditions=rule.conditions.model_dump(mode="json"),
                action=rule.action.model_dump(mode="json"),
                changed_at=rule.changed_at,
                changed_by=rule.changed_by,
            )
        )

    async def stage(self, topic: Topic, key: str, envelope: Envelope[Any]) -> None:
        self._staged.append((topic, key, envelope))

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        # SQLite savepoints need pysqlite's own transaction handling off: the runtime's
        # engine does that (and BEGIN IMMEDIATE) for every SQLite connection
        scope = _SavepointScope(mark=len(self._pending))
        staged = len(self._staged)
        self._savepoints.append(scope)
        try:
            yield
        except BaseException:
            del self._pending[scope.mark :]
            del self._staged[staged:]
            if scope.nested is not None:
                await scope.nested.rollback()
            raise
        else:
            if scope.nested is not None:
                await scope.nested.commit()
        finally:
            self._savepoints.remove(scope)

    async def commit(self) -> None:
        await self._db()
        await stage_many(self._session, tables.outbox, self._staged)
        self._staged.clear()
        await self._session.commit()


@dataclass(slots=True)
class _SavepointScope:
    """A ``savepoint()`` block: where its kept-back writes begin, and its SAVEPOINT once a
    statement ran inside it."""

    mark: int
    nested: AsyncSessionTransaction | None = None


@dataclass(frozen=True, slots=True)
class _PendingInsert:
    table: Table
    row: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _PendingUpdate:
    """An optimistic update: ``statement`` matches the row only at its expected version."""

    statement: Update
    row: dict[str, Any]
    subject: str  # what the update is of, for the conflict's message


_PendingWrite = _PendingInsert | _PendingUpdate

# an open item's new state where it still has the version the change was decided on
_OPEN_ITEM_UPDATE = update(tables.open_items).where(
    tables.open_items.c.tenant_id == bindparam("w_tenant_id"),
    tables.open_items.c.item_id == bindparam("w_item_id"),
    tables.open_items.c.version == bindparam("w_version"),
)


def sql_transactions(sessions: async_sessionmaker[AsyncSession]) -> TransactionFactory:
    """A ``TransactionFactory`` whose transactions turn constraint races into ConcurrentUpdate."""

    @asynccontextmanager
    async def transaction() -> AsyncIterator[SqlLedgerTransaction]:
        async with sessions() as session:
            try:
                yield SqlLedgerTransaction(session)
            except IntegrityError as exc:
                # a unique key another transaction took first (same item, chart or entry)
                raise ConcurrentUpdate(f"a concurrent write won: {exc.orig}") from exc

    return transaction


class SqlLedgerViews:
    """``LedgerViews``: the read side of the HTTP API."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @asynccontextmanager
    async def _snapshot(self) -> AsyncIterator[AsyncSession]:
        """A session whose reads all see one committed state (a read of several tables never
        shows half of a transaction)."""
        async with self._sessions() as session:
            await begin_snapshot(session)
            yield session

    async def open_items(
        self, tenant_id: str, *, status: OpenItemStatus | None, limit: int, offset: int
    ) -> list[OpenItem]:
        query = select(tables.open_items).where(tables.open_items.c.tenant_id == tenant_id)
        if status is not None:
            query = query.where(tables.open_items.c.status == status.value)
        query = query.order_by(tables.open_items.c.item_id).limit(limit).offset(offset)
        async with self._snapshot() as session:
            rows = (await session.execute(query)).all()
        return [_item_from_row(row) for row in rows]

    async def open_item(self, tenant_id: str, item_id: str) -> OpenItem | None:
        async with self._snapshot() as session:
            row = (
                await session.execute(
                    select(tables.open_items).where(
                        tables.open_items.c.tenant_id == tenant_id,
                        tables.open_items.c.item_id == item_id,
                    )
                )
            ).first()
        return _item_from_row(row) if row is not None else None

    async def chart(self, tenant_id: str) -> Chart | None:
        async with self._snapshot() as session:
            return await _chart(session, tenant_id)

    async def journal(self, tenant_id: str, *, limit: int, offset: int) -> list[PostedEntry]:
        async with self._snapshot() as session:
            return await _entries(session, tenant_id, None, limit=limit, offset=offset)

    async def entry_by_key(self, tenant_id: str, idempotency_key: str) -> PostedEntry | None:
        async with self._snapshot() as session:
            found = await _entries(
                session, tenant_id, tables.journal_entries.c.idempotency_key == idempotency_key
            )
        return found[0] if found else None

    async def account_totals(self, tenant_id: str) -> list[AccountTotals]:
        lines = tables.journal_lines
        query = (
            select(
                lines.c.account_code,
                lines.c.account_role,
                lines.c.currency,
                func.sum(lines.c.debit).label("debit"),
                func.sum(lines.c.credit).label("credit"),
            )
            .where(lines.c.tenant_id == tenant_id)
            .group_by(lines.c.account_code, lines.c.account_role, lines.c.currency)
            .order_by(lines.c.account_code, lines.c.currency)
        )
        async with self._snapshot() as session:
            rows = (await session.execute(query)).all()
        return [
            AccountTotals(
                account_code=row.account_code,
                role=AccountRole(row.account_role),
                currency=row.currency,
                debit=_amount(row.debit, row.currency),
                credit=_amount(row.credit, row.currency),
            )
            for row in rows
        ]

    async def counts(self, tenant_id: str) -> LedgerCounts:
        decisions, entries = tables.decisions, tables.journal_entries
        async with self._snapshot() as session:
            outcome_rows = await session.execute(
                select(decisions.c.outcome, func.count())
                .where(decisions.c.tenant_id == tenant_id)
                .group_by(decisions.c.outcome)
            )
            by_outcome: dict[str, int] = {outcome: count for outcome, count in outcome_rows}
            entry_count = await session.scalar(
                select(func.count()).select_from(entries).where(entries.c.tenant_id == tenant_id)
            )
            unmatched = await session.scalar(
                select(func.count())
                .select_from(decisions)
                .where(decisions.c.tenant_id == tenant_id, decisions.c.unmatched_at.is_not(None))
            )
        return LedgerCounts(
            decisions_applied=by_outcome.get(DecisionOutcome.POSTED.value, 0)
            + by_outcome.get(DecisionOutcome.NO_POSTING.value, 0),
            decisions_refused=by_outcome.get(DecisionOutcome.REFUSED.value, 0),
            journal_entries=int(entry_count or 0),
            decisions_unmatched=int(unmatched or 0),
        )

    async def decision(self, tenant_id: str, decision_id: str) -> DecisionRecord | None:
        async with self._snapshot() as session:
            return await _decision(session, tenant_id, decision_id)

    async def suspense_postings(
        self, tenant_id: str, *, status: SuspenseStatus | None, limit: int, offset: int
    ) -> list[SuspensePosting]:
        postings = tables.suspense_postings
        query = select(postings).where(postings.c.tenant_id == tenant_id)
        if status is not None:
            query = query.where(postings.c.status == status.value)
        query = (
            query.order_by(postings.c.posting_date, postings.c.suspense_id)
            .limit(limit)
            .offset(offset)
        )
        async with self._snapshot() as session:
            rows = (await session.execute(query)).all()
        return [_suspense_from_row(row) for row in rows]

    async def suspense_posting(self, tenant_id: str, suspense_id: str) -> SuspensePosting | None:
        async with self._snapshot() as session:
            return await _suspense_posting(session, tenant_id, suspense_id)

    async def suspense_allocations(
        self, tenant_id: str, suspense_id: str
    ) -> list[SuspenseAllocation]:
        allocations = tables.suspense_allocations
        async with self._snapshot() as session:
            rows = (
                await session.execute(
                    select(allocations)
                    .where(
                        allocations.c.tenant_id == tenant_id,
                        allocations.c.suspense_id == suspense_id,
                    )
                    .order_by(allocations.c.id)
                )
            ).all()
        return [_allocation_from_row(row) for row in rows]

    async def registered_payments(self, tenant_id: str, item_id: str) -> list[RegisteredPayment]:
        payments = tables.registered_payments
        async with self._snapshot() as session:
            rows = (
                await session.execute(
                    select(payments)
                    .where(payments.c.tenant_id == tenant_id, payments.c.item_id == item_id)
                    .order_by(payments.c.registered_at, payments.c.payment_id)
                )
            ).all()
        return [_payment_from_row(row) for row in rows]

    async def posting_rules(self, tenant_id: str, *, include_deleted: bool) -> list[PostingRule]:
        rules = tables.posting_rules
        latest = (
            select(rules.c.rule_id, func.max(rules.c.version).label("version"))
            .where(rules.c.tenant_id == tenant_id)
            .group_by(rules.c.rule_id)
            .subquery()
        )
        query = (
            select(rules)
            .join(
                latest,
                (rules.c.rule_id == latest.c.rule_id) & (rules.c.version == latest.c.version),
            )
            .where(rules.c.tenant_id == tenant_id)
            .order_by(rules.c.priority, rules.c.rule_id)
        )
        if not include_deleted:
            query = query.where(rules.c.status == PostingRuleStatus.ACTIVE.value)
        async with self._snapshot() as session:
            rows = (await session.execute(query)).all()
        return [_rule_from_row(row) for row in rows]

    async def posting_rule_versions(self, tenant_id: str, rule_id: str) -> list[PostingRule]:
        rules = tables.posting_rules
        async with self._snapshot() as session:
            rows = (
                await session.execute(
                    select(rules)
                    .where(rules.c.tenant_id == tenant_id, rules.c.rule_id == rule_id)
                    .order_by(rules.c.version)
                )
            ).all()
        return [_rule_from_row(row) for row in rows]

    async def audit_trail(
        self, tenant_id: str, *, subject_id: str | None, limit: int, offset: int
    ) -> list[AuditRecord]:
        trail = tables.audit_trail
        query = select(trail).where(trail.c.tenant_id == tenant_id)
        if subject_id is not None:
            query = query.where(trail.c.subject_id == subject_id)
        query = query.order_by(trail.c.id).limit(limit).offset(offset)
        async with self._snapshot() as session:
            rows = (await session.execute(query)).all()
        return [_audit_from_row(row) for row in rows]
