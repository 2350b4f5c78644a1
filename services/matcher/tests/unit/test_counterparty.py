"""Rule counterparty: the payer's account or name identifies one counterparty; their only item
with the amount is a match, all their items at once a 1:N match; otherwise their items are
proposed and a known account leaves money on their account as a proposal."""

from __future__ import annotations

from decimal import Decimal

import pytest
from matcher_factories import Book

from bankrec.contracts import DecisionKind, Money, OpenItem
from bankrec.matcher.domain import (
    DEFAULT_POLICY,
    CounterpartyRule,
    MatchEngine,
    MatchingPolicy,
)
from bankrec.matcher.domain.counterparties import account_keys, name_key, name_similarity

RULE = CounterpartyRule()
ENGINE = MatchEngine()


def customer_item(
    book: Book, item_id: str, amount: str, customer: str, **fields: object
) -> OpenItem:
    fields.setdefault("counterparty_name", "Sjøbris Marine AS")
    return book.item(item_id, amount, counterparty_id=customer, **fields)


@pytest.mark.parametrize(
    ("card", "paid_from"),
    [
        ("NO8330001234567", "NO8330001234567"),
        ("NO83 3000 1234 567", "no8330001234567"),
        ("30001234567", "NO8330001234567"),  # the card has the BBAN, the bank the IBAN
        ("3000.12.34567", "30001234567"),
    ],
)
def test_a_known_account_and_their_only_item_of_the_amount_is_a_match(
    book: Book, card: str, paid_from: str
) -> None:
    index = book.index(
        customer_item(book, "INV-1", "8900.00", "C-5", counterparty_accounts=[card]),
        customer_item(book, "INV-2", "1200.00", "C-5", counterparty_accounts=[card]),
        book.item("INV-3", "8900.00"),  # another customer's item with the same amount
    )
    line = book.line("l1", "8900.00", payer_account=paid_from)
    decision = ENGINE.evaluate(book.tenant_id, line, index)

    assert (decision.kind, decision.rule) == (DecisionKind.MATCH, "counterparty")
    assert decision.confidence == Decimal("0.93")
    assert [a.item_id for a in decision.allocations] == ["INV-1"]
    account, amount = decision.evidence
    assert (account.item_field, account.item_value) == ("counterparty_accounts", card)
    assert account.line_value == paid_from
    assert (amount.field, amount.item_field) == ("amount", "remaining")
    assert "the payer's account identifies C-5" in decision.explanation


@pytest.mark.parametrize(
    "payer", ["SJOBRIS MARINE AS", "Sjøbris Marine", "MARINE SJOBRIS A/S", "Sjobris Marin AS"]
)
def test_a_name_alike_identifies_the_counterparty_for_a_proposal(book: Book, payer: str) -> None:
    index = book.index(
        customer_item(book, "INV-1", "8900.00", "C-5"),
        book.item("INV-3", "8900.00", counterparty_name="Fjordland Bygg AS"),
    )
    line = book.line("l1", "8900.00", payer=payer)
    decision = ENGINE.evaluate(book.tenant_id, line, index)
    # names are shared by strangers: a name and an amount are proposed, not confirmed
    assert (decision.kind, decision.rule) == (DecisionKind.PROPOSAL, "counterparty"), payer
    assert decision.confidence == Decimal("0.85")
    assert decision.proposals[0].item_id == "INV-1"
    name = decision.evidence[0]
    assert (name.field, name.item_field, name.item_value) == (
        "counterparty.name",
        "counterparty_name",
        "Sjøbris Marine AS",
    )
    trusting = MatchingPolicy(auto_confirm_threshold=Decimal("0.85"))
    confirmed = ENGINE.evaluate(book.tenant_id, line, index, trusting)
    assert [a.item_id for a in confirmed.allocations] == ["INV-1"]


def test_a_name_less_alike_than_the_policy_asks_identifies_nobody(book: Book) -> None:
    index = book.index(customer_item(book, "INV-1", "8900.00", "C-5"))
    line = book.line("l1", "8900.00", payer="Sjobris Maritime AS")
    assert RULE.evaluate(line, index, DEFAULT_POLICY).proof is None
    lenient = MatchingPolicy(name_similarity_threshold=75)
    assert RULE.evaluate(line, index, lenient).proof is not None


def test_the_payers_full_name_finds_the_customer_with_two_of_its_names(book: Book) -> None:
    index = book.index(
        customer_item(book, "INV-1", "250.00", "C-7", counterparty_name="Kari Hansen")
    )
    line = book.line("l1", "250.00", payer="HANSEN KARI NORDMANN")
    assert RULE.evaluate(line, index, DEFAULT_POLICY).proof is not None
    # one shared word is not enough
    other = book.line("l2", "250.00", payer="Per Hansen")
    assert RULE.evaluate(other, index, DEFAULT_POLICY).proof is None


def test_a_name_alike_to_two_counterparties_identifies_nobody(book: Book) -> None:
    index = book.index(
        customer_item(book, "INV-1", "8900.00", "C-5", counterparty_name="Nordic Steel AS"),
        customer_item(book, "INV-2", "8900.00", "C-6", counterparty_name="Nordic Steal AS"),
    )
    vague = RULE.evaluate(book.line("l1", "8900.00", payer="Nordic Stel"), index, DEFAULT_POLICY)
    assert vague.proof is None
    assert "alike to 2 counterparties" in (vague.notes[0].note or "")
    # the very name wins over a merely alike one
    exact = RULE.evaluate(book.line("l2", "8900.00", payer="NORDIC STEEL"), index, DEFAULT_POLICY)
    assert exact.proof is not None
    assert exact.proof.allocations[0].item_id == "INV-1"


def test_an_account_on_two_cards_identifies_nobody_unless_the_name_says_which(
    book: Book,
) -> None:
    shared = ["12345678903"]
    index = book.index(
        customer_item(book, "INV-1", "500.00", "C-1", counterparty_name="Ola Nordmann",
                      counterparty_accounts=shared),
        customer_item(book, "INV-2", "700.00", "C-2", counterparty_name="Kari Nordmann",
                      counterparty_accounts=shared),
    )  # fmt: skip
    nameless = RULE.evaluate(
        book.line("l1", "500.00", payer_account="12345678903"), index, DEFAULT_POLICY
    )
    assert nameless.proof is None
    assert "on the cards of 2 counterparties" in (nameless.notes[0].note or "")
    named = RULE.evaluate(
        book.line("l2", "700.00", payer="KARI NORDMANN", payer_account="12345678903"),
        index,
        DEFAULT_POLICY,
    )
    assert named.proof is not None
    assert named.proof.allocations[0].item_id == "INV-2"


def test_two_items_of_the_counterparty_with_the_amount_are_a_tie(book: Book) -> None:
    index = book.index(
        customer_item(book, "INV-1", "500.00", "C-5", counterparty_accounts=["12345678903"]),
        customer_item(book, "INV-2", "500.00", "C-5", counterparty_accounts=["12345678903"]),
    )
    decision = ENGINE.evaluate(
        book.tenant_id, book.line("l1", "500.00", payer_account="12345678903"), index
    )
    assert decision.kind is DecisionKind.SUSPENSE
    assert decision.allocations == []
    assert "C-5 has 2 open items with amount 500.00 NOK" in decision.explanation
    assert [(p.item_id, p.confidence) for p in decision.proposals] == [
        ("INV-1", Decimal("0.5")),
        ("INV-2", Decimal("0.5")),
    ]


def test_paying_everything_the_counterparty_owes_is_one_match(book: Book) -> None:
    index = book.index(
        customer_item(book, "INV-1", "500.00", "C-5", counterparty_accounts=["12345678903"]),
        customer_item(book, "INV-2", "250.00", "C-5", counterparty_accounts=["12345678903"]),
        book.item("INV-9", "750.00"),
    )
    decision = ENGINE.evaluate(
        book.tenant_id, book.line("l1", "750.00", payer_account="12345678903"), index
    )
    assert (decision.kind, decision.confidence) == (DecisionKind.MATCH, Decimal("0.9"))
    assert [(a.item_id, a.amount) for a in decision.allocations] == [
        ("INV-1", Money.of("500.00", "NOK")),
        ("INV-2", Money.of("250.00", "NOK")),
    ]


def test_a_known_account_without_a_fitting_item_proposes_money_on_their_account(
    book: Book,
) -> None:
    index = book.index(
        customer_item(book, "INV-1", "500.00", "C-5", counterparty_accounts=["12345678903"])
    )
    line = book.line("l1", "300.00", payer_account="12345678903")
    decision = ENGINE.evaluate(book.tenant_id, line, index)

    assert decision.kind is DecisionKind.PROPOSAL
    assert (decision.rule, decision.counterparty_id) == ("counterparty", "C-5")
    assert decision.confidence == Decimal("0.8")
    assert decision.allocations == []
    assert [p.item_id for p in decision.proposals] == ["INV-1"]
    assert "on their account" in decision.explanation
    assert "below the tenant's threshold 0.9" in decision.explanation

    trusting = MatchingPolicy(auto_confirm_threshold=Decimal("0.8"))
    posted = ENGINE.evaluate(book.tenant_id, line, index, trusting)
    assert (posted.kind, posted.counterparty_id) == (DecisionKind.ON_ACCOUNT, "C-5")
    assert posted.allocations == []


def test_a_name_alone_never_leaves_money_on_an_account(book: Book) -> None:
    index = book.index(customer_item(book, "INV-1", "500.00", "C-5"))
    line = book.line("l1", "300.00", payer="Sjobris Marine AS")
    outcome = RULE.evaluate(line, index, DEFAULT_POLICY)
    assert (outcome.proof, outcome.fallback) == (None, None)
    decision = ENGINE.evaluate(
        book.tenant_id, line, index, MatchingPolicy(auto_confirm_threshold=Decimal(0))
    )
    assert decision.kind is DecisionKind.SUSPENSE


def test_an_unknown_payer_is_noted(book: Book) -> None:
    index = book.index(customer_item(book, "INV-1", "500.00", "C-5"))
    outcome = RULE.evaluate(
        book.line("l1", "500.00", payer="Ukjent Person", payer_account="99998888777"),
        index,
        DEFAULT_POLICY,
    )
    assert outcome.proof is None
    assert outcome.notes[0].note == "no counterparty known as Ukjent Person / 99998888777"
    assert RULE.evaluate(book.line("l2", "500.00"), index, DEFAULT_POLICY).notes == ()


def test_a_paid_item_still_says_whose_account_it_is(book: Book) -> None:
    old = customer_item(book, "INV-0", "100.00", "C-5", counterparty_accounts=["12345678903"])
    index = book.index(old, customer_item(book, "INV-1", "500.00", "C-5"))
    index.apply(book.paid(old))
    decision = ENGINE.evaluate(
        book.tenant_id, book.line("l1", "500.00", payer_account="12345678903"), index
    )
    assert (decision.kind, decision.rule) == (DecisionKind.MATCH, "counterparty")
    assert [a.item_id for a in decision.allocations] == ["INV-1"]


def test_account_and_name_keys() -> None:
    assert account_keys("NO83 3000 1234 567") == ("NO8330001234567", "30001234567")
    assert account_keys("1503.01.23455") == ("15030123455",)
    assert account_keys("123") == ()
    assert name_key("Sjøbris Marine A/S") == name_key("MARINE  SJOBRIS") == "MARINE SJOBRIS"
    assert name_key("AS") is None
    assert name_similarity("HANSEN KARI", "HANSEN KARI NORDMANN") == 100
    assert name_similarity("HANSEN KARI", "HANSEN PER") < 90
