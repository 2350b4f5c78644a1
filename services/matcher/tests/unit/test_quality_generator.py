"""The quality benchmark's generator: deterministic per seed, every scenario, a truth that
holds together, numbers with valid check digits (checked with python-stdnum and with the
matcher's own reference checks, independently of the generator's arithmetic), and a mix
that adds up.

Invariants of the truth (``check_truth`` asserts them at generation; tested again here from
the outside): allocations have the line's sign and add up to at most its amount, every
allocated item exists and is never paid more than its amount, ``items`` is the only outcome
with allocations, reversal lines name each other, every item's KID/RF is valid, and only the
lines of ``mistyped_kid`` carry an invalid KID.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from decimal import Decimal

import pytest
from stdnum import iban, iso11649
from stdnum.no import kontonr

from bankrec.contracts import OpenItemKind, ReferenceKind, StatementLine
from bankrec.matcher.domain import (
    check_reference,
    is_valid_kid_mod10,
    is_valid_kid_mod11,
    kid_mod11_check_digit,
)
from bankrec.matcher.quality import bank_numbers
from bankrec.matcher.quality.generator import (
    LINES_MIN,
    SCENARIO_SHARES,
    CaseSizeError,
    generate_case,
    scenario_budgets,
)
from bankrec.matcher.quality.party_names import printed_name
from bankrec.matcher.quality.truth import (
    FEE_MAX,
    LineTruth,
    Outcome,
    QualityCase,
    Scenario,
    TruthAllocation,
    TruthError,
    check_truth,
)

SEED = 20261120
LINES = 400


@pytest.fixture(scope="module")
def case() -> QualityCase:
    print(f"seed {SEED}")
    return generate_case(LINES, SEED)


def test_the_same_seed_gives_the_same_case_and_another_seed_another() -> None:
    first, again, other = generate_case(150, 7), generate_case(150, 7), generate_case(150, 8)
    assert first.items == again.items
    assert first.lines == again.lines
    assert first.truths == again.truths
    assert first.items != other.items
    assert first.lines != other.lines


def test_the_case_has_exactly_the_lines_asked_for_and_every_scenario(case: QualityCase) -> None:
    lines = case.lines
    assert len(lines) == LINES
    assert len({line.line_id for line in lines}) == LINES
    assert len({line.bank_reference for line in lines}) == LINES
    per_scenario = Counter(truth.scenario for truth in case.truths.values())
    assert per_scenario == scenario_budgets(LINES)
    assert set(per_scenario) == set(Scenario)


def test_the_mix_adds_up_and_small_cases_still_hold_every_scenario() -> None:
    assert sum(SCENARIO_SHARES.values()) == 100
    assert set(SCENARIO_SHARES) == set(Scenario)
    for lines in (LINES_MIN, 101, 333, 10_000):
        budgets = scenario_budgets(lines)
        assert sum(budgets.values()) == lines
        assert min(budgets.values()) >= 1
        assert budgets[Scenario.REVERSAL] % 2 == 0
    assert scenario_budgets(10_000)[Scenario.OCR_BATCH] == 1200
    with pytest.raises(CaseSizeError, match="at least 100 lines"):
        scenario_budgets(LINES_MIN - 1)


def test_lines_are_in_booking_order_one_statement_a_day(case: QualityCase) -> None:
    dates = [line.booking_date for line in case.lines]
    assert dates == sorted(dates)
    assert [s.booking_date for s in case.statements] == sorted({d for d in dates if d})
    for statement in case.statements:
        assert [line.sequence for e in statement.entries for line in e.lines] == list(
            range(sum(len(e.lines) for e in statement.entries))
        )
    for before, after in zip(case.statements, case.statements[1:], strict=False):
        assert after.opening_balance == before.closing_balance


def test_the_truth_is_internally_consistent(case: QualityCase) -> None:
    check_truth(case)
    items = {item.item_id: item for item in case.items}
    paid: dict[str, Decimal] = defaultdict(Decimal)
    for line in case.lines:
        truth = case.truths[line.line_id]
        total = sum((a.amount for a in truth.allocations), Decimal(0))
        fee = total - line.amount.amount  # a deducted fee settles the invoice in full
        assert abs(total) <= abs(line.amount.amount) or 0 < fee <= FEE_MAX, line.line_id
        assert (truth.outcome is Outcome.ITEMS) == bool(truth.allocations)
        for allocation in truth.allocations:
            assert allocation.item_id in items
            assert allocation.amount * line.amount.amount > 0
            paid[allocation.item_id] += allocation.amount
        if truth.outcome is Outcome.REVERSAL:
            pair = case.truths[truth.paired_line_id or ""]
            assert pair.paired_line_id == line.line_id
            other = next(x for x in case.lines if x.line_id == pair.line_id)
            assert other.amount.amount == -line.amount.amount
            assert line.reversal != other.reversal
    assert all(abs(total) <= abs(items[item_id].amount.amount) for item_id, total in paid.items())


def test_a_broken_truth_is_caught(case: QualityCase) -> None:
    line = case.lines[0]
    truth = case.truths[line.line_id]
    broken = LineTruth(
        line_id=truth.line_id,
        bank_reference=truth.bank_reference,
        scenario=truth.scenario,
        outcome=Outcome.ITEMS,
        allocations=(TruthAllocation("INV-NOWHERE", line.amount.amount),),
    )
    with pytest.raises(TruthError, match="unknown item INV-NOWHERE"):
        check_truth(
            QualityCase(
                tenant_id=case.tenant_id,
                seed=case.seed,
                account=case.account,
                items=case.items,
                statements=case.statements,
                truths={**case.truths, line.line_id: broken},
            )
        )


def test_scenarios_have_the_shape_they_promise(case: QualityCase) -> None:
    by_scenario: dict[Scenario, list[tuple[LineTruth, StatementLine]]] = defaultdict(list)
    for line in case.lines:
        by_scenario[case.truths[line.line_id].scenario].append((case.truths[line.line_id], line))
    batches = [line for _t, line in by_scenario[Scenario.OCR_BATCH]]
    assert all(line.detail_index is not None for line in batches)
    assert all(len(t.allocations) >= 2 for t, _ in by_scenario[Scenario.MULTI_INVOICE])
    for truth, line in by_scenario[Scenario.FEE_DEDUCTED]:
        item = next(i for i in case.items if i.item_id == truth.allocations[0].item_id)
        shortfall = item.amount.amount - line.amount.amount
        assert Decimal("5.00") <= shortfall <= Decimal("50.00")
    instalments = Counter(t.allocations[0].item_id for t, _ in by_scenario[Scenario.INSTALMENTS])
    assert set(instalments.values()) <= {2, 3}
    assert {t.outcome for t, _ in by_scenario[Scenario.BANK_FEE]} == {Outcome.FEE}
    assert {t.outcome for t, _ in by_scenario[Scenario.INTEREST]} == {Outcome.INTEREST}
    assert {t.outcome for t, _ in by_scenario[Scenario.UNKNOWN_PAYER]} == {Outcome.SUSPENSE}
    for truth, _line in by_scenario[Scenario.REGISTERED_PAYMENT]:
        assert truth.allocations[0].item_id.startswith("PAY-")
    for truth, line in by_scenario[Scenario.LATE_PAYMENT]:
        item = next(i for i in case.items if i.item_id == truth.allocations[0].item_id)
        assert item.due_date is not None
        assert (line.booking_date - item.due_date).days >= 45


def test_item_references_are_valid_and_only_mistyped_kids_are_not(case: QualityCase) -> None:
    kinds: Counter[str] = Counter()
    for item in case.items:
        if item.reference_kind is ReferenceKind.KID:
            assert item.reference is not None
            mod10, mod11 = is_valid_kid_mod10(item.reference), is_valid_kid_mod11(item.reference)
            assert mod10 or mod11, item
            kinds["mod10" if mod10 else "mod11"] += 1
        elif item.reference_kind is ReferenceKind.RF:
            assert iso11649.is_valid(item.reference), item
            kinds["rf"] += 1
    assert kinds["mod10"] > 0
    assert kinds["mod11"] > 0
    assert kinds["rf"] > 0
    for line in case.lines:
        reference = line.structured_reference
        if reference is None:
            continue
        truth = case.truths[line.line_id]
        checked = check_reference(reference.value, reference.kind)
        assert checked.valid is not truth.reference_must_not_match, (line, truth)
        assert truth.reference_must_not_match is (truth.scenario is Scenario.MISTYPED_KID)


def test_accounts_have_valid_check_digits(case: QualityCase) -> None:
    numbers = {n for item in case.items for n in item.counterparty_accounts}
    numbers |= {
        n
        for line in case.lines
        if line.counterparty is not None
        for n in (line.counterparty.iban, line.counterparty.other_account)
        if n
    }
    assert numbers
    for number in numbers:
        if number.isdigit():
            assert kontonr.is_valid(number), number
        else:
            assert iban.is_valid(number), number
    countries = {number[:2] for number in numbers if not number.isdigit()}
    assert {"NO", "SE", "DK", "FI", "DE"} <= countries


def test_names_vary_as_banks_print_them(case: QualityCase) -> None:
    printed = {line.counterparty.name for line in case.lines if line.counterparty}
    assert any(name and name.isupper() for name in printed)
    assert any(name and name.endswith(" A/S") for name in printed) or any(
        name and " AVD " in name for name in printed
    )
    rng = random.Random(SEED)
    variants = {printed_name("Hansen Bygg AS", rng) for _ in range(200)}
    assert {"Hansen Bygg AS", "HANSEN BYGG AS", "HANSEN BYGG A/S", "Hansen Bygg"} <= variants
    assert "SORENSEN ROR AS" in {printed_name("Sørensen Rør AS", rng) for _ in range(200)}


def test_kid_and_account_arithmetic_agrees_with_stdnum_and_the_matcher() -> None:
    rng = random.Random(SEED)
    print(f"seed {SEED}")
    for _ in range(300):
        body = str(rng.randint(10, 10**15))
        kid10 = bank_numbers.kid_mod10(body)
        assert is_valid_kid_mod10(kid10)
        kid11 = bank_numbers.kid_mod11(body)
        if kid11 is not None:
            assert is_valid_kid_mod11(kid11)
            assert bank_numbers.is_valid_kid(kid11)
        typo = bank_numbers.mistyped_kid(kid10, rng)
        assert not check_reference(typo, ReferenceKind.KID).valid
        assert len(typo) == len(kid10)
        assert sum(a != b for a, b in zip(typo, kid10, strict=True)) <= 2
        assert iso11649.is_valid(bank_numbers.rf_reference(body))
        assert kontonr.is_valid(bank_numbers.norwegian_account(rng))
    # 9*2 + 8*3 + 7*4 + 6*5 + 5*6 + 4*7 + 3*2 + 2*3 + 1*4 = 174; 174 % 11 = 9; 11 - 9 = 2
    assert bank_numbers.kid_mod11_check_digit("123456789") == "2"
    assert kid_mod11_check_digit("123456789") == "2"
    assert bank_numbers.as_iban("86011117947") == "NO9386011117947"


def test_open_items_have_every_kind_and_registered_payments_sit_on_the_account(
    case: QualityCase,
) -> None:
    kinds = Counter(item.kind for item in case.items)
    assert kinds[OpenItemKind.INVOICE] > kinds[OpenItemKind.BILL] > 0
    assert kinds[OpenItemKind.PAYMENT] == scenario_budgets(LINES)[Scenario.REGISTERED_PAYMENT]
    for item in case.items:
        assert item.remaining == item.amount
        assert item.version == 1
        assert item.posting_date is not None
        assert item.due_date is not None
        assert item.posting_date <= item.due_date
        assert (item.bank_account_id is not None) == (item.kind is OpenItemKind.PAYMENT)
        if item.bank_account_id is not None:
            assert item.bank_account_id == case.account.account_id


def test_more_open_items_fill_the_books_with_unpaid_ones() -> None:
    case = generate_case(LINES_MIN, SEED, open_items=2_000)
    assert len(case.items) == 2_000
    paid = {a.item_id for truth in case.truths.values() for a in truth.allocations}
    assert len(paid) < 200
