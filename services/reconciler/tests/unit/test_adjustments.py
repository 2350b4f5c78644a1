"""Adjustments: requested -> posted when the ledger's entry (source adjustment, source_ref =
the adjustment id) is in the period, in any order; retries, conflicts, refusals."""

from __future__ import annotations

import pytest
from reconciler_factories import Messages
from workflow_factories import ACTOR, AT, adjustment_entry, balanced_month, later

from bankrec.contracts import AdjustmentKind
from bankrec.reconciler.domain import (
    AdjustmentState,
    ReconciliationPeriod,
    adjustment_id_for,
    adjustment_views,
    adjustments_not_posted,
    apply_line,
    apply_posting,
    figures,
    request_adjustment,
)
from bankrec.reconciler.errors import (
    AdjustmentConflictError,
    AmountPrecisionError,
    InvalidCommandError,
    ItemNotFoundError,
)

TENANT = "t-adjust"


@pytest.fixture
def make() -> Messages:
    return Messages.for_tenant(TENANT)


def fee(
    make: Messages, period: ReconciliationPeriod, amount: str = "-25.00", **extra: object
) -> ReconciliationPeriod:
    arguments: dict[str, object] = {
        "adjustment_id": "adj-1",
        "kind": AdjustmentKind.BANK_FEE,
        "amount": make.money(amount),
        "actor": ACTOR,
        "reason": "monthly fee",
        "at": AT,
        **extra,
    }
    return request_adjustment(period, **arguments)  # type: ignore[arg-type]


def test_posted_when_its_entry_arrives_before_or_after_the_request(make: Messages) -> None:
    posting = adjustment_entry(make, "adj-1", "-25.00")
    request_first = apply_posting(fee(make, balanced_month(make)), posting)
    posting_first = fee(make, apply_posting(balanced_month(make), posting))
    for period in (request_first, posting_first):
        (view,) = adjustment_views(period)
        assert (view.state, view.entry_ids) == (AdjustmentState.POSTED, ("je-adj-1",))
        assert figures(period).reconciled_balance == make.money("125.00")  # counted by itself
        assert adjustments_not_posted(period) == []


def test_requested_is_not_counted_and_a_reversal_makes_it_requested_again(make: Messages) -> None:
    period = fee(make, balanced_month(make))
    assert [v.state for v in adjustment_views(period)] == [AdjustmentState.REQUESTED]
    assert figures(period).adjustments_not_posted == 1
    assert figures(period).reconciled_balance == make.money("150.00")
    period = apply_posting(period, adjustment_entry(make, "adj-1", "-25.00"))
    reversal = adjustment_entry(make, "adj-1", "25.00", entry_id="je-adj-1-rev")
    reversal = reversal.model_copy(update={"reverses_entry_id": "je-adj-1"})
    period = apply_posting(period, reversal)
    assert [v.state for v in adjustment_views(period)] == [AdjustmentState.REQUESTED]
    assert figures(period).reconciled_balance == make.money("150.00")


def test_an_entry_of_an_adjustment_of_another_period_is_a_plain_entry(make: Messages) -> None:
    period = apply_posting(balanced_month(make), adjustment_entry(make, "adj-elsewhere", "-5"))
    assert adjustment_views(period) == []
    assert figures(period).reconciled_balance == make.money("150.00")


def test_the_same_request_again_changes_nothing_other_content_is_refused(make: Messages) -> None:
    period = fee(make, balanced_month(make))
    assert fee(make, period, actor="someone else", at=later(5)) is period
    with pytest.raises(AdjustmentConflictError, match="adj-1 was requested before"):
        fee(make, period, "-30.00")


def test_refusals(make: Messages) -> None:
    period = balanced_month(make)
    with pytest.raises(InvalidCommandError, match="zero"):
        fee(make, period, "0.00")
    with pytest.raises(AmountPrecisionError):
        fee(make, period, "-0.001")
    with pytest.raises(InvalidCommandError, match="gl_account"):
        fee(make, period, kind=AdjustmentKind.OTHER)
    with pytest.raises(InvalidCommandError, match="reason"):
        fee(make, period, reason="")
    with pytest.raises(ItemNotFoundError, match="no statement line l9"):
        fee(make, period, statement_line_id="l9")
    other = fee(make, period, kind=AdjustmentKind.OTHER, gl_account="7790")
    assert other.adjustments["adj-1"].gl_account == "7790"


def test_an_adjustment_naming_its_line_reconciles_the_line(make: Messages) -> None:
    period = apply_line(balanced_month(make), make.line("l-fee", "-25.00"))
    period = fee(make, period, statement_line_id="l-fee")
    period = apply_posting(period, adjustment_entry(make, "adj-1", "-25.00", line_id="l-fee"))
    result = figures(period)
    assert (result.reconciled, result.outstanding) == (2, 0)


def test_adjustment_ids_are_deterministic_per_period(make: Messages) -> None:
    period = balanced_month(make)
    first = adjustment_id_for(period)
    assert first == f"{period.period_id}-adj-1"
    period = fee(make, period, adjustment_id=first)
    assert adjustment_id_for(period) == f"{period.period_id}-adj-2"
