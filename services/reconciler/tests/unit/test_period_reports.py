"""The history and detail reports: rows as data, and the CSV an auditor keeps."""

from __future__ import annotations

import csv
import io

import pytest
from reconciler_factories import Messages
from workflow_factories import ACTOR, AT, adjustment_entry, balanced_month, bank_line, entry, later

from bankrec.contracts import AdjustmentKind, PeriodStatus
from bankrec.reconciler.domain import (
    ItemKind,
    apply_line,
    apply_posting,
    detail_csv,
    history_csv,
    period_detail,
    period_history,
    release,
    remove_line,
    request_adjustment,
    void,
)

TENANT = "t-reports"


@pytest.fixture
def make() -> Messages:
    return Messages.for_tenant(TENANT)


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_history_has_a_row_per_release_and_per_period_not_released(make: Messages) -> None:
    first = release(balanced_month(make), account_periods=[], actor="anna", at=AT)
    assert first.next_period is not None
    voided = void(
        first.period, account_periods=[first.next_period], actor="bo", reason="oops", at=later(1)
    )
    assert voided.next_period is not None
    again = release(voided.period, account_periods=[voided.next_period], actor="cy", at=later(2))
    assert again.next_period is not None

    history = period_history([again.next_period, again.period])
    assert [(r.period_no, r.sequence_no, r.status) for r in history] == [
        (1, 1, PeriodStatus.VOID),
        (1, 2, PeriodStatus.RELEASED),
        (2, None, PeriodStatus.ON_HOLD),
    ]
    assert (history[0].released_by, history[0].voided_by, history[0].void_reason) == (
        "anna",
        "bo",
        "oops",
    )
    assert history[1].opening_balance == make.money("100.00")
    assert history[1].closing_balance == make.money("150.00")

    table = rows(history_csv(history))
    assert [r["sequence_no"] for r in table] == ["1", "2", ""]
    assert table[0]["void_reason"] == "oops"
    assert table[1]["closing_balance"] == "150.00"
    assert table[1]["released_at"] == later(2).isoformat()


def test_detail_lists_reconciled_and_outstanding_items_and_adjustments(make: Messages) -> None:
    period = apply_posting(balanced_month(make), entry(make, "je-out", "-40.00"))
    period = apply_line(period, bank_line(make, "l-fee", "-10.00", text="=HYPERLINK(evil)"))
    period = apply_line(period, make.line("dup", "1.00"))
    period = remove_line(period, "dup", actor=ACTOR, reason="twice", at=AT)
    period = request_adjustment(
        period,
        adjustment_id="adj-1",
        kind=AdjustmentKind.BANK_FEE,
        amount=make.money("-10.00"),
        statement_line_id="l-fee",
        actor=ACTOR,
        reason="fee",
        at=AT,
    )
    period = apply_posting(period, adjustment_entry(make, "adj-1", "-10.00", line_id="l-fee"))

    detail = period_detail(period)
    assert {(i.kind, i.item_id) for i in detail.reconciled_items} == {
        (ItemKind.STATEMENT_LINE, "l1"),
        (ItemKind.STATEMENT_LINE, "l-fee"),
        (ItemKind.LEDGER_ENTRY, "je-l1"),
        (ItemKind.LEDGER_ENTRY, "je-adj-1"),
    }
    assert [i.item_id for i in detail.outstanding_items] == ["je-out"]
    assert [r.line_id for r in detail.removed_lines] == ["dup"]

    table = rows(detail_csv(detail))
    sections = [r["section"] for r in table]
    assert sections[:9] == ["summary"] * 9
    assert sections.count("reconciled") == 4
    assert sections.count("outstanding") == 1
    assert sections.count("adjustment") == 1
    assert sections.count("removed_line") == 1
    summary = {r["kind"]: r for r in table if r["section"] == "summary"}
    assert summary["reconciled_balance"]["amount"] == "140.00"
    assert summary["opening_balance"]["amount"] == "100.00"
    adjustment = next(r for r in table if r["section"] == "adjustment")
    assert (adjustment["id"], adjustment["state"], adjustment["amount"]) == (
        "adj-1",
        "posted",
        "-10.00",
    )
    removed = next(r for r in table if r["section"] == "removed_line")
    assert (removed["id"], removed["reason"], removed["actor"]) == ("dup", "twice", ACTOR)
    fee_line = next(r for r in table if r["id"] == "l-fee")
    assert fee_line["text"] == "'=HYPERLINK(evil)"  # never a formula in a spreadsheet
    audit = [r["kind"] for r in table if r["section"] == "audit"]
    assert audit == ["line_removed", "adjustment_requested"]
