"""Statement lines added or removed by hand, each with who and why in the audit trail.

- A mid-month start (the first statement file covers only part of the month, seed 002/003):
  enter the opening balance at the start of the month and add the lines the file does not
  have by hand. They are lines like the bank's, with origin ``manual``, not cleared until a
  user clears them.
- A wrongly created statement line (a duplicate, a line of another account) can be removed
  before the period is released. It is kept as a tombstone, so the same line delivered again
  stays removed, and the audit trail says who removed it and why. A line that a ledger entry
  reconciles is refused: undo the match in the ledger first, or the books would name a line
  the period no longer has.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from bankrec.contracts import Money
from bankrec.reconciler.domain.period import (
    TEXT_LENGTH_MAX,
    AuditAction,
    AuditRecord,
    LineOrigin,
    PeriodLine,
    ReconciliationPeriod,
    cancelled_entries,
    require_accountability,
    require_aware,
    require_changeable,
    require_entry,
)
from bankrec.reconciler.errors import InvalidCommandError, ItemNotFoundError, LineReconciledError


def manual_statement_id(period: ReconciliationPeriod) -> str:
    """The statement id lines added by hand are filed under."""
    return f"{period.period_id}-manual"


def manual_line_id_for(period: ReconciliationPeriod) -> str:
    """The next id of a line added by hand: deterministic and unique within the account."""
    number = sum(1 for r in period.audit if r.action is AuditAction.LINE_ADDED) + 1
    return f"{period.period_id}-manual-{number}"


def add_manual_line(
    period: ReconciliationPeriod,
    *,
    line_id: str,
    amount: Money,
    booking_date: date,
    text: str | None,
    actor: str,
    reason: str,
    at: datetime,
    counterparty: str | None = None,
) -> ReconciliationPeriod:
    """Add a statement line by hand (money in positive, out negative)."""
    require_changeable(period)
    require_accountability(actor, reason, reason_required=True)
    require_aware(at)
    require_entry(period, amount, "statement line amount")
    if amount.is_zero():
        raise InvalidCommandError("the statement line's amount is zero")
    if line_id in period.lines or line_id in period.removed_lines:
        raise InvalidCommandError(
            f"statement line {line_id} exists in period {period.period_no} already"
        )
    if text is not None and len(text) > TEXT_LENGTH_MAX:
        raise InvalidCommandError(f"text is longer than {TEXT_LENGTH_MAX} characters")
    line = PeriodLine(
        line_id=line_id,
        statement_id=manual_statement_id(period),
        amount=amount,
        booking_date=booking_date,
        received=True,
        origin=LineOrigin.MANUAL,
        counterparty=counterparty,
        text=text,
    )
    record = AuditRecord(
        action=AuditAction.LINE_ADDED,
        actor=actor.strip(),
        at=at,
        reason=reason.strip(),
        subject_id=line_id,
        amount=amount,
    )
    return replace(period, lines={**period.lines, line_id: line}, audit=(*period.audit, record))


def remove_line(
    period: ReconciliationPeriod, line_id: str, *, actor: str, reason: str, at: datetime
) -> ReconciliationPeriod:
    """Remove a wrongly created statement line (from the bank or added by hand)."""
    require_changeable(period)
    require_accountability(actor, reason, reason_required=True)
    require_aware(at)
    line = period.lines.get(line_id)
    if line is None:
        raise ItemNotFoundError(
            f"period {period.period_no} of account {period.account_id} has no statement line "
            f"{line_id}" + (" (it was removed already)" if line_id in period.removed_lines else "")
        )
    cancelled = cancelled_entries(period.postings)
    entries = sorted(
        posting.entry_id
        for posting in period.postings.values()
        if posting.entry_id not in cancelled
        and posting.reverses_entry_id is None
        and any(part.statement_line_id == line_id for part in posting.parts)
    )
    if entries:
        raise LineReconciledError(
            f"statement line {line_id} is posted in the books by journal entr"
            f"{'y' if len(entries) == 1 else 'ies'} {', '.join(entries)}; remove the match in "
            "the ledger (unmatch) first, then remove the line"
        )
    adjustments = sorted(
        a.adjustment_id for a in period.adjustments.values() if a.statement_line_id == line_id
    )
    if adjustments:
        raise LineReconciledError(
            f"statement line {line_id} is named by adjustment {', '.join(adjustments)}; "
            "a line an adjustment accounts for cannot be removed"
        )
    record = AuditRecord(
        action=AuditAction.LINE_REMOVED,
        actor=actor.strip(),
        at=at,
        reason=reason.strip(),
        subject_id=line_id,
        amount=line.amount,
    )
    return replace(
        period,
        lines={k: v for k, v in period.lines.items() if k != line_id},
        line_marks={k: v for k, v in period.line_marks.items() if k != line_id},
        removed_lines={**period.removed_lines, line_id: line},
        audit=(*period.audit, record),
    )
