"""The shortcuts taken for speed (issue 5, item 8) give exactly what the plain ways give:
the table Luhn check, the index's in-place move of a part-paid item, the remaining amount
built only when asked, the caches of references, numbers, texts and shown amounts, the
proposals of a common amount built only as far as a decision keeps them; and (round 3) the
byte mod11 check, the ASCII fold of texts, the subset search's pre-check and the decision id
written without a UUID object."""

from __future__ import annotations

import os
import random
import re
import string
import unicodedata
import uuid
from datetime import date
from decimal import Decimal

from matcher_factories import Book
from stdnum import luhn

from bankrec.contracts import Money, OpenItemKind, ReferenceKind
from bankrec.matcher.domain import MatchEngine, OpenItemIndex, scoring
from bankrec.matcher.domain.document_numbers import numbers_in
from bankrec.matcher.domain.engine import DECISION_ID_NAMESPACE, PROPOSALS_MAX, decision_id_for
from bankrec.matcher.domain.policy import DEFAULT_POLICY
from bankrec.matcher.domain.recent_lines import RecentLines
from bankrec.matcher.domain.references import (
    MOD11_WEIGHTS,
    check_reference,
    is_valid_kid_mod10,
    kid_mod11_check_digit,
    luhn_valid,
)
from bankrec.matcher.domain.rules import RuleOutcome, shown
from bankrec.matcher.domain.rules.amount_text_date import PROPOSED_MAX
from bankrec.matcher.domain.rules.counterparty import CounterpartyRule
from bankrec.matcher.domain.rules.counterparty_subset import (
    _two_or_more_may_add_up,
    subsets_summing_to,
)
from bankrec.matcher.domain.rules.reversal_pair import ReversalPairRule
from bankrec.matcher.domain.texts import (
    PAYMENT_WORDS,
    field_agreement,
    folded_words,
    text_agreement,
)


def _seeded(name: str) -> random.Random:
    seed = int(os.environ.get("MATCHER_TEST_SEED", random.randrange(2**32)))
    print(f"{name}: seed={seed} (MATCHER_TEST_SEED={seed} reproduces it)")
    return random.Random(seed)


def test_the_table_luhn_check_agrees_with_stdnum() -> None:
    rng = _seeded("luhn")
    for _ in range(5_000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 26)))
        assert luhn_valid(digits) == bool(luhn.is_valid(digits)), digits
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")
    assert is_valid_kid_mod10("1002345005")
    assert not is_valid_kid_mod10("1002345006")


def test_a_checked_reference_is_the_same_when_asked_again() -> None:
    first = check_reference("1002 3450 05", ReferenceKind.KID)
    again = check_reference("1002 3450 05", ReferenceKind.KID)
    assert first == again
    assert (first.value, first.check) == ("1002345005", "mod10")
    assert check_reference("1002345006", ReferenceKind.KID).valid is False


def _lookups(index: OpenItemIndex) -> dict[str, object]:
    """Every lookup table of the index (what ``allocate`` must leave as a rebuild would)."""
    return {
        name: value
        for name, value in vars(index).items()
        if name.startswith("_") and isinstance(value, dict | tuple)
    }


def test_allocations_leave_the_lookups_as_indexing_the_reserved_items_afresh(book: Book) -> None:
    """Seeded: random part and full allocations of invoices, bills and registered payments
    (shared amounts, references, document numbers, counterparties). ``allocate`` moves a
    part-paid item by its amount only; the generic way (``_put``: take the old state out of
    every lookup, put the new one in) must give the very same tables."""
    rng = _seeded("allocations")
    items = []
    for number in range(60):
        sign = -1 if number % 5 == 0 else 1
        amount = Decimal(rng.choice(["100.00", "250.50", "999.99", "1000"])) * sign
        kind = OpenItemKind.PAYMENT if number % 7 == 0 else None
        items.append(
            book.item(
                f"IT-{number}",
                str(amount),
                reference=rng.choice([None, "1002345005", "2000412003", "79927398713"]),
                document_no=f"INV-{rng.randint(10, 30)}",
                counterparty_id=f"C-{rng.randint(1, 6)}",
                kind=kind,
            )
        )
    fast, plain = book.index(*items), book.index(*items)
    for _ in range(150):
        entry = fast.get(rng.choice(items).item_id)
        assert entry is not None
        if not entry.is_open:
            continue
        left = entry.remaining
        part = (left.amount * Decimal(rng.choice(["0.25", "0.5", "1"]))).quantize(Decimal("0.01"))
        amount = Money(amount=part, currency=left.currency)
        reserved = fast.allocate(entry.item_id, amount)
        known = plain.get(entry.item_id)
        assert known is not None
        plain._put(known.reserve(amount))
        assert reserved == plain.get(entry.item_id)
        assert reserved.remaining == Money(amount=left.amount - part, currency=left.currency)
    assert _lookups(fast) == _lookups(plain)


def test_the_remaining_amount_built_when_asked_equals_the_validated_one(book: Book) -> None:
    index = book.index(book.item("INV-1", "500.00"))
    twice = index.allocate("INV-1", Money.of("100.00", "NOK"))
    twice = index.allocate("INV-1", Money.of("150.50", "NOK"))
    assert twice.left_amount == Decimal("249.50")
    assert twice.remaining == Money.of("249.50", "NOK")
    assert twice.remaining is twice.remaining  # built once, then kept
    assert [e.item_id for e in index.open_by_amount(Money.of("249.5", "NOK"))] == ["INV-1"]
    assert index.open_by_amount(Money.of("400.00", "NOK")) == []


def test_shown_amounts_are_the_same_from_the_cache() -> None:
    assert shown(Money.of("500.0", "NOK")) == "500.00 NOK"
    assert shown(Money.of("500.00", "NOK")) == "500.00 NOK"
    assert shown(Money.of("500", "JPY")) == "500 JPY"
    assert shown(Money.of("-0.00", "NOK")) == "-0.00 NOK"
    assert shown(Money.of("0", "NOK")) == "0.00 NOK"


def test_numbers_read_again_are_equal_and_the_list_is_the_callers() -> None:
    first = numbers_in("Faktura 10234 og 10235", "remittance_text")
    first.clear()
    again = numbers_in("Faktura 10234 og 10235", "remittance_text")
    assert [n.keys[0] for n in again] == ["10234", "10235"]
    assert all(n.named for n in again)
    assert numbers_in("Faktura 10234", "additional_info")[0].field == "additional_info"
    assert numbers_in("no number", "remittance_text") == []


def test_texts_judged_once_compare_as_before() -> None:
    agreement = text_agreement("Betaling hull repairs nov", "Hull repairs", 90)
    assert agreement is not None
    assert agreement.score == 100
    assert text_agreement("Faktura 10234", "Faktura 10235", 90) is None  # numbers differ
    assert text_agreement("abc", "Hull repairs", 90) is None  # too short to compare
    found, comparable = field_agreement(
        [("remittance_text", "abc"), ("additional_info", "Hull repairs nov")],
        [("description", "Hull repairs"), ("document_no", None)],
        90,
    )
    assert comparable
    assert found is not None
    assert (found.line_field, found.item_field) == ("additional_info", "description")
    assert field_agreement([("remittance_text", "abc")], [("description", "xyz")], 90) == (
        None,
        False,
    )


def test_amount_text_date_builds_only_proposals_a_decision_can_keep() -> None:
    assert PROPOSED_MAX >= PROPOSALS_MAX


def test_a_common_amount_is_proposed_as_if_every_candidate_had_been(book: Book) -> None:
    """15 open items of the line's amount, 12 of them with the line's text (a tie): the
    decision keeps the engine's few, the texts' first, then by item id, as when the rule
    built a proposal for every candidate."""
    items = [
        book.item(
            f"INV-{number:02}",
            "777.00",
            description="Hull repairs" if number % 5 else "Paint",
            counterparty_id=f"C-{number}",
        )
        for number in range(15)
    ]
    index = book.index(*items)
    line = book.line("L-1", "777.00", text="Betaling hull repairs")
    decision = MatchEngine().evaluate(book.tenant_id, line, index)
    with_text = [item.item_id for item in items if item.description == "Hull repairs"]
    assert [p.item_id for p in decision.proposals] == with_text[:PROPOSALS_MAX]
    assert {p.confidence for p in decision.proposals} == {scoring.AMOUNT_TEXT_AMBIGUOUS}

    alone = book.line("L-2", "777.00", text="nothing alike")
    decision = MatchEngine().evaluate(book.tenant_id, alone, index)
    assert [p.item_id for p in decision.proposals] == [i.item_id for i in items][:PROPOSALS_MAX]
    assert {p.confidence for p in decision.proposals} == {scoring.AMOUNT_AMBIGUOUS}


def test_recent_lines_find_by_reference_in_the_order_remembered_and_by_amount_by_date(
    book: Book,
) -> None:
    """Per reference the lines come in the order remembered (no sort per lookup); by amount
    oldest first, even when remembered out of date order; a dropped line leaves both."""
    memory = RecentLines(lines_max=3)
    late = book.line("l1", "100.00", end_to_end_id="E2E-1", booking_date=date(2026, 11, 22))
    early = book.line("l2", "100.00", end_to_end_id="E2E-1", booking_date=date(2026, 11, 2))
    memory.remember(late)
    memory.remember(early)
    account = book.account.account_id
    assert [x.line_id for x in memory.by_reference(account, ("end_to_end_id", "E2E-1"))] == [
        "l1",
        "l2",
    ]
    assert [x.line_id for x in memory.by_amount(account, "NOK", Decimal("100"))] == ["l2", "l1"]
    assert memory.has_amount(account, "NOK", Decimal("100.0"))
    assert not memory.has_amount(account, "NOK", Decimal("-100"))
    assert not memory.has_amount("another account", "NOK", Decimal("100"))
    for number in range(3, 6):  # three more: l1 and l2 leave the memory
        memory.remember(book.line(f"l{number}", "5.00"))
    assert memory.by_reference(account, ("end_to_end_id", "E2E-1")) == []
    assert not memory.has_amount(account, "NOK", Decimal("100"))
    assert memory.get(account, "l5") is not None
    memory.forget(account, "l5")
    assert memory.get(account, "l5") is None


def test_a_line_with_no_earlier_opposite_amount_leaves_the_reversal_rule_at_once(
    book: Book,
) -> None:
    """Without the flag and without a remembered line of the opposite amount the rule says
    nothing (and looks at no reference); with one, the reference still pairs them."""
    index = book.index()
    rule = ReversalPairRule()
    MatchEngine().decide(book.tenant_id, book.line("l1", "-300.00", end_to_end_id="E2E-9"), index)
    other_amount = book.line("l2", "299.00", end_to_end_id="E2E-9")
    assert rule.evaluate(other_amount, index) == RuleOutcome()
    paired = rule.evaluate(book.line("l3", "300.00", end_to_end_id="E2E-9"), index)
    assert paired.proof is not None
    assert paired.proof.paired_line_id == "l1"
    flagged = rule.evaluate(book.line("l4", "299.00", reversal=True), index)
    assert flagged.final
    assert flagged.proof is None


def test_the_payer_is_identified_once_per_line_and_afresh_after_the_index_changed(
    book: Book,
) -> None:
    """The counterparty_subset rule takes the counterparty rule's answer for the same line,
    index and policy; a change of the index (or another line) asks again."""
    card = "NO9386011117947"
    index = book.index(
        book.item("INV-1", "100.00", counterparty_id="C-1", counterparty_accounts=[card])
    )
    rule = CounterpartyRule()
    line = book.line("l1", "100.00", payer_account=card)
    first = rule.identify_payer(line, index, DEFAULT_POLICY)
    assert first[0] is not None
    assert first[0].counterparty == "C-1"
    assert rule.identify_payer(line, index, DEFAULT_POLICY) is first  # kept
    index.allocate("INV-1", Money.of("50.00", "NOK"))  # the index changed: asked afresh
    again = rule.identify_payer(line, index, DEFAULT_POLICY)
    assert again is not first
    assert again == first
    other = book.line("l2", "100.00", payer_account=card)
    assert rule.identify_payer(other, index, DEFAULT_POLICY) is not first


def test_the_byte_mod11_check_digit_agrees_with_the_plain_formula() -> None:
    rng = _seeded("mod11")
    for _ in range(5_000):
        body = "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 30)))
        total = sum(
            int(digit) * MOD11_WEIGHTS[position % len(MOD11_WEIGHTS)]
            for position, digit in enumerate(reversed(body))
        )
        expected = {0: "0", 1: None}.get(total % 11, str(11 - total % 11))
        assert kid_mod11_check_digit(body) == expected, body


def test_ascii_texts_fold_as_the_unicode_way_folds_them() -> None:
    rng = _seeded("folded")
    alphabet = string.ascii_letters + string.digits + " .,:/-+#"
    for _ in range(2_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        decomposed = unicodedata.normalize("NFKD", text.casefold())
        plain = "".join(char for char in decomposed if not unicodedata.combining(char))
        expected = tuple(w for w in re.findall(r"[a-z0-9]+(?:[.,:/-][a-z0-9]+)*", plain))
        assert folded_words(text) == tuple(w for w in expected if w not in PAYMENT_WORDS)
    assert folded_words("Sjøbris Ærlig Café") == ("sjobris", "aerlig", "cafe")


def test_the_subset_pre_check_skips_only_searches_finding_no_set_of_two() -> None:
    rng = _seeded("subset pre-check")
    skipped = 0
    for _ in range(2_000):
        amounts = [Decimal(rng.randint(1, 60)) for _ in range(rng.randint(0, 8))]
        target = Decimal(rng.randint(1, 200))
        if not _two_or_more_may_add_up(amounts, target):
            skipped += 1
            found = subsets_summing_to(amounts, target)
            assert all(len(subset) == 1 for subset in found.subsets), (amounts, target)
    assert skipped > 100  # the check does skip searches


def test_decision_ids_are_uuid5_of_tenant_and_line() -> None:
    rng = _seeded("decision ids")
    for _ in range(1_000):
        tenant, line = f"t{rng.randrange(10**6)}", f"L{rng.randrange(10**9)}"
        expected = uuid.uuid5(DECISION_ID_NAMESPACE, f"{tenant}:{line}")
        assert decision_id_for(tenant, line) == str(expected)
