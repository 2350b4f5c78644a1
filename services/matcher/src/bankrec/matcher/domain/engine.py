"""The rule cascade: the first rule that proves something decides; otherwise suspense.

``evaluate`` is pure: it reads the index and returns the decision. ``decide`` also books the
decision's allocations in the index at once, so a second line cannot take the same invoice
before the ledger's update arrives.

Invariants (asserted): a decision's allocations are in the line's currency, have its sign,
and together never exceed its amount; a suspense decision allocates nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal

from bankrec.contracts import DecisionKind, Evidence, MatchDecision, Proposal, StatementLine
from bankrec.matcher.domain import scoring
from bankrec.matcher.domain.index import OpenItemIndex
from bankrec.matcher.domain.rules import Proof, Rule, RuleOutcome, sign
from bankrec.matcher.domain.rules.exact_amount import ExactAmountRule
from bankrec.matcher.domain.rules.structured_reference import StructuredReferenceRule

SUSPENSE_RULE = "suspense"
PROPOSALS_MAX = 10
DECISION_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:bankrec:matcher:decisions")

DEFAULT_RULES: tuple[Rule, ...] = (StructuredReferenceRule(), ExactAmountRule())


def decision_id_for(tenant_id: str, line_id: str) -> str:
    """The same line of the same tenant always gets the same decision id (a tenant id holds
    no ``:``, so the name is unambiguous)."""
    return str(uuid.uuid5(DECISION_ID_NAMESPACE, f"{tenant_id}:{line_id}"))


class MatchEngine:
    """Runs the rules in order; stateless (the index is passed in)."""

    def __init__(self, rules: Sequence[Rule] = DEFAULT_RULES) -> None:
        names = [rule.name for rule in rules]
        if len(set(names)) != len(names) or SUSPENSE_RULE in names:
            raise ValueError(f"rule names must be unique and not {SUSPENSE_RULE!r}: {names}")
        self._rules = tuple(rules)

    @property
    def rule_names(self) -> tuple[str, ...]:
        return tuple(rule.name for rule in self._rules)

    def evaluate(self, tenant_id: str, line: StatementLine, index: OpenItemIndex) -> MatchDecision:
        """The decision the rules take for the line now; changes nothing."""
        if line.amount.is_zero():
            return self._suspense(
                tenant_id,
                line,
                [],
                [Evidence(rule=SUSPENSE_RULE, field="amount", note="the line amount is zero")],
            )
        proposals: list[Proposal] = []
        notes: list[Evidence] = []
        for rule in self._rules:
            outcome: RuleOutcome = rule.evaluate(line, index)
            if outcome.proof is not None:
                return self._proved(tenant_id, line, rule.name, outcome.proof)
            proposals.extend(outcome.proposals)
            notes.extend(outcome.notes)
            if outcome.final:
                break
        return self._suspense(tenant_id, line, proposals, notes)

    def decide(self, tenant_id: str, line: StatementLine, index: OpenItemIndex) -> MatchDecision:
        """``evaluate``, then take the allocated amounts off the items' remaining amounts."""
        decision = self.evaluate(tenant_id, line, index)
        for allocation in decision.allocations:
            index.allocate(allocation.item_id, allocation.amount)
        return decision

    def _proved(
        self, tenant_id: str, line: StatementLine, rule: str, proof: Proof
    ) -> MatchDecision:
        assert proof.allocations, f"rule {rule} proved a {proof.kind} without allocations"
        total = sum((a.amount.amount for a in proof.allocations), start=Decimal(0))
        assert all(a.amount.currency == line.amount.currency for a in proof.allocations)
        assert all(sign(a.amount.amount) == sign(line.amount.amount) for a in proof.allocations)
        assert abs(total) <= abs(line.amount.amount), f"rule {rule} allocated more than the line"
        assert 0 <= proof.confidence <= 1
        return MatchDecision(
            decision_id=decision_id_for(tenant_id, line.line_id),
            kind=proof.kind,
            line_id=line.line_id,
            statement_id=line.statement_id,
            account=line.account,
            amount=line.amount,
            booking_date=line.booking_date,
            rule=rule,
            confidence=proof.confidence,
            evidence=list(proof.evidence),
            allocations=list(proof.allocations),
            explanation=proof.explanation,
        )

    def _suspense(
        self,
        tenant_id: str,
        line: StatementLine,
        proposals: Iterable[Proposal],
        notes: Sequence[Evidence],
    ) -> MatchDecision:
        explanation = "; ".join(note.note for note in notes if note.note)
        return MatchDecision(
            decision_id=decision_id_for(tenant_id, line.line_id),
            kind=DecisionKind.SUSPENSE,
            line_id=line.line_id,
            statement_id=line.statement_id,
            account=line.account,
            amount=line.amount,
            booking_date=line.booking_date,
            rule=SUSPENSE_RULE,
            confidence=scoring.NO_PROOF,
            evidence=list(notes),
            proposals=best_proposals(proposals),
            explanation=explanation or "no rule found a match",
        )


def best_proposals(proposals: Iterable[Proposal]) -> list[Proposal]:
    """One proposal per item (its most confident), most confident first, at most a few."""
    best: dict[str, Proposal] = {}
    for proposal in proposals:
        known = best.get(proposal.item_id)
        if known is None or proposal.confidence > known.confidence:
            best[proposal.item_id] = proposal
    ranked = sorted(best.values(), key=lambda p: (-p.confidence, p.item_id))
    return ranked[:PROPOSALS_MAX]
