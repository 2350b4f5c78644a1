"""Rule: the payer's reference or invoice number proves the item; the line differs from its
remaining amount by a deducted fee or a small rounding/FX difference within the tenant's
tolerance (``policy.amount_tolerance`` / ``amount_tolerance_percent``, the larger applies).

Runs before the exact rules and only when the tenant set a tolerance (the default is 0: the
rule returns at once and nothing changes). It proves ``match`` allocating the item's whole
remaining amount, the difference (signed as the line: allocations plus differences equal
the line amount) posted to:

- ``bank_fees`` when money in falls short of the invoice (the payer's or an intermediary
  bank deducted its fee);
- ``rounding`` otherwise (an overpayment, or a bill paid short by a rounding/FX difference).

The item must be proved by a valid structured reference (KID/RF/OCR, 0.95) or a number an
invoice word names ("Faktura 10234", 0.92), naming exactly one open item that can take the
line's money; a payer whose account belongs to another counterparty proves nothing. Amount
alone (or a counterparty's name with a near amount) never settles an item with a difference:
those lines stay with the exact rules, which propose them at most.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bankrec.contracts import (
    AccountRole,
    DecisionKind,
    Difference,
    Evidence,
    Money,
    StatementLine,
)
from bankrec.matcher.domain import scoring
from bankrec.matcher.domain.counterparties import account_keys
from bankrec.matcher.domain.index import IndexedItem, OpenItemIndex
from bankrec.matcher.domain.policy import DEFAULT_POLICY, MatchingPolicy
from bankrec.matcher.domain.references import check_reference
from bankrec.matcher.domain.rules import (
    NOTHING,
    Proof,
    RuleOutcome,
    allocation_to,
    amount_evidence,
    fitting,
    shown,
    written_numbers,
)

NAME = "amount_difference"


@dataclass(frozen=True, slots=True)
class _Named:
    entry: IndexedItem
    evidence: Evidence
    confidence: Decimal


@dataclass(frozen=True, slots=True)
class AmountDifferenceRule:
    name: str = NAME

    def evaluate(
        self, line: StatementLine, index: OpenItemIndex, policy: MatchingPolicy = DEFAULT_POLICY
    ) -> RuleOutcome:
        if not policy.has_amount_tolerance or line.reversal or line.amount.is_zero():
            return NOTHING
        named = self._by_reference(line, index) or self._by_document(line, index)
        if named is None:
            return NOTHING
        entry = named.entry
        difference = line.amount.amount - entry.remaining.amount
        tolerance = policy.amount_tolerance_for(entry.remaining.amount)
        if (
            difference == 0
            or abs(difference) > tolerance
            or self._paid_by_another(line, index, entry)
        ):
            return NOTHING  # exact (the exact rules' case), too far, or not theirs
        money_in_short = line.amount.amount > 0 and difference < 0
        role = AccountRole.BANK_FEES if money_in_short else AccountRole.ROUNDING
        reason = (
            "deducted fee: the line is short of the remaining amount"
            if money_in_short
            else "rounding or exchange difference"
        )
        gap = Money(amount=difference, currency=line.amount.currency)
        note = f"differs by {shown(gap)}, within the tenant's tolerance of {tolerance:f}"
        return RuleOutcome(
            proof=Proof(
                kind=DecisionKind.MATCH,
                confidence=named.confidence,
                evidence=(named.evidence, amount_evidence(self.name, line, entry, note)),
                allocations=(allocation_to(entry, entry.remaining),),
                explanation=(
                    f"{named.evidence.note}; {shown(line.amount)} settles its remaining "
                    f"{shown(entry.remaining)}, the difference {shown(gap)} to {role.value} "
                    f"({reason})"
                ),
                differences=(Difference(role=role, amount=gap, reason=reason),),
            )
        )

    def _by_reference(self, line: StatementLine, index: OpenItemIndex) -> _Named | None:
        given = line.structured_reference
        if given is None:
            return None
        reference = check_reference(given.value, given.kind)
        if not reference.checkable or not reference.valid:
            return None  # an invalid reference is never evidence
        entries = fitting(line, index.open_by_reference(reference.value))
        if len(entries) != 1:
            return None
        entry = entries[0]
        return _Named(
            entry,
            Evidence(
                rule=self.name,
                field="structured_reference",
                line_value=given.value,
                item_field="reference",
                item_value=entry.item.reference,
                note=f"{reference.label} ({reference.check} valid) names {entry.label}",
            ),
            scoring.REFERENCE_DIFFERENCE,
        )

    def _by_document(self, line: StatementLine, index: OpenItemIndex) -> _Named | None:
        found: dict[str, tuple[IndexedItem, str, str]] = {}
        for number in written_numbers(line):
            if not number.named:
                continue  # a lone number is no proof of an item with another amount
            for key in number.keys:
                entries = index.open_by_document(key)
                if entries:
                    for entry in fitting(line, entries):
                        found.setdefault(entry.item_id, (entry, number.written, number.field))
                    break
        if len(found) != 1:
            return None
        [(entry, written, field)] = found.values()
        return _Named(
            entry,
            Evidence(
                rule=self.name,
                field=field,
                line_value=written,
                item_field=entry.document_field(entry.label),
                item_value=entry.label,
                note=f"{written!r} names {entry.item.kind.value} {entry.label}",
            ),
            scoring.DOCUMENT_DIFFERENCE,
        )

    @staticmethod
    def _paid_by_another(line: StatementLine, index: OpenItemIndex, entry: IndexedItem) -> bool:
        """The payer's account is on other counterparties' cards, not on the item's one's (an
        account the books do not know says nothing)."""
        party = line.counterparty
        owners: set[str] = set()
        for key in account_keys(party.account_number if party is not None else None):
            owners.update(index.counterparties_by_account(key))
        return bool(owners) and entry.counterparty not in owners
