"""Reversal pairs (a line cancelling an earlier one of the account) and differences within
the tenant's tolerance (a deducted fee settles the invoice; amount alone never does)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from matcher_factories import Book

from bankrec.contracts import AccountRole, DecisionKind
from bankrec.matcher.domain import MatchEngine, MatchingPolicy

ENGINE = MatchEngine()
KID = "1002345005"
TOLERANT = MatchingPolicy(amount_tolerance=Decimal(50))


def test_a_flagged_reversal_pairs_with_the_earlier_line_of_opposite_amount(book: Book) -> None:
    index = book.index()
    first = ENGINE.decide(book.tenant_id, book.line("l1", "700.00", payer="Stranger"), index)
    assert first.kind is DecisionKind.SUSPENSE
    back = book.line("l2", "-700.00", reversal=True, booking_date=date(2026, 11, 23))
    decision = ENGINE.decide(book.tenant_id, back, index)
    assert (decision.kind, decision.paired_line_id) == (DecisionKind.REVERSAL_PAIR, "l1")
    assert decision.confidence == Decimal("0.92")
    assert decision.allocations == []
    # the pair is settled: a second reversal finds nothing to pair with
    again = ENGINE.decide(book.tenant_id, book.line("l3", "-700.00", reversal=True), index)
    assert again.kind is DecisionKind.SUSPENSE


def test_the_same_reference_and_opposite_amount_pair_without_a_flag(book: Book) -> None:
    index = book.index()
    ENGINE.decide(book.tenant_id, book.line("l1", "-300.00", end_to_end_id="E2E-9"), index)
    back = book.line("l2", "300.00", end_to_end_id="E2E-9")
    decision = ENGINE.decide(book.tenant_id, back, index)
    assert (decision.kind, decision.paired_line_id) == (DecisionKind.REVERSAL_PAIR, "l1")
    assert decision.confidence == Decimal("0.95")
    assert "end_to_end_id" in [e.field for e in decision.evidence]


def test_a_reversal_flag_without_a_pair_goes_to_suspense_with_the_reason(book: Book) -> None:
    index = book.index(book.item("BILL-1", "-700.00"))
    decision = ENGINE.decide(book.tenant_id, book.line("l2", "-700.00", reversal=True), index)
    assert decision.kind is DecisionKind.SUSPENSE
    assert decision.explanation == (
        "the bank flags the line as a reversal, but no earlier line of this account has "
        "700.00 NOK within 5 days: in suspense for a person"
    )


def test_a_line_too_long_before_is_no_pair(book: Book) -> None:
    index = book.index()
    ENGINE.decide(book.tenant_id, book.line("l1", "700.00", booking_date=date(2026, 11, 1)), index)
    decision = ENGINE.decide(book.tenant_id, book.line("l2", "-700.00", reversal=True), index)
    assert decision.kind is DecisionKind.SUSPENSE


def test_a_deducted_fee_within_tolerance_settles_the_invoice_named_by_its_kid(book: Book) -> None:
    index = book.index(book.item("INV-1", "1000.00", reference=KID))
    decision = ENGINE.decide(
        book.tenant_id, book.line("l1", "990.00", reference=KID), index, TOLERANT
    )
    assert (decision.kind, decision.rule) == (DecisionKind.MATCH, "amount_difference")
    assert [(a.item_id, a.amount.amount) for a in decision.allocations] == [
        ("INV-1", Decimal("1000.00"))
    ]
    [fee] = decision.differences
    assert (fee.role, fee.amount.amount) == (AccountRole.BANK_FEES, Decimal("-10.00"))
    total = sum(a.amount.amount for a in decision.allocations) + fee.amount.amount
    assert total == decision.amount.amount  # allocations + differences = line amount
    assert index.get("INV-1").remaining.amount == 0  # type: ignore[union-attr]


def test_an_overpayment_within_tolerance_is_a_rounding_difference(book: Book) -> None:
    index = book.index(book.item("INV-1", "1000.00", document_no="10234"))
    line = book.line("l1", "1000.40", text="Faktura 10234")
    decision = ENGINE.evaluate(book.tenant_id, line, index, TOLERANT)
    assert decision.kind is DecisionKind.MATCH
    assert [(d.role, d.amount.amount) for d in decision.differences] == [
        (AccountRole.ROUNDING, Decimal("0.40"))
    ]


def test_without_a_tolerance_nothing_changes(book: Book) -> None:
    index = book.index(book.item("INV-1", "1000.00", reference=KID))
    decision = ENGINE.evaluate(book.tenant_id, book.line("l1", "990.00", reference=KID), index)
    assert (decision.kind, decision.rule) == (DecisionKind.PARTIAL, "structured_reference")
    assert decision.differences == []


def test_a_difference_outside_tolerance_is_only_proposed(book: Book) -> None:
    index = book.index(book.item("INV-1", "1000.00", reference=KID))
    decision = ENGINE.evaluate(
        book.tenant_id, book.line("l1", "1080.00", reference=KID), index, TOLERANT
    )
    assert decision.kind is DecisionKind.SUSPENSE  # with the item proposed for a person
    assert decision.allocations == []
    assert decision.differences == []
    assert [p.item_id for p in decision.proposals] == ["INV-1"]


def test_amount_alone_within_tolerance_never_auto_confirms(book: Book) -> None:
    index = book.index(book.item("INV-1", "1000.00"))
    decision = ENGINE.evaluate(book.tenant_id, book.line("l1", "990.00"), index, TOLERANT)
    assert decision.kind in (DecisionKind.SUSPENSE, DecisionKind.PROPOSAL)
    assert decision.allocations == []
