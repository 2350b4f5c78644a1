"""Header and lines from what any statement format says: the one place ids, sums and the
accountant's checks are made for the line-based formats (MT940/942, BAI2, OFX, CSV, OCR giro,
BgMax).

A parser reads its file into ``StatementDraft``s (plain values, signed amounts) and calls
``assemble_statement``; the result is the same ``ParsedStatement`` the camt parser gives, so
everything downstream (validation, idempotency, publishing) is format-blind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from stdnum import iban

from bankrec.contracts import (
    Balance,
    BankAccountRef,
    BankTransactionCode,
    Charge,
    Counterparty,
    CurrencyExchange,
    EntryStatus,
    Money,
    StatementHeader,
    StatementKind,
    StatementLine,
    StructuredReference,
    account_id_for,
    currency_exponent,
    normalize_account_number,
)
from bankrec.ingest.domain.identity import line_id_for, statement_id_for
from bankrec.ingest.domain.model import ParsedStatement
from bankrec.ingest.errors import InvalidRecord

Note = Callable[[str, str], None]
"""``note(code, message)``: records a diagnostic about the statement being assembled."""

AMOUNT_DIGITS_MAX = 18
"""Digits an amount may have before its decimal mark (ISO 20022's 18 total digits). A
longer one is no bank's amount, and past 28 digits ``Decimal`` arithmetic would round it
silently (or raise): it is refused, never carried."""


def amount_too_large(amount: Decimal) -> bool:
    """Whether the amount has more than ``AMOUNT_DIGITS_MAX`` digits before its decimal mark
    (or is not a finite number)."""
    return not amount.is_finite() or (amount != 0 and amount.adjusted() >= AMOUNT_DIGITS_MAX)


def _refuse_too_large(
    amount: Decimal | None, what: str, statement: str, line: int | None = None
) -> None:
    if amount is not None and amount_too_large(amount):
        shown = f"{amount:.6}" if amount.is_finite() else str(amount)
        raise InvalidRecord(
            what,
            f"{shown} has more than {AMOUNT_DIGITS_MAX} digits before the decimal mark; no "
            "bank amount is that large, so the file is damaged or not in the format it claims",
            statement=statement,
            line=line,
        )


@dataclass(slots=True)
class LineDraft:
    """One line as a format reads it. ``amount`` is signed: positive = money in."""

    amount: Decimal
    currency: str | None = None  # None: the account's currency
    status: EntryStatus = EntryStatus.BOOKED
    booking_date: date | None = None
    value_date: date | None = None
    bank_reference: str | None = None
    end_to_end_id: str | None = None
    instruction_id: str | None = None
    customer_reference: str | None = None  # the account owner's reference (MT940 field 61)
    bank_transaction_code: BankTransactionCode | None = None
    counterparty: Counterparty | None = None
    structured_reference: StructuredReference | None = None
    referred_documents: list[str] = field(default_factory=list)
    remittance_text: str | None = None
    additional_info: str | None = None
    reversal: bool = False
    charges: list[Charge] = field(default_factory=list)
    exchange: CurrencyExchange | None = None
    purpose_code: str | None = None
    # A payment inside a batch entry: the entry's position and total, the payment's position
    entry_index: int | None = None  # None: the line is its own entry
    entry_amount: Decimal | None = None
    detail_index: int | None = None
    source_line: int | None = None  # where in the file, for diagnostics


@dataclass(slots=True)
class StatedTotals:
    """Control figures a file states about itself (BAI2 trailers, BgMax/OCR end records)."""

    entry_count: int | None = None
    credit_count: int | None = None
    credit_sum: Decimal | None = None  # positive
    debit_count: int | None = None
    debit_sum: Decimal | None = None  # positive
    where: str = "the file's control record"


@dataclass(slots=True)
class StatementDraft:
    """One statement as a format reads it, before ids and checks."""

    bank_statement_id: str
    account_number: str  # IBAN or the bank's own account number
    currency: str
    source_format: str
    kind: StatementKind = StatementKind.END_OF_DAY
    servicer_bic: str | None = None
    owner_name: str | None = None
    electronic_sequence_number: int | None = None
    legal_sequence_number: int | None = None
    created_at: datetime | None = None
    period_from: date | None = None
    period_to: date | None = None
    opening_booked: Decimal | None = None
    opening_date: date | None = None
    closing_booked: Decimal | None = None
    closing_date: date | None = None
    closing_available: Decimal | None = None
    closing_available_date: date | None = None
    lines: list[LineDraft] = field(default_factory=list)
    stated: StatedTotals | None = None


def assemble_statement(
    draft: StatementDraft, *, tenant_id: str, sha256: str, note: Note
) -> ParsedStatement:
    """The header and lines of a drafted statement; oddities go to ``note``."""
    label = draft.bank_statement_id
    for what, balance in (
        ("opening balance", draft.opening_booked),
        ("closing balance", draft.closing_booked),
        ("available balance", draft.closing_available),
    ):
        _refuse_too_large(balance, what, label)
    currency = draft.currency.upper()
    number = draft.account_number.strip()
    compact = normalize_account_number(number)
    is_iban = _looks_like_iban(compact)
    account = BankAccountRef(
        account_id=account_id_for(tenant_id, number),
        iban=compact if is_iban else None,
        other_id=None if is_iban else number,
        currency=currency,
        servicer_bic=draft.servicer_bic,
        owner_name=draft.owner_name,
    )
    statement_id = statement_id_for(account.account_id, draft.bank_statement_id)
    exponent = currency_exponent(currency)
    lines: list[StatementLine] = []
    entries: dict[int, Decimal] = {}  # entry position -> its amount, once per entry
    statuses: dict[int, EntryStatus] = {}
    for position, draft_line in enumerate(draft.lines):
        line_currency = (draft_line.currency or currency).upper()
        for what, amount in (
            ("amount", draft_line.amount),
            ("entry amount", draft_line.entry_amount),
        ):
            _refuse_too_large(amount, f"line {position + 1} {what}", label, draft_line.source_line)
        entry_index = position if draft_line.entry_index is None else draft_line.entry_index
        if line_currency != currency:
            note(
                "entry_currency",
                f"line {position + 1}{_at(draft_line)} is in {line_currency}, the account in "
                f"{currency}; it is left out of the sums and the balance check",
            )
        else:
            entry_total = (
                draft_line.amount if draft_line.entry_amount is None else draft_line.entry_amount
            )
            entries.setdefault(entry_index, entry_total)
            statuses.setdefault(entry_index, draft_line.status)
        _check_decimals(draft_line.amount, line_currency, position, draft_line, note)
        lines.append(
            StatementLine(
                line_id=line_id_for(
                    tenant_id,
                    account.account_id,
                    draft.bank_statement_id,
                    entry_index,
                    draft_line.detail_index,
                ),
                statement_id=statement_id,
                account=account,
                sequence=position,
                entry_reference=draft_line.bank_reference or f"entry-{entry_index + 1}",
                entry_amount=None
                if draft_line.entry_amount is None
                else Money(amount=draft_line.entry_amount, currency=line_currency),
                detail_index=draft_line.detail_index,
                amount=Money(amount=draft_line.amount, currency=line_currency),
                status=draft_line.status,
                booking_date=draft_line.booking_date,
                value_date=draft_line.value_date,
                bank_reference=draft_line.bank_reference,
                end_to_end_id=draft_line.end_to_end_id,
                customer_reference=draft_line.customer_reference,
                charges=list(draft_line.charges),
                exchange=draft_line.exchange,
                purpose_code=draft_line.purpose_code,
                instruction_id=draft_line.instruction_id,
                bank_transaction_code=draft_line.bank_transaction_code,
                counterparty=draft_line.counterparty,
                structured_reference=draft_line.structured_reference,
                referred_documents=list(draft_line.referred_documents),
                remittance_text=draft_line.remittance_text,
                additional_info=draft_line.additional_info,
                reversal=draft_line.reversal,
            )
        )
    nothing = Decimal(0).scaleb(-exponent)
    sum_credits = sum((a for a in entries.values() if a > 0), nothing)
    sum_debits = sum((-a for a in entries.values() if a < 0), nothing)
    opening = _balance(draft.opening_booked, draft.opening_date or draft.period_from, currency)
    closing = _balance(draft.closing_booked, draft.closing_date or draft.period_to, currency)
    available = _balance(
        draft.closing_available,
        draft.closing_available_date or draft.closing_date or draft.period_to,
        currency,
    )
    booked = sum(
        (amount for index, amount in entries.items() if statuses[index] is EntryStatus.BOOKED),
        Decimal(0),
    )
    message = balance_check(opening, closing, booked)
    if message is not None:
        note("balance_mismatch", message)
    if draft.stated is not None:
        for problem in totals_check(draft.stated, entries):
            note("summary_mismatch", problem)
    header = StatementHeader(
        statement_id=statement_id,
        bank_statement_id=draft.bank_statement_id,
        kind=draft.kind,
        source_format=draft.source_format,
        account=account,
        electronic_sequence_number=draft.electronic_sequence_number,
        legal_sequence_number=draft.legal_sequence_number,
        created_at=draft.created_at,
        period_from=draft.period_from,
        period_to=draft.period_to,
        opening_booked=opening,
        closing_booked=closing,
        closing_available=available,
        entry_count=len(entries) if draft.lines else 0,
        line_count=len(lines),
        sum_credits=sum_credits,
        sum_debits=sum_debits,
        file_sha256=sha256,
    )
    return ParsedStatement(header=header, lines=lines)


def balance_check(opening: Balance | None, closing: Balance | None, booked: Decimal) -> str | None:
    """Opening balance + booked entries = closing balance; the problem, or None."""
    if opening is None or closing is None:
        return None
    currency = closing.amount.currency
    if opening.amount.currency != currency:
        return None
    expected = opening.amount.amount + booked
    if expected == closing.amount.amount:
        return None
    return (
        f"opening balance {opening.amount.amount} + booked entries {booked} = {expected}, but "
        f"the closing balance is {closing.amount.amount} (difference "
        f"{closing.amount.amount - expected} {currency})"
    )


def totals_check(stated: StatedTotals, entries: dict[int, Decimal]) -> list[str]:
    """The file's own control counts and sums against its entries."""
    credits = [a for a in entries.values() if a > 0]
    debits = [-a for a in entries.values() if a < 0]
    checks: tuple[tuple[int | Decimal | None, int | Decimal, str], ...] = (
        (stated.entry_count, len(entries), "entries"),
        (stated.credit_count, len(credits), "credit entries"),
        (stated.credit_sum, sum(credits, Decimal(0)), "sum of credits"),
        (stated.debit_count, len(debits), "debit entries"),
        (stated.debit_sum, sum(debits, Decimal(0)), "sum of debits"),
    )
    return [
        f"{stated.where} says {says} {label} but the statement has {actual}"
        for says, actual, label in checks
        if says is not None and says != actual
    ]


def _balance(amount: Decimal | None, on: date | None, currency: str) -> Balance | None:
    if amount is None or on is None:
        return None
    return Balance(amount=Money(amount=amount, currency=currency), date=on)


def _check_decimals(
    amount: Decimal, currency: str, position: int, line: LineDraft, note: Note
) -> None:
    exponent = currency_exponent(currency)
    if amount != amount.quantize(Decimal(1).scaleb(-exponent)):
        note(
            "amount_precision",
            f"line {position + 1}{_at(line)}: {amount} {currency} has more than the "
            f"{exponent} decimals {currency} has",
        )


def _at(line: LineDraft) -> str:
    return "" if line.source_line is None else f" (file line {line.source_line})"


def _looks_like_iban(compact: str) -> bool:
    return iban.is_valid(compact)
