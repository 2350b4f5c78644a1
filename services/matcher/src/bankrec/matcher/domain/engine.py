"""The rule cascade: the first rule whose proof the tenant's policy confirms decides;
otherwise a proposal (a proof a person must confirm) or suspense.

A proof is confirmed automatically only when the policy has ``auto_confirm`` on, its
confidence reaches ``auto_confirm_threshold``, no earlier rule's hold on the line speaks
against it (a KID with a typo or an invoice number naming another item than the proof's, a
number naming only settled items, the payer's account belonging to someone else) and no
earlier unconfirmed proof named other items. An unconfirmed proof does not stop the cascade: a later rule may confirm
the same items, or find a conflict. When nothing is confirmed, the most confident
unconfirmed proof becomes a ``proposal`` decision (no allocations; the ledger posts it to the
interim account like suspense); then a rule's fallback (money on a known payer's account);
then suspense.

``evaluate`` is pure: it reads the index and returns the decision. ``decide`` also books the
decision's allocations in the index at once, so a second line cannot take the same invoice
before the ledger's update arrives.

Invariants (asserted): a decision's allocations are in the line's currency, have its sign,
and together never exceed its amount; a match or partial allocates something, an
on_account decision nothing but names the counterparty; proposal and suspense decisions
allocate nothing.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from bankrec.contracts import DecisionKind, Evidence, MatchDecision, Proposal, StatementLine
from bankrec.matcher.domain import scoring
from bankrec.matcher.domain.index import OpenItemIndex
from bankrec.matcher.domain.policy import DEFAULT_POLICY, MatchingPolicy
from bankrec.matcher.domain.rules import NOTHING, Proof, Rule, RuleOutcome, sign
from bankrec.matcher.domain.rules.amount_difference import AmountDifferenceRule
from bankrec.matcher.domain.rules.amount_text_date import AmountTextDateRule
from bankrec.matcher.domain.rules.counterparty import CounterpartyRule
from bankrec.matcher.domain.rules.counterparty_subset import CounterpartySubsetRule
from bankrec.matcher.domain.rules.document_number import DocumentNumberRule
from bankrec.matcher.domain.rules.posting_rule import PostingRuleRule
from bankrec.matcher.domain.rules.registered_payment import RegisteredPaymentRule
from bankrec.matcher.domain.rules.reversal_pair import ReversalPairRule
from bankrec.matcher.domain.rules.structured_reference import StructuredReferenceRule

SUSPENSE_RULE = "suspense"
PROPOSALS_MAX = 10
DECISION_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:bankrec:matcher:decisions")
_NAMESPACE_BYTES = DECISION_ID_NAMESPACE.bytes
_VARIANT_DIGITS = "89ab"

# a reversal first: it cancels a line and must not be taken for a payment of an item; a
# difference within tolerance before the exact rules (which would call it a partial
# payment); a registered payment before the document number: once a bill is paid by a
# payment the books registered, the bill is settled and the payment is what the bank line
# shows; the tenant's posting rules after every item rule
DEFAULT_RULES: tuple[Rule, ...] = (
    ReversalPairRule(),
    AmountDifferenceRule(),
    StructuredReferenceRule(),
    RegisteredPaymentRule(),
    DocumentNumberRule(),
    CounterpartyRule(),
    CounterpartySubsetRule(),
    AmountTextDateRule(),
    PostingRuleRule(),
)


def decision_id_for(tenant_id: str, line_id: str) -> str:
    """The same line of the same tenant always gets the same decision id (a tenant id holds
    no ``:``, so the name is unambiguous): ``uuid5(namespace, "tenant:line")``, computed
    without building a ``UUID`` object (this runs once per line)."""
    hexed = hashlib.sha1(_NAMESPACE_BYTES + f"{tenant_id}:{line_id}".encode()).hexdigest()
    # version 5 in the 13th hex digit; the RFC 4122 variant (binary 10xx) in the 17th
    variant = _VARIANT_DIGITS[int(hexed[16], 16) & 0x3]
    return f"{hexed[:8]}-{hexed[8:12]}-5{hexed[13:16]}-{variant}{hexed[17:20]}-{hexed[20:32]}"


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

    def evaluate(
        self,
        tenant_id: str,
        line: StatementLine,
        index: OpenItemIndex,
        policy: MatchingPolicy = DEFAULT_POLICY,
    ) -> MatchDecision:
        """The decision the rules take for the line now under the tenant's policy; changes
        nothing."""
        if line.amount.is_zero():
            return self._suspense(
                tenant_id,
                line,
                [],
                [Evidence(rule=SUSPENSE_RULE, field="amount", note="the line amount is zero")],
            )
        proposals: list[Proposal] = []
        notes: list[Evidence] = []
        holds: list[_Hold] = []
        unconfirmed: list[_Unconfirmed] = []
        fallback: _Unconfirmed | None = None
        for rule in self._rules:
            outcome: RuleOutcome = rule.evaluate(line, index, policy)
            if outcome is NOTHING:  # most rules on most lines: nothing to add
                continue
            proof = outcome.proof
            if proof is not None and proof.kind is DecisionKind.SUSPENSE:
                # a posting rule's suspense action: suspense naming the rule, unless an item
                # rule proved something a person should see as a proposal first
                if not unconfirmed:
                    return self._suspense(
                        tenant_id,
                        line,
                        [*proposals, *outcome.proposals],
                        [*proof.evidence, *notes],
                        rule=rule.name,
                        proof=proof,
                    )
                notes.extend(proof.evidence)
                proof = None
            if proof is not None:
                why_not = _why_not_confirmed(proof, policy, holds, unconfirmed)
                if why_not is None and proof.posting_rule is not None:
                    why_not = _could_pay_an_item(proposals)
                if why_not is None:
                    return self._proved(tenant_id, line, rule.name, proof)
                unconfirmed.append(_Unconfirmed(rule.name, proof, why_not))
            proposals.extend(outcome.proposals)
            notes.extend(outcome.notes)
            if outcome.hold is not None:
                holds.append(_Hold(outcome.hold, outcome.hold_unless, outcome.hold_unless_paying))
                notes.append(outcome.hold)
            if outcome.fallback is not None and fallback is None:
                fallback = _Unconfirmed(rule.name, outcome.fallback, "")
            if outcome.final:
                break
        if not unconfirmed and fallback is not None:
            why_not = _why_not_confirmed(fallback.proof, policy, holds, [])
            if why_not is None:
                return self._proved(tenant_id, line, fallback.rule, fallback.proof)
            unconfirmed.append(_Unconfirmed(fallback.rule, fallback.proof, why_not))
        if unconfirmed:
            return self._proposal(tenant_id, line, unconfirmed, proposals, notes)
        return self._suspense(tenant_id, line, proposals, notes)

    def decide(
        self,
        tenant_id: str,
        line: StatementLine,
        index: OpenItemIndex,
        policy: MatchingPolicy = DEFAULT_POLICY,
    ) -> MatchDecision:
        """``evaluate``, then take the allocated amounts off the items' remaining amounts."""
        decision = self.evaluate(tenant_id, line, index, policy)
        for allocation in decision.allocations:
            index.allocate(allocation.item_id, allocation.amount)
        if decision.kind is DecisionKind.REVERSAL_PAIR and decision.paired_line_id:
            # both lines are settled by the pair: neither may pair again
            index.recent_lines.forget(line.account.account_id, decision.paired_line_id)
        else:
            index.recent_lines.remember(line)
        return decision

    @staticmethod
    def withdraw(line: StatementLine, decision: MatchDecision, index: OpenItemIndex) -> str | None:
        """Undo what ``decide`` did to the index for a decision that was never stored (its
        transaction failed): its reservations are released and the line is forgotten, so
        the line, decided again, finds the index as it was. Returns the id of the line a
        reversal pair took out of the recent lines: the caller remembers it again (the
        index no longer holds it)."""
        for allocation in decision.allocations:
            index.release(allocation.item_id, allocation.amount)
        if decision.kind is DecisionKind.REVERSAL_PAIR and decision.paired_line_id:
            return decision.paired_line_id
        index.recent_lines.forget(line.account.account_id, line.line_id)
        return None

    def _proved(
        self, tenant_id: str, line: StatementLine, rule: str, proof: Proof
    ) -> MatchDecision:
        if proof.kind is DecisionKind.ON_ACCOUNT:
            assert proof.counterparty_id, f"rule {rule} posts on account of nobody"
            assert not proof.allocations, f"rule {rule} allocated an on_account decision"
        elif proof.kind is DecisionKind.RULE_POSTING:
            assert proof.gl_account, f"rule {rule} posts to no GL account"
            assert not proof.allocations, f"rule {rule} allocated a rule posting"
        elif proof.kind is DecisionKind.REVERSAL_PAIR:
            assert proof.paired_line_id, f"rule {rule} pairs the line with nothing"
            assert not proof.allocations, f"rule {rule} allocated a reversal pair"
        else:
            assert proof.allocations, f"rule {rule} proved a {proof.kind} without allocations"
        # one pass over the allocations and differences (generators cost more than the sums)
        paid, currency = line.amount.amount, line.amount.currency
        line_sign = sign(paid)
        covered = Decimal(0)  # invariant: allocations + differences = line amount
        for allocation in proof.allocations:
            amount = allocation.amount
            assert amount.currency == currency, f"rule {rule} allocated in {amount.currency}"
            assert sign(amount.amount) == line_sign, f"rule {rule} allocated the other sign"
            covered += amount.amount
        for difference in proof.differences:
            assert difference.amount.currency == currency, f"rule {rule}: difference currency"
            covered += difference.amount.amount
        assert abs(covered) <= abs(paid), f"rule {rule} allocated more than the line"
        if proof.kind is DecisionKind.MATCH or proof.kind is DecisionKind.PARTIAL:
            assert covered == paid, f"rule {rule} left part of the line unallocated"
        assert 0 <= proof.confidence <= 1
        posting_rule = proof.posting_rule
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
            counterparty_id=proof.counterparty_id,
            gl_account=proof.gl_account,
            paired_line_id=proof.paired_line_id,
            differences=list(proof.differences),
            posting_rule_id=posting_rule.rule_id if posting_rule else None,
            posting_rule_version=posting_rule.version if posting_rule else None,
            explanation=proof.explanation,
        )

    def _proposal(
        self,
        tenant_id: str,
        line: StatementLine,
        unconfirmed: Sequence[_Unconfirmed],
        proposals: Iterable[Proposal],
        notes: Sequence[Evidence],
    ) -> MatchDecision:
        """The most confident unconfirmed proof (the earliest rule's on a tie), for a person to
        confirm: its items become proposals, nothing is allocated; what the other rules noted
        follows its explanation."""
        best = max(unconfirmed, key=lambda u: u.proof.confidence)  # max keeps the first on ties
        proved_items = [
            Proposal(
                item_id=allocation.item_id,
                rule=found.rule,
                confidence=found.proof.confidence,
                evidence=list(found.proof.evidence),
            )
            for found in unconfirmed
            for allocation in found.proof.allocations
        ]
        return MatchDecision(
            decision_id=decision_id_for(tenant_id, line.line_id),
            kind=DecisionKind.PROPOSAL,
            line_id=line.line_id,
            statement_id=line.statement_id,
            account=line.account,
            amount=line.amount,
            booking_date=line.booking_date,
            rule=best.rule,
            confidence=best.proof.confidence,
            evidence=[*best.proof.evidence, *notes],
            proposals=best_proposals([*proved_items, *proposals]),
            counterparty_id=best.proof.counterparty_id,
            explanation="; ".join(
                [
                    best.proof.explanation,
                    f"not confirmed automatically: {best.why_not}",
                    *(n.note for n in notes if n.note and n.note not in best.why_not),
                ]
            ),
        )

    def _suspense(
        self,
        tenant_id: str,
        line: StatementLine,
        proposals: Iterable[Proposal],
        notes: Sequence[Evidence],
        *,
        rule: str = SUSPENSE_RULE,
        proof: Proof | None = None,
    ) -> MatchDecision:
        said = [note.note for note in notes if note.note]
        explanation = "; ".join([proof.explanation, *said] if proof else said)
        posting_rule = proof.posting_rule if proof else None
        return MatchDecision(
            decision_id=decision_id_for(tenant_id, line.line_id),
            kind=DecisionKind.SUSPENSE,
            line_id=line.line_id,
            statement_id=line.statement_id,
            account=line.account,
            amount=line.amount,
            booking_date=line.booking_date,
            rule=rule,
            confidence=proof.confidence if proof else scoring.NO_PROOF,
            evidence=list(notes),
            proposals=best_proposals(proposals),
            posting_rule_id=posting_rule.rule_id if posting_rule else None,
            posting_rule_version=posting_rule.version if posting_rule else None,
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


@dataclass(frozen=True, slots=True)
class _Hold:
    """Why later proofs need a person, unless they allocate only to ``unless`` or pay every
    item of ``unless_paying``."""

    why: Evidence
    unless: frozenset[str]
    unless_paying: frozenset[str]

    def applies_to(self, proof: Proof) -> bool:
        items = _items_of(proof)
        if not items:
            return True
        lifted = items <= self.unless or bool(self.unless_paying and self.unless_paying <= items)
        return not lifted


@dataclass(frozen=True, slots=True)
class _Unconfirmed:
    """A proof the policy did not let confirm, and why."""

    rule: str
    proof: Proof
    why_not: str


def _items_of(proof: Proof) -> frozenset[str]:
    return frozenset(allocation.item_id for allocation in proof.allocations)


def _could_pay_an_item(proposals: Sequence[Proposal]) -> str | None:
    """Why a posting rule's proof needs a person: an item rule proposed an open item the line
    could pay (None: no such proposal)."""
    likely = [p for p in proposals if p.confidence >= scoring.POSTING_RULE_YIELDS_TO]
    if not likely:
        return None
    best = max(likely, key=lambda p: p.confidence)
    return (
        f"the line could pay open item {best.item_id} ({best.rule}, confidence "
        f"{best.confidence}); a posting rule does not override a possible payment"
    )


def _why_not_confirmed(
    proof: Proof,
    policy: MatchingPolicy,
    holds: Sequence[_Hold],
    unconfirmed: Sequence[_Unconfirmed],
) -> str | None:
    """Why the proof needs a person (None: it may be confirmed automatically)."""
    if not policy.auto_confirm:
        return "automatic matching is off for this tenant"
    for hold in holds:
        if hold.applies_to(proof):
            return f"{hold.why.rule}: {hold.why.note}"
    if proof.confidence < policy.auto_confirm_threshold:
        return (
            f"confidence {proof.confidence} is below the tenant's threshold "
            f"{policy.auto_confirm_threshold}"
        )
    for earlier in unconfirmed:
        if _items_of(earlier.proof) != _items_of(proof) or (
            earlier.proof.counterparty_id != proof.counterparty_id
        ):
            named = ", ".join(sorted(_items_of(earlier.proof))) or earlier.proof.counterparty_id
            return f"rule {earlier.rule} found {named} instead"
    return None
