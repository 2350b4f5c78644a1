"""Rule: a line that cancels an earlier line of the same bank account (a reversal pair).

Looked up in the tenant's bounded memory of recent lines (``recent_lines.py``), by amount
and by reference, never by a scan. An earlier line of the same account with the opposite
amount, at most ``policy.reversal_tolerance_days`` before (or after) it, is the pair:

- with the same reference (end-to-end id, bank reference or structured reference, field by
  field): 1.0 with the line's reversal flag, 0.95 without (a returned payment);
- flagged as a reversal and the only earlier line with the opposite amount: 0.92.

Proves ``reversal_pair`` naming the earlier line (``paired_line_id``); the ledger posts the
reversing line against whatever the earlier one was posted to. A flagged reversal with no
pair (or several candidates and no reference to choose) goes to suspense with the reason,
and the cascade stops there: an item rule must not take a reversal for a payment.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bankrec.contracts import DecisionKind, Evidence, Money, StatementLine
from bankrec.matcher.domain import scoring
from bankrec.matcher.domain.index import OpenItemIndex
from bankrec.matcher.domain.policy import DEFAULT_POLICY, MatchingPolicy
from bankrec.matcher.domain.recent_lines import RecentLine, line_references
from bankrec.matcher.domain.rules import NOTHING, Proof, RuleOutcome, line_date, shown

NAME = "reversal_pair"
CANDIDATES_SHOWN_MAX = 5


@dataclass(frozen=True, slots=True)
class ReversalPairRule:
    name: str = NAME

    def evaluate(
        self, line: StatementLine, index: OpenItemIndex, policy: MatchingPolicy = DEFAULT_POLICY
    ) -> RuleOutcome:
        if line.amount.is_zero():
            return NOTHING
        memory = index.recent_lines
        account = line.account.account_id
        opposite = -line.amount.amount
        if not line.reversal and not memory.has_amount(account, line.amount.currency, opposite):
            # the common case, in one lookup: a pair needs an earlier line of the opposite
            # amount, and without the flag there is nothing to say
            return NOTHING
        for reference in line_references(line):
            paired = [
                earlier
                for earlier in memory.by_reference(account, reference)
                if earlier.line_id != line.line_id
                and earlier.amount.currency == line.amount.currency
                and earlier.amount.amount == opposite
                and self._within_days(line, earlier, policy)
            ]
            if len(paired) == 1:
                field, value = reference
                confidence = (
                    scoring.REVERSAL_FLAG_REFERENCE if line.reversal else scoring.REVERSAL_REFERENCE
                )
                return self._pair(
                    line,
                    paired[0],
                    confidence,
                    Evidence(
                        rule=self.name,
                        field=field,
                        line_value=value,
                        item_field=f"paired_line.{field}",
                        item_value=value,
                        note="the same reference",
                    ),
                )
        if not line.reversal:
            return NOTHING
        candidates = [
            earlier
            for earlier in memory.by_amount(account, line.amount.currency, opposite)
            if earlier.line_id != line.line_id and self._within_days(line, earlier, policy)
        ]
        if len(candidates) == 1:
            return self._pair(line, candidates[0], scoring.REVERSAL_FLAG_AMOUNT, None)
        opposite_shown = shown(Money(amount=opposite, currency=line.amount.currency))
        if candidates:
            names = ", ".join(c.line_id for c in candidates[:CANDIDATES_SHOWN_MAX])
            why = (
                f"the bank flags the line as a reversal; {len(candidates)} earlier lines of "
                f"{opposite_shown} within {policy.reversal_tolerance_days} days could be the "
                f"one it reverses ({names}) and no reference says which: in suspense for a "
                "person"
            )
        else:
            why = (
                f"the bank flags the line as a reversal, but no earlier line of this account "
                f"has {opposite_shown} within {policy.reversal_tolerance_days} days: in "
                "suspense for a person"
            )
        return RuleOutcome(
            notes=(Evidence(rule=self.name, field="reversal", line_value="true", note=why),),
            final=True,
        )

    def _pair(
        self,
        line: StatementLine,
        earlier: RecentLine,
        confidence: Decimal,
        reference: Evidence | None,
    ) -> RuleOutcome:
        evidence = [
            Evidence(
                rule=self.name,
                field="amount",
                line_value=shown(line.amount),
                item_field="paired_line.amount",
                item_value=shown(earlier.amount),
                note="opposite amounts",
            )
        ]
        if line.reversal:
            evidence.append(
                Evidence(
                    rule=self.name, field="reversal", line_value="true", note="flagged by the bank"
                )
            )
        if reference is not None:
            evidence.append(reference)
        when, then = line_date(line), earlier.on
        days = f", {abs((when - then).days)} days apart" if when and then else ""
        return RuleOutcome(
            proof=Proof(
                kind=DecisionKind.REVERSAL_PAIR,
                confidence=confidence,
                evidence=tuple(evidence),
                allocations=(),
                explanation=(
                    f"reverses line {earlier.line_id} ({shown(earlier.amount)}"
                    f"{', ' + earlier.bank_reference if earlier.bank_reference else ''}){days}"
                    + ("; same reference" if reference is not None else "")
                ),
                paired_line_id=earlier.line_id,
            )
        )

    @staticmethod
    def _within_days(line: StatementLine, earlier: RecentLine, policy: MatchingPolicy) -> bool:
        when, then = line_date(line), earlier.on
        if when is None or then is None:
            return True  # no dates to refute it; the reference or the flag still must agree
        return abs((when - then).days) <= policy.reversal_tolerance_days
