"""Rule amount_text_date (seed 002's priority: amount, text, date): one item of the amount
with an alike text is a match; an amount alone, however unique, never is; a tie is
proposals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from matcher_factories import Book

from bankrec.contracts import DecisionKind, Money, OpenItemStatus
from bankrec.matcher.domain import (
    DEFAULT_POLICY,
    AmountTextDateRule,
    MatchEngine,
    MatchingPolicy,
)
from bankrec.matcher.domain.texts import text_agreement

RULE = AmountTextDateRule()
ENGINE = MatchEngine()
ANYTHING_GOES = MatchingPolicy(auto_confirm_threshold=Decimal(0))
NEAR = date(2026, 11, 18)  # two days before the factory's booking date 2026-11-20


def test_amount_text_and_date_agreeing_is_a_match(book: Book) -> None:
    index = book.index(
        book.item("INV-1", "8900.00", description="Hull repairs", due_date=NEAR),
        book.item("INV-2", "8900.00", description="Welding"),
    )
    line = book.line("l1", "8900.00", text="Betaling hull repairs nov")
    decision = ENGINE.evaluate(book.tenant_id, line, index)

    assert (decision.kind, decision.rule) == (DecisionKind.MATCH, "amount_text_date")
    assert decision.confidence == Decimal("0.95")
    assert [(a.item_id, a.amount) for a in decision.allocations] == [
        ("INV-1", Money.of("8900.00", "NOK"))
    ]
    amount, text, when = decision.evidence
    assert (amount.field, amount.item_field) == ("amount", "remaining")
    assert (text.field, text.line_value, text.item_field, text.item_value) == (
        "remittance_text",
        "Betaling hull repairs nov",
        "description",
        "Hull repairs",
    )
    assert (when.item_field, when.item_value, when.note) == (
        "due_date",
        "2026-11-18",
        "2 days apart, within the tolerance",
    )
    assert decision.explanation == (
        "8900.00 NOK equals the remaining amount of INV-1; amount, text and date agree"
    )


def test_amount_and_text_without_the_date_is_below_the_default_threshold(book: Book) -> None:
    index = book.index(book.item("INV-1", "8900.00", description="Hull repairs"))
    line = book.line("l1", "8900.00", text="hull repairs")
    decision = ENGINE.evaluate(book.tenant_id, line, index)
    assert (decision.kind, decision.confidence) == (DecisionKind.PROPOSAL, Decimal("0.85"))
    assert "the date is outside the tolerance" in decision.explanation
    lenient = MatchingPolicy(auto_confirm_threshold=Decimal("0.85"))
    assert ENGINE.evaluate(book.tenant_id, line, index, lenient).kind is DecisionKind.MATCH


@pytest.mark.parametrize("policy", [DEFAULT_POLICY, ANYTHING_GOES])
def test_an_amount_alone_never_auto_confirms_however_unique(
    book: Book, policy: MatchingPolicy
) -> None:
    index = book.index(
        book.item("INV-1", "8900.00", posting_date=NEAR), book.item("INV-2", "5000.00")
    )
    decision = ENGINE.evaluate(book.tenant_id, book.line("l1", "8900.00"), index, policy)

    assert decision.kind is DecisionKind.SUSPENSE
    assert decision.allocations == []
    assert [(p.item_id, p.rule, p.confidence) for p in decision.proposals] == [
        ("INV-1", "amount_text_date", Decimal("0.55"))  # the date agrees, nothing else
    ]
    assert (
        "INV-1 is the only open item with amount 8900.00 NOK, but no text agrees: an amount "
        "alone never proves a match"
    ) in decision.explanation


@pytest.mark.parametrize("policy", [DEFAULT_POLICY, ANYTHING_GOES])
def test_a_tie_between_two_items_is_never_a_match(book: Book, policy: MatchingPolicy) -> None:
    index = book.index(
        book.item("INV-1", "500.00", description="Monthly service fee", due_date=NEAR),
        book.item("INV-2", "500.00", description="Monthly service fee", due_date=NEAR),
    )
    line = book.line("l1", "500.00", text="monthly service fee")
    decision = ENGINE.evaluate(book.tenant_id, line, index, policy)

    assert decision.kind is DecisionKind.SUSPENSE
    assert decision.allocations == []
    assert "2 items with amount 500.00 NOK and an alike text: INV-1, INV-2" in (
        decision.explanation
    )
    assert [(p.item_id, p.confidence) for p in decision.proposals] == [
        ("INV-1", Decimal("0.6")),
        ("INV-2", Decimal("0.6")),
    ]


def test_two_items_of_the_amount_without_text_are_named_briefly(book: Book) -> None:
    index = book.index(*(book.item(f"INV-{n}", "10.00") for n in range(1, 9)))
    decision = ENGINE.evaluate(book.tenant_id, book.line("l1", "10.00"), index)
    assert "8 items with amount 10.00 NOK: INV-1, INV-2, INV-3, INV-4, INV-5 and 3 more" in (
        decision.explanation
    )
    assert len(decision.proposals) == 8
    assert {p.confidence for p in decision.proposals} == {Decimal("0.4")}


@pytest.mark.parametrize(
    ("item_text", "line_text", "agrees"),
    [
        ("Hull repairs", "HULL REPAIRS", True),
        ("Hull repairs", "Hull repars", True),  # almost the same
        ("Sveising", "Betaling sveising og montering", True),
        ("Sveis", "sveis", True),  # five characters: compared
        ("Mal", "mal", False),  # four or fewer: never compared (seed 002)
        ("Faktura", "Faktura", False),  # a word every payment text has says nothing
        ("PO-7712", "po 7712", False),  # 7712 alone is four characters
        ("10234", "9102345", False),  # digits inside another number
        ("10234", "10235", False),  # numbers must be equal, not alike
        ("10234", "betalt 10234,50", False),  # an amount, not the number
        ("VE-10234", "ref ve-10234", True),
    ],
)
def test_texts_are_compared_as_seed_002_asks(item_text: str, line_text: str, agrees: bool) -> None:
    assert (text_agreement(item_text, line_text, 90) is not None) is agrees


def test_the_external_document_number_counts_as_text(book: Book) -> None:
    index = book.index(
        book.item("INV-1", "300.00", external_document_no="VE-55123", posting_date=NEAR)
    )
    proof = RULE.evaluate(book.line("l1", "300.00", text="VE-55123"), index, DEFAULT_POLICY).proof
    assert proof is not None
    assert proof.confidence == Decimal("0.95")
    assert proof.evidence[1].item_field == "external_document_no"


def test_a_bill_is_not_a_candidate_for_money_in(book: Book) -> None:
    index = book.index(book.item("BILL-1", "-500.00", description="Steel plates"))
    incoming = RULE.evaluate(book.line("l1", "500.00", text="steel plates"), index, DEFAULT_POLICY)
    assert incoming.proof is None
    assert incoming.notes[0].note == "no open item with amount 500.00 NOK"
    outgoing = RULE.evaluate(book.line("l2", "-500.00", text="steel plates"), index, DEFAULT_POLICY)
    assert outgoing.proof is not None
    assert outgoing.proof.allocations[0].item_id == "BILL-1"


def test_an_item_in_another_currency_is_not_a_candidate(book: Book) -> None:
    index = book.index(book.item("INV-1", "500.00", currency="SEK", description="Welding"))
    outcome = RULE.evaluate(book.line("l1", "500.00", text="welding"), index, DEFAULT_POLICY)
    assert outcome.proof is None
    assert outcome.notes[0].note == "no open item with amount 500.00 NOK"


@pytest.mark.parametrize("status", [OpenItemStatus.PAID, OpenItemStatus.CANCELLED])
def test_paid_and_cancelled_items_are_not_candidates(book: Book, status: OpenItemStatus) -> None:
    closed = book.item("INV-1", "500.00", description="Welding")
    index = book.index(closed, book.item("INV-2", "500.00", description="Welding"))
    index.apply(book.paid(closed, status))
    index.apply(closed.model_copy(update={"status": status, "version": 3}))  # even with remaining

    proof = RULE.evaluate(book.line("l1", "500.00", text="welding"), index, DEFAULT_POLICY).proof
    assert proof is not None
    assert [a.item_id for a in proof.allocations] == ["INV-2"]


def test_the_amount_is_compared_as_a_decimal(book: Book) -> None:
    index = book.index(book.item("INV-1", "500", description="Welding"))
    assert RULE.evaluate(book.line("l1", "500.00", text="welding"), index, DEFAULT_POLICY).proof


def test_a_reversal_line_is_not_matched_by_amount(book: Book) -> None:
    index = book.index(book.item("BILL-1", "-500.00", description="Welding"))
    line = book.line("l1", "-500.00", reversal=True, text="welding")
    outcome = RULE.evaluate(line, index, DEFAULT_POLICY)
    assert outcome.proof is None
    assert "reversal" in (outcome.notes[0].note or "")
