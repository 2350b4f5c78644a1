"""Rule registered_payment: a payment the books registered on this bank account, with the
line's amount, dated within the tolerance, the text agreeing when both sides have one; a
unique candidate only."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from matcher_factories import Book

from bankrec.contracts import DecisionKind, OpenItemKind
from bankrec.matcher.domain import (
    DEFAULT_POLICY,
    MatchEngine,
    MatchingPolicy,
    RegisteredPaymentRule,
)

RULE = RegisteredPaymentRule()
ENGINE = MatchEngine()
LINE_DATE = date(2026, 11, 20)


def test_a_registered_payment_of_the_amount_on_the_date_is_a_match(book: Book) -> None:
    index = book.index(
        book.payment("PAY-1", "-2400.00", posting_date=date(2026, 11, 18), document_no=None)
    )
    decision = ENGINE.evaluate(book.tenant_id, book.line("l1", "-2400.00"), index)

    assert (decision.kind, decision.rule) == (DecisionKind.MATCH, "registered_payment")
    assert decision.confidence == Decimal("0.9")
    assert decision.allocations[0].item_kind == "payment"
    amount, when = decision.evidence
    assert (amount.field, amount.item_field) == ("amount", "remaining")
    assert (when.field, when.line_value, when.item_field, when.item_value) == (
        "booking_date",
        "2026-11-20",
        "posting_date",
        "2026-11-18",
    )
    assert decision.explanation == (
        "-2400.00 NOK is the payment PAY-1 registered on 2026-11-18: amount and date agree"
    )


def test_an_agreeing_text_makes_it_surer(book: Book) -> None:
    index = book.index(
        book.payment(
            "PAY-1",
            "-2400.00",
            posting_date=LINE_DATE,
            description="Husleie desember",
            counterparty_name="Bygdøy Eiendom AS",
        )
    )
    line = book.line("l1", "-2400.00", text="HUSLEIE DESEMBER", payer="BYGDOY EIENDOM")
    decision = ENGINE.evaluate(book.tenant_id, line, index)
    assert decision.confidence == Decimal("0.97")
    text = decision.evidence[2]
    assert (text.field, text.item_field, text.note) == (
        "remittance_text",
        "description",
        "identical",
    )


def test_texts_that_disagree_leave_it_to_a_person(book: Book) -> None:
    index = book.index(
        book.payment("PAY-1", "-2400.00", posting_date=LINE_DATE, description="Husleie desember")
    )
    line = book.line("l1", "-2400.00", text="Strom november Elvia")
    decision = ENGINE.evaluate(book.tenant_id, line, index)
    assert (decision.kind, decision.confidence) == (DecisionKind.PROPOSAL, Decimal("0.8"))
    assert "the texts differ" in decision.explanation
    assert [p.item_id for p in decision.proposals] == ["PAY-1"]


@pytest.mark.parametrize(("tolerance", "matched"), [(0, False), (1, False), (2, True)])
def test_the_date_must_be_within_the_policys_tolerance(
    book: Book, tolerance: int, matched: bool
) -> None:
    index = book.index(book.payment("PAY-1", "-2400.00", posting_date=date(2026, 11, 18)))
    policy = MatchingPolicy(date_tolerance_days=tolerance)
    outcome = RULE.evaluate(book.line("l1", "-2400.00"), index, policy)
    assert (outcome.proof is not None) is matched
    if not matched:
        assert [(p.item_id, p.confidence) for p in outcome.proposals] == [("PAY-1", Decimal("0.5"))]
        assert f"not within {tolerance} days of 2026-11-20" in (outcome.notes[0].note or "")


def test_the_same_day_matches_with_no_tolerance(book: Book) -> None:
    index = book.index(book.payment("PAY-1", "-2400.00", posting_date=LINE_DATE))
    outcome = RULE.evaluate(
        book.line("l1", "-2400.00"), index, MatchingPolicy(date_tolerance_days=0)
    )
    assert outcome.proof is not None


def test_two_registered_payments_are_a_tie_that_only_a_text_breaks(book: Book) -> None:
    index = book.index(
        book.payment("PAY-1", "-2400.00", posting_date=LINE_DATE, description="Husleie"),
        book.payment("PAY-2", "-2400.00", posting_date=LINE_DATE, description="Leasing bil"),
    )
    tie = ENGINE.evaluate(book.tenant_id, book.line("l1", "-2400.00"), index)
    assert tie.kind is DecisionKind.SUSPENSE
    assert "2 registered payments of -2400.00 NOK within 5 days: PAY-1, PAY-2" in tie.explanation
    broken = ENGINE.evaluate(book.tenant_id, book.line("l2", "-2400.00", text="LEASING BIL"), index)
    assert [a.item_id for a in broken.allocations] == ["PAY-2"]


def test_a_registered_payment_on_another_bank_account_is_no_candidate(book: Book) -> None:
    index = book.index(
        book.payment("PAY-1", "-2400.00", posting_date=LINE_DATE, bank_account_id="acc-other")
    )
    outcome = RULE.evaluate(book.line("l1", "-2400.00"), index, DEFAULT_POLICY)
    assert (outcome.proof, outcome.proposals, outcome.notes) == (None, (), ())


def test_a_registered_payment_naming_no_bank_account_is_only_proposed(book: Book) -> None:
    index = book.index(
        book.payment("PAY-1", "-2400.00", posting_date=LINE_DATE, bank_account_id=None)
    )
    decision = ENGINE.evaluate(book.tenant_id, book.line("l1", "-2400.00"), index)
    assert (decision.kind, decision.confidence) == (DecisionKind.PROPOSAL, Decimal("0.8"))
    assert "names no bank account" in decision.explanation


def test_invoices_and_bills_are_not_registered_payments(book: Book) -> None:
    index = book.index(book.item("BILL-1", "-2400.00", posting_date=LINE_DATE))
    outcome = RULE.evaluate(book.line("l1", "-2400.00"), index, DEFAULT_POLICY)
    assert (outcome.proof, outcome.proposals) == (None, ())


def test_a_journal_line_is_a_registered_payment_too(book: Book) -> None:
    index = book.index(
        book.item(
            "JRN-1",
            "1500.00",
            kind=OpenItemKind.JOURNAL,
            bank_account_id=book.account.account_id,
            posting_date=LINE_DATE,
        )
    )
    decision = ENGINE.evaluate(book.tenant_id, book.line("l1", "1500.00"), index)
    assert (decision.kind, decision.rule) == (DecisionKind.MATCH, "registered_payment")


def test_a_reversal_line_is_left_to_the_reversal_rule(book: Book) -> None:
    index = book.index(book.payment("PAY-1", "-2400.00", posting_date=LINE_DATE))
    outcome = RULE.evaluate(book.line("l1", "-2400.00", reversal=True), index, DEFAULT_POLICY)
    assert outcome.proof is None
