"""Rule: the payer wrote the invoice number (seed 004: no KID -> the invoice number in the
remittance text).

The numbers in the line's texts (``document_numbers.numbers_in``) are looked up among the
open items' ``document_no`` and ``external_document_no`` (an index, never a scan). Proves:

- ``match`` when one number names one open item and the line pays its remaining amount
  (0.96 after an invoice word such as "Faktura", 0.92 for a lone number);
- ``match`` with several allocations when several numbers name items of one counterparty
  whose remaining amounts add up to the line amount ("faktura 10234 og 10235"), 0.94;
- ``partial`` when a number after an invoice word names one item and the line pays less
  (0.9; a lone number with less is only proposed).

Never a match: a number naming several open items, an overpayment, remainings that do not
add up, items of several counterparties, or an item of another counterparty than the one
whose bank account paid (each proposed). When a number after an invoice word names open
items but proves nothing, the line is held: a later rule may confirm only those very items
(say, one of two the number names), never another. A number naming only settled items (a
possible double payment) or an item of another payer's counterparty holds the line for any
proof. A lone number that proves nothing holds nothing (it may be an order number).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from bankrec.contracts import DecisionKind, Evidence, Proposal, StatementLine
from bankrec.matcher.domain import scoring
from bankrec.matcher.domain.counterparties import account_keys
from bankrec.matcher.domain.document_numbers import WrittenNumber
from bankrec.matcher.domain.index import IndexedItem, OpenItemIndex
from bankrec.matcher.domain.policy import DEFAULT_POLICY, MatchingPolicy
from bankrec.matcher.domain.rules import (
    NAMES_SHOWN_MAX,
    NOTHING,
    Proof,
    RuleOutcome,
    allocation_to,
    amount_evidence,
    fitting,
    labels,
    misfit,
    proposal_of,
    shown,
    written_numbers,
)

NAME = "document_number"


@dataclass(frozen=True, slots=True)
class _Named:
    """A written number and the open items its most exact key names."""

    number: WrittenNumber
    key: str
    entries: tuple[IndexedItem, ...]


@dataclass(frozen=True, slots=True)
class DocumentNumberRule:
    name: str = NAME

    def evaluate(
        self, line: StatementLine, index: OpenItemIndex, policy: MatchingPolicy = DEFAULT_POLICY
    ) -> RuleOutcome:
        numbers = written_numbers(line)
        if not numbers:
            return NOTHING  # nothing to compare: no note, the line simply has no number
        outcome, named = self._outcome(line, index, numbers)
        if (
            outcome.proof is None
            and outcome.hold is None
            and outcome.notes
            and any(hit.number.named for hit in named)
        ):
            # the payer named open items that do not fit as they stand: only a later proof of
            # those very items may be confirmed
            return replace(
                outcome,
                notes=outcome.notes[1:],
                hold=outcome.notes[0],
                hold_unless=frozenset(p.item_id for p in outcome.proposals),
            )
        return outcome

    def _outcome(
        self, line: StatementLine, index: OpenItemIndex, numbers: Sequence[WrittenNumber]
    ) -> tuple[RuleOutcome, list[_Named]]:
        named: list[_Named] = []
        settled: list[tuple[WrittenNumber, str, IndexedItem]] = []
        for number in numbers:
            hit = self._open_named(number, index)
            if hit is not None:
                named.append(hit)
                continue
            for key in number.keys:
                settled += [(number, key, entry) for entry in index.closed_by_document(key)]
        if not named:
            return self._names_no_open_item(line, numbers, settled), named

        proposals: list[Proposal] = []
        chosen: list[tuple[_Named, IndexedItem]] = []
        for hit in named:
            fit = fitting(line, hit.entries)
            if not fit:
                reasons = "; ".join(f"{e.label} {misfit(line, e)}" for e in hit.entries)
                proposals += [
                    self._proposal(hit, entry, scoring.DOCUMENT_MISFIT, f"it {misfit(line, entry)}")
                    for entry in hit.entries
                ]
                return RuleOutcome(
                    proposals=tuple(proposals),
                    notes=(self._note(hit.number, f"{hit.number.written} names {reasons}"),),
                ), named
            if len(fit) > 1:
                return RuleOutcome(
                    proposals=tuple(
                        self._proposal(hit, e, scoring.DOCUMENT_AMBIGUOUS, "one of several")
                        for e in fit
                    ),
                    notes=(
                        self._note(
                            hit.number,
                            f"{hit.number.written} names {len(fit)} open items: {labels(fit)}",
                        ),
                    ),
                ), named
            if all(entry.item_id != fit[0].item_id for _, entry in chosen):
                chosen.append((hit, fit[0]))

        conflict = self._other_counterparty(line, index, [entry for _, entry in chosen])
        if conflict is not None:
            return RuleOutcome(
                proposals=tuple(
                    self._proposal(hit, entry, scoring.DOCUMENT_COUNTERPARTY_DIFFERS, conflict)
                    for hit, entry in chosen
                ),
                hold=self._note(chosen[0][0].number, conflict),  # for any item: who paid?
            ), named
        if len(chosen) == 1:
            return self._one_item(line, *chosen[0]), named
        return self._several_items(line, chosen), named

    def _open_named(self, number: WrittenNumber, index: OpenItemIndex) -> _Named | None:
        for key in number.keys:  # most exact first: INV10234 before 10234
            entries = index.open_by_document(key)
            if entries:
                return _Named(number=number, key=key, entries=tuple(entries))
        return None

    def _names_no_open_item(
        self,
        line: StatementLine,
        numbers: Sequence[WrittenNumber],
        settled: Sequence[tuple[WrittenNumber, str, IndexedItem]],
    ) -> RuleOutcome:
        written = ", ".join(dict.fromkeys(n.written for n in numbers[:NAMES_SHOWN_MAX]))
        if not settled:
            return RuleOutcome(notes=(self._note(numbers[0], f"no open item numbered {written}"),))
        number, key, _ = settled[0]
        states = ", ".join(
            dict.fromkeys(f"{entry.label} ({entry.status})" for _, _, entry in settled)
        )
        return RuleOutcome(
            hold=Evidence(
                rule=self.name,
                field=number.field,
                line_value=number.written,
                item_field=settled[0][2].document_field(key),
                note=f"{number.written} names only items already settled: {states}; "
                "possibly a double payment",
            )
        )

    def _other_counterparty(
        self, line: StatementLine, index: OpenItemIndex, entries: Sequence[IndexedItem]
    ) -> str | None:
        """Why the payer's bank account speaks against the named items (None: it does not)."""
        account = line.counterparty.account_number if line.counterparty else None
        owners: set[str] = set()
        for key in account_keys(account):
            owners.update(index.counterparties_by_account(key))
        strangers = [entry for entry in entries if owners and entry.counterparty not in owners]
        if not strangers:
            return None
        return (
            f"the payer's account {account} belongs to {', '.join(sorted(owners))}, "
            f"{labels(strangers)} to {strangers[0].counterparty}"
        )

    def _one_item(self, line: StatementLine, hit: _Named, entry: IndexedItem) -> RuleOutcome:
        paid, remaining = abs(line.amount.amount), abs(entry.remaining.amount)
        says = self._says(hit.number)
        if paid > remaining:
            return RuleOutcome(
                proposals=(self._proposal(hit, entry, scoring.DOCUMENT_OVERPAID, "overpaid"),),
                notes=(
                    self._note(
                        hit.number,
                        f"{says} names {entry.label} (remaining {shown(entry.remaining)}) but "
                        f"the line pays {shown(line.amount)}: overpaid by "
                        f"{shown(line.amount - entry.remaining)}",
                    ),
                ),
            )
        if paid == remaining:
            kind = DecisionKind.MATCH
            confidence = (
                scoring.DOCUMENT_NAMED_FULL if hit.number.named else scoring.DOCUMENT_BARE_FULL
            )
            amount_note = "equals the remaining amount"
            explanation = (
                f"{says} names {entry.item.kind.value} {entry.label}; {shown(line.amount)} "
                "pays it in full"
            )
        elif hit.number.named:
            kind, confidence = DecisionKind.PARTIAL, scoring.DOCUMENT_NAMED_PARTIAL
            amount_note = "less than the remaining amount: partial payment"
            explanation = (
                f"{says} names {entry.item.kind.value} {entry.label}; {shown(line.amount)} "
                f"pays part of its remaining {shown(entry.remaining)}"
            )
        else:
            return RuleOutcome(
                proposals=(self._proposal(hit, entry, scoring.DOCUMENT_BARE_PARTIAL, "pays less"),),
                notes=(
                    self._note(
                        hit.number,
                        f"{says} names {entry.label} (remaining {shown(entry.remaining)}), the "
                        f"line pays {shown(line.amount)}; a lone number is no partial payment",
                    ),
                ),
            )
        return RuleOutcome(
            proof=Proof(
                kind=kind,
                confidence=confidence,
                evidence=(
                    self._evidence(hit, entry, self._how(hit.number)),
                    amount_evidence(self.name, line, entry, amount_note),
                ),
                allocations=(allocation_to(entry, line.amount),),
                explanation=explanation,
            )
        )

    def _several_items(
        self, line: StatementLine, chosen: Sequence[tuple[_Named, IndexedItem]]
    ) -> RuleOutcome:
        entries = [entry for _, entry in chosen]
        total = sum((entry.remaining.amount for entry in entries), start=Decimal(0))
        owners = {entry.item.counterparty_id for entry in entries}
        written = ", ".join(hit.number.written for hit, _ in chosen)
        if len(owners) > 1 or None in owners:
            why = f"{written} name items of different counterparties: {labels(entries)}"
        elif total != line.amount.amount:
            why = (
                f"{written} name {labels(entries)}, remaining {total} "
                f"{line.amount.currency} together; the line pays {shown(line.amount)}"
            )
        else:
            return RuleOutcome(
                proof=Proof(
                    kind=DecisionKind.MATCH,
                    confidence=scoring.DOCUMENT_SEVERAL_FULL,
                    evidence=tuple(
                        evidence
                        for hit, entry in chosen
                        for evidence in (
                            self._evidence(hit, entry, self._how(hit.number)),
                            amount_evidence(self.name, line, entry, "paid in full"),
                        )
                    ),
                    allocations=tuple(allocation_to(e, e.remaining) for e in entries),
                    explanation=(
                        f"{written} name {labels(entries)} of {entries[0].item.counterparty_id}; "
                        f"{shown(line.amount)} pays their remaining amounts in full"
                    ),
                )
            )
        return RuleOutcome(
            proposals=tuple(
                self._proposal(hit, entry, scoring.DOCUMENT_AMOUNT_DIFFERS, "one of several")
                for hit, entry in chosen
            ),
            notes=(self._note(chosen[0][0].number, why),),
        )

    @staticmethod
    def _says(number: WrittenNumber) -> str:
        return f"{number.written} in the {number.field.replace('_', ' ')}"

    @staticmethod
    def _how(number: WrittenNumber) -> str:
        return "named after an invoice word" if number.named else "a number standing alone"

    def _evidence(self, hit: _Named, entry: IndexedItem, note: str) -> Evidence:
        item_field = entry.document_field(hit.key)
        item = entry.item
        value = item.document_no if item_field == "document_no" else item.external_document_no
        return Evidence(
            rule=self.name,
            field=hit.number.field,
            line_value=hit.number.written,
            item_field=item_field,
            item_value=value,
            note=f"{note}; compared as {hit.key}" if hit.key != hit.number.keys[0] else note,
        )

    def _proposal(
        self, hit: _Named, entry: IndexedItem, confidence: Decimal, note: str
    ) -> Proposal:
        return proposal_of(self.name, entry, confidence, [self._evidence(hit, entry, note)])

    def _note(self, number: WrittenNumber, note: str) -> Evidence:
        return Evidence(rule=self.name, field=number.field, line_value=number.written, note=note)
