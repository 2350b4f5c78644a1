"""The period's items and their two flags, per item and in bulk (seed 003).

An item is a statement line (what the bank says) or a ledger entry's bank side (what the books
say). Each has two flags:

- ``cleared``: verified as correct. Lines from the bank and entries from the bank integration
  are cleared by themselves; lines added by hand and manual entries once a user clears them.
- ``reconciled``: on the statement. See ``period.py`` for the automatic value (an entry that
  names a statement line is); a user can mark any item either way, and marking an item
  reconciled clears it too (as in seed 003: "Den blir då samtidigt markerad som Kontrollerad").

The reconciled balance counts ledger entries only (opening + reconciled entries), so marking a
statement line reconciled never moves money: it says the line is accounted for in the books
(silencing the diagnosis), and marking it not reconciled takes the entries naming it out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum

from bankrec.contracts import Money
from bankrec.reconciler.domain.period import (
    BankPosting,
    ItemMark,
    PeriodLine,
    ReconciliationPeriod,
    entry_is_cleared,
    entry_is_reconciled,
    line_is_cleared,
    reconciled_line_ids,
    require_accountability,
    require_aware,
    require_changeable,
)
from bankrec.reconciler.errors import InvalidCommandError, ItemNotFoundError


class ItemKind(StrEnum):
    STATEMENT_LINE = "statement_line"
    LEDGER_ENTRY = "ledger_entry"


@dataclass(frozen=True, slots=True)
class ItemRef:
    """Names one item of a period."""

    kind: ItemKind
    item_id: str


@dataclass(frozen=True, slots=True)
class PeriodItem:
    """One item as the report and the API show it, with its flags in effect."""

    kind: ItemKind
    item_id: str
    amount: Money
    on: date | None
    cleared: bool
    reconciled: bool
    origin: str  # "bank"/"manual" for a line; the entry's source for an entry
    text: str | None
    counterparty: str | None
    linked_ids: tuple[str, ...]  # a line's entries, an entry's statement lines
    carried_from: int | None = None
    marked_by: str | None = None
    marked_at: datetime | None = None


def period_items(period: ReconciliationPeriod) -> list[PeriodItem]:
    """Every item: statement lines then ledger entries, each by date and id."""
    reconciled_lines = reconciled_line_ids(period)
    entries_of: dict[str, list[str]] = {}
    for posting in period.postings.values():
        for part in posting.parts:
            if part.statement_line_id is not None:
                entries_of.setdefault(part.statement_line_id, []).append(posting.entry_id)
    lines = [
        _line_item(period, line, line.line_id in reconciled_lines, entries_of)
        for line in period.lines.values()
    ]
    entries = [_entry_item(period, posting) for posting in period.postings.values()]
    by_date = lambda item: (item.on or date.min, item.item_id)  # noqa: E731
    return sorted(lines, key=by_date) + sorted(entries, key=by_date)


def _line_item(
    period: ReconciliationPeriod,
    line: PeriodLine,
    reconciled: bool,
    entries_of: dict[str, list[str]],
) -> PeriodItem:
    mark = period.line_marks.get(line.line_id)
    return PeriodItem(
        kind=ItemKind.STATEMENT_LINE,
        item_id=line.line_id,
        amount=line.amount,
        on=line.booking_date,
        cleared=line_is_cleared(period, line),
        reconciled=reconciled,
        origin=line.origin.value,
        text=line.text,
        counterparty=line.counterparty,
        linked_ids=tuple(sorted(entries_of.get(line.line_id, ()))),
        marked_by=mark.marked_by if mark else None,
        marked_at=mark.marked_at if mark else None,
    )


def _entry_item(period: ReconciliationPeriod, posting: BankPosting) -> PeriodItem:
    mark = period.entry_marks.get(posting.entry_id)
    return PeriodItem(
        kind=ItemKind.LEDGER_ENTRY,
        item_id=posting.entry_id,
        amount=posting.amount,
        on=posting.posting_date,
        cleared=entry_is_cleared(period, posting),
        reconciled=entry_is_reconciled(period, posting),
        origin=posting.source.value if posting.source else "unknown",
        text=posting.description,
        counterparty=posting.counterparty_id,
        linked_ids=tuple(
            sorted({p.statement_line_id for p in posting.parts if p.statement_line_id})
        ),
        carried_from=posting.carried_from,
        marked_by=mark.marked_by if mark else None,
        marked_at=mark.marked_at if mark else None,
    )


def select_items(
    period: ReconciliationPeriod,
    *,
    kind: ItemKind | None = None,
    only_cleared: bool = False,
) -> list[ItemRef]:
    """Every item (of one kind), or only the cleared ones: the bulk buttons of seed 003 ("mark
    all reconciled"; "reconciliation processed" marks every cleared item reconciled)."""
    return [
        ItemRef(item.kind, item.item_id)
        for item in period_items(period)
        if (kind is None or item.kind is kind) and (item.cleared or not only_cleared)
    ]


def mark_items(
    period: ReconciliationPeriod,
    refs: Sequence[ItemRef],
    *,
    cleared: bool | None = None,
    reconciled: bool | None = None,
    actor: str,
    at: datetime,
) -> ReconciliationPeriod:
    """Set the flags on the items named (one or many); None leaves a flag as it is.

    All or nothing: an unknown item refuses the whole command. Marking reconciled also clears
    unless ``cleared`` says otherwise. Marks that change nothing return the same period.
    """
    require_changeable(period)
    require_accountability(actor, None, reason_required=False)
    require_aware(at)
    if cleared is None and reconciled is None:
        raise InvalidCommandError("say which flag to set: cleared, reconciled or both")
    _require_known(period, refs)
    if reconciled is True and cleared is None:
        cleared = True
    line_marks = dict(period.line_marks)
    entry_marks = dict(period.entry_marks)
    for ref in refs:
        marks = line_marks if ref.kind is ItemKind.STATEMENT_LINE else entry_marks
        old = marks.get(ref.item_id)
        new_cleared = cleared if cleared is not None else (old.cleared if old else None)
        new_reconciled = reconciled if reconciled is not None else (old.reconciled if old else None)
        if old is not None and (old.cleared, old.reconciled) == (new_cleared, new_reconciled):
            continue
        marks[ref.item_id] = ItemMark(new_cleared, new_reconciled, actor.strip(), at)
    if line_marks == period.line_marks and entry_marks == period.entry_marks:
        return period
    return replace(period, line_marks=line_marks, entry_marks=entry_marks)


def unmark_items(period: ReconciliationPeriod, refs: Iterable[ItemRef]) -> ReconciliationPeriod:
    """Drop the users' flags on the items: their automatic values apply again."""
    require_changeable(period)
    refs = list(refs)
    _require_known(period, refs)
    lines = {r.item_id for r in refs if r.kind is ItemKind.STATEMENT_LINE}
    entries = {r.item_id for r in refs if r.kind is ItemKind.LEDGER_ENTRY}
    if not (lines & period.line_marks.keys() or entries & period.entry_marks.keys()):
        return period
    return replace(
        period,
        line_marks={k: v for k, v in period.line_marks.items() if k not in lines},
        entry_marks={k: v for k, v in period.entry_marks.items() if k not in entries},
    )


def _require_known(period: ReconciliationPeriod, refs: Iterable[ItemRef]) -> None:
    unknown = [
        f"{ref.kind.value} {ref.item_id}"
        for ref in refs
        if ref.item_id
        not in (period.lines if ref.kind is ItemKind.STATEMENT_LINE else period.postings)
    ]
    if unknown:
        shown = ", ".join(unknown[:10]) + (
            f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        )
        raise ItemNotFoundError(
            f"period {period.period_no} of account {period.account_id} has no {shown}; "
            "list the period's items to see their ids"
        )
