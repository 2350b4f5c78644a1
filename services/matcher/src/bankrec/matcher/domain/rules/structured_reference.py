"""Rule 1: the payer's structured reference (KID, RF, OCR) names the open item.

Proves ``match`` (confidence 1.0) when the line's reference has valid check digits, names
exactly one open item whose remaining amount has the line's currency and sign, and the line
pays that remaining amount; ``partial`` (0.95) when it pays less. Never a match:

- a reference with an invalid check digit (typos are proposed as near misses instead); the
  line is held: a later rule's proof is confirmed automatically only when it names the very
  items one typo away (its own evidence then agrees with what the payer meant), never
  another item; a reference one typo away from nothing holds nothing (the payer's other
  evidence decides, the reference is never evidence);
- an overpayment (the line pays more than the remaining amount): the item proposed, and the
  line held unless a later proof pays that item too (several invoices paid at once);
- a reference naming several open items, only paid/cancelled ones (a double payment) or
  items of another currency, sign or bank account: suspense, and the cascade stops there,
  since the payer named something and an amount coincidence must not override it.

A valid reference that names nothing known lets the cascade go on to weaker rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rapidfuzz import process
from rapidfuzz.distance import OSA

from bankrec.contracts import DecisionKind, Evidence, Proposal, StatementLine
from bankrec.matcher.domain import scoring
from bankrec.matcher.domain.index import IndexedItem, OpenItemIndex
from bankrec.matcher.domain.policy import DEFAULT_POLICY, MatchingPolicy
from bankrec.matcher.domain.references import CheckedReference, check_reference
from bankrec.matcher.domain.rules import (
    Proof,
    RuleOutcome,
    allocation_to,
    labels,
    misfit,
    shown,
)

NAME = "structured_reference"
NEAR_MISS_DISTANCE_MAX = 1  # one typo: a changed, missing, extra or swapped character
NEAR_MISSES_MAX = 5
NO_REFERENCE_NOTE = "the line has no structured reference"
_NO_REFERENCE = RuleOutcome(
    notes=(Evidence(rule=NAME, field="structured_reference", note=NO_REFERENCE_NOTE),)
)


@dataclass(frozen=True, slots=True)
class StructuredReferenceRule:
    name: str = NAME

    @property
    def _no_reference(self) -> RuleOutcome:
        if self.name == NAME:
            return _NO_REFERENCE  # most lines have none: one frozen outcome serves them all
        return RuleOutcome(notes=(self._note(None, NO_REFERENCE_NOTE),))

    def evaluate(
        self, line: StatementLine, index: OpenItemIndex, policy: MatchingPolicy = DEFAULT_POLICY
    ) -> RuleOutcome:
        if line.structured_reference is None:
            return self._no_reference
        raw = line.structured_reference.value
        reference = check_reference(raw, line.structured_reference.kind)
        if not reference.checkable:
            return RuleOutcome(
                notes=(
                    self._note(
                        raw,
                        f"reference {reference.value} is not a KID, RF or OCR reference",
                    ),
                )
            )
        if not reference.valid:
            near_misses = self._near_misses(line, raw, reference, index)
            invalid = self._note(
                raw, f"{reference.label} {reference.failure()}: an invalid reference never matches"
            )
            if not near_misses:  # the payer's other evidence decides; the reference never does
                return RuleOutcome(notes=(invalid,))
            return RuleOutcome(
                proposals=near_misses,
                hold=invalid,
                hold_unless=frozenset(proposal.item_id for proposal in near_misses),
            )

        named = index.open_by_reference(reference.value)
        if not named:
            return self._names_no_open_item(line, raw, reference, index)
        fitting = [entry for entry in named if misfit(line, entry) is None]
        if not fitting:
            reasons = "; ".join(f"{entry.label} {misfit(line, entry)}" for entry in named)
            return RuleOutcome(
                proposals=tuple(
                    self._proposal(line, entry, scoring.REFERENCE_MISFIT, reference)
                    for entry in named
                ),
                notes=(self._note(raw, f"{reference.label} names {reasons}"),),
                final=True,
            )
        if len(fitting) > 1:
            return RuleOutcome(
                proposals=tuple(
                    self._proposal(line, entry, scoring.REFERENCE_AMBIGUOUS, reference)
                    for entry in fitting
                ),
                notes=(
                    self._note(
                        raw, f"{reference.label} names {len(fitting)} open items: {labels(fitting)}"
                    ),
                ),
                final=True,
            )
        return self._one_item(line, raw, reference, fitting[0])

    def _one_item(
        self, line: StatementLine, raw: str, reference: CheckedReference, entry: IndexedItem
    ) -> RuleOutcome:
        paid = abs(line.amount.amount)
        remaining = abs(entry.remaining.amount)
        names = f"{reference.label} ({reference.check} valid) names {entry.label}"
        if paid > remaining:
            excess = line.amount - entry.remaining
            return RuleOutcome(
                proposals=(self._proposal(line, entry, scoring.REFERENCE_OVERPAID, reference),),
                # the line may pay this and more ("faktura 10234/10235" beside the first KID):
                # a later proof is confirmed only when it pays the item the reference names
                hold=self._note(
                    raw,
                    f"{names} (remaining {shown(entry.remaining)}) but the line pays "
                    f"{shown(line.amount)}: overpaid by {shown(excess)}, not matched "
                    "automatically",
                    entry,
                ),
                hold_unless_paying=frozenset({entry.item_id}),
            )
        if paid == remaining:
            kind, confidence = DecisionKind.MATCH, scoring.REFERENCE_FULL
            explanation = f"{names}; {shown(line.amount)} pays its remaining amount in full"
            amount_note = "equals the remaining amount"
        else:
            kind, confidence = DecisionKind.PARTIAL, scoring.REFERENCE_PARTIAL
            explanation = (
                f"{names}; {shown(line.amount)} pays part of its remaining {shown(entry.remaining)}"
            )
            amount_note = "less than the remaining amount: partial payment"
        evidence = (
            self._evidence(raw, entry, f"{reference.label}: {reference.check} check digit valid"),
            Evidence(
                rule=self.name,
                field="amount",
                line_value=shown(line.amount),
                item_field="remaining",
                item_value=shown(entry.remaining),
                note=amount_note,
            ),
        )
        return RuleOutcome(
            proof=Proof(
                kind=kind,
                confidence=confidence,
                evidence=evidence,
                allocations=(allocation_to(entry, line.amount),),
                explanation=explanation,
            )
        )

    def _names_no_open_item(
        self, line: StatementLine, raw: str, reference: CheckedReference, index: OpenItemIndex
    ) -> RuleOutcome:
        closed = index.closed_by_reference(reference.value)
        if closed:
            states = ", ".join(f"{entry.label} ({entry.status})" for entry in closed)
            return RuleOutcome(
                notes=(
                    self._note(
                        raw,
                        f"{reference.label} names only items already settled: {states}; "
                        "possibly a double payment",
                    ),
                ),
                final=True,
            )
        return RuleOutcome(
            proposals=self._near_misses(line, raw, reference, index),
            notes=(self._note(raw, f"no open item with {reference.label}"),),
        )

    def _near_misses(
        self, line: StatementLine, raw: str, reference: CheckedReference, index: OpenItemIndex
    ) -> tuple[Proposal, ...]:
        """Open items whose reference is one typo away (or equal, when the line's is invalid)."""
        found = process.extract(
            reference.value,
            index.open_references_near(reference.value),
            scorer=OSA.distance,
            score_cutoff=NEAR_MISS_DISTANCE_MAX,
            limit=None,
        )
        proposals: list[Proposal] = []
        for item_reference, distance, _position in sorted(found, key=lambda hit: (hit[1], hit[0])):
            if distance == 0 and reference.valid:
                continue  # an exact, valid reference is the rule itself, not a near miss
            for entry in index.open_by_reference(item_reference):
                if misfit(line, entry) is None and len(proposals) < NEAR_MISSES_MAX:
                    proposals.append(
                        Proposal(
                            item_id=entry.item_id,
                            rule=self.name,
                            confidence=scoring.REFERENCE_NEAR_MISS,
                            evidence=[
                                self._evidence(
                                    raw,
                                    entry,
                                    "equal, but the line's check digit is invalid"
                                    if distance == 0
                                    else "one typo away (a changed, missing, extra or swapped "
                                    "character)",
                                )
                            ],
                        )
                    )
        return tuple(proposals)

    def _proposal(
        self,
        line: StatementLine,
        entry: IndexedItem,
        confidence: Decimal,
        reference: CheckedReference,
    ) -> Proposal:
        problem = misfit(line, entry)
        return Proposal(
            item_id=entry.item_id,
            rule=self.name,
            confidence=confidence,
            evidence=[
                self._evidence(
                    line.structured_reference.value if line.structured_reference else None,
                    entry,
                    f"{reference.label} names it" + (f", but it {problem}" if problem else ""),
                )
            ],
        )

    def _evidence(self, line_value: str | None, entry: IndexedItem, note: str) -> Evidence:
        return Evidence(
            rule=self.name,
            field="structured_reference",
            line_value=line_value,
            item_field="reference",
            item_value=entry.item.reference,
            note=note,
        )

    def _note(
        self, line_value: str | None, note: str, entry: IndexedItem | None = None
    ) -> Evidence:
        if entry is not None:
            return self._evidence(line_value, entry, note)
        return Evidence(
            rule=self.name, field="structured_reference", line_value=line_value, note=note
        )
