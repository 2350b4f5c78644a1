"""The reports of seed 003, as data and as CSV an auditor can keep (no I/O: text in, text out).

- **History** of an account's periods ("Historik avstämningsrapport"): one row per release
  (sequence number, period, dates, balances, who released it and when, and who voided it, when
  and why), plus one row for each period not released now.
- **Detail** of one period ("Avstämning detalj"): its figures, the reconciled items, the
  outstanding items, the adjustments, the lines removed by hand and the audit trail.

CSV cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``)
are prefixed with ``'`` when they are text; amounts are written as plain decimal strings.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from bankrec.contracts import Money, PeriodStatus
from bankrec.reconciler.domain.adjustments import AdjustmentView, adjustment_views
from bankrec.reconciler.domain.item_flags import PeriodItem, period_items
from bankrec.reconciler.domain.period import (
    AuditAction,
    AuditRecord,
    PeriodFigures,
    PeriodLine,
    ReconciliationPeriod,
    figures,
    zero,
)
from bankrec.reconciler.domain.report import amount_text, masked_account

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One release of a period, or a period as it stands when it is not released now."""

    period_no: int
    period_id: str
    status: PeriodStatus  # released / void for a release row; the period's status otherwise
    sequence_no: int | None
    reconciliation_date: date | None
    opening_balance: Money
    closing_balance: Money | None  # the statement balance (released: what was released)
    difference: Money | None
    released_by: str | None = None
    released_at: datetime | None = None
    voided_by: str | None = None
    voided_at: datetime | None = None
    void_reason: str | None = None


@dataclass(frozen=True, slots=True)
class PeriodDetail:
    """Everything the detailed report of one period shows."""

    period: ReconciliationPeriod
    figures: PeriodFigures
    reconciled_items: tuple[PeriodItem, ...]
    outstanding_items: tuple[PeriodItem, ...]
    adjustments: tuple[AdjustmentView, ...]
    removed_lines: tuple[PeriodLine, ...]
    audit: tuple[AuditRecord, ...]


def period_history(periods: Iterable[ReconciliationPeriod]) -> list[HistoryRow]:
    """The account's history, by period number and then by sequence number."""
    rows: list[HistoryRow] = []
    for period in sorted(periods, key=lambda p: p.period_no):
        voids = {r.sequence_no: r for r in period.audit if r.action is AuditAction.VOIDED}
        for record in period.audit:
            if record.action is not AuditAction.RELEASED:
                continue
            assert record.opening_balance is not None
            assert record.amount is not None
            voided = voids.get(record.sequence_no)
            rows.append(
                HistoryRow(
                    period_no=period.period_no,
                    period_id=period.period_id,
                    status=PeriodStatus.VOID if voided else PeriodStatus.RELEASED,
                    sequence_no=record.sequence_no,
                    reconciliation_date=record.reconciliation_date,
                    opening_balance=record.opening_balance,
                    closing_balance=record.amount,
                    difference=zero(record.amount.currency),  # released only at 0
                    released_by=record.actor,
                    released_at=record.at,
                    voided_by=voided.actor if voided else None,
                    voided_at=voided.at if voided else None,
                    void_reason=voided.reason if voided else None,
                )
            )
        if not period.is_released:
            result = figures(period)
            rows.append(
                HistoryRow(
                    period_no=period.period_no,
                    period_id=period.period_id,
                    status=period.status,
                    sequence_no=None,
                    reconciliation_date=result.reconciliation_date,
                    opening_balance=result.opening_balance,
                    closing_balance=result.statement_balance,
                    difference=result.difference,
                )
            )
    return rows


def period_detail(period: ReconciliationPeriod) -> PeriodDetail:
    items = period_items(period)
    return PeriodDetail(
        period=period,
        figures=figures(period),
        reconciled_items=tuple(item for item in items if item.reconciled),
        outstanding_items=tuple(item for item in items if not item.reconciled),
        adjustments=tuple(adjustment_views(period)),
        removed_lines=tuple(sorted(period.removed_lines.values(), key=lambda line: line.line_id)),
        audit=period.audit,
    )


# ------------------------------------------------------------------------------ CSV

HISTORY_COLUMNS = (
    "sequence_no",
    "period_no",
    "period_id",
    "status",
    "reconciliation_date",
    "currency",
    "opening_balance",
    "closing_balance",
    "difference",
    "released_by",
    "released_at",
    "voided_by",
    "voided_at",
    "void_reason",
)

DETAIL_COLUMNS = (
    "section",
    "kind",
    "id",
    "date",
    "amount",
    "currency",
    "cleared",
    "reconciled",
    "state",
    "origin",
    "text",
    "counterparty",
    "linked",
    "actor",
    "at",
    "reason",
)


def history_csv(rows: Sequence[HistoryRow]) -> str:
    """The history as CSV with a header row (RFC 4180, CRLF line ends)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HISTORY_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                _cell(row.sequence_no),
                row.period_no,
                _text(row.period_id),
                row.status.value,
                _cell(row.reconciliation_date),
                row.opening_balance.currency,
                _money(row.opening_balance),
                _money(row.closing_balance),
                _money(row.difference),
                _text(row.released_by),
                _cell(row.released_at),
                _text(row.voided_by),
                _cell(row.voided_at),
                _text(row.void_reason),
            ]
        )
    return out.getvalue()


def detail_csv(detail: PeriodDetail) -> str:
    """The detailed report as one CSV table: a ``section`` column says which part a row is of
    (summary, reconciled, outstanding, adjustment, removed_line, audit)."""
    period, result = detail.period, detail.figures
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(DETAIL_COLUMNS)

    def summary(name: str, value: object, amount: Money | None = None) -> None:
        row = dict.fromkeys(DETAIL_COLUMNS, "")
        row.update(section="summary", kind=name, text=_cell(value))
        if amount is not None:
            row.update(amount=_money(amount), currency=amount.currency, text="")
        writer.writerow(row.values())

    summary("account", masked_account(period) or period.account_id)
    summary("period", period.period_id)
    summary("status", period.status.value)
    summary("sequence_no", period.sequence_no)
    summary("reconciliation_date", result.reconciliation_date)
    summary("opening_balance", result.opening_source.value, result.opening_balance)
    summary("statement_balance", result.statement_source.value, result.statement_balance)
    summary("reconciled_balance", None, result.reconciled_balance)
    summary("difference", None, result.difference)
    for section, items in (
        ("reconciled", detail.reconciled_items),
        ("outstanding", detail.outstanding_items),
    ):
        for item in items:
            writer.writerow(
                [
                    section,
                    item.kind.value,
                    _text(item.item_id),
                    _cell(item.on),
                    _money(item.amount),
                    item.amount.currency,
                    _bool(item.cleared),
                    _bool(item.reconciled),
                    "" if item.carried_from is None else f"carried from {item.carried_from}",
                    item.origin,
                    _text(item.text),
                    _text(item.counterparty),
                    _text(" ".join(item.linked_ids)),
                    _text(item.marked_by),
                    _cell(item.marked_at),
                    "",
                ]
            )
    for view in detail.adjustments:
        adjustment = view.adjustment
        writer.writerow(
            [
                "adjustment",
                adjustment.kind.value,
                _text(adjustment.adjustment_id),
                _cell(adjustment.posting_date),
                _money(adjustment.amount),
                adjustment.amount.currency,
                "",
                "",
                view.state.value,
                "",
                _text(adjustment.description),
                _text(adjustment.gl_account),
                _text(" ".join((*view.entry_ids, adjustment.statement_line_id or "")).strip()),
                _text(adjustment.requested_by),
                _cell(adjustment.requested_at),
                _text(adjustment.reason),
            ]
        )
    removals = {r.subject_id: r for r in detail.audit if r.action is AuditAction.LINE_REMOVED}
    for line in detail.removed_lines:
        record = removals.get(line.line_id)
        writer.writerow(
            [
                "removed_line",
                "statement_line",
                _text(line.line_id),
                _cell(line.booking_date),
                _money(line.amount),
                line.amount.currency,
                "",
                "",
                "removed",
                line.origin.value,
                _text(line.text),
                _text(line.counterparty),
                "",
                _text(record.actor if record else None),
                _cell(record.at if record else None),
                _text(record.reason if record else None),
            ]
        )
    for record in detail.audit:
        writer.writerow(
            [
                "audit",
                record.action.value,
                _text(record.subject_id),
                _cell(record.reconciliation_date),
                _money(record.amount),
                record.amount.currency if record.amount else "",
                "",
                "",
                "" if record.sequence_no is None else f"sequence number {record.sequence_no}",
                "",
                "",
                "",
                "",
                _text(record.actor),
                _cell(record.at),
                _text(record.reason),
            ]
        )
    return out.getvalue()


def _money(money: Money | None) -> str:
    return "" if money is None else amount_text(money)


def _bool(value: bool) -> str:
    return "yes" if value else "no"


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _text(value: str | None) -> str:
    """Free text: never a formula when opened in a spreadsheet."""
    if not value:
        return ""
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value
