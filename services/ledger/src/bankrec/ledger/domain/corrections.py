"""Corrections: undoing a decision the ledger applied ("unmatch"), with new entries only.

Unmatching a decision
- takes every allocation back from its open item (the invoice or bill reopens, its remaining
  amount restored; a registered payment is open to be matched again);
- posts the reversing entry of the decision's entry (every line on the other side, naming
  the entry it reverses), which also undoes what the decision parked on the interim account;
- parks what the decision moved on the bank account on the interim account again, with a
  new entry "bank vs interim", as a new suspense posting: the money did arrive, it is only
  no longer known what it pays. It is allocated from there by hand.

So the bank GL account never moves on an unmatch, and the journal stays immutable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from bankrec.contracts import AccountRole, DecisionKind, EntrySource, Money, OpenItem
from bankrec.ledger.domain.audit import Accountability
from bankrec.ledger.domain.chart import Chart
from bankrec.ledger.domain.journal import (
    DESCRIPTION_LENGTH_MAX,
    JournalEntry,
    debit_credit,
    entry_id_for,
    reversing_entry,
)
from bankrec.ledger.domain.open_items import restore_allocation
from bankrec.ledger.domain.suspense import SuspensePosting, reverse_suspense, suspense_of
from bankrec.ledger.errors import AlreadyReversed, NothingToUnmatch, UnknownOpenItem


@dataclass(frozen=True, slots=True)
class AppliedDecision:
    """A decision as the ledger applied it: what unmatching it has to undo."""

    decision_id: str
    kind: DecisionKind
    allocations: tuple[tuple[str, Money], ...]
    entry: JournalEntry | None
    unmatched: bool = False


@dataclass(frozen=True, slots=True)
class Unmatch:
    """The effects of unmatching one decision."""

    entries: tuple[JournalEntry, ...]
    items: tuple[OpenItem, ...]
    suspense: SuspensePosting | None  # the line parked on the interim account again
    reversed_suspense: SuspensePosting | None  # what the decision itself had parked, undone


def unmatch_decision(
    tenant_id: str,
    decision: AppliedDecision,
    *,
    items: Mapping[str, OpenItem],
    chart: Chart,
    leftover: SuspensePosting | None,
    action_id: str,
    posting_date: date,
    by: Accountability,
) -> Unmatch:
    """Undo an applied decision (see the module docstring); raises and changes nothing when
    it cannot: unmatched before, nothing to undo, an item or suspense posting moved on."""
    if decision.unmatched:
        raise AlreadyReversed(f"decision {decision.decision_id} is unmatched already")
    if decision.kind in (DecisionKind.SUSPENSE, DecisionKind.PROPOSAL):
        raise NothingToUnmatch(
            f"decision {decision.decision_id} put the line in suspense; allocate its suspense "
            "posting instead"
        )
    if decision.entry is None and not decision.allocations:
        raise NothingToUnmatch(
            f"decision {decision.decision_id} ({decision.kind.value}) posted nothing and "
            "allocated nothing"
        )
    restored: dict[str, OpenItem] = {}
    for item_id, amount in decision.allocations:
        item = restored.get(item_id) or items.get(item_id)
        if item is None:
            raise UnknownOpenItem(
                f"decision {decision.decision_id} allocated to {item_id}, which is gone"
            )
        restored[item_id] = restore_allocation(item, amount)
    changed = tuple(
        item.model_copy(update={"version": items[item_id].version + 1})
        for item_id, item in restored.items()
    )

    entries: list[JournalEntry] = []
    parked: SuspensePosting | None = None
    reversed_leftover: SuspensePosting | None = None
    original = decision.entry
    if original is not None:
        if leftover is not None:
            reversed_leftover = reverse_suspense(leftover)
        description = f"unmatch of decision {decision.decision_id}: {by.reason}"
        entries.append(
            reversing_entry(
                original,
                tenant_id=tenant_id,
                idempotency_key=f"unmatch:{action_id}:reversal",
                posting_date=posting_date,
                description=description,
                actor=by.actor,
                reason=by.reason,
            )
        )
        bank_lines = [line for line in original.lines if line.account_role is AccountRole.BANK]
        moved = original.bank_net()
        if bank_lines and moved != 0:
            bank_line = bank_lines[0]
            key = f"unmatch:{action_id}:suspense"
            bank_refs: dict[str, str | None] = {
                "bank_account_id": bank_line.bank_account_id,
                "statement_line_id": bank_line.statement_line_id,
            }
            park = JournalEntry(
                entry_id=entry_id_for(tenant_id, key),
                idempotency_key=key,
                posting_date=posting_date,
                source=EntrySource.MANUAL,
                source_ref=action_id,
                description=(
                    f"received, no match (decision {decision.decision_id} unmatched): {by.reason}"
                )[:DESCRIPTION_LENGTH_MAX],
                lines=tuple(
                    debit_credit(
                        chart.account(bank_line.account_code),
                        chart.for_role(AccountRole.INTERIM),
                        moved,
                        bank_line.currency,
                        debited_refs=bank_refs,
                        credited_refs={"statement_line_id": bank_line.statement_line_id},
                    )
                ),
                decision_kind=DecisionKind.SUSPENSE.value,
                bank_account_id=original.bank_account_id or bank_line.bank_account_id,
                statement_line_id=original.statement_line_id or bank_line.statement_line_id,
                actor=by.actor,
                reason=by.reason,
            )
            entries.append(park)
            parked = suspense_of(park, decision_id=decision.decision_id)
    return Unmatch(
        entries=tuple(entries), items=changed, suspense=parked, reversed_suspense=reversed_leftover
    )
