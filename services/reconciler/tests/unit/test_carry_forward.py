"""Carry-forward, a mid-month start with lines added by hand, and removing a wrong line."""

from __future__ import annotations

from datetime import date

import pytest
from reconciler_factories import Messages
from workflow_factories import ACTOR, AT, balanced_month, bank_line, entry, later

from bankrec.contracts import EntrySource
from bankrec.reconciler.domain import (
    AuditAction,
    FindingCode,
    ItemKind,
    ItemRef,
    LineOrigin,
    add_manual_line,
    apply_line,
    apply_posting,
    apply_statement,
    diagnose,
    enter_opening_balance,
    figures,
    mark_items,
    open_period,
    outstanding_entries,
    release,
    remove_line,
    void,
)
from bankrec.reconciler.errors import InvalidCommandError, ItemNotFoundError, LineReconciledError

TENANT = "t-carry"


@pytest.fixture
def make() -> Messages:
    return Messages.for_tenant(TENANT)


# ------------------------------------------------------------------------------ carry-forward


def test_entries_not_on_the_statement_move_into_the_next_period(make: Messages) -> None:
    period = balanced_month(make)
    period = apply_posting(period, entry(make, "je-cheque", "-40.00", description="cheque 12"))
    period = apply_posting(period, entry(make, "je-a", "7.00"))
    reversal = entry(make, "je-a-rev", "-7.00", source=EntrySource.REVERSAL, reverses="je-a")
    period = apply_posting(period, reversal)
    assert [p.entry_id for p in outstanding_entries(period)] == ["je-cheque"]  # a pair nets out

    done = release(period, account_periods=[], actor=ACTOR, at=AT)
    following = done.next_period
    assert following is not None
    assert list(following.postings) == ["je-cheque"]
    assert following.postings["je-cheque"].carried_from == 1
    result = figures(following)
    assert result.opening_balance == make.money("150.00")
    assert result.reconciled_balance == make.money("150.00")  # outstanding until marked
    assert result.entries_outstanding == 1
    # the bank books it this period: mark it reconciled
    marked = mark_items(
        following,
        [ItemRef(ItemKind.LEDGER_ENTRY, "je-cheque")],
        reconciled=True,
        actor=ACTOR,
        at=AT,
    )
    assert figures(marked).reconciled_balance == make.money("110.00")


def test_released_again_after_a_void_the_carried_entries_are_replaced(make: Messages) -> None:
    period = apply_posting(balanced_month(make), entry(make, "je-cheque", "-40.00"))
    period = apply_posting(period, entry(make, "je-late", "9.00"))
    first = release(period, account_periods=[], actor=ACTOR, at=AT)
    assert first.next_period is not None
    following = mark_items(
        first.next_period,
        [ItemRef(ItemKind.LEDGER_ENTRY, "je-late")],
        cleared=True,
        actor=ACTOR,
        at=AT,
    )
    voided = void(first.period, account_periods=[following], actor=ACTOR, reason="r", at=later(1))
    reopened = mark_items(  # the cheque was on January's statement after all
        voided.period,
        [ItemRef(ItemKind.LEDGER_ENTRY, "je-cheque")],
        reconciled=True,
        actor=ACTOR,
        at=later(2),
    )
    reopened = apply_statement(  # the bank's corrected statement closes at 110
        reopened, make.header("stmt-fix", opening="100.00", closing="110.00", sequence=2)
    )
    assert voided.next_period is not None
    again = release(reopened, account_periods=[voided.next_period], actor=ACTOR, at=later(3))
    assert again.next_period is not None
    assert list(again.next_period.postings) == ["je-late"]
    assert again.next_period.entry_marks["je-late"].cleared is True  # a kept entry keeps its flags
    assert figures(again.next_period).opening_balance == make.money("110.00")


# ------------------------------------------------------------------------------ mid-month


def test_a_mid_month_start_with_lines_added_by_hand(make: Messages) -> None:
    """The first file covers 15-31 January (opening 1,200 on the 15th); the books start on
    the 1st at 1,000; two payments before the 15th are added by hand."""
    period = open_period(TENANT, make.account_id, "NOK")
    header = make.header(
        opening="1200.00",
        closing="1500.00",
        opening_date=date(2017, 1, 15),
        closing_date=date(2017, 1, 31),
    )
    period = apply_statement(period, header)
    period = apply_line(period, bank_line(make, "l-20", "300.00", on=date(2017, 1, 20)))
    period = apply_posting(period, entry(make, "je-20", "300.00", line_id="l-20"))
    period = enter_opening_balance(period, make.money("1000.00"))
    for day, amount in ((3, "250.00"), (9, "-50.00")):
        period = apply_posting(
            period,
            entry(make, f"je-{day}", amount, on=date(2017, 1, day), source=EntrySource.DECISION),
        )
    assert FindingCode.OPENING_DIFFERS in diagnose(period).codes()

    for day, amount in ((3, "250.00"), (9, "-50.00")):
        period = add_manual_line(
            period,
            line_id=f"m-{day}",
            amount=make.money(amount),
            booking_date=date(2017, 1, day),
            text="from the paper statement",
            actor=ACTOR,
            reason="the bank's file starts on the 15th",
            at=AT,
        )
    period = mark_items(
        period,
        [
            ItemRef(ItemKind.LEDGER_ENTRY, "je-3"),
            ItemRef(ItemKind.LEDGER_ENTRY, "je-9"),
            ItemRef(ItemKind.STATEMENT_LINE, "m-3"),
            ItemRef(ItemKind.STATEMENT_LINE, "m-9"),
        ],
        reconciled=True,
        actor=ACTOR,
        at=AT,
    )
    found = diagnose(period)
    assert found.balanced
    assert FindingCode.OPENING_DIFFERS not in found.codes()
    assert period.lines["m-3"].origin is LineOrigin.MANUAL
    assert [r.action for r in period.audit] == [AuditAction.LINE_ADDED] * 2
    assert release(period, account_periods=[], actor=ACTOR, at=AT).period.sequence_no == 1


# ------------------------------------------------------------------------------ removal


def test_a_wrong_line_is_removed_with_an_audit_record_and_stays_removed(make: Messages) -> None:
    period = apply_line(balanced_month(make), make.line("dup", "50.00"))
    removed = remove_line(period, "dup", actor=ACTOR, reason="imported twice", at=AT)
    assert "dup" not in removed.lines
    assert removed.removed_lines["dup"].amount == make.money("50.00")
    record = removed.audit[-1]
    assert (record.action, record.subject_id, record.reason) == (
        AuditAction.LINE_REMOVED,
        "dup",
        "imported twice",
    )
    assert apply_line(removed, make.line("dup", "50.00")) is removed  # delivered again
    with pytest.raises(ItemNotFoundError, match="removed already"):
        remove_line(removed, "dup", actor=ACTOR, reason="again", at=AT)


def test_a_line_posted_in_the_books_cannot_be_removed(make: Messages) -> None:
    with pytest.raises(LineReconciledError, match="je-l1"):
        remove_line(balanced_month(make), "l1", actor=ACTOR, reason="r", at=AT)
    with pytest.raises(InvalidCommandError, match="reason"):
        remove_line(balanced_month(make), "l1", actor=ACTOR, reason="", at=AT)
