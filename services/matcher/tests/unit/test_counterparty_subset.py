"""Rule counterparty_subset: a known payer's line pays several of their open items without
naming them; the only set of their items adding up to the line is proposed (confirmed when it
is their oldest items and the account is known), several sets are never confirmed, and the
search is bounded."""

from __future__ import annotations

import itertools
import random
from datetime import date
from decimal import Decimal

import pytest
from matcher_factories import Book

from bankrec.contracts import DecisionKind, OpenItem
from bankrec.matcher.domain import DEFAULT_POLICY, MatchEngine, MatchingPolicy, RuleOutcome
from bankrec.matcher.domain.rules.counterparty_subset import (
    CANDIDATES_MAX,
    CounterpartySubsetRule,
    subsets_summing_to,
)

RULE = CounterpartySubsetRule()
ENGINE = MatchEngine()
CARD = "NO8330001234567"
NAME = "Sjøbris Marine AS"


def customer_item(
    book: Book, item_id: str, amount: str, due: date, customer: str = "C-5", **fields: object
) -> OpenItem:
    fields.setdefault("counterparty_name", NAME)
    fields.setdefault("counterparty_accounts", [CARD])
    return book.item(item_id, amount, counterparty_id=customer, due_date=due, **fields)


def five_invoices(book: Book) -> list[OpenItem]:
    """C-5's open invoices, oldest first; no two sets of them have the same sum."""
    amounts = ["1000.00", "2500.00", "3100.00", "4270.00", "5333.00"]
    return [
        customer_item(book, f"INV-{n}", amount, date(2026, 10, n * 5))
        for n, amount in enumerate(amounts, start=1)
    ]


def sets_adding_up(items: list[OpenItem], total: str) -> list[set[str]]:
    """Every set of the items whose remaining amounts sum to ``total`` (by brute force)."""
    return [
        {item.item_id for item in chosen}
        for size in range(1, len(items) + 1)
        for chosen in itertools.combinations(items, size)
        if sum(item.remaining.amount for item in chosen) == Decimal(total)
    ]


def test_a_line_paying_two_of_five_invoices_of_a_known_payer_is_proposed(book: Book) -> None:
    items = five_invoices(book)
    assert sets_adding_up(items, "6770.00") == [{"INV-2", "INV-4"}]
    index = book.index(*items, book.item("INV-9", "6770.00"))  # another customer's amount
    line = book.line("l1", "6770.00", payer=NAME, payer_account=CARD)

    decision = ENGINE.evaluate(book.tenant_id, line, index)
    # amount-sum evidence: a person confirms it, however sure who paid
    assert (decision.kind, decision.rule) == (DecisionKind.PROPOSAL, "counterparty_subset")
    assert decision.confidence == Decimal("0.7")
    assert {p.item_id for p in decision.proposals[:2]} == {"INV-2", "INV-4"}
    assert "INV-2, INV-4 (2 of their 5 open items)" in decision.explanation
    assert "not confirmed automatically: confidence 0.7" in decision.explanation

    trusting = MatchingPolicy(auto_confirm_threshold=Decimal("0.7"))
    confirmed = ENGINE.evaluate(book.tenant_id, line, index, trusting)
    assert (confirmed.kind, confirmed.rule) == (DecisionKind.MATCH, "counterparty_subset")
    assert [(a.item_id, str(a.amount.amount)) for a in confirmed.allocations] == [
        ("INV-2", "2500.00"),
        ("INV-4", "4270.00"),
    ]
    identity, *amounts = confirmed.evidence
    assert (identity.field, identity.item_field) == ("counterparty.iban", "counterparty_accounts")
    assert [(e.field, e.item_field) for e in amounts] == [("amount", "remaining")] * 2


def test_the_payers_oldest_invoices_by_a_known_account_are_confirmed(book: Book) -> None:
    items = five_invoices(book)
    assert sets_adding_up(items, "3500.00") == [{"INV-1", "INV-2"}]
    index = book.index(*items)
    line = book.line("l1", "3500.00", payer_account=CARD)

    decision = ENGINE.decide(book.tenant_id, line, index)
    assert (decision.kind, decision.rule) == (DecisionKind.MATCH, "counterparty_subset")
    assert decision.confidence == Decimal("0.9")
    assert [a.item_id for a in decision.allocations] == ["INV-1", "INV-2"]
    assert "2 of their 5 open items, their oldest" in decision.explanation
    # decide reserved both: the same line again finds no set
    assert RULE.evaluate(line, index, DEFAULT_POLICY).proof is None

    # by a name alone, the same set is only proposed
    by_name = book.line("l2", "3500.00", payer="SJOBRIS MARINE AS")
    proof = RULE.evaluate(by_name, book.index(*items), DEFAULT_POLICY).proof
    assert proof is not None
    assert proof.confidence == Decimal("0.8")


def test_two_sets_adding_up_are_never_confirmed_and_both_are_named(book: Book) -> None:
    amounts = ["1200.00", "1800.00", "1300.00", "1700.00", "4444.44"]
    items = [
        customer_item(book, f"INV-{n}", amount, date(2026, 10, n * 5))
        for n, amount in enumerate(amounts, start=1)
    ]
    assert sets_adding_up(items, "3000.00") == [{"INV-1", "INV-2"}, {"INV-3", "INV-4"}]
    index = book.index(*items)
    line = book.line("l1", "3000.00", payer_account=CARD)

    outcome = RULE.evaluate(line, index, DEFAULT_POLICY)
    assert outcome.proof is None
    assert {p.item_id for p in outcome.proposals} == {"INV-1", "INV-2", "INV-3", "INV-4"}
    assert all(p.confidence == Decimal("0.4") for p in outcome.proposals)

    decision = ENGINE.evaluate(book.tenant_id, line, index)
    assert decision.kind is DecisionKind.PROPOSAL  # the known account's on_account, unconfirmed
    assert not decision.allocations
    assert {"INV-1", "INV-2", "INV-3", "INV-4"} <= {p.item_id for p in decision.proposals}
    assert "2 sets of the open items of C-5 add up to 3000.00 NOK" in decision.explanation
    assert "INV-1 + INV-2 and INV-3 + INV-4" in decision.explanation  # the oldest set first

    # a tenant trusting everything still gets no set: at most the money on their account
    trusting = MatchingPolicy(auto_confirm_threshold=Decimal("0.1"))
    trusted = ENGINE.evaluate(book.tenant_id, line, index, trusting)
    assert (trusted.kind, trusted.allocations) == (DecisionKind.ON_ACCOUNT, [])


def test_more_candidates_than_the_bound_are_not_searched_and_the_evidence_says_so(
    book: Book,
) -> None:
    items = [
        customer_item(book, f"INV-{n}", f"{1000 + n}.00", date(2026, 10, n))
        for n in range(1, CANDIDATES_MAX + 2)
    ]
    index = book.index(*items)
    line = book.line("l1", "2003.00", payer_account=CARD)  # INV-1 + INV-2, none alone

    outcome = RULE.evaluate(line, index, DEFAULT_POLICY)
    assert outcome.proof is None
    assert not outcome.proposals
    [note] = outcome.notes
    assert note.note == (
        f"C-5 has {CANDIDATES_MAX + 1} open items that could take 2003.00 NOK; sets adding up "
        f"to the line are searched among at most {CANDIDATES_MAX}: not searched"
    )
    decision = ENGINE.evaluate(book.tenant_id, line, index)
    assert decision.rule != "counterparty_subset"
    assert "not searched" in decision.explanation


def test_another_customers_items_are_never_part_of_the_set(book: Book) -> None:
    index = book.index(
        customer_item(book, "INV-1", "1000.00", date(2026, 10, 1)),
        customer_item(book, "INV-2", "2500.00", date(2026, 10, 2)),
        # C-6's items would complete a set with C-5's; they are not C-5's to pay
        customer_item(book, "INV-3", "700.00", date(2026, 9, 1), customer="C-6", **_other()),
        customer_item(book, "INV-4", "300.00", date(2026, 9, 2), customer="C-6", **_other()),
    )
    line = book.line("l1", "1700.00", payer_account=CARD)  # INV-1 + INV-3 would be 1700
    outcome = RULE.evaluate(line, index, DEFAULT_POLICY)
    assert outcome == RuleOutcome()  # nothing: no set of C-5's items adds up

    paid = RULE.evaluate(book.line("l2", "3500.00", payer_account=CARD), index, DEFAULT_POLICY)
    assert paid.proof is not None
    assert {a.item_id for a in paid.proof.allocations} == {"INV-1", "INV-2"}
    assert {a.counterparty_id for a in paid.proof.allocations} == {"C-5"}


def _other() -> dict[str, object]:
    return {"counterparty_name": "Fjordland Bygg AS", "counterparty_accounts": ["NO9386011117947"]}


def test_an_amount_from_an_unknown_payer_proves_nothing(book: Book) -> None:
    items = five_invoices(book)
    index = book.index(*items)
    for line in (
        book.line("l1", "6770.00", payer="Kari Nordmann", payer_account="NO2115032453221"),
        book.line("l2", "6770.00"),  # no counterparty at all
    ):
        outcome = RULE.evaluate(line, index, DEFAULT_POLICY)
        assert (outcome.proof, outcome.proposals, outcome.notes) == (None, (), ())
        decision = ENGINE.evaluate(book.tenant_id, line, index)
        assert decision.kind is DecisionKind.SUSPENSE


def test_a_single_item_of_the_amount_is_left_to_the_counterparty_rule(book: Book) -> None:
    index = book.index(*five_invoices(book))
    line = book.line("l1", "4270.00", payer_account=CARD)
    assert RULE.evaluate(line, index, DEFAULT_POLICY).proof is None
    decision = ENGINE.evaluate(book.tenant_id, line, index)
    assert (decision.rule, decision.confidence) == ("counterparty", Decimal("0.93"))


def test_an_invoice_number_naming_another_item_holds_the_set(book: Book) -> None:
    items = five_invoices(book)
    index = book.index(*items, book.item("INV-77", "9999.00"))
    # the payer names INV-77 (another amount): the oldest set is not confirmed behind its back
    line = book.line("l1", "3500.00", payer_account=CARD, text="Faktura INV-77")
    decision = ENGINE.evaluate(book.tenant_id, line, index)
    assert (decision.kind, decision.rule) == (DecisionKind.PROPOSAL, "counterparty_subset")
    assert decision.confidence == Decimal("0.9")
    assert not decision.allocations
    assert "not confirmed automatically: document_number:" in decision.explanation
    assert [p.item_id for p in decision.proposals[:3]] == ["INV-1", "INV-2", "INV-77"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_meet_in_the_middle_finds_every_set_brute_force_finds(seed: int) -> None:
    print(f"seed {seed}")
    rng = random.Random(seed)
    for _ in range(40):
        size = rng.randint(1, CANDIDATES_MAX)
        amounts = [Decimal(rng.randint(1, 12)) * 50 for _ in range(size)]
        target = Decimal(rng.randint(1, 20)) * 50
        expected = [
            chosen
            for count in range(1, size + 1)
            for chosen in itertools.combinations(range(size), count)
            if sum(amounts[p] for p in chosen) == target
        ]
        found = subsets_summing_to(amounts, target)
        assert found.count == len(expected), (seed, amounts, target)
        assert set(found.subsets) <= set(expected)
        assert len(found.subsets) == min(len(expected), 64)
        assert list(found.subsets) == sorted(found.subsets, key=lambda s: (len(s), s))


def test_the_search_refuses_more_amounts_than_the_bound() -> None:
    with pytest.raises(ValueError, match="at most 16"):
        subsets_summing_to([Decimal(1)] * (CANDIDATES_MAX + 1), Decimal(1))
