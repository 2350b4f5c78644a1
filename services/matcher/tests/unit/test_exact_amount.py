"""Rule 2: the line amount equals the remaining amount of exactly one open item."""

from __future__ import annotations

from decimal import Decimal

import pytest
from matcher_factories import Book

from bankrec.contracts import DecisionKind, Money, OpenItemStatus
from bankrec.matcher.domain import ExactAmountRule, MatchEngine

RULE = ExactAmountRule()
ENGINE = MatchEngine()


def test_exactly_one_item_with_the_amount_is_a_match(book: Book) -> None:
    index = book.index(book.item("INV-1", "8900.00"), book.item("INV-2", "5000.00"))
    decision = ENGINE.evaluate(book.tenant_id, book.line("l1", "8900.00"), index)

    assert (decision.kind, decision.rule) == (DecisionKind.MATCH, "exact_amount")
    assert decision.confidence == Decimal("0.8")
    assert [(a.item_id, a.amount) for a in decision.allocations] == [
        ("INV-1", Money.of("8900.00", "NOK"))
    ]
    [evidence] = decision.evidence
    assert (evidence.field, evidence.line_value) == ("amount", "8900.00 NOK")
    assert (evidence.item_field, evidence.item_value) == ("remaining", "8900.00 NOK")
    assert "INV-1" in decision.explanation


def test_two_candidates_prove_nothing_and_become_proposals(book: Book) -> None:
    index = book.index(book.item("INV-1", "500.00"), book.item("INV-2", "500.00"))
    decision = ENGINE.evaluate(book.tenant_id, book.line("l1", "500.00"), index)

    assert decision.kind is DecisionKind.SUSPENSE
    assert [(p.item_id, p.rule) for p in decision.proposals] == [
        ("INV-1", "exact_amount"),
        ("INV-2", "exact_amount"),
    ]
    assert "2 items with amount 500.00 NOK: INV-1, INV-2" in decision.explanation


def test_a_bill_is_not_a_candidate_for_money_in(book: Book) -> None:
    index = book.index(book.item("BILL-1", "-500.00"))
    assert RULE.evaluate(book.line("l1", "500.00"), index).proof is None
    outgoing = RULE.evaluate(book.line("l2", "-500.00"), index).proof
    assert outgoing is not None
    assert outgoing.allocations[0].item_id == "BILL-1"


def test_an_item_in_another_currency_is_not_a_candidate(book: Book) -> None:
    index = book.index(book.item("INV-1", "500.00", currency="SEK"))
    outcome = RULE.evaluate(book.line("l1", "500.00"), index)
    assert outcome.proof is None
    assert outcome.notes[0].note == "no open item with amount 500.00 NOK"


@pytest.mark.parametrize("status", [OpenItemStatus.PAID, OpenItemStatus.CANCELLED])
def test_paid_and_cancelled_items_are_not_candidates(book: Book, status: OpenItemStatus) -> None:
    closed = book.item("INV-1", "500.00")
    index = book.index(closed, book.item("INV-2", "500.00"))
    index.apply(book.paid(closed, status))  # its last remaining amount was 500.00
    index.apply(closed.model_copy(update={"status": status, "version": 3}))  # even with remaining

    proof = RULE.evaluate(book.line("l1", "500.00"), index).proof
    assert proof is not None
    assert [a.item_id for a in proof.allocations] == ["INV-2"]


def test_the_amount_is_compared_as_a_decimal(book: Book) -> None:
    index = book.index(book.item("INV-1", "500"))
    proof = RULE.evaluate(book.line("l1", "500.00"), index).proof
    assert proof is not None


def test_a_reversal_line_is_not_matched_by_amount(book: Book) -> None:
    index = book.index(book.item("BILL-1", "-500.00"))
    outcome = RULE.evaluate(book.line("l1", "-500.00", reversal=True), index)
    assert outcome.proof is None
    assert "reversal" in (outcome.notes[0].note or "")


def test_many_candidates_are_named_briefly(book: Book) -> None:
    index = book.index(*(book.item(f"INV-{n}", "10.00") for n in range(1, 9)))
    decision = ENGINE.evaluate(book.tenant_id, book.line("l1", "10.00"), index)
    assert "8 items with amount 10.00 NOK: INV-1, INV-2, INV-3, INV-4, INV-5 and 3 more" in (
        decision.explanation
    )
    assert len(decision.proposals) == 8
