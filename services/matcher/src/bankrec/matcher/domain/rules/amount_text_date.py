"""Rule: seed 002's priority order: the amount, then the text, then the date.

1. the line amount equals the remaining amount of an open item (the amount index);
2. a text of the line (remittance text, payer name, additional info, ids) is identical or
   almost the same as the item's description, external document no. or document no. (only
   texts longer than four characters, alike at the policy's ``text_similarity_threshold``,
   see ``texts.py``);
3. the line's date is within the policy's ``date_tolerance_days`` of the item's posting or
   due date.

Proves ``match`` only when exactly one item of the amount has an agreeing text: 0.95 with
the date, 0.85 without (a proposal at the default threshold). An amount alone never proves
anything, however unique: the only item with the amount is proposed (0.5, 0.55 when the
date agrees), several are proposed at 0.4, and several with an agreeing text (a tie) at 0.6.
This rule is also where the cascade's amount-only proposals come from (it replaces the
former ``exact_amount`` rule). A reversal line is left to the reversal rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from bankrec.contracts import DecisionKind, Evidence, Proposal, StatementLine
from bankrec.matcher.domain import scoring
from bankrec.matcher.domain.index import IndexedItem, OpenItemIndex
from bankrec.matcher.domain.policy import DEFAULT_POLICY, MatchingPolicy
from bankrec.matcher.domain.rules import (
    DateAgreement,
    Proof,
    RuleOutcome,
    allocation_to,
    amount_evidence,
    date_agreement,
    date_evidence,
    fitting,
    labels,
    line_texts,
    proposal_of,
    shown,
    text_evidence,
)
from bankrec.matcher.domain.texts import FieldAgreement, comparable_texts, field_agreement

NAME = "amount_text_date"
CANDIDATES_COMPARED_MAX = 200  # beyond this many items of one amount, texts are not compared
PROPOSED_MAX = 10  # per confidence; at least the engine's PROPOSALS_MAX (a test holds it)


def item_texts(entry: IndexedItem) -> list[tuple[str, str | None]]:
    """Seed 002's item fields, in its priority order."""
    item = entry.item
    return [
        ("description", item.description),
        ("external_document_no", item.external_document_no),
        ("document_no", item.document_no),
    ]


@dataclass(frozen=True, slots=True)
class _Compared:
    entry: IndexedItem
    text: FieldAgreement | None
    date: DateAgreement | None


@dataclass(frozen=True, slots=True)
class AmountTextDateRule:
    name: str = NAME

    def evaluate(
        self, line: StatementLine, index: OpenItemIndex, policy: MatchingPolicy = DEFAULT_POLICY
    ) -> RuleOutcome:
        amount = shown(line.amount)
        if line.reversal:
            return RuleOutcome(
                notes=(self._note(line, "a reversal line is not matched by amount"),)
            )
        held = index.count_open_by_amount(line.amount)
        if held > CANDIDATES_COMPARED_MAX:  # counted, not walked: a common amount proves nothing
            return RuleOutcome(
                notes=(self._note(line, f"{held} items with amount {amount}: too many to compare"),)
            )
        candidates = fitting(line, index.open_by_amount(line.amount))
        if not candidates:
            return RuleOutcome(notes=(self._note(line, f"no open item with amount {amount}"),))
        texts = comparable_texts(line_texts(line))
        if texts:
            compared = [
                _Compared(
                    entry,
                    field_agreement(texts, item_texts(entry), policy.text_similarity_threshold)[0],
                    date_agreement(line, entry, policy.date_tolerance_days),
                )
                for entry in candidates
            ]
        else:
            # no line text to compare: no candidate agrees by text, and of the candidates only
            # the first PROPOSED_MAX are proposed (below), so only their dates are needed
            compared = [
                _Compared(entry, None, date_agreement(line, entry, policy.date_tolerance_days))
                for entry in candidates[:PROPOSED_MAX]
            ]
        with_text = [found for found in compared if found.text is not None]
        if len(with_text) == 1:
            return self._proved(line, with_text[0])
        if with_text:
            return RuleOutcome(
                proposals=self._proposals(line, compared, scoring.AMOUNT_AMBIGUOUS)
                + self._proposals(line, with_text, scoring.AMOUNT_TEXT_AMBIGUOUS),
                notes=(
                    self._note(
                        line,
                        f"{len(with_text)} items with amount {amount} and an alike text: "
                        f"{labels([found.entry for found in with_text])}",
                    ),
                ),
            )
        if len(candidates) == 1:
            [found] = compared
            confidence = scoring.AMOUNT_DATE if found.date is not None else scoring.AMOUNT_ONLY
            return RuleOutcome(
                proposals=self._proposals(line, compared, confidence),
                notes=(
                    self._note(
                        line,
                        f"{found.entry.label} is the only open item with amount {amount}, but "
                        "no text agrees: an amount alone never proves a match",
                    ),
                ),
            )
        return RuleOutcome(
            proposals=self._proposals(line, compared, scoring.AMOUNT_AMBIGUOUS),
            notes=(
                self._note(
                    line, f"{len(candidates)} items with amount {amount}: {labels(candidates)}"
                ),
            ),
        )

    def _proved(self, line: StatementLine, found: _Compared) -> RuleOutcome:
        entry = found.entry
        with_date = found.date is not None
        agreeing = "amount, text and date agree" if with_date else "amount and text agree"
        explanation = f"{shown(line.amount)} equals the remaining amount of {entry.label}; "
        explanation += agreeing
        if not with_date:
            explanation += ", the date is outside the tolerance"
        return RuleOutcome(
            proof=Proof(
                kind=DecisionKind.MATCH,
                confidence=scoring.AMOUNT_TEXT_DATE if with_date else scoring.AMOUNT_TEXT,
                evidence=tuple(self._evidence(line, found)),
                allocations=(allocation_to(entry, line.amount),),
                explanation=explanation,
            )
        )

    def _proposals(
        self, line: StatementLine, compared: Sequence[_Compared], confidence: Decimal
    ) -> tuple[Proposal, ...]:
        # a decision keeps the engine's PROPOSALS_MAX most confident proposals, by item id
        # on a tie; of one confidence, only the first that many candidates (by item id, as
        # the index gives them) can be among them, so the others are not built
        return tuple(
            proposal_of(self.name, found.entry, confidence, self._evidence(line, found))
            for found in compared[:PROPOSED_MAX]
        )

    def _evidence(self, line: StatementLine, found: _Compared) -> list[Evidence]:
        evidence = [amount_evidence(self.name, line, found.entry, "equal")]
        if found.text is not None:
            evidence.append(text_evidence(self.name, found.text))
        if found.date is not None:
            evidence.append(date_evidence(self.name, line, found.date))
        return evidence

    def _note(self, line: StatementLine, note: str) -> Evidence:
        return Evidence(rule=self.name, field="amount", line_value=shown(line.amount), note=note)
