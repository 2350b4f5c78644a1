"""Seed 003's worked example, in the pure domain, both ways the seed can be read.

January 2017, account 1930: opening balance 25,000; a payment out of 250,000; a receipt of
62,500; a manual journal entry of 10,000 (out); a bank fee of 50 that is only on the statement.
The statement balance is -172,550. Before marking anything the difference is -197,550; with
every entry marked reconciled it is -50; once the fee adjustment is posted it is 0, the period
releases as number 1 and the next one opens at -172,550. Voided, its items open again, and
released again it gets number 2 (a sequence number is never reused: ``period_status.py``).
"""

from __future__ import annotations

from datetime import date

import pytest
from reconciler_factories import Messages
from workflow_factories import ACTOR, AT, FEE_CODE, adjustment_entry, bank_line, entry, later

from bankrec.contracts import AdjustmentKind, EntrySource, PeriodEventKind, PeriodStatus
from bankrec.reconciler.domain import (
    AdjustmentState,
    FindingCode,
    ItemKind,
    ReconciliationPeriod,
    adjustment_views,
    apply_line,
    apply_posting,
    apply_statement,
    diagnose,
    enter_opening_balance,
    enter_statement_balance,
    figures,
    mark_items,
    open_period,
    period_history,
    release,
    request_adjustment,
    save_balanced,
    select_items,
    void,
)
from bankrec.reconciler.errors import AdjustmentNotPostedError, DifferenceNotZeroError

TENANT = "t-seed-003"


@pytest.fixture
def make() -> Messages:
    return Messages(tenant_id=TENANT, iban="SE4550000000058398257466", currency="SEK")


def january_by_hand(make: Messages) -> ReconciliationPeriod:
    """The seed's way: no statement file, the balances entered by hand, four ledger entries."""
    period = open_period(TENANT, make.account_id, "SEK")
    period = enter_opening_balance(period, make.money("25000"))
    period = enter_statement_balance(period, make.money("-172550"))
    for posted in (
        entry(make, "je-supplier", "-250000", source=EntrySource.MANUAL, description="bill 4711"),
        entry(make, "je-customer", "62500", source=EntrySource.MANUAL, description="invoice 1001"),
        entry(make, "je-journal", "-10000", source=EntrySource.MANUAL, description="journal 7"),
    ):
        period = apply_posting(period, posted)
    return period


def test_the_seed_step_by_step(make: Messages) -> None:
    period = january_by_hand(make)
    assert figures(period).difference == make.money("-197550")  # "en differens på 197 550"

    entries = select_items(period, kind=ItemKind.LEDGER_ENTRY)
    period = mark_items(period, entries, reconciled=True, actor=ACTOR, at=AT)
    result = figures(period)
    assert result.reconciled_balance == make.money("-172500")
    assert result.difference == make.money("-50")  # "en differens på -50 kr"
    assert FindingCode.TRANSFER_DIFFERENCE in diagnose(period).codes()
    with pytest.raises(DifferenceNotZeroError, match="-50"):
        release(period, account_periods=[], actor=ACTOR, at=AT)

    period = request_adjustment(
        period,
        adjustment_id="adj-fee-1",
        kind=AdjustmentKind.BANK_FEE,
        amount=make.money("-50"),
        actor=ACTOR,
        reason="utbetalningsavgift on the statement",
        at=later(1),
    )
    assert [v.state for v in adjustment_views(period)] == [AdjustmentState.REQUESTED]
    assert figures(period).difference == make.money("-50")  # requested is not posted

    period = apply_posting(period, adjustment_entry(make, "adj-fee-1", "-50"))
    assert [v.state for v in adjustment_views(period)] == [AdjustmentState.POSTED]
    assert figures(period).difference == make.money("0")

    saved = save_balanced(period, actor=ACTOR, at=later(2))
    assert saved.period.status is PeriodStatus.BALANCED
    assert saved.event is not None
    assert saved.event.event is PeriodEventKind.BALANCED

    first = release(saved.period, account_periods=[saved.period], actor=ACTOR, at=later(3))
    january = first.period
    assert (january.status, january.sequence_no) == (PeriodStatus.RELEASED, 1)
    assert first.event is not None
    assert (first.event.event, first.event.sequence_no) == (PeriodEventKind.RELEASED, 1)
    february = first.next_period
    assert february is not None
    assert february.period_no == 2
    assert figures(february).opening_balance == make.money("-172550")
    assert first.next_event is not None
    assert first.next_event.event is PeriodEventKind.OPENED
    assert february.postings == {}  # everything was on the statement: nothing outstanding

    voided = void(
        january,
        account_periods=[january, february],
        actor="controller@acme.example",
        reason="fee posted on the wrong date",
        at=later(4),
    )
    assert voided.period.status is PeriodStatus.VOID
    assert voided.period.sequence_no is None
    assert voided.event is not None
    assert voided.event.event is PeriodEventKind.VOIDED
    assert voided.event.actor == "controller@acme.example"
    reopened = voided.period
    # its items are open again: a user can change a flag, and change it back
    journal = [r for r in select_items(reopened) if r.item_id == "je-journal"]
    unmarked = mark_items(reopened, journal, reconciled=False, actor=ACTOR, at=later(5))
    assert figures(unmarked).difference == make.money("-10000")
    assert voided.next_period is not None
    assert voided.next_period.opening_from_previous is None

    again = release(
        reopened, account_periods=[reopened, voided.next_period], actor=ACTOR, at=later(6)
    )
    assert (again.period.status, again.period.sequence_no) == (PeriodStatus.RELEASED, 2)
    assert again.next_period is not None
    assert figures(again.next_period).opening_balance == make.money("-172550")
    assert again.next_event is not None
    assert again.next_event.event is PeriodEventKind.UPDATED

    history = period_history([again.period, again.next_period])
    assert [(r.sequence_no, r.status, r.voided_by) for r in history] == [
        (1, PeriodStatus.VOID, "controller@acme.example"),
        (2, PeriodStatus.RELEASED, None),
        (None, PeriodStatus.ON_HOLD, None),
    ]
    assert history[0].void_reason == "fee posted on the wrong date"
    assert history[1].closing_balance == make.money("-172550")


def test_the_seed_with_a_statement_file(make: Messages) -> None:
    """The same month from a camt.053: the matched entries name their lines (reconciled by
    themselves), the fee line is pointed out, and its adjustment names the line."""
    period = open_period(TENANT, make.account_id, "SEK")
    header = make.header(
        opening="25000",
        closing="-172550",
        opening_date=date(2017, 1, 1),
        closing_date=date(2017, 1, 31),
    )
    period = apply_statement(period, header)
    for line_id, amount in (("l-out", "-250000"), ("l-in", "62500"), ("l-journal", "-10000")):
        period = apply_line(period, bank_line(make, line_id, amount))
        period = apply_posting(
            period,
            entry(make, f"je-{line_id}", amount, line_id=line_id, source=EntrySource.DECISION),
        )
    period = apply_line(period, bank_line(make, "l-fee", "-50", code=FEE_CODE))
    assert figures(period).difference == make.money("-50")
    fee_findings = [
        f for f in diagnose(period).findings if f.code is FindingCode.FEE_OR_INTEREST_NOT_POSTED
    ]
    assert [(f.line_ids, f.adjustment_kind) for f in fee_findings] == [
        (("l-fee",), AdjustmentKind.BANK_FEE)
    ]

    period = request_adjustment(
        period,
        adjustment_id="adj-1",
        kind=AdjustmentKind.BANK_FEE,
        amount=make.money("-50"),
        statement_line_id="l-fee",
        actor=ACTOR,
        reason="bank fee",
        at=AT,
    )
    with pytest.raises(AdjustmentNotPostedError, match="adj-1"):
        release(
            enter_statement_balance(period, make.money("-172500")),
            account_periods=[],
            actor=ACTOR,
            at=AT,
        )
    period = apply_posting(period, adjustment_entry(make, "adj-1", "-50", line_id="l-fee"))
    result = figures(period)
    assert (result.difference, result.reconciled, result.outstanding) == (make.money("0"), 4, 0)

    done = release(period, account_periods=[], actor=ACTOR, at=AT)
    assert done.period.sequence_no == 1
    assert done.next_period is not None
    assert figures(done.next_period).opening_balance == make.money("-172550")
