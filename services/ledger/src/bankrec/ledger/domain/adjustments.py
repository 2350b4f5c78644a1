"""Adjustments: bank fees, interest and other differences posted from the reconciliation
itself, against the bank account (seeds 000 and 003: they must be posted before a period is
released). Amounts are signed as on the statement (+ money in, - money out):

- bank_fee: bank vs bank fees (7770): a fee of -125 is Dr 7770 / Cr bank;
- interest: money in is Dr bank / Cr interest income (8040), money out Dr interest
  expense (8140) / Cr bank;
- other: bank vs the GL account the user names.

A GL account may be named for a fee or interest too (another fee account, say); never a
bank or the interim account.
"""

from __future__ import annotations

from datetime import date

from bankrec.contracts import AccountRole, AdjustmentKind, EntrySource, Money
from bankrec.ledger.domain.amounts import money_of
from bankrec.ledger.domain.audit import Accountability
from bankrec.ledger.domain.chart import Account, Chart
from bankrec.ledger.domain.journal import (
    DESCRIPTION_LENGTH_MAX,
    JournalEntry,
    debit_credit,
    entry_id_for,
)
from bankrec.ledger.errors import CurrencyMismatch, InvalidManualAction


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
    key = f"adjustment:{adjustment_id}"
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
