"""The ledger's use cases: the only place with I/O logic.

Each one runs in one transaction: (inbox claim) -> load -> domain decision -> write ->
stage outbox messages -> commit. A transaction that lost a race to another one is retried
(``ConcurrentUpdate``); every retry is safe because every effect is idempotent.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

from bankrec.contracts import (
    DEAD_LETTERS,
    DECISIONS,
    OPEN_ITEMS,
    POSTINGS,
    REFUSED_DECISIONS,
    DeadLetter,
    DecisionKind,
    DecisionRefused,
    EntrySource,
    Envelope,
    MatchDecision,
    OpenItem,
    OpenItemStatus,
    PostingRule,
    envelope_for,
)
from bankrec.ledger.domain import (
    DECISION_FIELD_LENGTH_MAX,
    Chart,
    JournalEntry,
    OpenItemDraft,
    RowError,
    new_open_item,
    parse_open_items_csv,
    post_decision,
    revise_open_item,
)
from bankrec.ledger.domain.amounts import money_of
from bankrec.ledger.domain.audit import (
    REASON_LENGTH_MAX,
    Accountability,
    AuditRecord,
    ManualAction,
)
from bankrec.ledger.domain.suspense import (
    AllocationTarget,
    EarlierDecision,
    ReversalSettlement,
    SuspensePosting,
    SuspenseStatus,
    allocate_suspense,
    reversal_counterpart,
    reversal_pair_note,
    settle_reversal_pair,
    suspense_id_for,
    suspense_of,
)
from bankrec.ledger.errors import (
    ConcurrentUpdate,
    DecisionNoLongerFits,
    IdempotencyConflict,
    InvalidDecision,
    LedgerError,
    OpenItemConflict,
    SuspenseAllocated,
    UnknownOpenItem,
)
from bankrec.ledger.ports import (
    AccountTotals,
    DecisionOutcome,
    DecisionRecord,
    LedgerCounts,
    LedgerTransaction,
    LedgerViews,
    PostedEntry,
    StoredEntry,
    TransactionFactory,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

CONSUMER = "bankrec-ledger"
"""The consumer group, and the consumer name under which processed messages are recorded."""

TRANSACTION_ATTEMPTS = 3
NO_BANK_ACCOUNT = "-"
"""Stands for the account id in the key of an entry that names no bank account."""
_MESSAGE_IDS = uuid.UUID("5b0c7f0e-6d0a-4a57-9a51-7c9c1e0f4b1d")


INBOX_ID_LENGTH_MAX = 100  # the runtime's inbox.message_id column
KEY_LENGTH_MAX = 200  # the runtime's outbox.message_key column


def inbox_id(message_id: str) -> str:
    """The id a message is recorded under in the inbox: its own, or a digest if too long."""
    if len(message_id) <= INBOX_ID_LENGTH_MAX:
        return message_id
    return "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()


def open_item_message_id(tenant_id: str, item: OpenItem) -> str:
    """The message id of one version of an open item: a re-staged version has the same id."""
    return str(uuid.uuid5(_MESSAGE_IDS, f"open-item|{tenant_id}|{item.item_id}|{item.version}"))


def refusal_message_id(tenant_id: str, decision_message_id: str) -> str:
    """The message id of the refusal of one delivered decision message."""
    return str(uuid.uuid5(_MESSAGE_IDS, f"decision-refused|{tenant_id}|{decision_message_id}"))


def entry_message_id(tenant_id: str, entry_id: str) -> str:
    return str(uuid.uuid5(_MESSAGE_IDS, f"journal-entry|{tenant_id}|{entry_id}"))


def decision_fingerprint(decision: MatchDecision) -> str:
    """SHA-256 of a decision's content: the same decision id with another one is a conflict.

    Fields added to the contract are left out of the dump while unset, so a decision
    re-sent across an upgrade keeps its fingerprint (tests/unit/test_decision_fingerprint.py).
    """
    canonical = json.dumps(decision.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class ItemChange(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class RegisteredItem:
    item: OpenItem
    change: ItemChange


@dataclass(frozen=True, slots=True)
class ImportReport:
    """``imported``: rows that created or changed an item; ``unchanged``: rows already so."""

    imported: int
    unchanged: int
    errors: tuple[RowError, ...]


@dataclass(frozen=True, slots=True)
class DecisionResult:
    decision_id: str
    outcome: DecisionOutcome
    already_applied: bool
    entry_id: str | None = None
    reason_code: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class TrialBalance:
    accounts: tuple[AccountTotals, ...]
    balanced: bool


@dataclass(slots=True)
class DecisionReads:
    """What the decisions of one transaction read once and keep up to date as they write:
    which messages the inbox holds, the decision records and their entries (by idempotency
    key), each tenant's chart (with the bank accounts linked so far), the posting rule
    versions they name (a version never changes) and their open items. A batch fetches its
    messages, records, entries and items in one query each (``prefetch``). A decision
    rolled back to its savepoint may have left its writes here, so the reads are then
    forgotten (``forget``) and read again."""

    processed: set[str] | None = None  # inbox ids held; None: the inbox is asked each time
    records: dict[str, dict[str, DecisionRecord | None]] = field(default_factory=dict)
    entries: dict[str, dict[str, StoredEntry | None]] = field(default_factory=dict)
    charts: dict[str, Chart] = field(default_factory=dict)
    rules: dict[tuple[str, str, int], PostingRule] = field(default_factory=dict)
    items: dict[str, dict[str, OpenItem]] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not (self.records or self.entries or self.charts or self.rules or self.items)

    def forget(self, message_id: str) -> None:
        """After a decision rolled back to its savepoint: its inbox claim is undone too."""
        if self.processed is not None:
            self.processed.discard(inbox_id(message_id))
        self.records.clear()
        self.entries.clear()
        self.charts.clear()
        self.rules.clear()
        self.items.clear()

    async def prefetch(
        self, tx: LedgerTransaction, envelopes: Sequence[Envelope[MatchDecision]]
    ) -> None:
        """The inbox's view of the messages (the first time), their decision records and
        entries, and every open item they allocate to: one query each per tenant."""
        if self.processed is None:
            self.processed = await tx.processed_messages(
                CONSUMER, [inbox_id(envelope.message_id) for envelope in envelopes]
            )
        decisions: dict[str, set[str]] = {}
        items: dict[str, set[str]] = {}
        for envelope in envelopes:
            decision = envelope.payload
            decisions.setdefault(envelope.tenant_id, set()).add(decision.decision_id)
            wanted = items.setdefault(envelope.tenant_id, set())
            wanted.update(allocation.item_id for allocation in decision.allocations)
        for tenant_id, decision_ids in decisions.items():
            records = self.records.setdefault(tenant_id, {})
            missing = decision_ids - records.keys()
            if missing:
                found = await tx.decision_records(tenant_id, missing)
                records.update({decision_id: found.get(decision_id) for decision_id in missing})
            # a decision's entry has the decision id as its idempotency key
            entries = self.entries.setdefault(tenant_id, {})
            missing = decision_ids - entries.keys()
            if missing:
                stored = await tx.entries_by_keys(tenant_id, missing)
                entries.update({key: stored.get(key) for key in missing})
        for tenant_id, item_ids in items.items():
            known = self.items.setdefault(tenant_id, {})
            missing = item_ids - known.keys()
            if missing:
                known.update(await tx.open_items(tenant_id, missing))

    async def claim(self, tx: LedgerTransaction, message_id: str) -> bool:
        """Claim a message in the inbox: False when it was processed before."""
        claimed = inbox_id(message_id)
        if self.processed is None:
            return await tx.claim_message(CONSUMER, claimed)
        if claimed in self.processed:
            return False
        await tx.add_processed_message(CONSUMER, claimed)
        self.processed.add(claimed)
        return True

    async def decision_record(
        self, tx: LedgerTransaction, tenant_id: str, decision_id: str
    ) -> DecisionRecord | None:
        records = self.records.setdefault(tenant_id, {})
        if decision_id not in records:
            records[decision_id] = await tx.decision_record(tenant_id, decision_id)
        return records[decision_id]

    async def record_decision(
        self, tx: LedgerTransaction, tenant_id: str, record: DecisionRecord
    ) -> None:
        await tx.record_decision(tenant_id, record)
        self.records.setdefault(tenant_id, {})[record.decision_id] = record

    async def open_items(
        self, tx: LedgerTransaction, tenant_id: str, item_ids: Sequence[str]
    ) -> dict[str, OpenItem]:
        known = self.items.setdefault(tenant_id, {})
        missing = set(item_ids) - known.keys()
        if missing:
            known.update(await tx.open_items(tenant_id, missing))
        return {item_id: known[item_id] for item_id in item_ids if item_id in known}

    async def entry_by_key(
        self, tx: LedgerTransaction, tenant_id: str, idempotency_key: str
    ) -> StoredEntry | None:
        entries = self.entries.setdefault(tenant_id, {})
        if idempotency_key not in entries:
            entries[idempotency_key] = await tx.entry_by_key(tenant_id, idempotency_key)
        return entries[idempotency_key]

    def posted(self, tenant_id: str, entry: JournalEntry) -> None:
        self.entries.setdefault(tenant_id, {})[entry.idempotency_key] = StoredEntry(
            entry.entry_id, entry.fingerprint
        )

    async def update_open_item(
        self, tx: LedgerTransaction, tenant_id: str, item: OpenItem, *, expected_version: int
    ) -> None:
        await tx.update_open_item(tenant_id, item, expected_version=expected_version)
        self.items.setdefault(tenant_id, {})[item.item_id] = item

    async def posting_rule(
        self, tx: LedgerTransaction, tenant_id: str, rule_id: str, version: int
    ) -> PostingRule | None:
        key = (tenant_id, rule_id, version)
        rule = self.rules.get(key)
        if rule is None:
            rule = await tx.posting_rule(tenant_id, rule_id, version)
            if rule is not None:  # a rule created later is not cached as missing
                self.rules[key] = rule
        return rule


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _nothing() -> None:
    return None


class Bookkeeper:
    """What every use case shares: transactions retried on a lost race, the tenant's chart,
    and staging the open-item states and journal entries a change causes."""

    def __init__(
        self,
        transactions: TransactionFactory,
        views: LedgerViews,
        *,
        clock: Callable[[], datetime] = _utc_now,
        after_commit: Callable[[], None] = _nothing,
    ) -> None:
        self._transactions = transactions
        self._views = views
        self._clock = clock
        self._after_commit = after_commit

    async def _in_transaction(self, work: Callable[[LedgerTransaction], Awaitable[T]]) -> T:
        for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
            try:
                async with self._transactions() as tx:
                    result = await work(tx)
                    await tx.commit()
            except ConcurrentUpdate:
                if attempt == TRANSACTION_ATTEMPTS:
                    raise
                log.info("transaction lost a race (attempt %d); retrying", attempt)
                continue
            self._after_commit()
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    async def _chart(self, tx: LedgerTransaction, tenant_id: str) -> Chart:
        """The tenant's chart, created with the default accounts on first use."""
        chart = await tx.load_chart(tenant_id)
        if chart is None:
            chart = Chart.default()
            await tx.create_chart(tenant_id, chart)
        return chart

    async def _chart_with_bank_account(
        self, tx: LedgerTransaction, tenant_id: str, bank_account_id: str, currency: str
    ) -> Chart:
        """The tenant's chart with a GL account for the bank account (linked on first use)."""
        chart = await self._chart(tx, tenant_id)
        chart, link = chart.with_bank_account(bank_account_id, currency)
        if link.linked_now:
            await tx.link_bank_account(tenant_id, link)
        return chart

    async def _stage_item(
        self,
        tx: LedgerTransaction,
        tenant_id: str,
        item: OpenItem,
        correlation_id: str,
        causation_id: str | None,
    ) -> None:
        envelope = envelope_for(
            item,
            tenant_id=tenant_id,
            correlation_id=correlation_id,
            causation_id=causation_id,
            message_id=open_item_message_id(tenant_id, item),
        )
        await tx.stage(OPEN_ITEMS, OPEN_ITEMS.key_for(tenant_id, item.item_id), envelope)

    async def _post(
        self,
        tx: LedgerTransaction,
        tenant_id: str,
        entry: JournalEntry,
        posted_at: datetime,
        *,
        correlation_id: str,
        causation_id: str | None,
    ) -> None:
        """Append a (balanced, new) entry and stage its ``JournalEntryPosted``."""
        await tx.append_entry(tenant_id, entry, posted_at)
        posted = envelope_for(
            entry.to_event(),
            tenant_id=tenant_id,
            correlation_id=correlation_id,
            causation_id=causation_id,
            message_id=entry_message_id(tenant_id, entry.entry_id),
        )
        key = POSTINGS.key_for(tenant_id, entry.bank_account_id or NO_BANK_ACCOUNT)
        await tx.stage(POSTINGS, key, posted)


class Ledger(Bookkeeper):
    """The ledger's write side: open items and decisions, each applied exactly once."""

    # --- open items ---------------------------------------------------------------------

    async def register_open_item(
        self, tenant_id: str, draft: OpenItemDraft, *, correlation_id: str
    ) -> RegisteredItem:
        """Create or revise one open item and publish its new state (if it changed)."""

        async def work(tx: LedgerTransaction) -> RegisteredItem:
            return await self._save_draft(tx, tenant_id, draft, correlation_id)

        return await self._in_transaction(work)

    async def import_open_items(
        self, tenant_id: str, csv_text: str, *, correlation_id: str
    ) -> ImportReport:
        """Import a CSV of open items: good rows are saved, bad rows reported by row and field.

        Importing the same file again changes nothing.
        """
        parsed = parse_open_items_csv(csv_text)

        async def work(tx: LedgerTransaction) -> ImportReport:
            imported = unchanged = 0
            errors = list(parsed.errors)
            # the file's items and which of them are registered payments, read at once: the
            # rows then only queue their writes (the parser refuses an item twice in a file)
            known = await tx.open_items(tenant_id, [draft.item_id for _, draft in parsed.rows])
            payments = await tx.registered_payment_ids(tenant_id, known)
            for row, draft in parsed.rows:
                try:
                    registered = await self._save_draft(
                        tx, tenant_id, draft, correlation_id, known.get(draft.item_id), payments
                    )
                except ConcurrentUpdate:
                    raise
                except LedgerError as exc:
                    field = getattr(exc, "field", "item_id")
                    errors.append(RowError(row, field, exc.message))
                    continue
                if registered.change is ItemChange.UNCHANGED:
                    unchanged += 1
                else:
                    imported += 1
            errors.sort(key=lambda error: error.row)
            return ImportReport(imported=imported, unchanged=unchanged, errors=tuple(errors))

        return await self._in_transaction(work)

    async def _save_draft(
        self,
        tx: LedgerTransaction,
        tenant_id: str,
        draft: OpenItemDraft,
        correlation_id: str,
        current: OpenItem | None = None,
        payments: AbstractSet[str] | None = None,
    ) -> RegisteredItem:
        """Create or revise the item; ``current`` and ``payments`` when the caller read the
        item and the registered payments among its items already (None: read here)."""
        if payments is None:
            current = await tx.open_item(tenant_id, draft.item_id)
            payments = await tx.registered_payment_ids(tenant_id, [draft.item_id])
        if current is not None and draft.item_id in payments:
            raise OpenItemConflict(
                f"{draft.item_id} is a payment registered through the ledger, which posted it; "
                "remove the payment and register it again to change it",
                field="item_id",
            )
        if current is None:
            item = new_open_item(draft)
            await tx.add_open_item(tenant_id, item)
            await self._stage_item(tx, tenant_id, item, correlation_id, causation_id=None)
            return RegisteredItem(item, ItemChange.CREATED)
        revised = revise_open_item(current, draft)
        if revised is None:
            return RegisteredItem(current, ItemChange.UNCHANGED)
        await tx.update_open_item(tenant_id, revised, expected_version=current.version)
        await self._stage_item(tx, tenant_id, revised, correlation_id, causation_id=None)
        return RegisteredItem(revised, ItemChange.UPDATED)

    # --- decisions ----------------------------------------------------------------------

    async def apply_decision(self, envelope: Envelope[MatchDecision]) -> DecisionResult:
        """Apply a match decision exactly once: post its entry, update its open items.

        A redelivered message (same message id) or a repeated decision (same decision id and
        content) changes nothing. A decision the books refuse (it no longer fits the open
        items, or cannot be posted) changes nothing either: its transaction is rolled back
        whole, then the refusal is recorded, published as ``DecisionRefused`` and sent to the
        dead-letter topic, in one transaction with the inbox claim.
        """
        fingerprint = decision_fingerprint(envelope.payload)

        async def apply(tx: LedgerTransaction) -> DecisionResult:
            return await self._apply_decision(tx, envelope, fingerprint, DecisionReads())

        try:
            return await self._in_transaction(apply)
        except ConcurrentUpdate:
            raise
        except LedgerError as exc:
            refusal = exc

        async def refuse(tx: LedgerTransaction) -> DecisionResult:
            return await self._refuse_decision(tx, envelope, fingerprint, refusal)

        return await self._in_transaction(refuse)

    async def apply_decisions(
        self, envelopes: Sequence[Envelope[MatchDecision]]
    ) -> list[DecisionResult]:
        """Apply a batch of decisions in order, in one transaction, each exactly as
        ``apply_decision`` would (inbox claim per message, idempotent decision ids,
        superseding decisions, reversal pairs, refusals); one result per envelope.

        Each decision runs in a savepoint: one the books refuse is rolled back to it, then
        recorded as refused (refusal row, ``DecisionRefused``, dead letter) in the same
        transaction, and its neighbours stay applied. The inbox, decision records, entries,
        open items, charts and posting rules are read once for the batch
        (``DecisionReads``). A batch that keeps losing races to another transaction is
        applied again one decision per transaction.
        """
        if not envelopes:
            return []
        fingerprints = [decision_fingerprint(envelope.payload) for envelope in envelopes]

        async def apply(tx: LedgerTransaction) -> list[DecisionResult]:
            reads = DecisionReads()
            await reads.prefetch(tx, envelopes)
            return [
                await self._apply_in_batch(tx, envelopes, position, fingerprint, reads)
                for position, fingerprint in enumerate(fingerprints)
            ]

        try:
            return await self._in_transaction(apply)
        except ConcurrentUpdate:
            if len(envelopes) == 1:
                raise
            log.warning(
                "a batch of %d decisions lost %d races; applying them one by one",
                len(envelopes),
                TRANSACTION_ATTEMPTS,
            )
        return [await self.apply_decision(envelope) for envelope in envelopes]

    async def _apply_in_batch(
        self,
        tx: LedgerTransaction,
        envelopes: Sequence[Envelope[MatchDecision]],
        position: int,
        fingerprint: str,
        reads: DecisionReads,
    ) -> DecisionResult:
        envelope = envelopes[position]
        # what was read before this decision may be older than the database: a refusal is
        # only final when the decision is refused again on fresh reads
        fresh = reads.is_empty()
        forgotten = False
        while True:
            try:
                async with tx.savepoint():
                    result = await self._apply_decision(tx, envelope, fingerprint, reads)
                break
            except ConcurrentUpdate:
                raise
            except LedgerError as exc:
                reads.forget(envelope.message_id)
                forgotten = True
                if fresh:
                    result = await self._refuse_decision(tx, envelope, fingerprint, exc)
                    if reads.processed is not None:  # claimed by the refusal (or before)
                        reads.processed.add(inbox_id(envelope.message_id))
                    break
                fresh = True
        if forgotten:  # read the rest of the batch's records and items again, at once
            await reads.prefetch(tx, envelopes[position + 1 :])
        return result

    async def _apply_decision(
        self,
        tx: LedgerTransaction,
        envelope: Envelope[MatchDecision],
        fingerprint: str,
        reads: DecisionReads,
    ) -> DecisionResult:
        decision, tenant_id = envelope.payload, envelope.tenant_id
        if not await reads.claim(tx, envelope.message_id):
            return await self._already_applied(tx, tenant_id, decision.decision_id)
        record = await reads.decision_record(tx, tenant_id, decision.decision_id)
        if record is not None:
            if record.fingerprint != fingerprint:
                raise IdempotencyConflict(
                    f"decision {decision.decision_id} was applied before with other content "
                    f"(message {record.message_id}); a decision id names one decision"
                )
            return _result(record, already_applied=True)
        if decision.supersedes_decision_id is not None:
            return await self._apply_superseding(tx, envelope, fingerprint, reads)
        chart = await self._decision_chart(
            tx, tenant_id, reads, decision.account.account_id, decision.account.currency
        )
        items = await reads.open_items(tx, tenant_id, [a.item_id for a in decision.allocations])
        rule = (
            await reads.posting_rule(
                tx, tenant_id, decision.posting_rule_id, decision.posting_rule_version
            )
            if decision.posting_rule_id is not None and decision.posting_rule_version is not None
            else None
        )
        now = self._clock()
        posting = post_decision(tenant_id, decision, items, chart, posted_on=now.date(), rule=rule)

        entry_id: str | None = None
        if posting.entry is not None:
            entry = posting.entry
            entry_id = entry.entry_id
            existing = await reads.entry_by_key(tx, tenant_id, entry.idempotency_key)
            if existing is not None:  # posted before: the same content is a retry
                if existing.fingerprint != entry.fingerprint:
                    raise IdempotencyConflict(
                        f"journal entry {existing.entry_id} has idempotency key "
                        f"{entry.idempotency_key} with other content"
                    )
                return DecisionResult(
                    decision.decision_id,
                    DecisionOutcome.POSTED,
                    already_applied=True,
                    entry_id=existing.entry_id,
                )
            await self._post(
                tx,
                tenant_id,
                entry,
                now,
                correlation_id=envelope.correlation_id,
                causation_id=envelope.message_id,
            )
            reads.posted(tenant_id, entry)
            parked = suspense_of(entry, decision_id=decision.decision_id)
            if parked is not None:  # "received, no match": listed for manual allocation
                await tx.add_suspense_posting(tenant_id, parked, now)
                if decision.kind is DecisionKind.REVERSAL_PAIR:
                    await pair_reversal(tx, tenant_id, decision, parked, now)
        for item in posting.items:
            await reads.update_open_item(
                tx, tenant_id, item, expected_version=items[item.item_id].version
            )
            await self._stage_item(
                tx, tenant_id, item, envelope.correlation_id, causation_id=envelope.message_id
            )
        record = DecisionRecord(
            decision_id=decision.decision_id,
            message_id=envelope.message_id[:INBOX_ID_LENGTH_MAX],
            kind=decision.kind.value,
            fingerprint=fingerprint,
            outcome=DecisionOutcome.POSTED if entry_id else DecisionOutcome.NO_POSTING,
            decided_at=now,
            entry_id=entry_id,
            line_id=decision.line_id,
            bank_account_id=decision.account.account_id,
            allocations=tuple(
                (allocation.item_id, money_of(allocation.amount))
                for allocation in decision.allocations
            ),
        )
        await reads.record_decision(tx, tenant_id, record)
        return _result(record, already_applied=False)

    async def _apply_superseding(
        self,
        tx: LedgerTransaction,
        envelope: Envelope[MatchDecision],
        fingerprint: str,
        reads: DecisionReads,
    ) -> DecisionResult:
        """A later match of a line that went to suspense: the money is in the books already,
        on the interim account; it moves from there to the items, by the allocations of
        ``domain/suspense.py`` (one entry per item), as a person's allocation would. Refused
        when a person allocated the suspense posting already (``suspense_allocated``)."""
        decision, tenant_id = envelope.payload, envelope.tenant_id
        superseded = decision.supersedes_decision_id
        assert superseded is not None
        if decision.kind not in (DecisionKind.MATCH, DecisionKind.PARTIAL) or not (
            decision.allocations
        ):
            raise InvalidDecision(
                f"decision {decision.decision_id} supersedes {superseded} but is a "
                f"{decision.kind.value} with {len(decision.allocations)} allocations; only a "
                "match or partial allocating to open items can take a line off suspense"
            )
        earlier = await tx.decision_record(tenant_id, superseded)
        if (
            earlier is None
            or earlier.entry_id is None
            or earlier.kind not in (DecisionKind.SUSPENSE.value, DecisionKind.PROPOSAL.value)
            or earlier.outcome is not DecisionOutcome.POSTED
        ):
            raise InvalidDecision(
                f"decision {decision.decision_id} supersedes {superseded}, which parked nothing "
                "on the interim account here; only a posted suspense or proposal decision of "
                "the same line can be superseded"
            )
        posting = await tx.suspense_posting(tenant_id, suspense_id_for(earlier.entry_id))
        if posting is None:  # pragma: no cover - a posted suspense decision keeps its posting
            raise InvalidDecision(f"decision {superseded} left no suspense posting")
        if posting.status is not SuspenseStatus.OPEN:
            raise SuspenseAllocated(
                f"suspense posting {posting.suspense_id} of line {decision.line_id} is "
                f"{posting.status.value} already (by a person, or reversed); decision "
                f"{decision.decision_id} superseding {superseded} was not applied"
            )
        chart = await self._decision_chart(tx, tenant_id, reads)
        items = await reads.open_items(tx, tenant_id, [a.item_id for a in decision.allocations])
        now = self._clock()
        by = Accountability(
            actor="bankrec-matcher",
            reason=f"matched later by {decision.rule}: {decision.explanation}"[:1000],
        )
        current = dict(items)
        for number, allocation in enumerate(decision.allocations, start=1):
            item = current.get(allocation.item_id)
            if item is None:
                raise UnknownOpenItem(
                    f"decision {decision.decision_id} allocates to unknown open item "
                    f"{allocation.item_id}"
                )
            decided_on = allocation.item_version
            if decided_on is not None and decided_on != items[item.item_id].version:
                raise DecisionNoLongerFits(
                    f"decision {decision.decision_id} was made on version {decided_on} of "
                    f"{item.item_id}, which is at version {items[item.item_id].version} now "
                    f"({item.status.value}, remaining {item.remaining}); decide the line again"
                )
            done = allocate_suspense(
                tenant_id,
                posting,
                allocation_id=f"{decision.decision_id}:{number}",
                target=AllocationTarget.OPEN_ITEM,
                target_id=item.item_id,
                amount=money_of(allocation.amount, what=f"allocation to {item.item_id}"),
                chart=chart,
                item=item,
                posting_date=now.date(),
                by=by,
            )
            entry = replace(
                done.entry,
                source=EntrySource.DECISION,
                source_ref=decision.decision_id,
                decision_kind=decision.kind.value,
            )
            await self._post(
                tx,
                tenant_id,
                entry,
                now,
                correlation_id=envelope.correlation_id,
                causation_id=envelope.message_id,
            )
            reads.posted(tenant_id, entry)
            await tx.update_suspense_posting(
                tenant_id, done.suspense, expected_version=posting.version
            )
            await tx.add_suspense_allocation(
                tenant_id, replace(done.allocation, entry_id=entry.entry_id), now
            )
            posting = done.suspense
            assert done.item is not None
            current[item.item_id] = done.item
        if decision.kind is DecisionKind.MATCH:
            unsettled = [item_id for item_id in current if current[item_id].remaining.amount != 0]
            if unsettled:
                raise DecisionNoLongerFits(
                    f"match decision {decision.decision_id} no longer settles {unsettled[0]}: "
                    f"{current[unsettled[0]].remaining} would stay open; decide the line again"
                )
        for item_id, item in current.items():
            await reads.update_open_item(
                tx, tenant_id, item, expected_version=items[item_id].version
            )
            await self._stage_item(
                tx, tenant_id, item, envelope.correlation_id, causation_id=envelope.message_id
            )
        record = DecisionRecord(
            decision_id=decision.decision_id,
            message_id=envelope.message_id[:INBOX_ID_LENGTH_MAX],
            kind=decision.kind.value,
            fingerprint=fingerprint,
            outcome=DecisionOutcome.POSTED,
            decided_at=now,
            # its entries are allocations of the suspense posting: they are undone as such
            # (reverse the allocation), not by unmatching this decision
            entry_id=None,
            line_id=decision.line_id,
            bank_account_id=decision.account.account_id,
            allocations=(),
        )
        await reads.record_decision(tx, tenant_id, record)
        return _result(record, already_applied=False)

    async def _decision_chart(
        self,
        tx: LedgerTransaction,
        tenant_id: str,
        reads: DecisionReads,
        bank_account_id: str | None = None,
        currency: str | None = None,
    ) -> Chart:
        """The tenant's chart (created on first use), with the bank account linked when
        named; read once per transaction."""
        chart = reads.charts.get(tenant_id)
        if chart is None:
            chart = await self._chart(tx, tenant_id)
        if bank_account_id is not None and currency is not None:
            chart, link = chart.with_bank_account(bank_account_id, currency)
            if link.linked_now:
                await tx.link_bank_account(tenant_id, link)
        reads.charts[tenant_id] = chart
        return chart

    async def _refuse_decision(
        self,
        tx: LedgerTransaction,
        envelope: Envelope[MatchDecision],
        fingerprint: str,
        refusal: LedgerError,
    ) -> DecisionResult:
        decision, tenant_id = envelope.payload, envelope.tenant_id
        if not await tx.claim_message(CONSUMER, inbox_id(envelope.message_id)):
            return await self._already_applied(tx, tenant_id, decision.decision_id)
        now = self._clock()
        record = await tx.decision_record(tenant_id, decision.decision_id)
        recordable = len(decision.decision_id) <= DECISION_FIELD_LENGTH_MAX["decision_id"]
        if record is None and recordable:  # a conflicting repeat keeps the first record
            record = DecisionRecord(
                decision_id=decision.decision_id,
                message_id=envelope.message_id[:INBOX_ID_LENGTH_MAX],
                kind=decision.kind.value,
                fingerprint=fingerprint,
                outcome=DecisionOutcome.REFUSED,
                decided_at=now,
                reason_code=refusal.code,
                reason=refusal.message,
            )
            await tx.record_decision(tenant_id, record)
        key = DECISIONS.key_for(tenant_id, decision.account.account_id)[:KEY_LENGTH_MAX]
        dead = DeadLetter(
            source_topic=DECISIONS.name,
            consumer=CONSUMER,
            reason_code=refusal.code,
            reason=refusal.message[:2000],
            original_key=key,
            original_value=envelope.model_dump_json(),
            failed_at=now,
        )
        await tx.stage(
            DEAD_LETTERS,
            key,
            envelope_for(
                dead,
                tenant_id=tenant_id,
                correlation_id=envelope.correlation_id,
                causation_id=envelope.message_id,
                message_id=str(uuid.uuid5(_MESSAGE_IDS, f"refused|{envelope.message_id}")),
            ),
        )
        named = await tx.open_items(tenant_id, [a.item_id for a in decision.allocations])
        refused = DecisionRefused(
            decision_id=decision.decision_id,
            decision_message_id=envelope.message_id,
            kind=decision.kind,
            line_id=decision.line_id,
            statement_id=decision.statement_id,
            account=decision.account,
            amount=decision.amount,
            posting_rule_id=decision.posting_rule_id,
            posting_rule_version=decision.posting_rule_version,
            reason_code=refusal.code,
            reason=refusal.message,
            allocations=decision.allocations,
            open_items=[named[item_id] for item_id in sorted(named)],
            refused_at=now,
        )
        await tx.stage(
            REFUSED_DECISIONS,
            key,
            envelope_for(
                refused,
                tenant_id=tenant_id,
                correlation_id=envelope.correlation_id,
                causation_id=envelope.message_id,
                message_id=refusal_message_id(tenant_id, envelope.message_id),
            ),
        )
        log.warning(
            "refused decision %s: %s (%s)",
            decision.decision_id,
            refusal.code,
            refusal.message,
            extra={"tenant_id": tenant_id, "message_id": envelope.message_id},
        )
        return DecisionResult(
            decision_id=decision.decision_id,
            outcome=DecisionOutcome.REFUSED,
            already_applied=False,
            reason_code=refusal.code,
            reason=refusal.message,
        )

    async def _already_applied(
        self, tx: LedgerTransaction, tenant_id: str, decision_id: str
    ) -> DecisionResult:
        record = await tx.decision_record(tenant_id, decision_id)
        if record is None:  # the message was processed but named another decision id
            return DecisionResult(decision_id, DecisionOutcome.NO_POSTING, already_applied=True)
        return _result(record, already_applied=True)

    # --- reads --------------------------------------------------------------------------

    async def open_items(
        self,
        tenant_id: str,
        *,
        status: OpenItemStatus | None = None,
        limit: int = 500,
        offset: int = 0,
    ) -> list[OpenItem]:
        return await self._views.open_items(tenant_id, status=status, limit=limit, offset=offset)

    async def open_item(self, tenant_id: str, item_id: str) -> OpenItem:
        item = await self._views.open_item(tenant_id, item_id)
        if item is None:
            raise UnknownOpenItem(f"no open item {item_id!r} for tenant {tenant_id}")
        return item

    async def chart(self, tenant_id: str) -> Chart:
        """The tenant's chart; the default one (not stored yet) before its first use."""
        return await self._views.chart(tenant_id) or Chart.default()

    async def journal(
        self, tenant_id: str, *, limit: int = 500, offset: int = 0
    ) -> list[PostedEntry]:
        return await self._views.journal(tenant_id, limit=limit, offset=offset)

    async def trial_balance(self, tenant_id: str) -> TrialBalance:
        """Debit and credit per account and currency; balanced when they agree per currency."""
        accounts = await self._views.account_totals(tenant_id)
        return TrialBalance(accounts=tuple(accounts), balanced=is_balanced(accounts))

    async def counts(self, tenant_id: str) -> LedgerCounts:
        return await self._views.counts(tenant_id)


def is_balanced(accounts: Sequence[AccountTotals]) -> bool:
    """Total debits equal total credits in every currency."""
    debits: dict[str, Decimal] = {}
    credits: dict[str, Decimal] = {}
    for row in accounts:
        debits[row.currency] = debits.get(row.currency, Decimal(0)) + row.debit
        credits[row.currency] = credits.get(row.currency, Decimal(0)) + row.credit
    return all(debits[currency] == credits[currency] for currency in debits)


# --- reversal pairs -----------------------------------------------------------------------

REVERSAL_ACTOR = "bankrec-ledger"


def _reversal_audit_id(tenant_id: str, what: str, subject: str) -> str:
    digest = hashlib.sha256(f"{tenant_id}|{what}|{subject}".encode()).hexdigest()
    return f"rp-{digest[:24]}"


def waiting_reversal_audit_id(tenant_id: str, reversed_line_id: str) -> str:
    """The id of the note on the reversal of a line that could not settle at once: found
    again by the reversed line when its money is parked whole again."""
    return _reversal_audit_id(tenant_id, "waiting", reversed_line_id)


async def pair_reversal(
    tx: LedgerTransaction,
    tenant_id: str,
    decision: MatchDecision,
    parked: SuspensePosting,
    now: datetime,
) -> None:
    """The suspense posting of a line that reverses an earlier one (``paired_line_id``):
    when the earlier line's money is still wholly parked on the interim account, the two
    postings settle each other; otherwise (a returned payment, a posting allocated since)
    it stays open with a note in its audit trail naming the earlier decision, for a person.
    Runs in the decision's transaction, so a redelivery (stopped by the inbox) cannot
    repeat it."""
    paired_line_id = decision.paired_line_id or ""
    candidates = (
        await tx.suspense_postings_of_line(tenant_id, paired_line_id) if paired_line_id else []
    )
    original = reversal_counterpart(parked, candidates)
    if original is not None:
        await _settle_reversal(tx, tenant_id, original, parked, now, decided_by=decision)
        return
    earlier = [
        EarlierDecision(decision_id=record.decision_id, kind=record.kind)
        for record in (
            await tx.decisions_of_line(tenant_id, paired_line_id) if paired_line_id else []
        )
        if record.outcome is not DecisionOutcome.REFUSED
    ]
    note = reversal_pair_note(
        parked, paired_line_id or "(none named)", earlier=earlier, paired_postings=candidates
    )
    audit_id = waiting_reversal_audit_id(tenant_id, paired_line_id)
    if not paired_line_id or await tx.audit_record(tenant_id, audit_id) is not None:
        # a line reversed twice: only the first reversal is found again by the line
        audit_id = _reversal_audit_id(tenant_id, "note", parked.suspense_id)
    await tx.add_audit_record(
        tenant_id,
        AuditRecord(
            audit_id=audit_id,
            action=ManualAction.NOTE_REVERSAL_PAIR,
            subject_id=parked.suspense_id,
            actor=REVERSAL_ACTOR,
            reason=note[:REASON_LENGTH_MAX],
            occurred_at=now,
            entry_ids=(parked.entry_id,),
            result={
                "suspense_id": parked.suspense_id,
                "decision_id": decision.decision_id,
                "paired_line_id": paired_line_id,
                "earlier_decision_id": earlier[-1].decision_id if earlier else None,
            },
        ),
    )


async def settle_waiting_reversal(
    tx: LedgerTransaction, tenant_id: str, posting: SuspensePosting, now: datetime
) -> SuspensePosting:
    """A line's money parked whole again (an unmatch parked it, an allocation of it was
    reversed): if a reversal of that line waits on the interim account (its note), the two
    postings settle each other. Returns the posting as it is now."""
    if posting.statement_line_id is None:
        return posting
    note = await tx.audit_record(
        tenant_id, waiting_reversal_audit_id(tenant_id, posting.statement_line_id)
    )
    if note is None:
        return posting
    waiting = await tx.suspense_posting(tenant_id, str(note.result.get("suspense_id")))
    if waiting is None or reversal_counterpart(waiting, [posting]) is None:
        return posting
    settled = await _settle_reversal(tx, tenant_id, posting, waiting, now, decided_by=None)
    return settled.original


async def _settle_reversal(
    tx: LedgerTransaction,
    tenant_id: str,
    original: SuspensePosting,
    reversing: SuspensePosting,
    now: datetime,
    *,
    decided_by: MatchDecision | None,
) -> ReversalSettlement:
    settled = settle_reversal_pair(original, reversing)
    await tx.update_suspense_posting(tenant_id, settled.original, expected_version=original.version)
    await tx.update_suspense_posting(
        tenant_id, settled.reversing, expected_version=reversing.version
    )
    why = (
        f"line {reversing.statement_line_id} reverses line {original.statement_line_id}"
        + (f" (decision {decided_by.decision_id})" if decided_by is not None else "")
        + f": suspense postings {original.suspense_id} and {reversing.suspense_id} "
        f"({original.amount} and {reversing.amount}) settle each other on the interim account"
    )
    for posting, other in ((original, reversing), (reversing, original)):
        await tx.add_audit_record(
            tenant_id,
            AuditRecord(
                audit_id=_reversal_audit_id(tenant_id, "settled", posting.suspense_id),
                action=ManualAction.SETTLE_REVERSAL_PAIR,
                subject_id=posting.suspense_id,
                actor=REVERSAL_ACTOR,
                reason=why[:REASON_LENGTH_MAX],
                occurred_at=now,
                entry_ids=(posting.entry_id, other.entry_id),
                result={"suspense_id": posting.suspense_id, "settled_with": other.suspense_id},
            ),
        )
    return settled


def _result(record: DecisionRecord, *, already_applied: bool) -> DecisionResult:
    return DecisionResult(
        decision_id=record.decision_id,
        outcome=record.outcome,
        already_applied=already_applied,
        entry_id=record.entry_id,
        reason_code=record.reason_code,
        reason=record.reason,
    )


__all__ = [
    "CONSUMER",
    "Bookkeeper",
    "DecisionResult",
    "ImportReport",
    "ItemChange",
    "Ledger",
    "RegisteredItem",
    "TrialBalance",
    "decision_fingerprint",
    "entry_message_id",
    "is_balanced",
    "open_item_message_id",
    "refusal_message_id",
]
