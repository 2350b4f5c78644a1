"""Rule: the bank line is a payment the books registered already (seed 002's bank-ledger
entries: outgoing payments, transfers and journal lines posted on the bank account).

Candidates are open items of kind ``payment`` or ``journal`` whose remaining amount is the
line amount (the amount index), on the line's bank account, dated (posting or due date)
within the policy's ``date_tolerance_days`` of the line. Proves ``match`` for the unique
candidate:

- 0.97 when a text agrees too (the line's remittance text, payee name, additional info or
  ids against the entry's description, external document no., document no. or payee name);
- 0.9 when there is no text on both sides to compare;
- 0.8 (a proposal at the default threshold) when texts on both sides disagree, or the entry
  names no bank account.

Several candidates within the dates are a tie (a text agreeing with exactly one breaks it);
a candidate outside the dates is only proposed. When the line's document numbers name
another open item of the amount (the supplier's bill "Inv 416499" beside a registered
payment of the same sum), the candidate is only proposed and the document number rule
decides. A reversal line is left to the reversal rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bankrec.contracts import DecisionKind, Evidence, StatementLine
from bankrec.matcher.domain import scoring
from bankrec.matcher.domain.index import IndexedItem, OpenItemIndex
from bankrec.matcher.domain.policy import DEFAULT_POLICY, MatchingPolicy
from bankrec.matcher.domain.rules import (
    NOTHING,
    DateAgreement,
    Proof,
    RuleOutcome,
    allocation_to,
    amount_evidence,
    date_agreement,
    date_evidence,
    fitting,
    labels,
    line_date,
    line_texts,
    misfit,
    proposal_of,
    shown,
    text_evidence,
    written_numbers,
)
from bankrec.matcher.domain.texts import FieldAgreement, comparable_texts, field_agreement

NAME = "registered_payment"


def registered_texts(entry: IndexedItem) -> list[tuple[str, str | None]]:
    item = entry.item
    return [
        ("description", item.description),
        ("external_document_no", item.external_document_no),
        ("document_no", item.document_no),
        ("counterparty_name", item.counterparty_name),
    ]


@dataclass(frozen=True, slots=True)
class _Dated:
    entry: IndexedItem
    date: DateAgreement
    text: FieldAgreement | None
    comparable: bool


@dataclass(frozen=True, slots=True)
class RegisteredPaymentRule:
    name: str = NAME

    def evaluate(
        self, line: StatementLine, index: OpenItemIndex, policy: MatchingPolicy = DEFAULT_POLICY
    ) -> RuleOutcome:
        if line.reversal:
            return NOTHING
        candidates = fitting(line, index.open_registered_by_amount(line.amount))
        if not candidates:
            return NOTHING  # nothing registered with this amount: no note
        texts = comparable_texts(line_texts(line))  # the same pairs compared, picked once
        dated: list[_Dated] = []
        for entry in candidates:
            when = date_agreement(line, entry, policy.date_tolerance_days)
            if when is not None:
                text, comparable = field_agreement(
                    texts, registered_texts(entry), policy.text_similarity_threshold
                )
                dated.append(_Dated(entry, when, text, comparable))
        if not dated:
            return self._other_dates(line, candidates, policy)
        agreeing = [found for found in dated if found.text is not None]
        if len(agreeing) == 1:
            return self._unless_named_otherwise(line, index, agreeing[0])
        if len(agreeing) > 1 or len(dated) > 1:
            tied = agreeing or dated
            return RuleOutcome(
                proposals=tuple(
                    proposal_of(
                        self.name,
                        found.entry,
                        scoring.REGISTERED_PAYMENT_AMBIGUOUS,
                        self._evidence(line, found),
                    )
                    for found in tied
                ),
                notes=(
                    self._note(
                        line,
                        f"{len(tied)} registered payments of {shown(line.amount)} within "
                        f"{policy.date_tolerance_days} days: "
                        f"{labels([found.entry for found in tied])}",
                    ),
                ),
            )
        return self._unless_named_otherwise(line, index, dated[0])

    def _unless_named_otherwise(
        self, line: StatementLine, index: OpenItemIndex, found: _Dated
    ) -> RuleOutcome:
        """The proof, unless the payer's document numbers name another open item that could
        take the line's money."""
        others = {
            entry.item_id: entry
            for number in written_numbers(line)
            for key in number.keys
            for entry in index.open_by_document(key)
            if entry.item_id != found.entry.item_id
            and entry.remaining.amount == line.amount.amount
            and misfit(line, entry) is None
        }
        if not others:
            return self._proved(line, found)
        named = labels(list(others.values()))
        return RuleOutcome(
            proposals=(
                proposal_of(
                    self.name,
                    found.entry,
                    scoring.REGISTERED_PAYMENT_AMBIGUOUS,
                    self._evidence(line, found),
                ),
            ),
            notes=(
                self._note(
                    line,
                    f"{found.entry.label} is a registered payment of {shown(line.amount)}, but "
                    f"the line's text names {named}",
                ),
            ),
        )

    def _proved(self, line: StatementLine, found: _Dated) -> RuleOutcome:
        entry = found.entry
        if found.text is not None:
            confidence, why = scoring.REGISTERED_PAYMENT_TEXT, "amount, date and text agree"
        elif found.comparable:
            confidence = scoring.REGISTERED_PAYMENT_TEXT_DIFFERS
            why = "amount and date agree, the texts differ"
        else:
            confidence, why = scoring.REGISTERED_PAYMENT, "amount and date agree"
        if entry.item.bank_account_id is None:
            confidence = min(confidence, scoring.REGISTERED_PAYMENT_NO_ACCOUNT)
            why += "; the registered payment names no bank account"
        return RuleOutcome(
            proof=Proof(
                kind=DecisionKind.MATCH,
                confidence=confidence,
                evidence=tuple(self._evidence(line, found)),
                allocations=(allocation_to(entry, line.amount),),
                explanation=(
                    f"{shown(line.amount)} is the {entry.item.kind.value} {entry.label} "
                    f"registered on {found.date.value.isoformat()}: {why}"
                ),
            )
        )

    def _other_dates(
        self, line: StatementLine, candidates: Sequence[IndexedItem], policy: MatchingPolicy
    ) -> RuleOutcome:
        when = line_date(line)
        return RuleOutcome(
            proposals=tuple(
                proposal_of(
                    self.name,
                    entry,
                    scoring.REGISTERED_PAYMENT_OTHER_DATE,
                    [amount_evidence(self.name, line, entry, "equal, but dated apart")],
                )
                for entry in candidates
            ),
            notes=(
                self._note(
                    line,
                    f"registered payments of {shown(line.amount)} ({labels(candidates)}) are "
                    f"not within {policy.date_tolerance_days} days of "
                    f"{when.isoformat() if when else 'the line (no date)'}",
                ),
            ),
        )

    def _evidence(self, line: StatementLine, found: _Dated) -> list[Evidence]:
        evidence = [
            amount_evidence(self.name, line, found.entry, "equal"),
            date_evidence(self.name, line, found.date),
        ]
        if found.text is not None:
            evidence.append(text_evidence(self.name, found.text))
        return evidence

    def _note(self, line: StatementLine, note: str) -> Evidence:
        return Evidence(rule=self.name, field="amount", line_value=shown(line.amount), note=note)
