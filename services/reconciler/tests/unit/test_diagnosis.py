"""The discrepancy diagnosis: one test per finding, each naming the lines or items."""

from __future__ import annotations

from datetime import date

import pytest
from reconciler_factories import Messages
from workflow_factories import (
    ACTOR,
    AT,
    FEE_CODE,
    adjustment_entry,
    balanced_month,
    bank_line,
    entry,
)

from bankrec.contracts import AdjustmentKind, BankTransactionCode, DecisionKind, EntrySource
from bankrec.reconciler.domain import (
    Finding,
    FindingCode,
    ReconciliationPeriod,
    add_manual_line,
    apply_decision,
    apply_line,
    apply_posting,
    apply_statement,
    diagnose,
    enter_opening_balance,
    enter_statement_balance,
    open_period,
    release,
    request_adjustment,
    void,
)

TENANT = "t-diagnosis"


@pytest.fixture
def make() -> Messages:
    return Messages.for_tenant(TENANT)


def only(period: ReconciliationPeriod, code: FindingCode, *others: ReconciliationPeriod) -> Finding:
    found = [f for f in diagnose(period, others).findings if f.code is code]
    assert len(found) == 1, [f.code for f in diagnose(period, others).findings]
    return found[0]


def test_a_balanced_period_has_no_findings(make: Messages) -> None:
    found = diagnose(balanced_month(make))
    assert found.balanced
    assert found.findings == ()


def test_statement_balance_missing(make: Messages) -> None:
    period = open_period(TENANT, make.account_id, "NOK")
    assert FindingCode.STATEMENT_BALANCE_MISSING in diagnose(period).codes()


def test_opening_missing(make: Messages) -> None:
    period = enter_statement_balance(open_period(TENANT, make.account_id, "NOK"), make.money("5"))
    finding = only(period, FindingCode.OPENING_MISSING)
    assert "enter the opening balance" in finding.suggestion


def test_opening_entered_by_hand_differs_from_the_statement(make: Messages) -> None:
    period = enter_opening_balance(balanced_month(make), make.money("90.00"))
    finding = only(period, FindingCode.OPENING_DIFFERS)
    assert finding.statement_ids == ("stmt-1",)
    assert finding.amount == make.money("10.00")
    assert "entered by hand may be wrong" in finding.suggestion


def test_earlier_period_not_released_and_opening_from_it_differs(make: Messages) -> None:
    first = release(balanced_month(make), account_periods=[], actor=ACTOR, at=AT)
    assert first.next_period is not None
    february = apply_statement(
        first.next_period, make.header("stmt-2", opening="160.00", closing="160.00")
    )
    differs = only(february, FindingCode.OPENING_DIFFERS, first.period)
    assert "previous period closed at 150.00 NOK" in differs.suggestion
    voided = void(first.period, account_periods=[february], actor=ACTOR, reason="r", at=AT)
    finding = only(february, FindingCode.EARLIER_PERIOD_NOT_RELEASED, voided.period)
    assert finding.period_nos == (1,)


def test_gap_in_the_statement_sequence(make: Messages) -> None:
    period = open_period(TENANT, make.account_id, "NOK")
    for statement_id, sequence, opening, closing, day in (
        ("stmt-a", 41, "0.00", "10.00", 1),
        ("stmt-c", 43, "30.00", "40.00", 20),
    ):
        header = make.header(
            statement_id,
            opening=opening,
            closing=closing,
            sequence=sequence,
            opening_date=date(2026, 11, day),
            closing_date=date(2026, 11, day + 5),
        )
        period = apply_statement(period, header)
    gap = only(period, FindingCode.STATEMENT_SEQUENCE_GAP)
    assert "number(s) 42 are missing" in gap.message
    assert gap.statement_ids == ("stmt-a", "stmt-c")
    chain = only(period, FindingCode.STATEMENTS_DO_NOT_CHAIN)
    assert chain.statement_ids == ("stmt-a", "stmt-c")
    assert chain.amount == make.money("20.00")


def test_statement_lines_that_do_not_add_up(make: Messages) -> None:
    period = apply_statement(
        open_period(TENANT, make.account_id, "NOK"), make.header(opening="0", closing="100")
    )
    period = apply_line(period, make.line("l1", "60.00"))
    finding = only(period, FindingCode.STATEMENT_LINES_MISSING)
    assert finding.amount == make.money("40.00")


def test_statement_lines_with_no_ledger_counterpart(make: Messages) -> None:
    period = balanced_month(make)
    period = apply_line(period, bank_line(make, "l-buy", "-80.00", text="Office supplies"))
    period = apply_line(period, bank_line(make, "l-sale", "120.00"))
    period = apply_line(period, make.line("l-susp", "5.00"))
    period = apply_decision(
        period, make.decision("l-susp", "5.00", DecisionKind.SUSPENSE), make.at(1)
    )
    found = {
        f.line_ids: f for f in diagnose(period).findings if f.code is FindingCode.LINE_NOT_IN_BOOKS
    }
    assert set(found) == {("l-buy",), ("l-sale",), ("l-susp",)}
    assert "purchase (bill)" in found[("l-buy",)].suggestion
    assert "register the incoming payment" in found[("l-sale",)].suggestion
    assert "in suspense" in found[("l-susp",)].suggestion
    assert "Office supplies" in found[("l-buy",)].message


def test_ledger_entries_not_on_the_statement(make: Messages) -> None:
    period = apply_posting(balanced_month(make), entry(make, "je-cheque", "-40.00"))
    finding = only(period, FindingCode.ENTRY_NOT_ON_STATEMENT)
    assert finding.entry_ids == ("je-cheque",)
    assert "carried forward" in finding.suggestion


def test_near_pair_with_a_wrong_date(make: Messages) -> None:
    period = apply_line(
        balanced_month(make),
        bank_line(
            make, "l-acme", "-500.00", on=date(2026, 11, 20), counterparty="Acme Supplies AS"
        ),
    )
    period = apply_posting(
        period,
        entry(
            make, "je-acme", "-500.00", on=date(2026, 11, 2), description="Bill 77 Acme Supplies AS"
        ),
    )
    finding = only(period, FindingCode.NEAR_PAIR)
    assert (finding.line_ids, finding.entry_ids) == (("l-acme",), ("je-acme",))
    assert "wrong date" in finding.suggestion
    codes = diagnose(period).codes()
    assert FindingCode.LINE_NOT_IN_BOOKS not in codes  # the pair replaces both single findings
    assert FindingCode.ENTRY_NOT_ON_STATEMENT not in codes


def test_near_pair_with_a_wrong_amount_by_counterparty_id(make: Messages) -> None:
    period = apply_line(balanced_month(make), make.line("l-c", "1250.00"))
    decision = make.decision("l-c", "1250.00", DecisionKind.ON_ACCOUNT).model_copy(
        update={"counterparty_id": "cust-42"}
    )
    period = apply_decision(period, decision, make.at(1))
    period = apply_posting(
        period, entry(make, "je-c", "1205.00", counterparty_id="cust-42", on=date(2026, 11, 16))
    )
    finding = only(period, FindingCode.NEAR_PAIR)
    assert (finding.line_ids, finding.entry_ids) == (("l-c",), ("je-c",))
    assert "wrong amount" in finding.suggestion
    assert finding.amount == make.money("45.00")


def test_fees_and_interest_on_the_statement_not_posted(make: Messages) -> None:
    period = balanced_month(make)
    period = apply_line(period, bank_line(make, "l-fee", "-35.00", code=FEE_CODE))
    period = apply_line(period, bank_line(make, "l-int", "2.10", text="Kreditrente november"))
    mt940 = BankTransactionCode(proprietary="NCHG", proprietary_issuer="SWIFT")
    period = apply_line(period, bank_line(make, "l-chg", "-5.00", code=mt940))
    found = {
        f.line_ids: f.adjustment_kind
        for f in diagnose(period).findings
        if f.code is FindingCode.FEE_OR_INTEREST_NOT_POSTED
    }
    assert found == {
        ("l-fee",): AdjustmentKind.BANK_FEE,
        ("l-int",): AdjustmentKind.INTEREST,
        ("l-chg",): AdjustmentKind.BANK_FEE,
    }


def test_adjustments_not_posted_or_posted_with_another_amount(make: Messages) -> None:
    period = apply_line(balanced_month(make), bank_line(make, "l-fee", "-35.00", code=FEE_CODE))
    period = request_adjustment(
        period,
        adjustment_id="adj-1",
        kind=AdjustmentKind.BANK_FEE,
        amount=make.money("-35.00"),
        statement_line_id="l-fee",
        actor=ACTOR,
        reason="fee",
        at=AT,
    )
    waiting = only(period, FindingCode.ADJUSTMENT_NOT_POSTED)
    assert (waiting.adjustment_ids, waiting.line_ids) == (("adj-1",), ("l-fee",))
    assert FindingCode.FEE_OR_INTEREST_NOT_POSTED not in diagnose(period).codes()
    period = apply_posting(period, adjustment_entry(make, "adj-1", "-53.00", line_id="l-fee"))
    differs = only(period, FindingCode.ADJUSTMENT_AMOUNT_DIFFERS)
    assert differs.entry_ids == ("je-adj-1",)
    assert differs.amount == make.money("18.00")


def test_the_remaining_difference_can_be_transferred(make: Messages) -> None:
    period = enter_statement_balance(balanced_month(make), make.money("151.00"))
    finding = only(period, FindingCode.TRANSFER_DIFFERENCE)
    assert finding.amount == make.money("1.00")
    assert finding.adjustment_kind is AdjustmentKind.OTHER
    assert diagnose(period).codes()[-1] is FindingCode.TRANSFER_DIFFERENCE


def test_lines_added_by_hand_are_diagnosed_like_the_banks(make: Messages) -> None:
    period = add_manual_line(
        balanced_month(make),
        line_id="m1",
        amount=make.money("-9.00"),
        booking_date=date(2026, 11, 3),
        text="card",
        actor=ACTOR,
        reason="missing in the file",
        at=AT,
    )
    finding = only(period, FindingCode.LINE_NOT_IN_BOOKS)
    assert "added by hand" in finding.message
    period = apply_posting(
        period, entry(make, "je-m1", "-9.00", line_id="m1", source=EntrySource.MANUAL)
    )
    assert FindingCode.LINE_NOT_IN_BOOKS not in diagnose(period).codes()
