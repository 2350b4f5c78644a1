"""Posting math for every decision kind: which accounts, which side, which references."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from bankrec.contracts import OpenItem, OpenItemStatus, PostingLine
from bankrec.ledger.domain import DecisionPosting, post_decision
from bankrec.ledger.errors import (
    CurrencyMismatch,
    DecisionNoLongerFits,
    InvalidDecision,
    OverAllocation,
    UnknownAccount,
    UnknownOpenItem,
)

TENANT = "t-posting"


def post(make: Any, decision: Any, *items: OpenItem) -> DecisionPosting:
    return post_decision(
        TENANT,
        decision,
        {item.item_id: item for item in items},
        make.chart(),
        posted_on=date(2026, 12, 1),
    )


def sides(posting: DecisionPosting) -> list[tuple[str, str, str]]:
    """(account code, D or C, amount) per line."""
    assert posting.entry is not None
    return [
        (line.account_code, "D", str(line.debit))
        if line.debit
        else (line.account_code, "C", str(line.credit))
        for line in posting.entry.lines
    ]


def bank_lines(posting: DecisionPosting) -> list[PostingLine]:
    assert posting.entry is not None
    return [line for line in posting.entry.lines if line.account_code == "1920"]


def test_a_customer_payment_is_dr_bank_cr_receivable(make: Any) -> None:
    invoice = make.invoice("INV-1", "12500.00")
    decision = make.decision("match", "12500.00", [("INV-1", "12500.00")])
    posting = post(make, decision, invoice)
    assert sides(posting) == [("1920", "D", "12500.00"), ("1500", "C", "12500.00")]
    assert posting.items[0].status is OpenItemStatus.PAID
    assert posting.items[0].version == 2
    receivable = posting.entry.lines[1] if posting.entry else None
    assert receivable is not None
    assert (receivable.open_item_id, receivable.counterparty_id) == ("INV-1", "C-1")
    assert receivable.bank_account_id is None


def test_every_bank_line_names_the_bank_account_and_statement_line(make: Any) -> None:
    decision = make.decision("suspense", "4200.00")
    posting = post(make, decision)
    for line in bank_lines(posting):
        assert line.bank_account_id == decision.account.account_id
        assert line.statement_line_id == decision.line_id
    assert posting.entry is not None
    assert posting.entry.idempotency_key == decision.decision_id
    assert posting.entry.posting_date == decision.booking_date


def test_a_partial_payment_leaves_the_invoice_partly_paid(make: Any) -> None:
    decision = make.decision("partial", "400.00", [("INV-1", "400.00")])
    posting = post(make, decision, make.invoice("INV-1", "1000.00"))
    assert sides(posting) == [("1920", "D", "400.00"), ("1500", "C", "400.00")]
    assert posting.items[0].status is OpenItemStatus.PARTLY_PAID
    assert str(posting.items[0].remaining) == "600.00 NOK"


def test_a_supplier_payment_is_dr_payable_cr_bank(make: Any) -> None:
    decision = make.decision("match", "-15000.00", [("BILL-1", "-15000.00")])
    posting = post(make, decision, make.bill("BILL-1", "-15000.00"))
    assert sides(posting) == [("2400", "D", "15000.00"), ("1920", "C", "15000.00")]
    assert posting.items[0].status is OpenItemStatus.PAID


def test_one_line_paying_two_invoices_posts_per_allocation(make: Any) -> None:
    decision = make.decision("match", "300.00", [("INV-1", "100.00"), ("INV-2", "200.00")])
    posting = post(make, decision, make.invoice("INV-1", "100.00"), make.invoice("INV-2", "200.00"))
    assert sides(posting) == [
        ("1920", "D", "100.00"),
        ("1500", "C", "100.00"),
        ("1920", "D", "200.00"),
        ("1500", "C", "200.00"),
    ]
    assert [item.status for item in posting.items] == [OpenItemStatus.PAID] * 2


def test_what_the_allocations_leave_goes_to_interim(make: Any) -> None:
    decision = make.decision("match", "1200.00", [("INV-1", "1000.00")])
    posting = post(make, decision, make.invoice("INV-1", "1000.00"))
    assert sides(posting) == [
        ("1920", "D", "1000.00"),
        ("1500", "C", "1000.00"),
        ("1920", "D", "200.00"),
        ("2900", "C", "200.00"),
    ]


def test_a_registered_payment_is_marked_paid_without_a_posting(make: Any) -> None:
    decision = make.decision("match", "-500.00", [("PAY-1", "-500.00")])
    posting = post(make, decision, make.payment("PAY-1", "-500.00"))
    assert posting.entry is None
    assert posting.items[0].status is OpenItemStatus.PAID


@pytest.mark.parametrize("kind", ["suspense", "proposal"])
def test_suspense_money_in_is_dr_bank_cr_interim(make: Any, kind: str) -> None:
    assert sides(post(make, make.decision(kind, "4200.00"))) == [
        ("1920", "D", "4200.00"),
        ("2900", "C", "4200.00"),
    ]


@pytest.mark.parametrize("kind", ["suspense", "proposal"])
def test_suspense_money_out_is_dr_interim_cr_bank(make: Any, kind: str) -> None:
    assert sides(post(make, make.decision(kind, "-125.00"))) == [
        ("2900", "D", "125.00"),
        ("1920", "C", "125.00"),
    ]


def test_on_account_money_in_goes_to_the_customer(make: Any) -> None:
    posting = post(make, make.decision("on_account", "900.00", counterparty_id="C-7"))
    assert sides(posting) == [("1920", "D", "900.00"), ("1500", "C", "900.00")]
    assert posting.entry is not None
    receivable = posting.entry.lines[1]
    assert (receivable.counterparty_id, receivable.open_item_id) == ("C-7", None)


def test_on_account_money_out_goes_to_the_supplier(make: Any) -> None:
    posting = post(make, make.decision("on_account", "-900.00", counterparty_id="S-7"))
    assert sides(posting) == [("2400", "D", "900.00"), ("1920", "C", "900.00")]


def test_on_account_needs_a_counterparty(make: Any) -> None:
    with pytest.raises(InvalidDecision, match="counterparty_id"):
        post(make, make.decision("on_account", "900.00"))


def test_a_rule_posting_is_bank_vs_the_rule_account(make: Any) -> None:
    fee = post(make, make.decision("rule_posting", "-125.00", gl_account="7770"))
    assert sides(fee) == [("7770", "D", "125.00"), ("1920", "C", "125.00")]
    interest = post(make, make.decision("rule_posting", "12.34", gl_account="8040"))
    assert sides(interest) == [("1920", "D", "12.34"), ("8040", "C", "12.34")]


def test_a_rule_posting_needs_a_known_non_bank_account(make: Any) -> None:
    with pytest.raises(UnknownAccount, match="3000"):
        post(make, make.decision("rule_posting", "-125.00", gl_account="3000"))
    with pytest.raises(InvalidDecision, match="bank GL"):
        post(make, make.decision("rule_posting", "-125.00", gl_account="1920"))
    with pytest.raises(InvalidDecision, match="gl_account"):
        post(make, make.decision("rule_posting", "-125.00"))


def test_a_reversal_pair_moves_the_bank_back_against_the_interim_account(make: Any) -> None:
    # the paired line (+100) went bank vs interim as suspense; together they net to zero
    posting = post(make, make.decision("reversal_pair", "-100.00", paired_line_id="line-x"))
    assert sides(posting) == [("2900", "D", "100.00"), ("1920", "C", "100.00")]
    assert posting.items == ()


def test_the_posting_date_falls_back_to_the_day_applied(make: Any) -> None:
    posting = post(make, make.decision("suspense", "1.00", booking_date=None))
    assert posting.entry is not None
    assert posting.entry.posting_date == date(2026, 12, 1)


@pytest.mark.parametrize(
    ("decision_args", "items", "error", "message"),
    [
        (("match", "100.00", [("INV-9", "100.00")]), (), UnknownOpenItem, "INV-9"),
        (("match", "100.01", [("INV-1", "100.01")]), ("100.00",), OverAllocation, "exceeds"),
        (("match", "50.00", [("INV-1", "100.00")]), ("100.00",), InvalidDecision, "more than"),
        (("match", "-50.00", [("INV-1", "50.00")]), ("100.00",), InvalidDecision, "more than"),
        (("match", "100.00", []), (), InvalidDecision, "no allocations"),
    ],
    ids=["unknown-item", "over-allocation", "exceeds-line", "opposite-sign", "no-allocations"],
)
def test_decisions_the_books_refuse(
    make: Any,
    decision_args: tuple[str, str, list[tuple[str, str]]],
    items: tuple[str, ...],
    error: type[Exception],
    message: str,
) -> None:
    open_items = [make.invoice("INV-1", amount) for amount in items]
    with pytest.raises(error, match=message):
        post(make, make.decision(*decision_args), *open_items)


def test_a_line_in_another_currency_than_its_bank_account_is_refused(make: Any) -> None:
    decision = make.decision("suspense", "10.00", currency="EUR")
    with pytest.raises(CurrencyMismatch, match="kept in NOK"):
        post(make, decision)


def test_an_entry_from_a_decision_is_balanced_to_the_cent(make: Any) -> None:
    decision = make.decision("match", "0.30", [("INV-1", "0.10"), ("INV-2", "0.20")])
    posting = post(make, decision, make.invoice("INV-1", "0.10"), make.invoice("INV-2", "0.20"))
    assert posting.entry is not None
    assert sum(line.debit for line in posting.entry.lines) == Decimal("0.30")


# --- decisions that no longer fit -------------------------------------------------------


def test_a_decision_made_on_an_older_version_of_the_item_no_longer_fits(make: Any) -> None:
    invoice = make.invoice("INV-1", "100.00").model_copy(update={"version": 3})
    stale = make.decision("partial", "40.00", [("INV-1", "40.00", 2)])
    with pytest.raises(DecisionNoLongerFits, match="version 2 of INV-1, which is at version 3"):
        post(make, stale, invoice)
    current = make.decision("partial", "40.00", [("INV-1", "40.00", 3)])
    assert post(make, current, invoice).items[0].version == 4


def test_a_match_that_no_longer_settles_its_item_no_longer_fits(make: Any) -> None:
    """The invoice was revised upwards after the matcher saw it: 100 no longer pays it."""
    revised = make.invoice("INV-1", "120.00")
    with pytest.raises(DecisionNoLongerFits, match=r"no longer settles INV-1: 20.00 NOK"):
        post(make, make.decision("match", "100.00", [("INV-1", "100.00")]), revised)
    partial = post(make, make.decision("partial", "100.00", [("INV-1", "100.00")]), revised)
    assert partial.items[0].status is OpenItemStatus.PARTLY_PAID


def test_a_no_longer_fitting_decision_is_an_invalid_decision(make: Any) -> None:
    assert issubclass(DecisionNoLongerFits, InvalidDecision)
    assert DecisionNoLongerFits.code == "decision_no_longer_fits"


def test_a_deducted_fee_is_posted_to_bank_fees_and_the_bank_moves_by_the_line(make: Any) -> None:
    from bankrec.contracts import AccountRole, Difference, Money

    invoice = make.invoice("INV-1", "1000.00")
    fee = Difference(role=AccountRole.BANK_FEES, amount=Money.of("-10.00", "NOK"), reason="fee")
    decision = make.decision("match", "990.00", [("INV-1", "1000.00")], differences=[fee])
    posting = post(make, decision, invoice)
    chart = make.chart()
    fees = chart.for_role(AccountRole.BANK_FEES).code
    assert sides(posting) == [
        ("1920", "D", "1000.00"),
        ("1500", "C", "1000.00"),
        (fees, "D", "10.00"),
        ("1920", "C", "10.00"),
    ]
    bank = sum((line.debit - line.credit for line in bank_lines(posting)), Decimal(0))
    assert bank == Decimal("990.00")
    assert posting.items[0].status is OpenItemStatus.PAID


def test_a_difference_to_another_role_is_refused(make: Any) -> None:
    from bankrec.contracts import AccountRole, Difference, Money

    invoice = make.invoice("INV-1", "1000.00")
    odd = Difference(role=AccountRole.INTERIM, amount=Money.of("-10.00", "NOK"), reason="x")
    decision = make.decision("match", "990.00", [("INV-1", "1000.00")], differences=[odd])
    with pytest.raises(InvalidDecision, match="only bank_fees, rounding take differences"):
        post(make, decision, invoice)
