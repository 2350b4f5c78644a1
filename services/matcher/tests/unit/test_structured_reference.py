"""Rule 1: a valid structured reference naming exactly one fitting open item."""

from __future__ import annotations

from decimal import Decimal

import pytest
from matcher_factories import Book

from bankrec.contracts import DecisionKind, Money, OpenItemStatus, ReferenceKind
from bankrec.matcher.domain import MatchEngine, StructuredReferenceRule

RULE = StructuredReferenceRule()
ENGINE = MatchEngine()
KID = "1002345005"  # valid mod10
KID_MOD11 = "86011117947"  # valid mod11 only
RF = "RF18539007547034"


def test_a_valid_kid_naming_one_item_with_the_full_amount_is_a_match(book: Book) -> None:
    index = book.index(
        book.item("INV-1", "12500.00", reference=KID), book.item("INV-2", "12500.00")
    )
    decision = ENGINE.evaluate(book.tenant_id, book.line("l1", "12500.00", reference=KID), index)

    assert decision.kind is DecisionKind.MATCH
    assert decision.rule == "structured_reference"
    assert decision.confidence == Decimal("1.0")
    assert [(a.item_id, a.amount) for a in decision.allocations] == [
        ("INV-1", Money.of("12500.00", "NOK"))
    ]
    reference = decision.evidence[0]
    assert (reference.field, reference.item_field) == ("structured_reference", "reference")
    assert (reference.line_value, reference.item_value) == (KID, KID)
    assert "mod10" in (reference.note or "")
    assert decision.explanation == (
        f"KID {KID} (mod10 valid) names INV-1; 12500.00 NOK pays its remaining amount in full"
    )


@pytest.mark.parametrize(
    ("line_reference", "kind", "item_reference"),
    [
        (KID_MOD11, ReferenceKind.KID, KID_MOD11),
        ("8601 1117 947", ReferenceKind.KID, KID_MOD11),
        (RF, ReferenceKind.RF, "RF18 5390 0754 7034"),
        ("rf18 5390 0754 7034", ReferenceKind.OTHER, RF),  # kind from the shape
        ("79927398713", ReferenceKind.OCR, "79927398713"),
    ],
)
def test_mod11_rf_and_ocr_references_match_in_compact_form(
    book: Book, line_reference: str, kind: ReferenceKind, item_reference: str
) -> None:
    index = book.index(book.item("INV-1", "300.00", reference=item_reference))
    line = book.line("l1", "300.00", reference=line_reference, kind=kind)
    decision = ENGINE.evaluate(book.tenant_id, line, index)
    assert (decision.kind, decision.rule) == (DecisionKind.MATCH, "structured_reference")


def test_a_smaller_amount_is_a_partial_match(book: Book) -> None:
    index = book.index(book.item("INV-1", "500.00", reference=KID))
    decision = ENGINE.evaluate(book.tenant_id, book.line("l1", "200.00", reference=KID), index)

    assert decision.kind is DecisionKind.PARTIAL
    assert decision.confidence == Decimal("0.95")
    assert [(a.item_id, a.amount.amount) for a in decision.allocations] == [
        ("INV-1", Decimal("200.00"))
    ]
    assert "pays part of its remaining 500.00 NOK" in decision.explanation


def test_an_outgoing_payment_with_a_kid_matches_the_bill(book: Book) -> None:
    index = book.index(book.item("BILL-1", "-800.00", reference=KID))
    decision = ENGINE.evaluate(book.tenant_id, book.line("l1", "-800.00", reference=KID), index)
    assert decision.kind is DecisionKind.MATCH
    assert decision.allocations[0].amount == Money.of("-800.00", "NOK")
    assert decision.allocations[0].item_kind == "bill"


def test_an_overpayment_goes_to_suspense_with_the_item_proposed(book: Book) -> None:
    # another item has exactly the paid amount: the amount rule must not override the KID
    index = book.index(book.item("INV-1", "500.00", reference=KID), book.item("INV-2", "600.00"))
    decision = ENGINE.evaluate(book.tenant_id, book.line("l1", "600.00", reference=KID), index)

    assert decision.kind is DecisionKind.SUSPENSE
    assert decision.allocations == []
    assert [(p.item_id, p.rule, p.confidence) for p in decision.proposals] == [
        ("INV-1", "structured_reference", Decimal("0.9")),
        ("INV-2", "amount_text_date", Decimal("0.5")),
    ]
    assert "overpaid by 100.00 NOK" in decision.explanation
    # the hold: even a text proving INV-2 is not confirmed, the payer named INV-1
    named = book.line("l2", "600.00", reference=KID, text="Faktura INV-2")
    assert ENGINE.evaluate(book.tenant_id, named, index).kind is DecisionKind.PROPOSAL


@pytest.mark.parametrize("bad", ["1002345006", "1002345055", "86011117948"])
def test_an_invalid_check_digit_never_matches_even_an_equal_reference(book: Book, bad: str) -> None:
    # the ledger would refuse such an item reference; the matcher must not trust it either
    index = book.index(book.item("INV-1", "500.00", reference=bad))
    decision = ENGINE.evaluate(book.tenant_id, book.line("l1", "499.00", reference=bad), index)

    assert decision.kind is DecisionKind.SUSPENSE
    assert "invalid check digit" in decision.explanation
    assert "never matches" in decision.explanation
    assert [p.item_id for p in decision.proposals] == ["INV-1"]


def test_an_invalid_kid_lets_later_rules_propose_but_never_confirm(book: Book) -> None:
    index = book.index(
        book.item("INV-1", "500.00", reference=KID),
        book.item("INV-2", "700.00", document_no="10234"),
    )
    line = book.line("l1", "700.00", reference="1002345006")
    outcome = RULE.evaluate(line, index)
    assert outcome.hold is not None
    assert not outcome.final

    by_amount = ENGINE.evaluate(book.tenant_id, line, index)
    assert by_amount.kind is DecisionKind.SUSPENSE
    assert {p.item_id for p in by_amount.proposals} == {"INV-1", "INV-2"}  # typo, amount
    with_number = line.model_copy(update={"remittance_text": "Faktura 10234"})
    by_number = ENGINE.evaluate(book.tenant_id, with_number, index)
    assert (by_number.kind, by_number.rule) == (DecisionKind.PROPOSAL, "document_number")
    assert by_number.allocations == []


def test_a_typo_in_the_kid_is_proposed_as_a_near_miss(book: Book) -> None:
    index = book.index(book.item("INV-1", "500.00", reference=KID))
    swapped = "1002345050"  # last two digits swapped: also fails its check digit
    decision = ENGINE.evaluate(book.tenant_id, book.line("l1", "499.00", reference=swapped), index)

    assert decision.kind is DecisionKind.SUSPENSE
    assert [(p.item_id, p.confidence) for p in decision.proposals] == [("INV-1", Decimal("0.4"))]
    assert "one typo away" in (decision.proposals[0].evidence[0].note or "")


def test_a_valid_kid_naming_no_item_says_so_and_two_typos_are_no_near_miss(book: Book) -> None:
    index = book.index(book.item("INV-1", "500.00", reference="1002345013"))
    decision = ENGINE.evaluate(book.tenant_id, book.line("l1", "499.00", reference=KID), index)

    assert decision.kind is DecisionKind.SUSPENSE
    assert decision.explanation.startswith(f"no open item with KID {KID}")
    assert [p.item_id for p in decision.proposals] == []  # two digits differ: not a near miss


@pytest.mark.parametrize(
    ("item_amount", "item_currency", "reason"),
    [
        ("-500.00", "NOK", "other sign"),
        ("500.00", "SEK", "is in SEK, the line in NOK"),
    ],
)
def test_an_item_of_another_sign_or_currency_is_not_matched(
    book: Book, item_amount: str, item_currency: str, reason: str
) -> None:
    index = book.index(
        book.item("X-1", item_amount, reference=KID, currency=item_currency),
        book.item("INV-2", "500.00"),  # the amount alone must not win over the named item
    )
    decision = RULE.evaluate(book.line("l1", "500.00", reference=KID), index)
    assert decision.proof is None
    assert decision.final
    assert reason in (decision.notes[0].note or "")
    full = ENGINE.evaluate(book.tenant_id, book.line("l2", "500.00", reference=KID), index)
    assert full.kind is DecisionKind.SUSPENSE
    assert [p.item_id for p in full.proposals] == ["X-1"]


def test_an_item_on_another_bank_account_is_not_matched(book: Book) -> None:
    index = book.index(book.item("PAY-1", "500.00", reference=KID, bank_account_id="acc-other"))
    decision = ENGINE.evaluate(book.tenant_id, book.line("l1", "500.00", reference=KID), index)
    assert decision.kind is DecisionKind.SUSPENSE
    assert "belongs to bank account acc-other" in decision.explanation


def test_a_kid_naming_several_open_items_is_not_a_match(book: Book) -> None:
    index = book.index(
        book.item("INV-1", "500.00", reference=KID), book.item("INV-2", "500.00", reference=KID)
    )
    decision = ENGINE.evaluate(book.tenant_id, book.line("l1", "500.00", reference=KID), index)

    assert decision.kind is DecisionKind.SUSPENSE
    assert f"KID {KID} names 2 open items: INV-1, INV-2" in decision.explanation
    assert sorted(p.item_id for p in decision.proposals) == ["INV-1", "INV-2"]


def test_a_kid_naming_only_a_paid_item_is_a_possible_double_payment(book: Book) -> None:
    paid = book.item("INV-1", "500.00", reference=KID)
    index = book.index(paid, book.item("INV-2", "500.00"))
    index.apply(book.paid(paid))
    decision = ENGINE.evaluate(book.tenant_id, book.line("l1", "500.00", reference=KID), index)

    assert decision.kind is DecisionKind.SUSPENSE
    assert decision.allocations == []
    assert "INV-1 (paid)" in decision.explanation
    assert "double payment" in decision.explanation
    assert "amount_text_date" not in {e.rule for e in decision.evidence}  # the cascade stopped


def test_a_line_without_a_reference_leaves_the_rule_without_a_proof(book: Book) -> None:
    outcome = RULE.evaluate(book.line("l1", "500.00"), book.index(book.item("INV-1", "500.00")))
    assert outcome.proof is None
    assert not outcome.final
    assert outcome.notes[0].note == "the line has no structured reference"


def test_a_free_text_reference_is_not_a_structured_reference(book: Book) -> None:
    index = book.index(book.item("INV-1", "500.00", reference="Faktura 10234"))
    line = book.line("l1", "500.00", reference="Faktura 10234", kind=ReferenceKind.OTHER)
    outcome = RULE.evaluate(line, index)
    assert outcome.proof is None
    assert "not a KID, RF or OCR reference" in (outcome.notes[0].note or "")


def test_a_partly_paid_item_is_matched_on_what_remains(book: Book) -> None:
    index = book.index(
        book.item(
            "INV-1",
            "500.00",
            reference=KID,
            remaining="150.00",
            status=OpenItemStatus.PARTLY_PAID,
        )
    )
    decision = ENGINE.evaluate(book.tenant_id, book.line("l1", "150.00", reference=KID), index)
    assert decision.kind is DecisionKind.MATCH
