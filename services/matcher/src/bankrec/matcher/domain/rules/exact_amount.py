"""Rule 2: the line's amount equals the remaining amount of exactly one open item.

Proves ``match`` (confidence 0.8) when exactly one open item of the tenant has a remaining
amount equal to the line's (same currency, same sign, so an incoming payment only meets
invoices and an outgoing one only bills). Two or more such items prove nothing: each becomes
a proposal. A reversal line is not matched by amount (its sign was flipped by the bank; the
reversal-pair rule will own it).
"""

from __future__ import annotations

from dataclasses import dataclass

from bankrec.contracts import DecisionKind, Evidence, Proposal, StatementLine
from bankrec.matcher.domain import scoring
from bankrec.matcher.domain.index import IndexedItem, OpenItemIndex
from bankrec.matcher.domain.rules import (
    Proof,
    RuleOutcome,
    allocation_to,
    labels,
    misfit,
    shown,
)

NAME = "exact_amount"


@dataclass(frozen=True, slots=True)
class ExactAmountRule:
    name: str = NAME

    def evaluate(self, line: StatementLine, index: OpenItemIndex) -> RuleOutcome:
        amount = shown(line.amount)
        if line.reversal:
            return RuleOutcome(
                notes=(self._note(line, "a reversal line is not matched by amount"),)
            )
        candidates = [
            entry for entry in index.open_by_amount(line.amount) if misfit(line, entry) is None
        ]
        if not candidates:
            return RuleOutcome(notes=(self._note(line, f"no open item with amount {amount}"),))
        if len(candidates) > 1:
            return RuleOutcome(
                proposals=tuple(
                    Proposal(
                        item_id=entry.item_id,
                        rule=self.name,
                        confidence=scoring.AMOUNT_AMBIGUOUS,
                        evidence=[
                            self._evidence(
                                line, entry, f"one of {len(candidates)} items with this amount"
                            )
                        ],
                    )
                    for entry in candidates
                ),
                notes=(
                    self._note(
                        line, f"{len(candidates)} items with amount {amount}: {labels(candidates)}"
                    ),
                ),
            )
        entry = candidates[0]
        return RuleOutcome(
            proof=Proof(
                kind=DecisionKind.MATCH,
                confidence=scoring.EXACT_AMOUNT,
                evidence=(
                    self._evidence(
                        line, entry, "the only open item of the tenant with this remaining amount"
                    ),
                ),
                allocations=(allocation_to(entry, line.amount),),
                explanation=(
                    f"{amount} equals the remaining amount of {entry.label}, the only open item "
                    "with that amount"
                ),
            )
        )

    def _evidence(self, line: StatementLine, entry: IndexedItem, note: str) -> Evidence:
        return Evidence(
            rule=self.name,
            field="amount",
            line_value=shown(line.amount),
            item_field="remaining",
            item_value=shown(entry.remaining),
            note=note,
        )

    def _note(self, line: StatementLine, note: str) -> Evidence:
        return Evidence(rule=self.name, field="amount", line_value=shown(line.amount), note=note)
