"""What the use cases need from the outside world: a transaction over the ledger's own
tables (with its inbox and outbox) and read-only views. ``adapters.sql`` implements both."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from bankrec.contracts import (
    AccountRole,
    Envelope,
    JournalEntryPosted,
    Money,
    OpenItem,
    OpenItemStatus,
    PostingRule,
    Topic,
)
from bankrec.ledger.domain import BankAccountLink, Chart, ChartChange, JournalEntry
from bankrec.ledger.domain.audit import AuditRecord
from bankrec.ledger.domain.payments import RegisteredPayment
from bankrec.ledger.domain.suspense import SuspenseAllocation, SuspensePosting, SuspenseStatus


class DecisionOutcome(StrEnum):
    POSTED = "posted"  # a journal entry was posted
    NO_POSTING = "no_posting"  # applied, nothing to post (reversal pair, registered payment)
    REFUSED = "refused"  # not applied; the reason is recorded and dead-lettered


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """What the ledger did with one decision id; the decision's idempotency record."""

    decision_id: str
    message_id: str
    kind: str
    fingerprint: str
    outcome: DecisionOutcome
    decided_at: datetime
    entry_id: str | None = None
    reason_code: str | None = None
    reason: str | None = None
    line_id: str | None = None
    bank_account_id: str | None = None
    allocations: tuple[tuple[str, Money], ...] | None = None  # None: applied before 0002
    unmatched_at: datetime | None = None
    unmatch_audit_id: str | None = None


@dataclass(frozen=True, slots=True)
class StoredEntry:
    entry_id: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class PostedEntry:
    """A journal entry as stored, with the moment it was posted."""

    entry: JournalEntryPosted
    posted_at: datetime


@dataclass(frozen=True, slots=True)
class AccountTotals:
    """Sum of debits and credits of one account in one currency."""

    account_code: str
    role: AccountRole
    currency: str
    debit: Decimal
    credit: Decimal


@dataclass(frozen=True, slots=True)
class LedgerCounts:
    decisions_applied: int
    decisions_refused: int
    journal_entries: int
    decisions_unmatched: int = 0


class LedgerTransaction(Protocol):
    """One database transaction; nothing is visible to others before ``commit``.

    Writes raise ``ConcurrentUpdate`` when another transaction changed the same rows first.
    """

    async def claim_message(self, consumer: str, message_id: str) -> bool: ...

    async def processed_messages(self, consumer: str, message_ids: Iterable[str]) -> set[str]:
        """The ones of these messages the inbox holds already (one query)."""
        ...

    async def add_processed_message(self, consumer: str, message_id: str) -> None:
        """Claim a message ``processed_messages`` did not hold, without asking again: one
        another transaction claimed meanwhile raises ``ConcurrentUpdate`` (at the latest when
        the transaction ends), so the claim is tried again."""
        ...

    async def load_chart(self, tenant_id: str) -> Chart | None: ...

    async def create_chart(self, tenant_id: str, chart: Chart) -> None: ...

    async def link_bank_account(self, tenant_id: str, link: BankAccountLink) -> None: ...

    async def save_chart_change(self, tenant_id: str, change: ChartChange) -> None:
        """Write the accounts and bank account link a change decided (optimistically: an
        account changed meanwhile raises ``ConcurrentUpdate``)."""
        ...

    async def account_balances(self, tenant_id: str, code: str) -> dict[str, Decimal]:
        """Debit - credit per currency of one GL account over the whole journal."""
        ...

    async def open_item(self, tenant_id: str, item_id: str) -> OpenItem | None: ...

    async def open_items(self, tenant_id: str, item_ids: Iterable[str]) -> dict[str, OpenItem]: ...

    async def add_open_item(self, tenant_id: str, item: OpenItem) -> None: ...

    async def update_open_item(
        self, tenant_id: str, item: OpenItem, *, expected_version: int
    ) -> None: ...

    async def decision_record(self, tenant_id: str, decision_id: str) -> DecisionRecord | None: ...

    async def decision_records(
        self, tenant_id: str, decision_ids: Iterable[str]
    ) -> dict[str, DecisionRecord]:
        """The recorded ones of these decisions (one query)."""
        ...

    async def record_decision(self, tenant_id: str, record: DecisionRecord) -> None: ...

    async def entry_by_key(self, tenant_id: str, idempotency_key: str) -> StoredEntry | None: ...

    async def entries_by_keys(
        self, tenant_id: str, idempotency_keys: Iterable[str]
    ) -> dict[str, StoredEntry]:
        """The stored ones of these entries, by idempotency key (one query)."""
        ...

    async def append_entry(
        self, tenant_id: str, entry: JournalEntry, posted_at: datetime
    ) -> None: ...

    async def entry(self, tenant_id: str, entry_id: str) -> JournalEntry | None: ...

    async def mark_decision_unmatched(
        self, tenant_id: str, decision_id: str, at: datetime, audit_id: str
    ) -> None: ...

    async def suspense_posting(
        self, tenant_id: str, suspense_id: str
    ) -> SuspensePosting | None: ...

    async def suspense_postings_of_line(
        self, tenant_id: str, statement_line_id: str
    ) -> list[SuspensePosting]:
        """Every suspense posting of a statement line, oldest first."""
        ...

    async def decisions_of_line(self, tenant_id: str, line_id: str) -> list[DecisionRecord]:
        """Every decision recorded for a statement line (refused ones too), oldest first."""
        ...

    async def add_suspense_posting(
        self, tenant_id: str, posting: SuspensePosting, at: datetime
    ) -> None: ...

    async def update_suspense_posting(
        self, tenant_id: str, posting: SuspensePosting, *, expected_version: int
    ) -> None: ...

    async def add_suspense_allocation(
        self, tenant_id: str, allocation: SuspenseAllocation, at: datetime
    ) -> None: ...

    async def suspense_allocation(
        self, tenant_id: str, allocation_id: str
    ) -> SuspenseAllocation | None:
        """The allocation, locked until the transaction ends (reversals of it queue)."""
        ...

    async def mark_allocation_reversed(
        self, tenant_id: str, allocation: SuspenseAllocation, at: datetime, audit_id: str
    ) -> None:
        """Record ``allocation.reversal_entry_id``; raises ``ConcurrentUpdate`` when it was
        reversed meanwhile."""
        ...

    async def registered_payment(
        self, tenant_id: str, payment_id: str
    ) -> RegisteredPayment | None: ...

    async def registered_payment_ids(self, tenant_id: str, item_ids: Iterable[str]) -> set[str]:
        """Which of these open items are payments registered through the ledger."""
        ...

    async def add_registered_payment(
        self, tenant_id: str, payment: RegisteredPayment, at: datetime
    ) -> None: ...

    async def mark_payment_removed(self, tenant_id: str, payment_id: str, at: datetime) -> None: ...

    async def audit_record(self, tenant_id: str, audit_id: str) -> AuditRecord | None: ...

    async def add_audit_record(self, tenant_id: str, record: AuditRecord) -> None: ...

    async def posting_rule(
        self, tenant_id: str, rule_id: str, version: int | None = None
    ) -> PostingRule | None:
        """One version of a rule; the latest when ``version`` is None."""
        ...

    async def add_posting_rule(self, tenant_id: str, rule: PostingRule) -> None: ...

    async def stage(self, topic: Topic, key: str, envelope: Envelope[Any]) -> None: ...

    def savepoint(self) -> AbstractAsyncContextManager[None]:
        """A nested transaction (SAVEPOINT): what is written inside is undone when the block
        raises (the exception goes on) and kept in the transaction when it ends normally."""
        ...

    async def commit(self) -> None: ...


TransactionFactory = Callable[[], AbstractAsyncContextManager[LedgerTransaction]]
"""Opens a transaction; leaving the context without ``commit`` rolls it back."""


class LedgerViews(Protocol):
    """Read-only queries for the HTTP API (no transaction semantics needed)."""

    async def open_items(
        self, tenant_id: str, *, status: OpenItemStatus | None, limit: int, offset: int
    ) -> list[OpenItem]: ...

    async def open_item(self, tenant_id: str, item_id: str) -> OpenItem | None: ...

    async def chart(self, tenant_id: str) -> Chart | None: ...

    async def journal(self, tenant_id: str, *, limit: int, offset: int) -> list[PostedEntry]: ...

    async def entry_by_key(self, tenant_id: str, idempotency_key: str) -> PostedEntry | None: ...

    async def account_totals(self, tenant_id: str) -> list[AccountTotals]: ...

    async def counts(self, tenant_id: str) -> LedgerCounts: ...

    async def decision(self, tenant_id: str, decision_id: str) -> DecisionRecord | None: ...

    async def suspense_postings(
        self, tenant_id: str, *, status: SuspenseStatus | None, limit: int, offset: int
    ) -> list[SuspensePosting]: ...

    async def suspense_posting(
        self, tenant_id: str, suspense_id: str
    ) -> SuspensePosting | None: ...

    async def suspense_allocations(
        self, tenant_id: str, suspense_id: str
    ) -> list[SuspenseAllocation]: ...

    async def registered_payments(
        self, tenant_id: str, item_id: str
    ) -> list[RegisteredPayment]: ...

    async def audit_trail(
        self, tenant_id: str, *, subject_id: str | None, limit: int, offset: int
    ) -> list[AuditRecord]: ...

    async def posting_rules(self, tenant_id: str, *, include_deleted: bool) -> list[PostingRule]:
        """The latest version of every rule, by priority then rule id."""
        ...

    async def posting_rule_versions(self, tenant_id: str, rule_id: str) -> list[PostingRule]: ...
