"""Suspense postings ("received, no match"): amounts parked on the interim account until
someone allocates them to an invoice or bill, a customer, a supplier or a GL account.

A suspense posting is born from an entry that credits (money in) or debits (money out) the
interim account for a statement line: a suspense decision, what a match left over, or an
unmatched decision. Allocating moves (part of) it off the interim account with a balanced
entry, "interim vs target" (money in: Dr interim / Cr target); reversing an allocation posts
the reversing entry of that one, which moves the amount back onto the interim account, and
reopens what the allocation paid.

A posting is allocated off the account it was parked on: when the interim role has moved
to another account since, the old account is emptied as its postings are worked off.

A line that reverses an earlier one (a ``reversal_pair`` decision) is posted bank vs interim
like suspense. When the earlier line's money is still wholly parked, the two postings settle
each other (``settle_reversal_pair``: both ``settled_by_reversal``, nothing left, no entry:
the interim account nets to zero already). When the earlier line was matched (a returned
payment), the reversal stays open for a person, with ``returned_payment_note`` saying why.

Invariants:
- ``amount`` and ``remaining`` have the same sign (+ money in, - money out) or remaining is 0;
- amount - remaining = the sum of the posting's allocations;
- the interim account's balance is minus the sum of the open postings' remaining amounts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

from bankrec.contracts import (
    AccountRole,
    EntrySource,
    Money,
    OpenItem,
    OpenItemKind,
)
from bankrec.ledger.domain.amounts import money_of
from bankrec.ledger.domain.audit import Accountability
from bankrec.ledger.domain.chart import Account, Chart
from bankrec.ledger.domain.journal import (
    DESCRIPTION_LENGTH_MAX,
    JournalEntry,
    debit_credit,
    entry_id_for,
    reversing_entry,
)
from bankrec.ledger.domain.open_items import apply_allocation, restore_allocation
from bankrec.ledger.errors import (
    AlreadyReversed,
    CurrencyMismatch,
    InvalidDecision,
    InvalidManualAction,
    OverAllocation,
    SuspenseAllocated,
    UnknownOpenItem,
)

TARGET_ID_LENGTH_MAX = 100


class SuspenseStatus(StrEnum):
    OPEN = "open"
    PARTLY_ALLOCATED = "partly_allocated"
    ALLOCATED = "allocated"
    REVERSED = "reversed"  # its entry was reversed with the decision that made it
    SETTLED_BY_REVERSAL = "settled_by_reversal"  # cancelled by its line's reversal (a pair)


class AllocationTarget(StrEnum):
    OPEN_ITEM = "open_item"  # an invoice or a bill: it is (partly) paid by the allocation
    CUSTOMER = "customer"  # on account of a customer (receivable, no invoice)
    SUPPLIER = "supplier"  # on account of a supplier (payable, no bill)
    GL_ACCOUNT = "gl_account"  # any non-bank, non-interim GL account of the chart


@dataclass(frozen=True, slots=True)
class SuspensePosting:
    """An amount on the interim account for one statement line, signed as on the statement."""

    suspense_id: str
    entry_id: str
    amount: Money
    remaining: Money
    posting_date: date
    bank_account_id: str | None = None
    statement_line_id: str | None = None
    decision_id: str | None = None
    status: SuspenseStatus = SuspenseStatus.OPEN
    version: int = 1


@dataclass(frozen=True, slots=True)
class SuspenseAllocation:
    """Part of a suspense posting moved to a target by one entry."""

    allocation_id: str
    suspense_id: str
    target: AllocationTarget
    target_id: str
    amount: Money
    entry_id: str
    reversal_entry_id: str | None = None  # the entry that took it back, once reversed

    @property
    def reversed(self) -> bool:
        return self.reversal_entry_id is not None


@dataclass(frozen=True, slots=True)
class AllocatedSuspense:
    """What one allocation does: its entry, the posting's and the item's new states."""

    allocation: SuspenseAllocation
    entry: JournalEntry
    suspense: SuspensePosting
    item: OpenItem | None


@dataclass(frozen=True, slots=True)
class ReversedAllocation:
    """What reversing one allocation does: the reversing entry, the allocation marked, the
    posting with the amount back on it and the item reopened (when it paid one)."""

    allocation: SuspenseAllocation
    entry: JournalEntry
    suspense: SuspensePosting
    item: OpenItem | None


def suspense_id_for(entry_id: str) -> str:
    """A suspense posting is named after the entry that parked it (``je-x`` -> ``sp-x``)."""
    return "sp-" + entry_id.removeprefix("je-")


def suspense_status(amount: Money, remaining: Money) -> SuspenseStatus:
    if remaining.amount == 0:
        return SuspenseStatus.ALLOCATED
    if remaining.amount == amount.amount:
        return SuspenseStatus.OPEN
    return SuspenseStatus.PARTLY_ALLOCATED


def suspense_of(entry: JournalEntry, *, decision_id: str | None = None) -> SuspensePosting | None:
    """The suspense posting an entry parks on the interim account, if it parks anything."""
    net = entry.net_of(AccountRole.INTERIM)
    if net == 0:
        return None
    currency = next(
        line.currency for line in entry.lines if line.account_role is AccountRole.INTERIM
    )
    amount = Money(amount=net, currency=currency)
    return SuspensePosting(
        suspense_id=suspense_id_for(entry.entry_id),
        entry_id=entry.entry_id,
        amount=amount,
        remaining=amount,
        posting_date=entry.posting_date,
        bank_account_id=entry.bank_account_id,
        statement_line_id=entry.statement_line_id,
        decision_id=decision_id,
    )


def reverse_suspense(posting: SuspensePosting) -> SuspensePosting:
    """The posting after the entry that made it was reversed: nothing is parked any more.

    Refuses a posting that has allocations: they must be undone first, or the reversal
    would take from the interim account what is no longer there."""
    if posting.status is SuspenseStatus.REVERSED:
        raise AlreadyReversed(f"suspense posting {posting.suspense_id} is reversed already")
    _refuse_settled(posting)
    if posting.remaining != posting.amount:
        raise SuspenseAllocated(
            f"suspense posting {posting.suspense_id} has {posting.amount - posting.remaining} "
            "allocated; its entry cannot be reversed as it stands"
        )
    zero = Money(amount=posting.amount.amount * 0, currency=posting.amount.currency)
    return replace(
        posting, remaining=zero, status=SuspenseStatus.REVERSED, version=posting.version + 1
    )


def _refuse_settled(posting: SuspensePosting) -> None:
    if posting.status is SuspenseStatus.SETTLED_BY_REVERSAL:
        raise SuspenseAllocated(
            f"suspense posting {posting.suspense_id} was settled by the reversal of its line "
            "(see its audit trail); nothing of it is left on the interim account"
        )


def _counter_account(
    target: AllocationTarget, target_id: str, chart: Chart, item: OpenItem | None
) -> tuple[Account, dict[str, str | None]]:
    if target is AllocationTarget.OPEN_ITEM:
        if item is None:
            raise UnknownOpenItem(f"no open item {target_id!r} to allocate to")
        if item.kind is OpenItemKind.INVOICE:
            return chart.for_role(AccountRole.RECEIVABLE), {
                "open_item_id": item.item_id,
                "counterparty_id": item.counterparty_id,
            }
        if item.kind is OpenItemKind.BILL:
            return chart.for_role(AccountRole.PAYABLE), {
                "open_item_id": item.item_id,
                "counterparty_id": item.counterparty_id,
            }
        raise InvalidManualAction(
            "target_id",
            f"{item.item_id} is a {item.kind.value} on the bank account, not an invoice or bill; "
            "match the bank line to it instead",
        )
    if target is AllocationTarget.CUSTOMER:
        return chart.for_role(AccountRole.RECEIVABLE), {"counterparty_id": target_id}
    if target is AllocationTarget.SUPPLIER:
        return chart.for_role(AccountRole.PAYABLE), {"counterparty_id": target_id}
    account = chart.account(target_id)
    if account.role in (AccountRole.BANK, AccountRole.INTERIM):
        raise InvalidManualAction(
            "target_id",
            f"GL {account.code} is the {account.role.value} account; allocate to another account",
        )
    return account, {}


def allocation_amount(posting: SuspensePosting, amount: Money | None) -> Money:
    """The amount to allocate: what is asked (checked), or all that is left."""
    if amount is None:
        if posting.remaining.amount == 0:
            raise OverAllocation(f"nothing is left to allocate on {posting.suspense_id}")
        return posting.remaining
    checked = money_of(amount, what="amount")
    if checked.currency != posting.amount.currency:
        raise CurrencyMismatch(
            f"amount {checked} is not in the currency of {posting.suspense_id} "
            f"({posting.amount.currency})"
        )
    if checked.amount == 0 or checked.amount * posting.amount.amount < 0:
        raise InvalidManualAction(
            "amount",
            f"{checked} must be non-zero with the sign of the suspense posting ({posting.amount}: "
            f"{'money in' if posting.amount.amount > 0 else 'money out'})",
        )
    if abs(checked.amount) > abs(posting.remaining.amount):
        raise OverAllocation(
            f"allocating {checked} exceeds what is left on {posting.suspense_id} "
            f"({posting.remaining})"
        )
    return checked


def allocate_suspense(
    tenant_id: str,
    posting: SuspensePosting,
    *,
    allocation_id: str,
    target: AllocationTarget,
    target_id: str,
    amount: Money | None,
    chart: Chart,
    item: OpenItem | None,
    posting_date: date,
    by: Accountability,
    parked_on: Account | None = None,
) -> AllocatedSuspense:
    """Move ``amount`` (default: all that is left) of a suspense posting to a target.

    ``parked_on`` is the interim account the posting's entry credited (or debited); the
    chart's interim account when not given."""
    if posting.status is SuspenseStatus.REVERSED:
        raise AlreadyReversed(
            f"suspense posting {posting.suspense_id} was reversed with the decision that made it"
        )
    _refuse_settled(posting)
    target_id = target_id.strip()
    if not target_id or len(target_id) > TARGET_ID_LENGTH_MAX:
        raise InvalidManualAction(
            "target_id", f"must be 1 to {TARGET_ID_LENGTH_MAX} characters (the {target.value})"
        )
    moved = allocation_amount(posting, amount)
    counter, counter_refs = _counter_account(target, target_id, chart, item)
    new_item = None
    if item is not None and target is AllocationTarget.OPEN_ITEM:
        if moved.amount * item.amount.amount < 0:
            raise InvalidManualAction(
                "target_id",
                f"{item.kind.value} {item.item_id} of {item.amount} cannot take {moved} "
                f"({'money in' if moved.amount > 0 else 'money out'})",
            )
        new_item = apply_allocation(item, moved)
    interim = parked_on or chart.for_role(AccountRole.INTERIM)
    key = f"suspense-allocation:{allocation_id}"
    entry = JournalEntry(
        entry_id=entry_id_for(tenant_id, key),
        idempotency_key=key,
        posting_date=posting_date,
        source=EntrySource.MANUAL,
        source_ref=allocation_id,
        description=(
            f"suspense {posting.suspense_id} allocated to {target.value} {target_id}: {by.reason}"
        )[:DESCRIPTION_LENGTH_MAX],
        lines=tuple(
            debit_credit(
                interim,
                counter,
                moved.amount,
                moved.currency,
                debited_refs={"statement_line_id": posting.statement_line_id},
                credited_refs=counter_refs,
            )
        ),
        bank_account_id=posting.bank_account_id,
        statement_line_id=posting.statement_line_id,
        actor=by.actor,
        reason=by.reason,
    )
    remaining = posting.remaining - moved
    updated = replace(
        posting,
        remaining=remaining,
        status=suspense_status(posting.amount, remaining),
        version=posting.version + 1,
    )
    allocation = SuspenseAllocation(
        allocation_id=allocation_id,
        suspense_id=posting.suspense_id,
        target=target,
        target_id=target_id,
        amount=moved,
        entry_id=entry.entry_id,
    )
    return AllocatedSuspense(allocation=allocation, entry=entry, suspense=updated, item=new_item)


def reverse_allocation(
    tenant_id: str,
    posting: SuspensePosting,
    allocation: SuspenseAllocation,
    *,
    entry: JournalEntry,
    item: OpenItem | None,
    chart: Chart,
    posting_date: date,
    by: Accountability,
) -> ReversedAllocation:
    """Take one allocation back: the reversing entry of its ``entry`` (the amount goes back
    onto the interim account it came from), the posting's remaining up by the amount, and
    the invoice or bill it paid (``item``) reopened by it. The reversal mirrors the
    allocation's lines, on the accounts it used (even if a role has moved since); an account
    deactivated since is refused (reactivate it first).

    Refuses a reversed allocation; the reversing entry's idempotency key is derived from the
    allocation, so a second reversal racing this one cannot be posted either."""
    assert allocation.suspense_id == posting.suspense_id, "the allocation is the posting's"
    assert entry.entry_id == allocation.entry_id, "the entry is the allocation's"
    if allocation.reversed:
        raise AlreadyReversed(
            f"allocation {allocation.allocation_id} of {posting.suspense_id} was reversed by "
            f"entry {allocation.reversal_entry_id}; allocate the posting again instead"
        )
    if posting.status is SuspenseStatus.REVERSED:  # pragma: no cover - needs no allocations
        raise AlreadyReversed(f"suspense posting {posting.suspense_id} is reversed already")
    chart.check_postable(line.account_code for line in entry.lines)
    new_item = None
    if allocation.target is AllocationTarget.OPEN_ITEM:
        if item is None:
            raise UnknownOpenItem(
                f"allocation {allocation.allocation_id} paid {allocation.target_id}, which is gone"
            )
        new_item = restore_allocation(item, allocation.amount)
    reversal = reversing_entry(
        entry,
        tenant_id=tenant_id,
        idempotency_key=f"suspense-allocation:{allocation.allocation_id}:reversal",
        posting_date=posting_date,
        description=(
            f"allocation of suspense {posting.suspense_id} to {allocation.target.value} "
            f"{allocation.target_id} reversed: {by.reason}"
        ),
        actor=by.actor,
        reason=by.reason,
    )
    remaining = posting.remaining + allocation.amount
    if abs(remaining.amount) > abs(posting.amount.amount):  # pragma: no cover - invariant
        raise SuspenseAllocated(
            f"reversing {allocation.amount} would leave {remaining} on {posting.suspense_id}, "
            f"more than its amount {posting.amount}"
        )
    updated = replace(
        posting,
        remaining=remaining,
        status=suspense_status(posting.amount, remaining),
        version=posting.version + 1,
    )
    return ReversedAllocation(
        allocation=replace(allocation, reversal_entry_id=reversal.entry_id),
        entry=reversal,
        suspense=updated,
        item=new_item,
    )


@dataclass(frozen=True, slots=True)
class ReversalSettlement:
    """The two suspense postings of a reversal pair after they settled each other."""

    original: SuspensePosting
    reversing: SuspensePosting


@dataclass(frozen=True, slots=True)
class EarlierDecision:
    """A decision the ledger applied for the line a reversal pairs with (for the note)."""

    decision_id: str
    kind: str


def wholly_parked(posting: SuspensePosting) -> bool:
    """Open with nothing allocated: all of the line's money is still on the interim account."""
    return posting.status is SuspenseStatus.OPEN and posting.remaining == posting.amount


def reversal_counterpart(
    posting: SuspensePosting, candidates: Iterable[SuspensePosting]
) -> SuspensePosting | None:
    """The first of ``candidates`` (postings of the other line of a reversal pair) that
    ``posting`` cancels: both wholly parked, same currency, opposite amounts."""
    if not wholly_parked(posting):
        return None
    for candidate in candidates:
        if (
            candidate.suspense_id != posting.suspense_id
            and wholly_parked(candidate)
            and candidate.amount.currency == posting.amount.currency
            and candidate.amount.amount == -posting.amount.amount
        ):
            return candidate
    return None


def settle_reversal_pair(
    original: SuspensePosting, reversing: SuspensePosting
) -> ReversalSettlement:
    """Both postings of a reversal pair leave the interim account's open list: nothing is
    left on either (``settled_by_reversal``). No entry: the credit of the one and the debit
    of the other net to zero on the interim account already."""
    for posting in (original, reversing):
        if not wholly_parked(posting):
            raise SuspenseAllocated(
                f"suspense posting {posting.suspense_id} is {posting.status.value} with "
                f"{posting.remaining} of {posting.amount} left; only wholly parked postings "
                "settle each other"
            )
    if (
        original.amount.currency != reversing.amount.currency
        or original.amount.amount != -reversing.amount.amount
    ):
        raise InvalidDecision(
            f"suspense postings {original.suspense_id} ({original.amount}) and "
            f"{reversing.suspense_id} ({reversing.amount}) do not cancel each other"
        )

    def settled(posting: SuspensePosting) -> SuspensePosting:
        zero = Money(amount=posting.amount.amount * 0, currency=posting.amount.currency)
        return replace(
            posting,
            remaining=zero,
            status=SuspenseStatus.SETTLED_BY_REVERSAL,
            version=posting.version + 1,
        )

    return ReversalSettlement(original=settled(original), reversing=settled(reversing))


def reversal_pair_note(
    reversing: SuspensePosting,
    paired_line_id: str,
    *,
    earlier: Sequence[EarlierDecision],
    paired_postings: Sequence[SuspensePosting],
) -> str:
    """Why the reversal of ``paired_line_id`` stays on the interim account, and what a person
    does about it (the earlier line's money is no longer wholly parked)."""
    line = reversing.statement_line_id or reversing.suspense_id
    if not earlier:
        return (
            f"line {line} reverses line {paired_line_id}, of which the ledger has no decision; "
            "allocate this posting by hand"
        )
    latest = earlier[-1]
    head = (
        f"line {line} reverses line {paired_line_id}, decided {latest.kind} by {latest.decision_id}"
    )
    taken = [p for p in paired_postings if p.status is not SuspenseStatus.REVERSED]
    if taken:
        states = ", ".join(f"{p.suspense_id} {p.status.value}" for p in taken)
        return (
            f"{head}; its suspense posting is no longer wholly parked ({states}): reverse its "
            "allocations to reopen what they paid, and the ledger settles the two postings "
            "with each other"
        )
    return (
        f"{head} (a returned payment): unmatch {latest.decision_id} to reopen what it paid, "
        "and the ledger settles this posting with the one the unmatch parks"
    )
