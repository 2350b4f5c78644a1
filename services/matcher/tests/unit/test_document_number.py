"""Rule document_number: the invoice numbers a payer wrote, read tolerantly but never out of
another number, matched through the index; 1:N when several numbers of one counterparty add
up, partial below, a proposal otherwise."""

from __future__ import annotations

from decimal import Decimal

import pytest
from matcher_factories import Book

from bankrec.contracts import DecisionKind, Money, ReferenceKind
from bankrec.matcher.domain import DEFAULT_POLICY, DocumentNumberRule, MatchEngine
from bankrec.matcher.domain.document_numbers import document_keys, numbers_in

RULE = DocumentNumberRule()
ENGINE = MatchEngine()


def invoice(book: Book, document_no: str, amount: str, **fields: object) -> object:
    return book.item(f"I-{document_no}", amount, document_no=document_no, **fields)


@pytest.mark.parametrize(
    "text",
    [
        "Faktura 10234",
        "fakt.nr. 10234",
        "Fakt nr:10234",
        "INV-10234",
        "Rechnung 10234",
        "betaling faktura 10234 takk",
        "10234",  # a number standing alone, longer than four characters
        "Ref: Inv#10234.",
    ],
)
def test_an_invoice_number_written_any_usual_way_matches(book: Book, text: str) -> None:
    index = book.index(
        book.item("INV-1", "8900.00", document_no="10234"), book.item("INV-2", "8900.00")
    )
    decision = ENGINE.evaluate(book.tenant_id, book.line("l1", "8900.00", text=text), index)

    assert (decision.kind, decision.rule) == (DecisionKind.MATCH, "document_number"), text
    assert [(a.item_id, a.amount) for a in decision.allocations] == [
        ("INV-1", Money.of("8900.00", "NOK"))
    ]
    number, amount = decision.evidence
    assert (number.field, number.item_field, number.item_value) == (
        "remittance_text",
        "document_no",
        "10234",
    )
    assert (amount.field, amount.item_field) == ("amount", "remaining")


def test_a_named_number_is_more_confident_than_a_lone_one(book: Book) -> None:
    index = book.index(book.item("INV-1", "100.00", document_no="10234"))
    named = ENGINE.evaluate(book.tenant_id, book.line("l1", "100.00", text="Faktura 10234"), index)
    lone = ENGINE.evaluate(book.tenant_id, book.line("l2", "100.00", text="10234"), index)
    assert (named.confidence, lone.confidence) == (Decimal("0.96"), Decimal("0.92"))
    assert named.explanation == (
        "10234 in the remittance text names invoice 10234; 100.00 NOK pays it in full"
    )


@pytest.mark.parametrize(
    ("item_number", "text"),
    [
        ("INV-10234", "Faktura 10234"),  # the digits of a prefixed number
        ("INV-10234", "inv10234"),
        ("88-4410", "Inv 88-4410"),
        ("PO-7712", "PO 7712"),
        ("0010234", "faktura 10234"),  # leading zeros
    ],
)
def test_prefixed_and_hyphenated_numbers_are_compared_in_compact_form(
    book: Book, item_number: str, text: str
) -> None:
    index = book.index(book.item("X", "-15000.00", external_document_no=item_number))
    decision = ENGINE.evaluate(book.tenant_id, book.line("l1", "-15000.00", text=text), index)
    assert (decision.kind, decision.rule) == (DecisionKind.MATCH, "document_number"), text
    assert decision.evidence[0].item_field == "external_document_no"


@pytest.mark.parametrize(
    "text",
    [
        "Betaling 9102345",  # the digits inside a longer number
        "ordre 1023450",
        "fra konto NO45 1023 4567 891",  # inside an IBAN (spaced)
        "fra NO4510234567891",  # inside an IBAN (compact)
        "konto 1503 01 10234",  # an account number in its printed groups
        "fra 1503.01.10234",  # a dotted account number
        "betalt 10234,50",  # an amount
        "betalt kr 10234,-",
        "10234 NOK",
        "NOK 10234",
        "Kundenr 10234",  # a customer number is no document number
        "KID 10234",
    ],
)
def test_a_number_is_never_read_out_of_another_number(book: Book, text: str) -> None:
    index = book.index(book.item("INV-1", "8900.00", document_no="10234"))
    outcome = RULE.evaluate(book.line("l1", "8900.00", text=text), index, DEFAULT_POLICY)
    assert outcome.proof is None, text
    assert outcome.proposals == ()
    assert all("10234" not in n.keys for n in numbers_in(text, "remittance_text")), text


@pytest.mark.parametrize("text", ["Faktura 20.11.2026", "Faktura 2026-11-20", "Fakt 20/11/2026"])
def test_a_date_is_no_document_number(book: Book, text: str) -> None:
    index = book.index(
        book.item("INV-1", "100.00", document_no="2026"),
        book.item("INV-2", "200.00", document_no="20261120"),
    )
    for amount in ("100.00", "200.00"):
        assert RULE.evaluate(book.line("l1", amount, text=text), index, DEFAULT_POLICY) == (
            RULE.evaluate(book.line("l1", amount), index, DEFAULT_POLICY)
        )


@pytest.mark.parametrize(
    "text", ["faktura nr 10234 og 10235", "inv 10234/10235", "INV-10234, INV-10235"]
)
def test_several_numbers_of_one_counterparty_adding_up_are_one_match(book: Book, text: str) -> None:
    index = book.index(
        book.item("INV-1", "500.00", document_no="10234", counterparty_id="C-1"),
        book.item("INV-2", "300.00", document_no="10235", counterparty_id="C-1"),
    )
    decision = ENGINE.evaluate(book.tenant_id, book.line("l1", "800.00", text=text), index)

    assert (decision.kind, decision.rule) == (DecisionKind.MATCH, "document_number"), text
    assert decision.confidence == Decimal("0.94")
    assert [(a.item_id, a.amount.amount) for a in decision.allocations] == [
        ("INV-1", Decimal("500.00")),
        ("INV-2", Decimal("300.00")),
    ]
    assert "pays their remaining amounts in full" in decision.explanation


def test_several_numbers_that_do_not_add_up_are_proposals(book: Book) -> None:
    index = book.index(
        book.item("INV-1", "500.00", document_no="10234", counterparty_id="C-1"),
        book.item("INV-2", "300.00", document_no="10235", counterparty_id="C-1"),
    )
    line = book.line("l1", "700.00", text="faktura 10234 og 10235")
    decision = ENGINE.evaluate(book.tenant_id, line, index)

    assert decision.kind is DecisionKind.SUSPENSE
    assert [p.item_id for p in decision.proposals] == ["INV-1", "INV-2"]
    assert "remaining 800.00 NOK together; the line pays 700.00 NOK" in decision.explanation


def test_several_numbers_of_different_counterparties_are_proposals(book: Book) -> None:
    index = book.index(
        book.item("INV-1", "500.00", document_no="10234", counterparty_id="C-1"),
        book.item("INV-2", "300.00", document_no="10235", counterparty_id="C-2"),
    )
    outcome = RULE.evaluate(
        book.line("l1", "800.00", text="faktura 10234 og 10235"), index, DEFAULT_POLICY
    )
    assert outcome.proof is None
    assert outcome.hold is not None  # the payer named open items that do not fit
    assert "different counterparties" in (outcome.hold.note or "")


def test_a_named_number_paying_less_is_a_partial_payment(book: Book) -> None:
    index = book.index(book.item("INV-1", "8900.00", document_no="10234"))
    decision = ENGINE.evaluate(
        book.tenant_id, book.line("l1", "5000.00", text="Faktura 10234"), index
    )
    assert (decision.kind, decision.confidence) == (DecisionKind.PARTIAL, Decimal("0.9"))
    assert decision.allocations[0].amount == Money.of("5000.00", "NOK")
    assert "pays part of its remaining 8900.00 NOK" in decision.explanation


def test_a_lone_number_paying_less_is_only_proposed(book: Book) -> None:
    index = book.index(book.item("INV-1", "8900.00", document_no="10234"))
    decision = ENGINE.evaluate(book.tenant_id, book.line("l1", "5000.00", text="10234"), index)
    assert decision.kind is DecisionKind.SUSPENSE
    assert [(p.item_id, p.confidence) for p in decision.proposals] == [("INV-1", Decimal("0.6"))]


def test_an_overpayment_is_only_proposed(book: Book) -> None:
    index = book.index(book.item("INV-1", "8900.00", document_no="10234"))
    decision = ENGINE.evaluate(
        book.tenant_id, book.line("l1", "9000.00", text="Faktura 10234"), index
    )
    assert decision.kind is DecisionKind.SUSPENSE
    assert "overpaid by 100.00 NOK" in decision.explanation
    assert [(p.item_id, p.confidence) for p in decision.proposals] == [("INV-1", Decimal("0.7"))]


def test_a_number_naming_two_open_items_is_a_tie(book: Book) -> None:
    index = book.index(
        book.item("INV-1", "500.00", document_no="10234"),
        book.item("INV-2", "500.00", document_no="77", external_document_no="10234"),
    )
    decision = ENGINE.evaluate(book.tenant_id, book.line("l1", "500.00", text="Fakt 10234"), index)
    assert decision.kind is DecisionKind.SUSPENSE
    assert decision.allocations == []
    assert "10234 names 2 open items: 10234, 77" in decision.explanation  # by document no.
    assert {p.item_id for p in decision.proposals} == {"INV-1", "INV-2"}


def test_a_number_naming_only_a_paid_invoice_holds_the_line(book: Book) -> None:
    paid = book.item("INV-1", "500.00", document_no="10234", counterparty_id="C-1")
    other = book.item(
        "INV-2", "500.00", document_no="10299", counterparty_id="C-1", counterparty_name="Ola"
    )
    index = book.index(paid, other)
    index.apply(book.paid(paid))
    line = book.line("l1", "500.00", text="Faktura 10234", payer="Ola")
    decision = ENGINE.evaluate(book.tenant_id, line, index)

    # the counterparty rule finds Ola's only 500.00 item, but the payer named a paid one
    assert decision.kind is DecisionKind.PROPOSAL
    assert decision.rule == "counterparty"
    assert decision.allocations == []
    assert "10234 (paid)" in decision.explanation
    assert "possibly a double payment" in decision.explanation


def test_the_payers_account_of_another_customer_speaks_against_the_number(book: Book) -> None:
    index = book.index(
        book.item("INV-1", "500.00", document_no="10234", counterparty_id="C-1"),
        book.item("INV-9", "40.00", counterparty_id="C-9", counterparty_accounts=["1503 01 23455"]),
    )
    line = book.line("l1", "500.00", text="Faktura 10234", payer_account="15030123455")
    outcome = RULE.evaluate(line, index, DEFAULT_POLICY)
    assert outcome.proof is None
    assert outcome.hold is not None
    assert "the payer's account 15030123455 belongs to C-9, 10234 to C-1" in (
        outcome.hold.note or ""
    )
    # the amount and the number alike in the text would make INV-1 a proof of the seed's
    # rule, but the hold keeps it for a person
    decision = ENGINE.evaluate(book.tenant_id, line, index)
    assert decision.kind is DecisionKind.PROPOSAL
    assert decision.allocations == []
    assert "belongs to C-9" in decision.explanation
    assert "INV-1" in {p.item_id for p in decision.proposals}


@pytest.mark.parametrize(
    "fields",
    [
        {"referred_documents": ["10234"]},
        {"additional_info": "Faktura 10234"},
        {"customer_reference": "INV-10234"},
    ],
)
def test_numbers_are_read_from_every_text_of_the_line(
    book: Book, fields: dict[str, object]
) -> None:
    index = book.index(book.item("INV-1", "8900.00", document_no="INV-10234"))
    decision = ENGINE.evaluate(book.tenant_id, book.line("l1", "8900.00", **fields), index)
    assert (decision.kind, decision.rule) == (DecisionKind.MATCH, "document_number")
    assert decision.evidence[0].field == next(iter(fields))


def test_a_free_text_sent_as_a_reference_is_read_for_numbers(book: Book) -> None:
    index = book.index(book.item("INV-1", "500.00", document_no="10234"))
    line = book.line("l1", "500.00", reference="Faktura 10234", kind=ReferenceKind.OTHER)
    decision = ENGINE.evaluate(book.tenant_id, line, index)
    assert (decision.kind, decision.rule) == (DecisionKind.MATCH, "document_number")
    assert decision.evidence[0].field == "structured_reference"


def test_a_line_without_numbers_says_nothing(book: Book) -> None:
    index = book.index(book.item("INV-1", "500.00", document_no="10234"))
    outcome = RULE.evaluate(book.line("l1", "500.00", text="takk for sist"), index, DEFAULT_POLICY)
    assert outcome == RULE.evaluate(book.line("l2", "500.00"), index, DEFAULT_POLICY)
    assert (outcome.proof, outcome.notes, outcome.hold) == (None, (), None)


def test_document_keys_of_an_item() -> None:
    keys = document_keys(document_no="INV-10234", external_document_no="PO-7712")
    assert [(k.key, k.field, k.digits_only) for k in keys] == [
        ("INV10234", "document_no", False),
        ("10234", "document_no", True),
        ("PO7712", "external_document_no", False),
        ("7712", "external_document_no", True),
    ]
    assert [k.key for k in document_keys(document_no="88-4410")] == ["884410"]
    assert [k.key for k in document_keys(document_no="0010234", other=None)] == ["10234"]
    assert document_keys(document_no="12") == ()  # too short to name anything


def test_a_number_in_full_wins_over_the_digits_of_a_prefixed_one(book: Book) -> None:
    index = book.index(
        book.item("INV-1", "500.00", document_no="19972"),
        book.item("INV-2", "700.00", document_no="21648", external_document_no="PO-19972"),
    )
    decision = ENGINE.evaluate(book.tenant_id, book.line("l1", "500.00", text="19972"), index)
    assert [a.item_id for a in decision.allocations] == ["INV-1"]
    # the purchase order is still found by its digits when nothing is numbered so in full
    by_order = ENGINE.evaluate(book.tenant_id, book.line("l2", "700.00", text="fakt 21648"), index)
    assert [a.item_id for a in by_order.allocations] == ["INV-2"]
    assert [e.item_id for e in index.open_by_document("19972")] == ["INV-1"]


def test_a_kid_naming_one_of_several_invoices_the_text_names_is_no_obstacle(book: Book) -> None:
    kid = "1002345005"
    index = book.index(
        book.item("INV-1", "500.00", document_no="10234", reference=kid, counterparty_id="C"),
        book.item("INV-2", "300.00", document_no="10235", counterparty_id="C"),
        book.item("INV-3", "800.00", counterparty_id="D"),
    )
    both = book.line("l1", "800.00", reference=kid, text="faktura 10234/10235")
    decision = ENGINE.evaluate(book.tenant_id, both, index)
    assert (decision.kind, decision.rule) == (DecisionKind.MATCH, "document_number")
    assert [a.item_id for a in decision.allocations] == ["INV-1", "INV-2"]
    # without the numbers, the overpaid KID holds the line against the other 800.00 item
    only_kid = book.line("l2", "800.00", reference=kid, text="INV-3")
    assert ENGINE.evaluate(book.tenant_id, only_kid, index).allocations == []
