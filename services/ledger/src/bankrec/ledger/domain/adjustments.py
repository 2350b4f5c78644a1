"""Adjustments: bank fees, interest and other differences posted from the reconciliation
itself, against the bank account (seeds 000 and 003: they must be posted before a period is
released). Amounts are signed as on the statement (+ money in, - money out):

- bank_fee: bank vs bank fees (7770): a fee of -125 is Dr 7770 / Cr bank;
- interest: money in is Dr bank / Cr interest income (8040), money out Dr interest
  expense (8140) / Cr bank;
- other: bank vs the GL account the user names.

A GL account may be named for a fee or interest too (another fee account, say); never a
bank or the interim account.

An adjustment made by mistake is reversed, never edited: the reversing entry has every line
on the other side and names the adjustment's entry (``reverses_entry_id``). It keeps
``source: adjustment``, the adjustment id as ``source_ref`` and the ``adjustment_kind``: that is
how the reconciler ties postings to the adjustment it requested, so it sees the adjustment
and its reversal together and counts neither. An adjustment is reversed at most once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

from bankrec.contracts import AccountRole, AdjustmentKind, EntrySource, Money
from bankrec.ledger.domain.amounts import money_of
from bankrec.ledger.domain.audit import Accountability
from bankrec.ledger.domain.chart import Account, Chart
from bankrec.ledger.domain.journal import (
    DESCRIPTION_LENGTH_MAX,
    JournalEntry,
    debit_credit,
    entry_id_for,
    reversing_entry,
)
from bankrec.ledger.errors import AlreadyReversed, CurrencyMismatch, InvalidManualAction


class AdjustmentStatus(StrEnum):
    POSTED = "posted"
    REVERSED = "reversed"


@dataclass(frozen=True, slots=True)
class Adjustment:
    """An adjustment as its entries tell it: what it posted and whether it was reversed."""

    adjustment_id: str
    kind: AdjustmentKind | None
    amount: Money  # signed as on the statement: what it moved on the bank account
    bank_account_id: str | None
    gl_account: str  # the account posted against the bank account
    statement_line_id: str | None
    entry_id: str
    posting_date: date
    reversal_entry_id: str | None = None

    @property
    def status(self) -> AdjustmentStatus:
        return (
            AdjustmentStatus.POSTED if self.reversal_entry_id is None else AdjustmentStatus.REVERSED
        )


def adjustment_key(adjustment_id: str) -> str:
    """The idempotency key of an adjustment's entry (adjustment ids have no ``:``)."""
    return f"adjustment:{adjustment_id}"


def adjustment_reversal_key(adjustment_id: str) -> str:
    """The idempotency key of the entry reversing an adjustment: one per adjustment."""
    return f"adjustment:{adjustment_id}:reversal"


def adjustment_of(entry: JournalEntry, reversal: JournalEntry | None = None) -> Adjustment:
    """The adjustment an adjustment entry posted (and, given its reversal, reversed)."""
    assert entry.source is EntrySource.ADJUSTMENT
    assert entry.reverses_entry_id is None
    currency = entry.lines[0].currency
    counter = next(line for line in entry.lines if line.account_role is not AccountRole.BANK)
    return Adjustment(
        adjustment_id=entry.source_ref,
        kind=entry.adjustment_kind,
        amount=Money(amount=entry.bank_net(), currency=currency),
        bank_account_id=entry.bank_account_id,
        gl_account=counter.account_code,
        statement_line_id=entry.statement_line_id,
        entry_id=entry.entry_id,
        posting_date=entry.posting_date,
        reversal_entry_id=reversal.entry_id if reversal is not None else None,
    )


def adjustment_account(
    kind: AdjustmentKind, amount: Money, chart: Chart, gl_account: str | None
) -> Account:
    """The GL account an adjustment posts against the bank account."""
    if gl_account is not None:
        account = chart.account(gl_account)
        if account.role in (AccountRole.BANK, AccountRole.INTERIM):
            raise InvalidManualAction(
                "gl_account",
                f"GL {account.code} is the {account.role.value} account; an adjustment posts "
                "against another account",
            )
        return account
    if kind is AdjustmentKind.BANK_FEE:
        return chart.for_role(AccountRole.BANK_FEES)
    if kind is AdjustmentKind.INTEREST:
        role = AccountRole.INTEREST_INCOME if amount.amount > 0 else AccountRole.INTEREST_EXPENSE
        return chart.for_role(role)
    raise InvalidManualAction("gl_account", "is required for an adjustment of kind other")


def adjustment_entry(
    tenant_id: str,
    *,
    adjustment_id: str,
    kind: AdjustmentKind,
    amount: Money,
    bank: Account,
    chart: Chart,
    gl_account: str | None,
    statement_line_id: str | None,
    posting_date: date,
    description: str | None,
    by: Accountability,
) -> JournalEntry:
    """The entry of one adjustment on the bank account whose GL account is ``bank``."""
    checked = money_of(amount, what="amount")
    if checked.amount == 0:
        raise InvalidManualAction("amount", "is zero; an adjustment moves money")
    if bank.currency != checked.currency:
        raise CurrencyMismatch(
            f"adjustment of {checked} on bank GL {bank.code}, which is kept in {bank.currency}"
        )
    counter = adjustment_account(kind, checked, chart, gl_account)
    key = adjustment_key(adjustment_id)
    text = description or kind.value.replace("_", " ")
    return JournalEntry(
        entry_id=entry_id_for(tenant_id, key),
        idempotency_key=key,
        posting_date=posting_date,
        source=EntrySource.ADJUSTMENT,
        source_ref=adjustment_id,
        description=f"{text}: {by.reason}"[:DESCRIPTION_LENGTH_MAX],
        lines=tuple(
            debit_credit(
                bank,
                counter,
                checked.amount,
                checked.currency,
                debited_refs={
                    "bank_account_id": bank.bank_account_id,
                    "statement_line_id": statement_line_id,
                },
            )
        ),
        bank_account_id=bank.bank_account_id,
        statement_line_id=statement_line_id,
        adjustment_kind=kind,
        actor=by.actor,
        reason=by.reason,
    )


def reverse_adjustment(
    tenant_id: str,
    adjustment: Adjustment,
    entry: JournalEntry,
    *,
    chart: Chart,
    posting_date: date,
    by: Accountability,
) -> tuple[Adjustment, JournalEntry]:
    """The adjustment reversed, and the entry reversing its ``entry`` (see the module
    docstring for what identifies it on the postings topic). The reversal mirrors the
    adjustment's lines; an account deactivated since is refused (reactivate it first)."""
    assert entry.entry_id == adjustment.entry_id, "the entry is the adjustment's"
    if adjustment.reversal_entry_id is not None:
        raise AlreadyReversed(
            f"adjustment {adjustment.adjustment_id} was reversed by entry "
            f"{adjustment.reversal_entry_id}; create a new adjustment if one is due"
        )
    chart.check_postable(line.account_code for line in entry.lines)
    reversal = replace(
        reversing_entry(
            entry,
            tenant_id=tenant_id,
            idempotency_key=adjustment_reversal_key(adjustment.adjustment_id),
            posting_date=posting_date,
            description=f"{entry.adjustment_kind or 'adjustment'} "
            f"{adjustment.adjustment_id} reversed: {by.reason}",
            actor=by.actor,
            reason=by.reason,
        ),
        source=EntrySource.ADJUSTMENT,
        source_ref=adjustment.adjustment_id,
    )
    return replace(adjustment, reversal_entry_id=reversal.entry_id), reversal
