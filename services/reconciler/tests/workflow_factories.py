"""Small named factories for the period workflow's tests: ledger entries with a source, bank
lines with a counterparty, text or transaction code, and the fixed actor and time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from reconciler_factories import Messages

from bankrec.contracts import (
    AccountRole,
    AdjustmentKind,
    BankTransactionCode,
    Counterparty,
    EntrySource,
    JournalEntryPosted,
    PostingLine,
    StatementLine,
)
from bankrec.reconciler.domain import (
    ReconciliationPeriod,
    apply_line,
    apply_posting,
    apply_statement,
    open_period,
)

ACTOR = "anna@acme.example"
AT = datetime(2017, 1, 31, 16, 0, tzinfo=UTC)


def later(minutes: int) -> datetime:
    return AT + timedelta(minutes=minutes)


def entry(
    make: Messages,
    entry_id: str,
    amount: str,
    *,
    line_id: str | None = None,
    on: date = date(2017, 1, 15),
    source: EntrySource = EntrySource.MANUAL,
    source_ref: str = "user",
    description: str = "registered payment",
    counterparty_id: str | None = None,
    reverses: str | None = None,
    adjustment_kind: AdjustmentKind | None = None,
) -> JournalEntryPosted:
    """A journal entry with one bank-side line (+ money in, - money out) and its counter line."""
    value = Decimal(amount)
    debit, credit = (value, Decimal(0)) if value >= 0 else (Decimal(0), -value)
    bank = PostingLine(
        account_code="1920",
        account_role=AccountRole.BANK,
        debit=debit,
        credit=credit,
        currency=make.currency,
        bank_account_id=make.account_id,
        statement_line_id=line_id,
    )
    counter = PostingLine(
        account_code="1500",
        account_role=AccountRole.RECEIVABLE,
        debit=credit,
        credit=debit,
        currency=make.currency,
        counterparty_id=counterparty_id,
    )
    return JournalEntryPosted(
        entry_id=entry_id,
        idempotency_key=entry_id,
        posting_date=on,
        source=source,
        source_ref=source_ref,
        description=description,
        lines=[bank, counter],
        reverses_entry_id=reverses,
        adjustment_kind=adjustment_kind,
    )


def adjustment_entry(
    make: Messages,
    adjustment_id: str,
    amount: str,
    *,
    kind: AdjustmentKind = AdjustmentKind.BANK_FEE,
    line_id: str | None = None,
    entry_id: str | None = None,
) -> JournalEntryPosted:
    """What the ledger posts for an adjustment (``domain/adjustments.py`` of the ledger)."""
    return entry(
        make,
        entry_id or f"je-{adjustment_id}",
        amount,
        line_id=line_id,
        on=date(2017, 1, 31),
        source=EntrySource.ADJUSTMENT,
        source_ref=adjustment_id,
        description=f"{kind.value}: from the reconciliation",
        adjustment_kind=kind,
    )


def bank_line(
    make: Messages,
    line_id: str,
    amount: str,
    *,
    statement_id: str = "stmt-1",
    on: date = date(2017, 1, 15),
    counterparty: str | None = None,
    text: str | None = None,
    code: BankTransactionCode | None = None,
) -> StatementLine:
    return make.line(line_id, amount, statement_id=statement_id, booking_date=on).model_copy(
        update={
            "counterparty": Counterparty(name=counterparty) if counterparty else None,
            "remittance_text": text,
            "bank_transaction_code": code,
        }
    )


FEE_CODE = BankTransactionCode(domain="ACMT", family="MDOP", sub_family="CHRG")


def balanced_month(
    make: Messages, period: ReconciliationPeriod | None = None
) -> ReconciliationPeriod:
    """A period with a statement (100 -> 150) and one line of 50 posted: difference 0."""
    period = period or open_period(make.tenant_id, make.account_id, make.currency)
    period = apply_statement(period, make.header(opening="100.00", closing="150.00"))
    period = apply_line(period, make.line("l1", "50.00"))
    return apply_posting(period, make.posting("l1", "50.00", entry_id="je-l1"))
