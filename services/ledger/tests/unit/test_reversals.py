"""Reversing a suspense allocation and an adjustment: new, mirrored entries only, the state
they undo restored, and a second reversal refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from bankrec.contracts import AccountRole, AdjustmentKind, EntrySource, Money, OpenItemStatus
from bankrec.ledger.domain import Chart, JournalEntry
from bankrec.ledger.domain.adjustments import (
    AdjustmentStatus,
    adjustment_entry,
    adjustment_of,
    reverse_adjustment,
)
from bankrec.ledger.domain.audit import Accountability
from bankrec.ledger.domain.journal import debit_credit
from bankrec.ledger.domain.suspense import (
    AllocationTarget,
    SuspensePosting,
    SuspenseStatus,
    allocate_suspense,
    reverse_allocation,
    suspense_of,
)
from bankrec.ledger.errors import AlreadyReversed, InactiveAccount, OpenItemConflict

ACCOUNT = "acc-0000000000000000demo"
BY = Accountability("kari@example.no", "allocated to the wrong invoice")
ON = date(2026, 11, 24)


def lines(entry: JournalEntry) -> list[tuple[str, str, str]]:
    return [(line.account_code, str(line.debit), str(line.credit)) for line in entry.lines]


def parked(chart: Chart, amount: str) -> SuspensePosting:
    """A suspense posting of ``amount`` as a suspense decision parks it."""
    entry = JournalEntry(
        entry_id="je-parked",
        idempotency_key="dec-1",
        posting_date=ON,
        source=EntrySource.DECISION,
        source_ref="dec-1",
        description="suspense",
        lines=(
            *debit_credit(
                chart.bank_account(ACCOUNT),
                chart.for_role(AccountRole.INTERIM),
                Decimal(amount),
                "NOK",
            ),
        ),
        bank_account_id=ACCOUNT,
        statement_line_id="line-1",
    )
    posting = suspense_of(entry, decision_id="dec-1")
    assert posting is not None
    return posting


def allocated(chart: Chart, posting: SuspensePosting, **kw: Any) -> Any:
    return allocate_suspense(
        "t-1",
        posting,
        allocation_id=kw.pop("allocation_id", "act-1"),
        chart=chart,
        posting_date=ON,
        by=BY,
        **kw,
    )


def test_reversing_an_allocation_to_an_invoice_reopens_it(make: Any) -> None:
    chart = make.chart()
    posting = parked(chart, "4200.00")
    invoice = make.invoice("INV-1", "5000.00")
    done = allocated(
        chart,
        posting,
        target=AllocationTarget.OPEN_ITEM,
        target_id="INV-1",
        amount=None,
        item=invoice,
    )
    assert done.item.status is OpenItemStatus.PARTLY_PAID
    undone = reverse_allocation(
        "t-1",
        done.suspense,
        done.allocation,
        entry=done.entry,
        item=done.item,
        chart=chart,
        posting_date=ON,
        by=BY,
    )
    assert lines(done.entry) == [("2900", "4200.00", "0.00"), ("1500", "0.00", "4200.00")]
    assert lines(undone.entry) == [("2900", "0.00", "4200.00"), ("1500", "4200.00", "0.00")]
    assert undone.entry.lines[1].open_item_id == "INV-1"
    assert (undone.entry.source, undone.entry.reverses_entry_id) == (
        EntrySource.REVERSAL,
        done.entry.entry_id,
    )
    assert (undone.entry.actor, undone.entry.reason) == (BY.actor, BY.reason)
    assert undone.allocation.reversed
    assert undone.allocation.reversal_entry_id == undone.entry.entry_id
    assert (undone.suspense.remaining, undone.suspense.status, undone.suspense.version) == (
        posting.amount,
        SuspenseStatus.OPEN,
        3,
    )
    assert undone.item is not None
    assert (undone.item.remaining, undone.item.status, undone.item.version) == (
        invoice.remaining,
        OpenItemStatus.OPEN,
        3,
    )
    with pytest.raises(AlreadyReversed, match="was reversed by entry"):
        reverse_allocation(
            "t-1",
            undone.suspense,
            undone.allocation,
            entry=done.entry,
            item=undone.item,
            chart=chart,
            posting_date=ON,
            by=BY,
        )


def test_reversing_one_of_two_allocations_leaves_the_posting_partly_allocated(
    make: Any,
) -> None:
    chart = make.chart()
    posting = parked(chart, "1000.00")
    first = allocated(
        chart,
        posting,
        target=AllocationTarget.CUSTOMER,
        target_id="C-1",
        amount=Money.of("600.00", "NOK"),
        item=None,
    )
    second = allocated(
        chart,
        first.suspense,
        allocation_id="act-2",
        target=AllocationTarget.GL_ACCOUNT,
        target_id="8040",
        amount=None,
        item=None,
    )
    assert second.suspense.status is SuspenseStatus.ALLOCATED
    undone = reverse_allocation(
        "t-1",
        second.suspense,
        first.allocation,
        entry=first.entry,
        item=None,
        chart=chart,
        posting_date=ON,
        by=BY,
    )
    assert (undone.suspense.remaining.amount, undone.suspense.status) == (
        Decimal("600.00"),
        SuspenseStatus.PARTLY_ALLOCATED,
    )
    assert undone.item is None
    assert lines(undone.entry) == [("2900", "0.00", "600.00"), ("1500", "600.00", "0.00")]


def test_a_reversal_onto_an_account_deactivated_since_is_refused(make: Any) -> None:
    chart = make.chart().add_account("3000", "Salg", AccountRole.OTHER).chart
    posting = parked(chart, "100.00")
    done = allocated(
        chart,
        posting,
        target=AllocationTarget.GL_ACCOUNT,
        target_id="3000",
        amount=None,
        item=None,
    )
    inactive = chart.deactivate("3000", {}).chart
    with pytest.raises(InactiveAccount, match="reactivate it"):
        reverse_allocation(
            "t-1",
            done.suspense,
            done.allocation,
            entry=done.entry,
            item=None,
            chart=inactive,
            posting_date=ON,
            by=BY,
        )


def test_an_item_that_cannot_take_the_amount_back_refuses_the_reversal(make: Any) -> None:
    chart = make.chart()
    posting = parked(chart, "100.00")
    invoice = make.invoice("INV-1", "100.00")
    done = allocated(
        chart,
        posting,
        target=AllocationTarget.OPEN_ITEM,
        target_id="INV-1",
        amount=None,
        item=invoice,
    )
    revised = done.item.model_copy(update={"remaining": invoice.amount})  # reopened elsewhere
    with pytest.raises(OpenItemConflict, match="more than its amount"):
        reverse_allocation(
            "t-1",
            done.suspense,
            done.allocation,
            entry=done.entry,
            item=revised,
            chart=chart,
            posting_date=ON,
            by=BY,
        )


def test_a_posting_parked_on_a_former_interim_account_is_allocated_off_it(make: Any) -> None:
    chart = make.chart()
    posting = parked(chart, "100.00")
    moved = chart.add_account("2910", "Interim 2", AccountRole.INTERIM, take_role=True).chart
    old = replace(moved.account("2900"), role=AccountRole.INTERIM)
    done = allocated(
        moved,
        posting,
        target=AllocationTarget.CUSTOMER,
        target_id="C-1",
        amount=None,
        item=None,
        parked_on=old,
    )
    assert lines(done.entry)[0] == ("2900", "100.00", "0.00")
    assert done.entry.lines[0].account_role is AccountRole.INTERIM


def fee(chart: Chart, gl_account: str | None = None) -> JournalEntry:
    return adjustment_entry(
        "t-1",
        adjustment_id="adj-1",
        kind=AdjustmentKind.BANK_FEE,
        amount=Money.of("-125.00", "NOK"),
        bank=chart.bank_account(ACCOUNT),
        chart=chart,
        gl_account=gl_account,
        statement_line_id="line-9",
        posting_date=ON,
        description=None,
        by=BY,
    )


def test_reversing_an_adjustment_mirrors_it_and_keeps_what_identifies_it(make: Any) -> None:
    chart = make.chart()
    entry = fee(chart)
    adjustment = adjustment_of(entry)
    assert (adjustment.status, adjustment.gl_account, adjustment.amount) == (
        AdjustmentStatus.POSTED,
        "7770",
        Money.of("-125.00", "NOK"),
    )
    reversed_, reversal = reverse_adjustment(
        "t-1", adjustment, entry, chart=chart, posting_date=ON, by=BY
    )
    assert lines(entry) == [("7770", "125.00", "0.00"), ("1920", "0.00", "125.00")]
    assert lines(reversal) == [("7770", "0.00", "125.00"), ("1920", "125.00", "0.00")]
    # the reconciler ties postings to an adjustment by source + source_ref
    assert (reversal.source, reversal.source_ref, reversal.adjustment_kind) == (
        EntrySource.ADJUSTMENT,
        "adj-1",
        AdjustmentKind.BANK_FEE,
    )
    assert (reversal.reverses_entry_id, reversal.statement_line_id, reversal.bank_account_id) == (
        entry.entry_id,
        "line-9",
        ACCOUNT,
    )
    assert reversal.idempotency_key == "adjustment:adj-1:reversal"
    assert reversed_.status is AdjustmentStatus.REVERSED
    assert adjustment_of(entry, reversal) == reversed_
    with pytest.raises(AlreadyReversed, match="adjustment adj-1 was reversed"):
        reverse_adjustment("t-1", reversed_, entry, chart=chart, posting_date=ON, by=BY)


def test_an_adjustment_on_an_account_deactivated_since_is_not_reversed(make: Any) -> None:
    chart = make.chart().add_account("7780", "Andre gebyrer", AccountRole.OTHER).chart
    entry = fee(chart, gl_account="7780")
    inactive = chart.deactivate("7780", {}).chart
    with pytest.raises(InactiveAccount):
        reverse_adjustment(
            "t-1", adjustment_of(entry), entry, chart=inactive, posting_date=ON, by=BY
        )
