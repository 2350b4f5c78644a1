"""The tenant's matching policy: what it accepts, and how the engine turns a proof the policy
does not confirm into a proposal decision (no allocations, the items proposed, the reason in
the explanation); holds and conflicts between rules."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from matcher_factories import Book

from bankrec.contracts import DecisionKind, Evidence, StatementLine
from bankrec.matcher.domain import (
    DEFAULT_POLICY,
    DEFAULT_RULES,
    MatchEngine,
    MatchingPolicy,
    OpenItemIndex,
    PolicyError,
    Proof,
    RuleOutcome,
)
from bankrec.matcher.domain.rules import allocation_to

ENGINE = MatchEngine()
KID = "1002345005"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"auto_confirm_threshold": Decimal("1.5")}, "between 0 and 1"),
        ({"date_tolerance_days": -1}, "0 (same day) or more"),
        ({"amount_tolerance": Decimal("-0.01")}, "0 (exact) or more"),
        ({"name_similarity_threshold": 0}, "between 1 and 100"),
        ({"text_similarity_threshold": 101}, "between 1 and 100"),
        ({"reversal_tolerance_days": -1}, "between 0 and 90"),
        ({"reversal_tolerance_days": 91}, "between 0 and 90"),  # past the recent lines kept
    ],
)
def test_a_policy_that_cannot_work_is_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError, match=re.escape(message)):
        MatchingPolicy(**fields)  # type: ignore[arg-type]


def test_the_defaults() -> None:
    assert MatchingPolicy() == DEFAULT_POLICY
    assert (DEFAULT_POLICY.auto_confirm, DEFAULT_POLICY.auto_confirm_threshold) == (
        True,
        Decimal("0.9"),
    )
    assert DEFAULT_POLICY.date_tolerance_days == 5
    assert (DEFAULT_POLICY.amount_tolerance, DEFAULT_POLICY.amount_tolerance_percent) == (0, 0)
    assert DEFAULT_POLICY.confirms(Decimal("0.9"))
    assert not DEFAULT_POLICY.confirms(Decimal("0.89"))


def test_with_automatic_matching_off_every_proof_is_a_proposal(book: Book) -> None:
    index = book.index(book.item("INV-1", "500.00", reference=KID))
    manual = MatchingPolicy(auto_confirm=False)
    line = book.line("l1", "500.00", reference=KID)
    decision = ENGINE.decide(book.tenant_id, line, index, manual)

    assert decision.kind is DecisionKind.PROPOSAL
    assert (decision.rule, decision.confidence) == ("structured_reference", Decimal("1.0"))
    assert decision.allocations == []
    assert [(p.item_id, p.confidence) for p in decision.proposals] == [("INV-1", Decimal("1.0"))]
    assert decision.explanation.startswith(
        f"KID {KID} (mod10 valid) names INV-1; 500.00 NOK pays its remaining amount in full; "
        "not confirmed automatically: automatic matching is off for this tenant"
    )
    assert index.open_count == 1  # a proposal reserves nothing
    assert ENGINE.decide(book.tenant_id, line, index).kind is DecisionKind.MATCH


def test_a_proof_below_the_threshold_is_a_proposal(book: Book) -> None:
    index = book.index(book.item("INV-1", "500.00", reference=KID, document_no="10234"))
    strict = MatchingPolicy(auto_confirm_threshold=Decimal("0.99"))
    by_number = ENGINE.evaluate(
        book.tenant_id, book.line("l1", "500.00", text="Faktura 10234"), index, strict
    )
    assert (by_number.kind, by_number.rule) == (DecisionKind.PROPOSAL, "document_number")
    assert "confidence 0.96 is below the tenant's threshold 0.99" in by_number.explanation
    by_kid = ENGINE.evaluate(
        book.tenant_id, book.line("l2", "500.00", reference=KID), index, strict
    )
    assert by_kid.kind is DecisionKind.MATCH


@pytest.mark.parametrize("threshold", ["0.9", "0"])
def test_an_invalid_kid_alone_is_never_auto_confirmed(book: Book, threshold: str) -> None:
    index = book.index(book.item("INV-1", "500.00", reference=KID))
    policy = MatchingPolicy(auto_confirm_threshold=Decimal(threshold))
    for typo in ("1002345006", "1002345050", KID[:-1] + "7"):
        line = book.line(f"l-{typo}", "500.00", reference=typo)
        decision = ENGINE.evaluate(book.tenant_id, line, index, policy)
        assert decision.kind is DecisionKind.SUSPENSE, typo
        assert decision.allocations == []
        assert "invalid check digit" in decision.explanation


def test_an_invalid_kid_holds_against_a_proof_of_another_item(book: Book) -> None:
    index = book.index(
        book.item("INV-1", "500.00", reference=KID),
        book.item("INV-2", "500.00", document_no="10234"),
    )
    line = book.line("l1", "500.00", reference="1002345006", text="Faktura 10234")
    for policy in (DEFAULT_POLICY, MatchingPolicy(auto_confirm_threshold=Decimal(0))):
        decision = ENGINE.evaluate(book.tenant_id, line, index, policy)
        assert (decision.kind, decision.rule) == (DecisionKind.PROPOSAL, "document_number")
        assert decision.allocations == []
        assert "not confirmed automatically: structured_reference: KID 1002345006 has an " in (
            decision.explanation
        )
        assert {p.item_id for p in decision.proposals} == {"INV-1", "INV-2"}


def test_other_evidence_for_the_item_one_typo_away_is_confirmed_never_by_the_kid(
    book: Book,
) -> None:
    index = book.index(
        book.item("INV-1", "500.00", reference=KID, counterparty_accounts=["12345678903"])
    )
    line = book.line("l1", "500.00", reference="1002345006", payer_account="12345678903")
    decision = ENGINE.evaluate(book.tenant_id, line, index)
    assert (decision.kind, decision.rule) == (DecisionKind.MATCH, "counterparty")
    assert [a.item_id for a in decision.allocations] == ["INV-1"]
    assert "structured_reference" not in {e.rule for e in decision.evidence}


class _Proves:
    """A rule that proves a match of one item at a given confidence."""

    def __init__(self, name: str, item_id: str, confidence: str) -> None:
        self.name, self.item_id, self.confidence = name, item_id, Decimal(confidence)

    def evaluate(
        self, line: StatementLine, index: OpenItemIndex, policy: MatchingPolicy
    ) -> RuleOutcome:
        entry = index.get(self.item_id)
        assert entry is not None
        return RuleOutcome(
            proof=Proof(
                kind=DecisionKind.MATCH,
                confidence=self.confidence,
                evidence=(Evidence(rule=self.name, field="amount"),),
                allocations=(allocation_to(entry, line.amount),),
                explanation=f"{self.name} found {self.item_id}",
            )
        )


def test_an_unconfirmed_proof_lets_a_later_rule_confirm_the_same_item(book: Book) -> None:
    index = book.index(book.item("INV-1", "500.00"))
    engine = MatchEngine((_Proves("weak", "INV-1", "0.7"), _Proves("strong", "INV-1", "0.95")))
    decision = engine.evaluate(book.tenant_id, book.line("l1", "500.00"), index)
    assert (decision.kind, decision.rule) == (DecisionKind.MATCH, "strong")


def test_a_later_proof_of_another_item_is_a_conflict_for_a_person(book: Book) -> None:
    index = book.index(book.item("INV-1", "500.00"), book.item("INV-2", "500.00"))
    engine = MatchEngine((_Proves("weak", "INV-1", "0.7"), _Proves("strong", "INV-2", "0.95")))
    decision = engine.evaluate(book.tenant_id, book.line("l1", "500.00"), index)
    assert (decision.kind, decision.rule) == (DecisionKind.PROPOSAL, "strong")
    assert "not confirmed automatically: rule weak found INV-1 instead" in decision.explanation
    assert [(p.item_id, p.rule) for p in decision.proposals] == [
        ("INV-2", "strong"),
        ("INV-1", "weak"),
    ]


def test_the_rule_protocol_takes_the_policy() -> None:
    seen: list[MatchingPolicy] = []

    class _Spy:
        name = "spy"

        def evaluate(
            self, line: StatementLine, index: OpenItemIndex, policy: MatchingPolicy
        ) -> RuleOutcome:
            seen.append(policy)
            return RuleOutcome()

    book = Book.for_tenant("t-spy")
    policy = MatchingPolicy(date_tolerance_days=0)
    MatchEngine((_Spy(), *DEFAULT_RULES)).evaluate(
        "t-spy", book.line("l1", "1.00"), OpenItemIndex(), policy
    )
    assert seen == [policy]
