"""Carry-forward: what a released period hands to the next one (seed 003).

- The next period's opening balance is the released period's closing balance (its statement
  balance, equal to its reconciled balance since the difference was 0).
- Ledger entries that were not on this period's statement (not reconciled; the bank books them
  next month) stay outstanding and move into the next period, marked with the period they came
  from. There they count only once a user marks them reconciled.
- Entries that net to nothing inside the period (an entry and its reversal) are not carried.

Released again after a void, the period replaces what it carried before: the next period gets
the entries outstanding now, keeps the flags users set on the ones still carried, and its
opening balance is the new closing balance.
"""

from __future__ import annotations

from dataclasses import replace

from bankrec.contracts import Money
from bankrec.reconciler.domain.period import (
    BankPosting,
    ReconciliationPeriod,
    cancelled_entries,
    entry_is_reconciled,
    figures,
    open_period,
)


def outstanding_entries(period: ReconciliationPeriod) -> list[BankPosting]:
    """Ledger entries not reconciled and not netted out by a reversal in the period."""
    cancelled = cancelled_entries(period.postings)
    netted = cancelled | {
        posting.entry_id
        for posting in period.postings.values()
        if posting.reverses_entry_id in cancelled
    }
    return sorted(
        (
            posting
            for posting in period.postings.values()
            if posting.entry_id not in netted and not entry_is_reconciled(period, posting)
        ),
        key=lambda p: (p.posting_date, p.entry_id),
    )


def closing_balance(period: ReconciliationPeriod) -> Money:
    """The balance a released period closes at: its statement balance."""
    result = figures(period)
    if result.statement_balance is None:
        raise ValueError(f"period {period.period_id} has no statement balance to close at")
    return result.statement_balance


def carry_forward(
    released: ReconciliationPeriod, next_period: ReconciliationPeriod | None
) -> ReconciliationPeriod:
    """The next period (opened when ``next_period`` is None) with the released period's closing
    balance as opening and its outstanding ledger entries."""
    closing = closing_balance(released)
    base = next_period or replace(
        open_period(
            released.tenant_id, released.account_id, released.currency, released.account_number
        ),
        period_no=released.period_no + 1,
    )
    assert base.period_no == released.period_no + 1, "carry forward into the next period only"
    kept = {
        entry_id: posting
        for entry_id, posting in base.postings.items()
        if posting.carried_from != released.period_no
    }
    carried = {
        posting.entry_id: replace(posting, carried_from=released.period_no)
        for posting in outstanding_entries(released)
        if posting.entry_id not in kept  # the next period's own copy wins
    }
    postings = {**kept, **carried}
    unchanged = (
        base.opening_from_previous == closing
        and postings.keys() == base.postings.keys()
        and all(postings[k] == base.postings[k] for k in postings)
    )
    if unchanged:
        return base
    return replace(
        base,
        opening_from_previous=closing,
        postings=postings,
        entry_marks={k: v for k, v in base.entry_marks.items() if k in postings},
    )
