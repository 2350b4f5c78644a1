"""The status machine: on hold -> balanced -> released -> void, each refusal with its reason,
gapless sequence numbers per account, immutability of a released period."""

from __future__ import annotations

from datetime import date

import pytest
from reconciler_factories import Messages
from workflow_factories import ACTOR, AT, adjustment_entry, balanced_month, later

from bankrec.contracts import AdjustmentKind, PeriodEventKind, PeriodStatus
from bankrec.reconciler.domain import (
    BalanceSource,
    ItemKind,
    ItemRef,
    ReconciliationPeriod,
    add_manual_line,
    apply_line,
    apply_posting,
    enter_opening_balance,
    enter_statement_balance,
    figures,
    last_sequence_no,
    mark_items,
    open_period,
    put_on_hold,
    release,
    release_blockers,
    remove_line,
    request_adjustment,
    revise_status,
    save_balanced,
    void,
)
from bankrec.reconciler.errors import (
    AdjustmentNotPostedError,
    AlreadyReleasedError,
    DifferenceNotZeroError,
    EarlierPeriodNotReleasedError,
    InvalidCommandError,
    NotLatestReleasedError,
    OpeningFromPreviousPeriodError,
    PeriodNotReleasedError,
    PeriodReleasedError,
    StatementBalanceMissingError,
)

TENANT = "t-status"


@pytest.fixture
def make() -> Messages:
    return Messages.for_tenant(TENANT)


def released_chain(make: Messages, count: int) -> list[ReconciliationPeriod]:
    """``count`` released periods and the open one after them, each month balanced."""
    periods: list[ReconciliationPeriod] = []
    current = balanced_month(make)
    for month in range(count):
        done = release(current, account_periods=periods, actor=ACTOR, at=later(month))
        assert done.next_period is not None
        periods.append(done.period)
        current = enter_statement_balance(
            done.next_period, figures(done.next_period).opening_balance
        )
    return [*periods, current]


# ------------------------------------------------------------------------------ balanced


def test_save_balanced_needs_a_difference_of_exactly_zero(make: Messages) -> None:
    period = balanced_month(make)
    saved = save_balanced(period, actor=ACTOR, at=AT)
    assert saved.period.status is PeriodStatus.BALANCED
    assert saved.event is not None
    assert (saved.event.event, saved.event.actor) == (PeriodEventKind.BALANCED, ACTOR)
    assert save_balanced(saved.period, actor=ACTOR, at=AT).events == ()  # again: nothing new

    off = enter_statement_balance(period, make.money("150.01"))
    with pytest.raises(DifferenceNotZeroError, match=r"difference of 0\.01 NOK"):
        save_balanced(off, actor=ACTOR, at=AT)
    no_statement = open_period(TENANT, make.account_id, "NOK")
    with pytest.raises(StatementBalanceMissingError, match="statement balance"):
        save_balanced(no_statement, actor=ACTOR, at=AT)
    with pytest.raises(InvalidCommandError, match="actor"):
        save_balanced(period, actor="  ", at=AT)


def test_a_balanced_period_whose_difference_moves_is_back_on_hold(make: Messages) -> None:
    balanced = save_balanced(balanced_month(make), actor=ACTOR, at=AT).period
    assert revise_status(balanced) is balanced
    moved = apply_line(balanced, make.line("l2", "10.00"))
    assert revise_status(moved) is moved  # a line alone does not move the reconciled balance
    moved = apply_posting(moved, make.posting("l2", "10.00", entry_id="je-l2"))
    assert revise_status(moved).status is PeriodStatus.ON_HOLD


def test_put_on_hold_parks_a_balanced_period(make: Messages) -> None:
    balanced = save_balanced(balanced_month(make), actor=ACTOR, at=AT).period
    parked = put_on_hold(balanced, actor=ACTOR, reason="waiting for the bank", at=AT)
    assert parked.period.status is PeriodStatus.ON_HOLD
    assert parked.event is not None
    assert parked.event.event is PeriodEventKind.UPDATED
    assert put_on_hold(parked.period, actor=ACTOR, reason=None, at=AT).events == ()


# ------------------------------------------------------------------------------ release


def test_release_gives_the_next_sequence_number_and_opens_the_next_period(make: Messages) -> None:
    period = balanced_month(make)
    done = release(period, account_periods=[], actor=ACTOR, at=AT)
    assert (done.period.status, done.period.sequence_no) == (PeriodStatus.RELEASED, 1)
    assert [e.event for e in done.events] == [PeriodEventKind.RELEASED, PeriodEventKind.OPENED]
    assert done.events[0].sequence_no == 1
    following = done.next_period
    assert following is not None
    assert following.period_no == 2
    assert figures(following).opening_balance == make.money("150.00")
    assert figures(following).opening_source is BalanceSource.PREVIOUS_PERIOD
    assert done.period.audit[-1].amount == make.money("150.00")


def test_release_is_refused_while_the_difference_is_not_zero(make: Messages) -> None:
    period = enter_statement_balance(balanced_month(make), make.money("149.50"))
    with pytest.raises(DifferenceNotZeroError, match=r"-0\.50 NOK"):
        release(period, account_periods=[], actor=ACTOR, at=AT)


def test_release_is_refused_without_a_statement_balance(make: Messages) -> None:
    with pytest.raises(StatementBalanceMissingError):
        release(open_period(TENANT, make.account_id, "NOK"), account_periods=[], actor=ACTOR, at=AT)


def test_release_is_refused_while_an_adjustment_is_not_posted(make: Messages) -> None:
    period = request_adjustment(
        balanced_month(make),
        adjustment_id="adj-9",
        kind=AdjustmentKind.INTEREST,
        amount=make.money("3.00"),
        actor=ACTOR,
        reason="interest",
        at=AT,
    )
    with pytest.raises(AdjustmentNotPostedError, match=r"adj-9 \(interest 3.00 NOK\)"):
        release(period, account_periods=[], actor=ACTOR, at=AT)  # the difference is 0
    period = apply_posting(
        period, adjustment_entry(make, "adj-9", "3.00", kind=AdjustmentKind.INTEREST)
    )
    period = enter_statement_balance(period, make.money("153.00"))
    assert release(period, account_periods=[], actor=ACTOR, at=AT).period.sequence_no == 1


def test_release_is_refused_while_an_earlier_period_is_not_released(make: Messages) -> None:
    first, second = released_chain(make, 1)
    voided = void(first, account_periods=[first, second], actor=ACTOR, reason="wrong", at=AT)
    assert voided.next_period is not None
    with pytest.raises(EarlierPeriodNotReleasedError, match=r"earlier period\(s\) 1 \(void\)"):
        release(voided.next_period, account_periods=[voided.period], actor=ACTOR, at=AT)


def test_release_of_a_released_period_is_refused(make: Messages) -> None:
    first, second = released_chain(make, 1)
    with pytest.raises(AlreadyReleasedError, match="released already"):
        release(first, account_periods=[first, second], actor=ACTOR, at=AT)


def test_release_blockers_lists_every_reason(make: Messages) -> None:
    first, second = released_chain(make, 1)
    voided = void(first, account_periods=[first, second], actor=ACTOR, reason="x", at=AT)
    assert voided.next_period is not None
    blocked = request_adjustment(
        enter_statement_balance(voided.next_period, make.money("1.00")),
        adjustment_id="adj-1",
        kind=AdjustmentKind.BANK_FEE,
        amount=make.money("-1.00"),
        actor=ACTOR,
        reason="fee",
        at=AT,
    )
    codes = [e.code for e in release_blockers(blocked, [voided.period])]
    assert codes == ["earlier_period_not_released", "difference_not_zero", "adjustment_not_posted"]


# ------------------------------------------------------------------------------ released


def test_a_released_period_is_immutable(make: Messages) -> None:
    released = release(balanced_month(make), account_periods=[], actor=ACTOR, at=AT).period
    commands = [
        lambda: mark_items(
            released, [ItemRef(ItemKind.STATEMENT_LINE, "l1")], reconciled=False, actor=ACTOR, at=AT
        ),
        lambda: request_adjustment(
            released,
            adjustment_id="a",
            kind=AdjustmentKind.BANK_FEE,
            amount=make.money("-1"),
            actor=ACTOR,
            reason="r",
            at=AT,
        ),
        lambda: add_manual_line(
            released,
            line_id="m1",
            amount=make.money("1"),
            booking_date=date(2026, 11, 2),
            text=None,
            actor=ACTOR,
            reason="r",
            at=AT,
        ),
        lambda: remove_line(released, "l1", actor=ACTOR, reason="r", at=AT),
        lambda: enter_statement_balance(released, make.money("1")),
        lambda: enter_opening_balance(released, make.money("1")),
        lambda: save_balanced(released, actor=ACTOR, at=AT),
    ]
    for command in commands:
        with pytest.raises(PeriodReleasedError, match="void it first"):
            command()


def test_the_next_periods_opening_balance_comes_from_the_release(make: Messages) -> None:
    _, following = released_chain(make, 1)
    with pytest.raises(OpeningFromPreviousPeriodError, match=r"released period 1 \(150.00 NOK\)"):
        enter_opening_balance(following, make.money("1.00"))


# ------------------------------------------------------------------------------ void


def test_void_reopens_the_period_and_records_who_and_why(make: Messages) -> None:
    first, second = released_chain(make, 1)
    voided = void(
        first, account_periods=[first, second], actor="ctrl", reason="fee on the wrong date", at=AT
    )
    assert (voided.period.status, voided.period.sequence_no) == (PeriodStatus.VOID, None)
    record = voided.period.audit[-1]
    assert (record.actor, record.reason, record.sequence_no) == ("ctrl", "fee on the wrong date", 1)
    assert voided.event is not None
    assert voided.event.event is PeriodEventKind.VOIDED
    assert voided.event.reason is not None
    assert "fee on the wrong date" in voided.event.reason
    assert voided.next_period is not None
    assert voided.next_period.opening_from_previous is None
    assert voided.next_event is not None
    assert voided.next_event.event is PeriodEventKind.UPDATED
    # open again: flags can change
    changed = mark_items(
        voided.period,
        [ItemRef(ItemKind.LEDGER_ENTRY, "je-l1")],
        reconciled=False,
        actor=ACTOR,
        at=AT,
    )
    assert figures(changed).difference == make.money("50.00")


def test_void_needs_a_reason(make: Messages) -> None:
    first, second = released_chain(make, 1)
    with pytest.raises(InvalidCommandError, match="reason"):
        void(first, account_periods=[first, second], actor=ACTOR, reason=" ", at=AT)


def test_void_of_a_period_not_released_is_refused(make: Messages) -> None:
    with pytest.raises(PeriodNotReleasedError, match="on_hold, not released"):
        void(balanced_month(make), account_periods=[], actor=ACTOR, reason="r", at=AT)


def test_only_the_latest_released_period_can_be_voided(make: Messages) -> None:
    first, second, third = released_chain(make, 2)
    with pytest.raises(NotLatestReleasedError, match=r"2 \(sequence number 2\)"):
        void(first, account_periods=[first, second, third], actor=ACTOR, reason="r", at=AT)
    assert void(second, account_periods=[first, second, third], actor=ACTOR, reason="r", at=AT)


def test_sequence_numbers_are_gapless_and_never_reused(make: Messages) -> None:
    """Release 1, 2; void 2; release it again: number 3. Void 3, void 1 is then allowed."""
    first, second, third = released_chain(make, 2)
    assert (first.sequence_no, second.sequence_no) == (1, 2)
    voided = void(second, account_periods=[first, second, third], actor=ACTOR, reason="r", at=AT)
    assert voided.next_period is not None
    again = release(
        voided.period, account_periods=[first, voided.next_period], actor=ACTOR, at=later(9)
    )
    assert again.period.sequence_no == 3
    assert last_sequence_no([first, again.period]) == 3
    issued = sorted(
        r.sequence_no
        for p in (first, again.period)
        for r in p.audit
        if r.sequence_no and r.action.value == "released"
    )
    assert issued == [1, 2, 3]
