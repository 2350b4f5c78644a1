"""The PDF reports an auditor keeps: one period in detail, and an account's history.

Pure (bytes in memory, no I/O) on fpdf2. Amounts are printed exactly as the JSON and CSV
reports show them (padded to the currency's minor unit, never rounded). The core PDF fonts
cover Latin-1 only, so other characters are printed as '?' (names and texts stay readable;
ids and amounts are ASCII).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from bankrec.contracts import Money
from bankrec.reconciler.domain.item_flags import PeriodItem
from bankrec.reconciler.domain.period_reports import HistoryRow, PeriodDetail
from bankrec.reconciler.domain.report import amount_text, masked_account

FONT = "Helvetica"
LINE_MM = 5.0


def period_report_pdf(detail: PeriodDetail, *, printed_at: datetime) -> bytes:
    """The detailed report of one period: figures, reconciled and outstanding items,
    adjustments with their state, lines removed by hand and the audit trail."""
    period, result = detail.period, detail.figures
    pdf = _document(f"Bank reconciliation {period.period_id}")
    _title(pdf, f"Bank reconciliation - period {period.period_no}", printed_at)
    _pairs(
        pdf,
        [
            ("Account", f"{period.account_id} ({masked_account(period) or '-'})"),
            ("Currency", period.currency),
            ("Status", period.status.value),
            ("Sequence number", _text(period.sequence_no)),
            ("Reconciliation date", _text(result.reconciliation_date)),
            ("Opening balance", f"{amount_text(result.opening_balance)} ({result.opening_source})"),
            ("Statement balance", _money(result.statement_balance)),
            ("Reconciled balance", amount_text(result.reconciled_balance)),
            ("Difference", _money(result.difference)),
            (
                "Statement lines",
                f"{result.lines} ({result.reconciled} reconciled, "
                f"{result.outstanding} outstanding)",
            ),
            ("Ledger entries", f"{result.entries} ({result.entries_reconciled} reconciled)"),
        ],
    )
    widths = (22.0, 24.0, 48.0, 30.0, 12.0, 54.0)
    header = ("Date", "Kind", "Item", "Amount", "Clr", "Text")
    for heading, items in (
        ("Reconciled items", detail.reconciled_items),
        ("Outstanding items", detail.outstanding_items),
    ):
        _heading(pdf, f"{heading} ({len(items)})")
        _table(pdf, widths, header, [_item_row(item) for item in items], amount_column=3)
    _heading(pdf, f"Adjustments ({len(detail.adjustments)})")
    _table(
        pdf,
        (24.0, 48.0, 30.0, 20.0, 68.0),
        ("Kind", "Adjustment", "Amount", "State", "Requested by / refusal"),
        [
            (
                view.adjustment.kind.value,
                view.adjustment.adjustment_id,
                amount_text(view.adjustment.amount),
                view.state.value,
                view.adjustment.refusal_reason or view.adjustment.requested_by,
            )
            for view in detail.adjustments
        ],
        amount_column=2,
    )
    if detail.removed_lines:
        _heading(pdf, f"Lines removed by hand ({len(detail.removed_lines)})")
        _table(
            pdf,
            (24.0, 60.0, 30.0, 76.0),
            ("Date", "Line", "Amount", "Text"),
            [
                (_text(line.booking_date), line.line_id, amount_text(line.amount), line.text or "")
                for line in detail.removed_lines
            ],
            amount_column=2,
        )
    _heading(pdf, f"Audit trail ({len(detail.audit)})")
    _table(
        pdf,
        (36.0, 30.0, 50.0, 74.0),
        ("When", "Action", "Who", "Why / subject"),
        [
            (
                record.at.strftime("%Y-%m-%d %H:%M"),
                record.action.value,
                record.actor,
                " ".join(t for t in (record.reason, record.subject_id) if t),
            )
            for record in detail.audit
        ],
    )
    return bytes(pdf.output())


def history_report_pdf(
    account_id: str, rows: Sequence[HistoryRow], *, printed_at: datetime
) -> bytes:
    """The account's history: every release (sequence number, dates, balances, who released
    and who voided it, why) and every period not released now."""
    pdf = _document(f"Bank reconciliation history {account_id}")
    _title(pdf, "Bank reconciliation - history", printed_at)
    _pairs(pdf, [("Account", account_id), ("Rows", str(len(rows)))])
    _table(
        pdf,
        (12.0, 12.0, 20.0, 22.0, 28.0, 28.0, 22.0, 46.0),
        ("Per.", "Seq.", "Status", "Date", "Opening", "Closing", "Diff.", "Released / voided"),
        [
            (
                str(row.period_no),
                _text(row.sequence_no),
                row.status.value,
                _text(row.reconciliation_date),
                amount_text(row.opening_balance),
                _money(row.closing_balance),
                _money(row.difference),
                f"released by {row.released_by}" if row.released_by else "",
            )
            for row in rows
        ],
        amount_column=4,
        notes=[
            f"voided by {row.voided_by} at {row.voided_at:%Y-%m-%d %H:%M}: {row.void_reason or ''}"
            if row.voided_by and row.voided_at
            else None
            for row in rows
        ],
    )
    return bytes(pdf.output())


# ------------------------------------------------------------------------------ layout


def _document(title: str) -> FPDF:
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_title(_latin1(title))
    pdf.set_creator("bankrec reconciler")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    return pdf


def _title(pdf: FPDF, title: str, printed_at: datetime) -> None:
    pdf.set_font(FONT, style="B", size=14)
    pdf.cell(0, 8, _latin1(title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, size=8)
    printed = printed_at.strftime("%Y-%m-%d %H:%M %Z")
    pdf.cell(0, LINE_MM, f"Printed {printed}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(3)
    pdf.set_font(FONT, style="B", size=11)
    pdf.cell(0, 7, _latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _pairs(pdf: FPDF, pairs: Sequence[tuple[str, str]]) -> None:
    for label, value in pairs:
        pdf.set_font(FONT, style="B", size=9)
        pdf.cell(45, LINE_MM, _latin1(label))
        pdf.set_font(FONT, size=9)
        pdf.cell(0, LINE_MM, _latin1(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _table(
    pdf: FPDF,
    widths: Sequence[float],
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    amount_column: int | None = None,
    notes: Sequence[str | None] = (),
) -> None:
    """Rows of cells cut to their columns; a row's note (if any) is printed in full under it."""
    pdf.set_font(FONT, style="B", size=8)
    for width, name in zip(widths, header, strict=True):
        pdf.cell(width, LINE_MM, name, border="B")
    pdf.ln(LINE_MM)
    pdf.set_font(FONT, size=8)
    if not rows:
        pdf.cell(0, LINE_MM, "(none)", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for number, row in enumerate(rows):
        for index, (width, value) in enumerate(zip(widths, row, strict=True)):
            align = "R" if index == amount_column else "L"
            pdf.cell(width, LINE_MM, _fit(pdf, _latin1(value), width), align=align)
        pdf.ln(LINE_MM)
        note = notes[number] if number < len(notes) else None
        if note:
            pdf.set_x(pdf.l_margin + widths[0])
            pdf.multi_cell(0, LINE_MM, _latin1(note), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """Cut a cell's text to its column (an id or text too long ends with '...')."""
    if pdf.get_string_width(text) <= width - 1:
        return text
    while text and pdf.get_string_width(text + "...") > width - 1:
        text = text[:-1]
    return text + "..."


def _item_row(item: PeriodItem) -> tuple[str, ...]:
    return (
        _text(item.on),
        item.kind.value.replace("_", " "),
        item.item_id,
        amount_text(item.amount),
        "yes" if item.cleared else "no",
        " ".join(t for t in (item.counterparty, item.text) if t),
    )


def _money(value: Money | None) -> str:
    return "-" if value is None else amount_text(value)


def _text(value: int | date | None) -> str:
    return "-" if value is None else str(value)


def _latin1(text: str) -> str:
    return text.encode("latin-1", errors="replace").decode("latin-1")
