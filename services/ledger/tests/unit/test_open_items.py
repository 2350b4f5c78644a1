"""Open items: fields checked, allocations reduce what is open, revisions keep what is paid."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from bankrec.contracts import Money, OpenItemKind, OpenItemStatus, ReferenceKind
from bankrec.ledger.domain import apply_allocation, parse_draft, revise_open_item
from bankrec.ledger.errors import (
    CurrencyMismatch,
    InvalidDecision,
    InvalidOpenItem,
    OpenItemConflict,
    OverAllocation,
)


def nok(amount: str) -> Money:
    return Money.of(amount, "NOK")


def test_a_full_draft_is_parsed(make: Any) -> None:
    draft = make.draft(
        "INV-10230",
        amount="12500.00",
        counterparty_id="C-1001",
        counterparty_accounts=" 12345678903  NO8330001234567 12345678903",
        reference="1002345005",
        posting_date="2026-10-21",
        due_date="2026-11-20",
    )
    assert draft.kind is OpenItemKind.INVOICE
    assert draft.amount == nok("12500.00")
    assert draft.reference_kind is ReferenceKind.KID
    assert draft.counterparty_accounts == ("12345678903", "NO8330001234567")
    assert draft.due_date == date(2026, 11, 20)


def test_every_invalid_field_is_named() -> None:
    with pytest.raises(InvalidOpenItem) as refused:
        parse_draft(
            {
                "item_id": "INV 1",
                "kind": "receipt",
                "amount": "12,50",
                "currency": "NOK",
                "reference": "1002345006",
                "posting_date": "2026-11-31",
                "due_date": "21.11.2026",
            }
        )
    fields = {error.field for error in refused.value.errors}
    assert fields == {"item_id", "kind", "amount", "reference", "posting_date", "due_date"}


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        ("12.345", "NOK", "more decimals than NOK"),
        ("100.5", "JPY", "more decimals than JPY"),
        ("1e3", "NOK", "not a decimal number"),
        ("0.00", "NOK", "zero"),
        ("", "NOK", "required"),
        ("100000000000000.00", "NOK", "out of range"),
    ],
)
def test_amounts_the_books_cannot_hold_exactly_are_refused(
    amount: str, currency: str, message: str
) -> None:
    with pytest.raises(InvalidOpenItem, match=message):
        parse_draft({"item_id": "I-1", "kind": "invoice", "amount": amount, "currency": currency})


def test_a_float_amount_is_refused() -> None:
    with pytest.raises(InvalidOpenItem, match="decimal string"):
        parse_draft({"item_id": "I-1", "kind": "invoice", "amount": 12.5, "currency": "NOK"})  # type: ignore[dict-item]


def test_amounts_are_written_with_the_currency_minor_unit(make: Any) -> None:
    assert make.draft(amount="100").amount.amount.as_tuple().exponent == -2
    assert format(make.draft(amount="100.5").amount.amount, "f") == "100.50"


def test_a_partial_then_full_payment(make: Any) -> None:
    invoice = make.invoice(amount="100.00")
    partly = apply_allocation(invoice, nok("60.00"))
    assert (partly.remaining, partly.status, partly.version) == (
        nok("40.00"),
        OpenItemStatus.PARTLY_PAID,
        2,
    )
    paid = apply_allocation(partly, nok("40.00"))
    assert (paid.remaining.amount, paid.status, paid.version) == (0, OpenItemStatus.PAID, 3)


def test_a_bill_is_paid_by_money_out(make: Any) -> None:
    paid = apply_allocation(make.bill(amount="-250.00"), nok("-250.00"))
    assert paid.status is OpenItemStatus.PAID


def test_more_than_what_is_open_is_refused(make: Any) -> None:
    with pytest.raises(OverAllocation, match="exceeds what is open"):
        apply_allocation(make.invoice(amount="100.00"), nok("100.01"))
    paid = apply_allocation(make.invoice(amount="100.00"), nok("100.00"))
    with pytest.raises(OverAllocation):
        apply_allocation(paid, nok("0.01"))


def test_the_wrong_sign_or_currency_is_refused(make: Any) -> None:
    with pytest.raises(InvalidDecision, match="wrong sign"):
        apply_allocation(make.invoice(amount="100.00"), nok("-10.00"))
    with pytest.raises(CurrencyMismatch):
        apply_allocation(make.invoice(amount="100.00"), Money.of("10.00", "EUR"))


def test_the_same_content_is_no_revision(make: Any) -> None:
    invoice = make.invoice("INV-1", amount="100.00", reference="1002345005")
    same = make.draft("INV-1", amount="100.0", reference="1002 3450 05", counterparty_id="C-1")
    assert revise_open_item(invoice, same) is None


def test_a_revision_keeps_what_was_paid(make: Any) -> None:
    partly = apply_allocation(make.invoice(amount="100.00"), nok("60.00"))
    revised = revise_open_item(partly, make.draft(amount="150.00", counterparty_id="C-1"))
    assert revised is not None
    assert (revised.amount, revised.remaining) == (nok("150.00"), nok("90.00"))
    assert (revised.status, revised.version) == (OpenItemStatus.PARTLY_PAID, 3)


def test_a_revision_below_what_was_paid_is_refused(make: Any) -> None:
    partly = apply_allocation(make.invoice(amount="100.00"), nok("60.00"))
    with pytest.raises(OpenItemConflict, match="already paid"):
        revise_open_item(partly, make.draft(amount="50.00", counterparty_id="C-1"))
    with pytest.raises(OpenItemConflict, match="kind stays invoice") as refused:
        revise_open_item(partly, make.draft(kind="journal", amount="100.00"))
    assert refused.value.field == "kind"


def test_an_unpaid_item_may_change_anything(make: Any) -> None:
    revised = revise_open_item(make.invoice(amount="100.00"), make.draft(kind="bill", amount="-5"))
    assert revised is not None
    assert revised.remaining == nok("-5.00")
    assert revised.status is OpenItemStatus.OPEN
    assert revised.amount.amount == Decimal("-5.00")
