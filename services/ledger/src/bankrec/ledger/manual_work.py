"""Manual work over HTTP: allocate suspense postings and reverse allocations, unmatch
decisions, register and remove payments, create and reverse adjustments. Each action is one
transaction that posts new entries only (corrections are reversing entries), updates what it
touches optimistically, stages the messages it causes and writes its audit record (who, why,
when, which entries).

An action may carry a client's idempotency key: a retry with the same key and request gets
the first answer again (``replayed``) and changes nothing; the same key with another
request is refused (``idempotency_conflict``).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bankrec.contracts import (
    AccountRole,
    AdjustmentKind,
    DecisionKind,
    Money,
    OpenItem,
    PostingLine,
)
from bankrec.ledger.domain import Account, Chart, JournalEntry
from bankrec.ledger.domain.adjustments import (
    Adjustment,
    adjustment_entry,
    adjustment_key,
    adjustment_of,
    adjustment_reversal_key,
    reverse_adjustment,
)
from bankrec.ledger.domain.amounts import money_of
from bankrec.ledger.domain.audit import (
    IDEMPOTENCY_KEY_LENGTH_MAX,
    Accountability,
    AuditRecord,
    ManualAction,
    accountability,
    action_id_for,
    request_fingerprint,
)
from bankrec.ledger.domain.corrections import AppliedDecision, unmatch_decision
from bankrec.ledger.domain.open_items import ITEM_ID_PATTERN
from bankrec.ledger.domain.payments import RegisteredPayment, register_payment, remove_payment
from bankrec.ledger.domain.suspense import (
    AllocationTarget,
    SuspenseAllocation,
    SuspensePosting,
    SuspenseStatus,
    allocate_suspense,
    reverse_allocation,
    suspense_id_for,
)
from bankrec.ledger.errors import (
    IdempotencyConflict,
    InvalidManualAction,
    NothingToUnmatch,
    OpenItemConflict,
    UnknownAdjustment,
    UnknownAllocation,
    UnknownDecision,
    UnknownOpenItem,
    UnknownPayment,
    UnknownSuspensePosting,
)
from bankrec.ledger.ports import DecisionOutcome, DecisionRecord, LedgerTransaction
from bankrec.ledger.use_cases import Bookkeeper, settle_waiting_reversal


@dataclass(frozen=True, slots=True)
class ManualResult:
    """The answer to a manual action: ``answer`` is JSON-ready (see the README's routes)."""

    audit_id: str
    action: ManualAction
    answer: Mapping[str, Any]
    replayed: bool = False


Work = Callable[[LedgerTransaction, str, datetime], Awaitable[tuple[dict[str, Any], list[str]]]]
"""(transaction, action id, now) -> (answer, ids of the entries posted)."""


def money_json(money: Money) -> dict[str, str]:
    return {"amount": format(money.amount, "f"), "currency": money.currency}


def entry_json(entry: JournalEntry) -> dict[str, Any]:
    return entry.to_event().model_dump(mode="json")


def item_json(item: OpenItem) -> dict[str, Any]:
    return item.model_dump(mode="json")


def suspense_json(posting: SuspensePosting) -> dict[str, Any]:
    return {
        "suspense_id": posting.suspense_id,
        "entry_id": posting.entry_id,
        "decision_id": posting.decision_id,
        "bank_account_id": posting.bank_account_id,
        "statement_line_id": posting.statement_line_id,
        "amount": money_json(posting.amount),
        "remaining": money_json(posting.remaining),
        "posting_date": posting.posting_date.isoformat(),
        "status": posting.status.value,
        "version": posting.version,
    }


def allocation_json(allocation: SuspenseAllocation) -> dict[str, Any]:
    return {
        "allocation_id": allocation.allocation_id,
        "suspense_id": allocation.suspense_id,
        "target": allocation.target.value,
        "target_id": allocation.target_id,
        "amount": money_json(allocation.amount),
        "entry_id": allocation.entry_id,
        "status": "reversed" if allocation.reversed else "allocated",
        "reversal_entry_id": allocation.reversal_entry_id,
    }


def adjustment_json(adjustment: Adjustment) -> dict[str, Any]:
    return {
        "adjustment_id": adjustment.adjustment_id,
        "kind": adjustment.kind.value if adjustment.kind else None,
        "amount": money_json(adjustment.amount),
        "bank_account_id": adjustment.bank_account_id,
        "gl_account": adjustment.gl_account,
        "statement_line_id": adjustment.statement_line_id,
        "posting_date": adjustment.posting_date.isoformat(),
        "entry_id": adjustment.entry_id,
        "status": adjustment.status.value,
        "reversal_entry_id": adjustment.reversal_entry_id,
    }


def payment_json(payment: RegisteredPayment) -> dict[str, Any]:
    return {
        "payment_id": payment.payment_id,
        "item_id": payment.item_id,
        "amount": money_json(payment.amount),
        "bank_account_id": payment.bank_account_id,
        "entry_id": payment.entry_id,
        "status": "removed" if payment.removed else "registered",
    }


def decision_json(record: DecisionRecord) -> dict[str, Any]:
    return {
        "decision_id": record.decision_id,
        "kind": record.kind,
        "outcome": record.outcome.value,
        "line_id": record.line_id,
        "bank_account_id": record.bank_account_id,
        "entry_id": record.entry_id,
        "allocations": None
        if record.allocations is None
        else [
            {"item_id": item_id, "amount": money_json(amount)}
            for item_id, amount in record.allocations
        ],
        "decided_at": record.decided_at.isoformat(),
        "reason_code": record.reason_code,
        "reason": record.reason,
        "unmatched_at": record.unmatched_at.isoformat() if record.unmatched_at else None,
        "unmatch_audit_id": record.unmatch_audit_id,
    }


def audit_json(record: AuditRecord) -> dict[str, Any]:
    return {
        "audit_id": record.audit_id,
        "action": record.action.value,
        "subject_id": record.subject_id,
        "actor": record.actor,
        "reason": record.reason,
        "occurred_at": record.occurred_at.isoformat(),
        "entry_ids": list(record.entry_ids),
        "idempotency_key": record.idempotency_key,
    }


def _allocations_of(
    record: DecisionRecord, entry: JournalEntry | None
) -> tuple[tuple[str, Money], ...]:
    """What a decision allocated; for one applied before allocations were recorded, the
    invoice and bill allocations read back from its entry (credit - debit per item line)."""
    if record.allocations is not None:
        return record.allocations
    if entry is None:
        return ()
    lines: list[PostingLine] = [line for line in entry.lines if line.open_item_id]
    return tuple(
        (line.open_item_id, Money(amount=line.credit - line.debit, currency=line.currency))
        for line in lines
        if line.open_item_id is not None
    )


async def _parked_on(
    tx: LedgerTransaction, tenant_id: str, posting: SuspensePosting, chart: Chart
) -> Account:
    """The interim account a suspense posting is on: its entry's interim line's account,
    which is no longer the chart's interim account once that role has moved."""
    entry = await tx.entry(tenant_id, posting.entry_id)
    assert entry is not None, "a suspense posting keeps its entry"
    code = next(
        (line.account_code for line in entry.lines if line.account_role is AccountRole.INTERIM),
        None,
    )
    assert code is not None, "a suspense posting's entry has an interim line"
    current = chart.for_role(AccountRole.INTERIM)
    if code == current.code:
        return current
    before = chart.by_code(code)
    return Account(code, before.name if before else code, AccountRole.INTERIM)


def _check_adjustment_id(tenant_id: str, adjustment_id: str) -> None:
    """Adjustment ids are item-like (no ``:``), so no other entry's key can be named."""
    if not ITEM_ID_PATTERN.match(adjustment_id):
        raise UnknownAdjustment(f"no adjustment {adjustment_id!r} for tenant {tenant_id}")


class AuditedActions(Bookkeeper):
    """What every manual action shares: actor and reason, one transaction, an audit record,
    and a client's idempotency key (the same key and request: the first answer again)."""

    async def _act(
        self,
        tenant_id: str,
        action: ManualAction,
        subject_id: str,
        request: Mapping[str, Any],
        by: Accountability,
        idempotency_key: str | None,
        work: Work,
    ) -> ManualResult:
        if idempotency_key is not None and (
            not idempotency_key.strip() or len(idempotency_key) > IDEMPOTENCY_KEY_LENGTH_MAX
        ):
            raise InvalidManualAction(
                "idempotency_key", f"must be 1 to {IDEMPOTENCY_KEY_LENGTH_MAX} characters"
            )
        fingerprint = request_fingerprint(
            {**request, "action": action.value, "actor": by.actor, "reason": by.reason}
        )
        action_id = (
            action_id_for(tenant_id, action, idempotency_key)
            if idempotency_key is not None
            else f"act-{uuid.uuid4().hex[:24]}"
        )

        async def run(tx: LedgerTransaction) -> ManualResult:
            if idempotency_key is not None:
                done = await tx.audit_record(tenant_id, action_id)
                if done is not None:
                    if done.fingerprint != fingerprint:
                        raise IdempotencyConflict(
                            f"idempotency key {idempotency_key!r} was used for another request "
                            f"({done.action.value} on {done.subject_id}); use a new key"
                        )
                    return ManualResult(done.audit_id, done.action, done.result, replayed=True)
            now = self._clock()
            answer, entry_ids = await work(tx, action_id, now)
            subject = str(answer.pop("subject_id", subject_id))  # known only now, for some
            answer = {"audit_id": action_id, "action": action.value, **answer}
            await tx.add_audit_record(
                tenant_id,
                AuditRecord(
                    audit_id=action_id,
                    action=action,
                    subject_id=subject,
                    actor=by.actor,
                    reason=by.reason,
                    occurred_at=now,
                    entry_ids=tuple(entry_ids),
                    fingerprint=fingerprint,
                    idempotency_key=idempotency_key,
                    result=answer,
                ),
            )
            return ManualResult(action_id, action, answer)

        return await self._in_transaction(run)


class ManualWork(AuditedActions):
    """The manual actions on the books, each with an actor, a reason and an audit record."""

    # --- suspense -----------------------------------------------------------------------

    async def allocate_suspense(
        self,
        tenant_id: str,
        suspense_id: str,
        *,
        target: AllocationTarget,
        target_id: str,
        amount: Money | None,
        actor: str | None,
        reason: str | None,
        correlation_id: str,
        posting_date: date | None = None,
        idempotency_key: str | None = None,
    ) -> ManualResult:
        """Move (part of) a suspense posting off the interim account to a target."""
        by = accountability(actor, reason)
        request = {
            "suspense_id": suspense_id,
            "target": target.value,
            "target_id": target_id,
            "amount": money_json(amount) if amount else None,
            "posting_date": posting_date,
        }

        async def work(
            tx: LedgerTransaction, action_id: str, now: datetime
        ) -> tuple[dict[str, Any], list[str]]:
            posting = await tx.suspense_posting(tenant_id, suspense_id)
            if posting is None:
                raise UnknownSuspensePosting(
                    f"no suspense posting {suspense_id!r} for tenant {tenant_id}"
                )
            chart = await self._chart(tx, tenant_id)
            item = (
                await tx.open_item(tenant_id, target_id.strip())
                if target is AllocationTarget.OPEN_ITEM
                else None
            )
            done = allocate_suspense(
                tenant_id,
                posting,
                allocation_id=action_id,
                target=target,
                target_id=target_id,
                amount=amount,
                chart=chart,
                item=item,
                posting_date=posting_date or now.date(),
                by=by,
                parked_on=await _parked_on(tx, tenant_id, posting, chart),
            )
            await self._post(
                tx,
                tenant_id,
                done.entry,
                now,
                correlation_id=correlation_id,
                causation_id=action_id,
            )
            await tx.update_suspense_posting(
                tenant_id, done.suspense, expected_version=posting.version
            )
            await tx.add_suspense_allocation(tenant_id, done.allocation, now)
            items: list[dict[str, Any]] = []
            if done.item is not None and item is not None:
                await tx.update_open_item(tenant_id, done.item, expected_version=item.version)
                await self._stage_item(
                    tx, tenant_id, done.item, correlation_id, causation_id=action_id
                )
                items.append(item_json(done.item))
            answer = {
                "allocation": allocation_json(done.allocation),
                "suspense_posting": suspense_json(done.suspense),
                "entries": [entry_json(done.entry)],
                "open_items": items,
            }
            return answer, [done.entry.entry_id]

        return await self._act(
            tenant_id,
            ManualAction.ALLOCATE_SUSPENSE,
            suspense_id,
            request,
            by,
            idempotency_key,
            work,
        )

    async def reverse_suspense_allocation(
        self,
        tenant_id: str,
        suspense_id: str,
        allocation_id: str,
        *,
        actor: str | None,
        reason: str | None,
        correlation_id: str,
        posting_date: date | None = None,
        idempotency_key: str | None = None,
    ) -> ManualResult:
        """Take an allocation back (``domain/suspense.py``): the reversing entry puts the
        amount back on the interim account, the posting's remaining goes up, and the
        invoice or bill it paid reopens (its new version published)."""
        by = accountability(actor, reason)
        request = {
            "suspense_id": suspense_id,
            "allocation_id": allocation_id,
            "posting_date": posting_date,
        }

        async def work(
            tx: LedgerTransaction, action_id: str, now: datetime
        ) -> tuple[dict[str, Any], list[str]]:
            # the allocation first (locked): what is read after it is at least as new
            allocation = await tx.suspense_allocation(tenant_id, allocation_id)
            posting = await tx.suspense_posting(tenant_id, suspense_id)
            if posting is None:
                raise UnknownSuspensePosting(
                    f"no suspense posting {suspense_id!r} for tenant {tenant_id}"
                )
            if allocation is None or allocation.suspense_id != suspense_id:
                raise UnknownAllocation(
                    f"no allocation {allocation_id!r} on suspense posting {suspense_id} "
                    f"(GET .../suspense-postings/{suspense_id} lists them)"
                )
            entry = await tx.entry(tenant_id, allocation.entry_id)
            assert entry is not None, "an allocation keeps its entry"
            item = (
                await tx.open_item(tenant_id, allocation.target_id)
                if allocation.target is AllocationTarget.OPEN_ITEM
                else None
            )
            done = reverse_allocation(
                tenant_id,
                posting,
                allocation,
                entry=entry,
                item=item,
                chart=await self._chart(tx, tenant_id),
                posting_date=posting_date or now.date(),
                by=by,
            )
            await self._post(
                tx,
                tenant_id,
                done.entry,
                now,
                correlation_id=correlation_id,
                causation_id=action_id,
            )
            await tx.update_suspense_posting(
                tenant_id, done.suspense, expected_version=posting.version
            )
            # parked whole again: a reversal of its line waiting on the interim account settles
            reopened = await settle_waiting_reversal(tx, tenant_id, done.suspense, now)
            await tx.mark_allocation_reversed(tenant_id, done.allocation, now, action_id)
            items: list[dict[str, Any]] = []
            if done.item is not None and item is not None:
                await tx.update_open_item(tenant_id, done.item, expected_version=item.version)
                await self._stage_item(
                    tx, tenant_id, done.item, correlation_id, causation_id=action_id
                )
                items.append(item_json(done.item))
            answer = {
                "allocation": allocation_json(done.allocation),
                "suspense_posting": suspense_json(reopened),
                "entries": [entry_json(done.entry)],
                "open_items": items,
            }
            return answer, [done.entry.entry_id]

        return await self._act(
            tenant_id,
            ManualAction.REVERSE_SUSPENSE_ALLOCATION,
            suspense_id,
            request,
            by,
            idempotency_key,
            work,
        )

    # --- decisions ----------------------------------------------------------------------

    async def unmatch_decision(
        self,
        tenant_id: str,
        decision_id: str,
        *,
        actor: str | None,
        reason: str | None,
        correlation_id: str,
        posting_date: date | None = None,
        idempotency_key: str | None = None,
    ) -> ManualResult:
        """Undo an applied decision: reverse its entry, reopen its items, park the line on
        the interim account as a new suspense posting (``domain/corrections.py``)."""
        by = accountability(actor, reason)
        request = {"decision_id": decision_id, "posting_date": posting_date}

        async def work(
            tx: LedgerTransaction, action_id: str, now: datetime
        ) -> tuple[dict[str, Any], list[str]]:
            record = await tx.decision_record(tenant_id, decision_id)
            if record is None:
                raise UnknownDecision(f"no decision {decision_id!r} for tenant {tenant_id}")
            if record.outcome is DecisionOutcome.REFUSED:
                raise NothingToUnmatch(
                    f"decision {decision_id} was refused ({record.reason_code}); it changed nothing"
                )
            entry = await tx.entry(tenant_id, record.entry_id) if record.entry_id else None
            allocations = _allocations_of(record, entry)
            items = await tx.open_items(tenant_id, [item_id for item_id, _ in allocations])
            leftover = (
                await tx.suspense_posting(tenant_id, suspense_id_for(entry.entry_id))
                if entry is not None
                else None
            )
            chart = await self._chart(tx, tenant_id)
            undone = unmatch_decision(
                tenant_id,
                AppliedDecision(
                    decision_id=record.decision_id,
                    kind=DecisionKind(record.kind),
                    allocations=allocations,
                    entry=entry,
                    unmatched=record.unmatched_at is not None,
                ),
                items=items,
                chart=chart,
                leftover=leftover,
                action_id=action_id,
                posting_date=posting_date or now.date(),
                by=by,
            )
            for posted in undone.entries:
                await self._post(
                    tx,
                    tenant_id,
                    posted,
                    now,
                    correlation_id=correlation_id,
                    causation_id=action_id,
                )
            for item in undone.items:
                await tx.update_open_item(
                    tenant_id, item, expected_version=items[item.item_id].version
                )
                await self._stage_item(tx, tenant_id, item, correlation_id, causation_id=action_id)
            if undone.reversed_suspense is not None and leftover is not None:
                await tx.update_suspense_posting(
                    tenant_id, undone.reversed_suspense, expected_version=leftover.version
                )
            parked = undone.suspense
            if parked is not None:
                await tx.add_suspense_posting(tenant_id, parked, now)
                # a returned payment's reversal waiting on the interim account settles with it
                parked = await settle_waiting_reversal(tx, tenant_id, parked, now)
            await tx.mark_decision_unmatched(tenant_id, decision_id, now, action_id)
            answer = {
                "decision_id": decision_id,
                "entries": [entry_json(posted) for posted in undone.entries],
                "open_items": [item_json(item) for item in undone.items],
                "suspense_posting": suspense_json(parked) if parked else None,
                "reversed_suspense_posting": suspense_json(undone.reversed_suspense)
                if undone.reversed_suspense
                else None,
            }
            return answer, [posted.entry_id for posted in undone.entries]

        return await self._act(
            tenant_id,
            ManualAction.UNMATCH_DECISION,
            decision_id,
            request,
            by,
            idempotency_key,
            work,
        )

    # --- payments -----------------------------------------------------------------------

    async def register_payment(
        self,
        tenant_id: str,
        item_id: str,
        *,
        payment_id: str,
        amount: Money | None,
        bank_account_id: str,
        actor: str | None,
        reason: str | None,
        correlation_id: str,
        posting_date: date | None = None,
        idempotency_key: str | None = None,
    ) -> ManualResult:
        """Register a payment on an invoice or bill (``domain/payments.py``)."""
        by = accountability(actor, reason)
        if not bank_account_id.strip() or len(bank_account_id) > 100:
            raise InvalidManualAction("bank_account_id", "must be 1 to 100 characters")
        request = {
            "item_id": item_id,
            "payment_id": payment_id,
            "amount": money_json(amount) if amount else None,
            "bank_account_id": bank_account_id,
            "posting_date": posting_date,
        }

        async def work(
            tx: LedgerTransaction, action_id: str, now: datetime
        ) -> tuple[dict[str, Any], list[str]]:
            item = await tx.open_item(tenant_id, item_id)
            if item is None:
                raise UnknownOpenItem(f"no open item {item_id!r} for tenant {tenant_id}")
            if ITEM_ID_PATTERN.match(payment_id) and (
                await tx.registered_payment(tenant_id, payment_id) is not None
                or await tx.open_item(tenant_id, payment_id) is not None
            ):
                raise OpenItemConflict(
                    f"{payment_id} names an open item or payment already; choose another "
                    "payment_id",
                    field="payment_id",
                )
            currency = amount.currency if amount is not None else item.amount.currency
            chart = await self._chart_with_bank_account(tx, tenant_id, bank_account_id, currency)
            done = register_payment(
                tenant_id,
                item,
                payment_id=payment_id,
                amount=amount,
                bank=chart.bank_account(bank_account_id),
                chart=chart,
                posting_date=posting_date or now.date(),
                by=by,
            )
            await self._post(
                tx,
                tenant_id,
                done.entry,
                now,
                correlation_id=correlation_id,
                causation_id=action_id,
            )
            await tx.update_open_item(tenant_id, done.item, expected_version=item.version)
            await tx.add_open_item(tenant_id, done.payment_item)
            await tx.add_registered_payment(tenant_id, done.payment, now)
            for changed in (done.item, done.payment_item):
                await self._stage_item(
                    tx, tenant_id, changed, correlation_id, causation_id=action_id
                )
            answer = {
                "payment": payment_json(done.payment),
                "entries": [entry_json(done.entry)],
                "open_items": [item_json(done.item), item_json(done.payment_item)],
            }
            return answer, [done.entry.entry_id]

        return await self._act(
            tenant_id, ManualAction.REGISTER_PAYMENT, item_id, request, by, idempotency_key, work
        )

    async def remove_payment(
        self,
        tenant_id: str,
        item_id: str,
        payment_id: str,
        *,
        actor: str | None,
        reason: str | None,
        correlation_id: str,
        posting_date: date | None = None,
        idempotency_key: str | None = None,
    ) -> ManualResult:
        """Remove a registered payment: reversing entry, item reopened, payment cancelled."""
        by = accountability(actor, reason)
        request = {"item_id": item_id, "payment_id": payment_id, "posting_date": posting_date}

        async def work(
            tx: LedgerTransaction, action_id: str, now: datetime
        ) -> tuple[dict[str, Any], list[str]]:
            payment = await tx.registered_payment(tenant_id, payment_id)
            if payment is None or payment.item_id != item_id:
                raise UnknownPayment(f"no payment {payment_id!r} registered on {item_id!r}")
            entry = await tx.entry(tenant_id, payment.entry_id)
            item = await tx.open_item(tenant_id, item_id)
            assert entry is not None, "a registered payment keeps its entry"
            assert item is not None, "a registered payment keeps its open item"
            payment_item = await tx.open_item(tenant_id, payment_id)
            done = remove_payment(
                tenant_id,
                payment,
                entry=entry,
                item=item,
                payment_item=payment_item,
                action_id=action_id,
                posting_date=posting_date or now.date(),
                by=by,
            )
            await self._post(
                tx,
                tenant_id,
                done.entry,
                now,
                correlation_id=correlation_id,
                causation_id=action_id,
            )
            await tx.update_open_item(tenant_id, done.item, expected_version=item.version)
            changed = [done.item]
            if done.payment_item is not None and payment_item is not None:
                await tx.update_open_item(
                    tenant_id, done.payment_item, expected_version=payment_item.version
                )
                changed.append(done.payment_item)
            for updated in changed:
                await self._stage_item(
                    tx, tenant_id, updated, correlation_id, causation_id=action_id
                )
            await tx.mark_payment_removed(tenant_id, payment_id, now)
            answer = {
                "payment": payment_json(done.payment),
                "entries": [entry_json(done.entry)],
                "open_items": [item_json(updated) for updated in changed],
            }
            return answer, [done.entry.entry_id]

        return await self._act(
            tenant_id, ManualAction.REMOVE_PAYMENT, item_id, request, by, idempotency_key, work
        )

    # --- adjustments --------------------------------------------------------------------

    async def create_adjustment(
        self,
        tenant_id: str,
        *,
        kind: AdjustmentKind,
        amount: Money,
        bank_account_id: str,
        actor: str | None,
        reason: str | None,
        correlation_id: str,
        adjustment_id: str | None = None,
        gl_account: str | None = None,
        statement_line_id: str | None = None,
        description: str | None = None,
        posting_date: date | None = None,
        idempotency_key: str | None = None,
    ) -> ManualResult:
        """Post a bank fee, interest or other adjustment on a bank account
        (``domain/adjustments.py``); it reaches the reconciler as a posting with its kind."""
        by = accountability(actor, reason)
        for name, value, limit in (
            ("bank_account_id", bank_account_id, 100),
            ("statement_line_id", statement_line_id, 200),
            ("description", description, 300),
        ):
            if value is not None and (not value.strip() or len(value) > limit):
                raise InvalidManualAction(name, f"must be 1 to {limit} characters")
        if adjustment_id is not None and not ITEM_ID_PATTERN.match(adjustment_id):
            raise InvalidManualAction(
                "adjustment_id", f"{adjustment_id!r} must be 1-100 letters, digits, '.', '_' or '-'"
            )
        checked = money_of(amount, what="amount")
        request = {
            "kind": kind.value,
            "amount": money_json(checked),
            "bank_account_id": bank_account_id,
            "adjustment_id": adjustment_id,
            "gl_account": gl_account,
            "statement_line_id": statement_line_id,
            "description": description,
            "posting_date": posting_date,
        }

        async def work(
            tx: LedgerTransaction, action_id: str, now: datetime
        ) -> tuple[dict[str, Any], list[str]]:
            own_id = adjustment_id or f"adj-{action_id.removeprefix('act-')}"
            if await tx.entry_by_key(tenant_id, adjustment_key(own_id)) is not None:
                raise IdempotencyConflict(
                    f"adjustment {own_id} exists; choose another adjustment_id"
                )
            chart = await self._chart_with_bank_account(
                tx, tenant_id, bank_account_id, checked.currency
            )
            entry = adjustment_entry(
                tenant_id,
                adjustment_id=own_id,
                kind=kind,
                amount=checked,
                bank=chart.bank_account(bank_account_id),
                chart=chart,
                gl_account=gl_account,
                statement_line_id=statement_line_id,
                posting_date=posting_date or now.date(),
                description=description,
                by=by,
            )
            await self._post(
                tx, tenant_id, entry, now, correlation_id=correlation_id, causation_id=action_id
            )
            answer = {"subject_id": own_id, "adjustment_id": own_id, "entries": [entry_json(entry)]}
            return answer, [entry.entry_id]

        return await self._act(
            tenant_id,
            ManualAction.CREATE_ADJUSTMENT,
            adjustment_id or "",
            request,
            by,
            idempotency_key,
            work,
        )

    async def reverse_adjustment(
        self,
        tenant_id: str,
        adjustment_id: str,
        *,
        actor: str | None,
        reason: str | None,
        correlation_id: str,
        posting_date: date | None = None,
        idempotency_key: str | None = None,
    ) -> ManualResult:
        """Reverse an adjustment made by mistake (``domain/adjustments.py``): the reversing
        entry is published on the postings topic with the adjustment's id and kind."""
        by = accountability(actor, reason)
        _check_adjustment_id(tenant_id, adjustment_id)
        request = {"adjustment_id": adjustment_id, "posting_date": posting_date}

        async def work(
            tx: LedgerTransaction, action_id: str, now: datetime
        ) -> tuple[dict[str, Any], list[str]]:
            stored = await tx.entry_by_key(tenant_id, adjustment_key(adjustment_id))
            entry = await tx.entry(tenant_id, stored.entry_id) if stored is not None else None
            if entry is None:
                raise UnknownAdjustment(f"no adjustment {adjustment_id!r} for tenant {tenant_id}")
            reversed_by = await tx.entry_by_key(tenant_id, adjustment_reversal_key(adjustment_id))
            earlier = await tx.entry(tenant_id, reversed_by.entry_id) if reversed_by else None
            adjustment, reversal = reverse_adjustment(
                tenant_id,
                adjustment_of(entry, earlier),
                entry,
                chart=await self._chart(tx, tenant_id),
                posting_date=posting_date or now.date(),
                by=by,
            )
            await self._post(
                tx, tenant_id, reversal, now, correlation_id=correlation_id, causation_id=action_id
            )
            answer = {"adjustment": adjustment_json(adjustment), "entries": [entry_json(reversal)]}
            return answer, [reversal.entry_id]

        return await self._act(
            tenant_id,
            ManualAction.REVERSE_ADJUSTMENT,
            adjustment_id,
            request,
            by,
            idempotency_key,
            work,
        )

    # --- reads --------------------------------------------------------------------------

    async def adjustment(self, tenant_id: str, adjustment_id: str) -> Adjustment:
        """An adjustment and whether it was reversed, as its entries tell it."""
        _check_adjustment_id(tenant_id, adjustment_id)
        posted = await self._views.entry_by_key(tenant_id, adjustment_key(adjustment_id))
        if posted is None:
            raise UnknownAdjustment(f"no adjustment {adjustment_id!r} for tenant {tenant_id}")
        reversal = await self._views.entry_by_key(tenant_id, adjustment_reversal_key(adjustment_id))
        return adjustment_of(
            JournalEntry.from_event(posted.entry),
            JournalEntry.from_event(reversal.entry) if reversal is not None else None,
        )

    async def suspense_postings(
        self,
        tenant_id: str,
        *,
        status: SuspenseStatus | None = None,
        limit: int = 500,
        offset: int = 0,
    ) -> list[SuspensePosting]:
        return await self._views.suspense_postings(
            tenant_id, status=status, limit=limit, offset=offset
        )

    async def suspense_posting(
        self, tenant_id: str, suspense_id: str
    ) -> tuple[SuspensePosting, list[SuspenseAllocation]]:
        posting = await self._views.suspense_posting(tenant_id, suspense_id)
        if posting is None:
            raise UnknownSuspensePosting(
                f"no suspense posting {suspense_id!r} for tenant {tenant_id}"
            )
        return posting, await self._views.suspense_allocations(tenant_id, suspense_id)

    async def decision(self, tenant_id: str, decision_id: str) -> DecisionRecord:
        record = await self._views.decision(tenant_id, decision_id)
        if record is None:
            raise UnknownDecision(f"no decision {decision_id!r} for tenant {tenant_id}")
        return record

    async def payments(self, tenant_id: str, item_id: str) -> list[RegisteredPayment]:
        if await self._views.open_item(tenant_id, item_id) is None:
            raise UnknownOpenItem(f"no open item {item_id!r} for tenant {tenant_id}")
        return await self._views.registered_payments(tenant_id, item_id)

    async def audit_trail(
        self,
        tenant_id: str,
        *,
        subject_id: str | None = None,
        limit: int = 500,
        offset: int = 0,
    ) -> list[AuditRecord]:
        return await self._views.audit_trail(
            tenant_id, subject_id=subject_id, limit=limit, offset=offset
        )


__all__ = [
    "AuditedActions",
    "ManualResult",
    "ManualWork",
    "adjustment_json",
    "allocation_json",
    "audit_json",
    "decision_json",
    "entry_json",
    "item_json",
    "money_json",
    "payment_json",
    "suspense_json",
]
