"""Bankgirot BgMax (Sweden): the "Bankgiro Inbetalningar" file of incoming bankgiro payments.

Records of 80 characters, the transaction code (TK) in positions 1-2: a start record (01),
then sections, each an opening record (05: the receiving bankgiro number and currency), its
payments (20) and deductions (21), each followed by its extra references (22 positive, 23
negative), information texts (25), payer name (26), addresses (27, 28) and organisation
number (29), and a deposit record (15) that closes the section: one deposit on the receiving
bank account, which is what the bank statement shows. An end record (70) counts the file's
payments, deductions, extra references and deposits.

One ``StatementDraft`` per deposit: the receiving bank account of the deposit record (the
bankgiro number of the opening record when the bank account is zero), the deposit's currency,
statement id ``<deposit date>-<deposit serial number>``, a notification (the payments behind
one credit on the bank statement, as camt.054 reports them). Each payment is a line (money
in), each deduction a line (money out), booked on the deposit's payment date, with:

- the reference: reference code 2 is an OCR number Bankgirot checked; it is published as
  kind OCR when its Luhn (mod10) check digit holds, else as OTHER with a diagnostic. Codes 3
  and 4 are references the payer wrote (kind RF when they are a valid ISO 11649 reference,
  else OTHER), code 5 one Bankgirot found incorrect (OTHER), codes 0 and 1 none;
- extra references (22, 23) in ``referred_documents`` (the positive ones) and, with their
  amounts, in ``remittance_text`` after the information texts (25);
- the payer's name and sender bankgiro number as counterparty; address and organisation
  number, the payment channel, the image marker and the deduction code in ``additional_info``
  (the contract's counterparty has no address or organisation number);
- ``<statement id>/<BGC serial number>`` as ``bank_reference``, what ``line_identity`` keys a
  line on: the BGC serial number alone repeats across deposits (Bankgirot's own example file
  gives serial 18 and 19 to payments of two deposits of one day), and a key that repeats
  would make two payments one.

The deposit record's count and amount are checked against its lines, the end record's counts
against the file; mismatches are diagnostics. Deposits carry no balances (no balance check).

Leniency, following what real and example files do: records shorter than 80 characters (the
trailing blanks cut) are padded, tabs are expanded to stops of 8 (Bankgirot's own example file
has them), unknown transaction codes are skipped with a diagnostic (Bankgirot asks readers to
ignore records they do not know), a missing start or end record is a diagnostic. Refused:
a payment outside a section (no receiving account or currency), a section the file ends in
before its deposit record (no payment date), and fields that cannot be read (amounts, dates,
counts, the receiving bankgiro number).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stdnum import luhn

from bankrec.contracts import (
    BankTransactionCode,
    Counterparty,
    ReferenceKind,
    StatementKind,
    StructuredReference,
)
from bankrec.ingest.domain.model import Diagnostic, ParsedStatement, ParseResult
from bankrec.ingest.domain.parsers.text_encoding import decode_statement_text
from bankrec.ingest.domain.references import compact_reference, is_valid_rf
from bankrec.ingest.domain.statement_assembly import (
    LineDraft,
    StatedTotals,
    StatementDraft,
    assemble_statement,
)
from bankrec.ingest.errors import EmptyStatementFile, FormatMismatch, InvalidRecord

SOURCE_FORMAT = "bgmax"
LAYOUT_NAME = "BGMAX"
RECORD_LENGTH = 80
TAB_STOP = 8
TRANSACTION_CODE_ISSUER = "Bankgirot"

PAYMENT_CODES = frozenset({"20", "21"})

REFERENCE_OCR = "2"
REFERENCES_WRITTEN = frozenset({"3", "4"})
REFERENCE_INCORRECT = "5"

PAYMENT_CHANNELS: dict[str, str] = {
    "1": "electronic payment from a bank",
    "2": "electronic payment from Leverantörsbetalningar (LB)",
    "3": "payment slip (blankett)",
    "4": "electronic payment from Autogiro (AG)",
}
DEDUCTION_CODES: dict[str, str] = {
    "0": "deduction",
    "1": "whole deduction, no remainder",
    "2": "partial deduction, remainder to come",
    "3": "final partial deduction",
}
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_CURRENCY = re.compile(r"[A-Za-z]{3}")


# ------------------------------------------------------------------------------ records


@dataclass(frozen=True, slots=True)
class _Record:
    """One record, padded to 80 characters, and the file line it is on."""

    line: int
    text: str

    @property
    def code(self) -> str:
        return self.text[:2]

    def field(self, start: int, end: int) -> str:
        """Positions ``start`` to ``end`` (1-based, inclusive) as Bankgirot numbers them."""
        return self.text[start - 1 : end]

    def text_field(self, start: int, end: int) -> str:
        return self.field(start, end).strip()

    def digits(self, start: int, end: int, name: str, statement: str | None = None) -> str:
        value = self.field(start, end)
        if not (value.isascii() and value.isdigit()):
            raise InvalidRecord(
                f"{self.code} {name}",
                f"positions {start}-{end} hold {value!r}, expected {end - start + 1} digits",
                statement=statement,
                line=self.line,
            )
        return value

    def number(self, start: int, end: int, name: str, statement: str | None = None) -> int:
        return int(self.digits(start, end, name, statement))

    def ore(self, start: int, end: int, name: str, statement: str | None = None) -> Decimal:
        """An amount in öre (hundredths) as kronor (or euro)."""
        return Decimal(self.number(start, end, name, statement)).scaleb(-2)


def _records(text: str, note: _Note) -> Iterator[_Record]:
    """The file's records: blank lines skipped, tabs expanded, short records padded."""
    tabbed: list[int] = []
    for number, raw in enumerate(_LINE_BREAK.split(text), start=1):
        if not raw.strip():
            continue
        record = raw
        if "\t" in record:
            tabbed.append(number)
            record = record.expandtabs(TAB_STOP)
        if len(record) > RECORD_LENGTH:
            if record[RECORD_LENGTH:].strip():
                raise InvalidRecord(
                    f"{record[:2]} record",
                    f"the record is {len(record)} characters long; BgMax records are "
                    f"{RECORD_LENGTH}",
                    line=number,
                )
            record = record[:RECORD_LENGTH]
        yield _Record(number, record.ljust(RECORD_LENGTH))
    if tabbed:
        shown = ", ".join(str(n) for n in tabbed[:10])
        note(
            "tab_characters",
            f"line(s) {shown} hold tab characters; read with tab stops every {TAB_STOP} "
            "columns, which restores Bankgirot's positions",
            None,
        )


# ------------------------------------------------------------------------- small values


def ocr_check_digit_valid(reference: str) -> bool:
    """A Bankgirot OCR number: digits whose last one is the Luhn (mod10) check digit."""
    return (
        len(reference) >= 2
        and reference.isascii()
        and reference.isdigit()
        and bool(luhn.is_valid(reference))
    )


def _without_zeros(digits: str) -> str | None:
    """A zero-filled number without its filling; None for all zeros or blanks."""
    stripped = digits.strip().lstrip("0")
    return stripped or None


def _currency(
    record: _Record, start: int, end: int, name: str, statement: str | None = None
) -> str | None:
    """A three-letter currency code; None when the field is blank."""
    value = record.text_field(start, end)
    if not value:
        return None
    if not _CURRENCY.fullmatch(value):
        raise InvalidRecord(
            f"{record.code} {name}",
            f"positions {start}-{end} hold {value!r}, expected a three-letter ISO 4217 code",
            statement=statement,
            line=record.line,
        )
    return value.upper()


@cache
def _stockholm() -> tzinfo:
    """Swedish time for the start record's timestamp; CET when the zone database is absent."""
    try:
        return ZoneInfo("Europe/Stockholm")
    except ZoneInfoNotFoundError:
        return timezone(timedelta(hours=1), "CET")


def _reference(code: str, value: str) -> StructuredReference | None:
    """The reference a payment record gives, by its reference code (OCR checked here)."""
    text = value.strip()
    if not text or code in ("0", "1"):
        return None
    if code == REFERENCE_OCR:
        compact = compact_reference(text)
        kind = ReferenceKind.OCR if ocr_check_digit_valid(compact) else ReferenceKind.OTHER
        return StructuredReference(value=compact, kind=kind)
    if is_valid_rf(text):
        return StructuredReference(value=compact_reference(text), kind=ReferenceKind.RF)
    return StructuredReference(value=text, kind=ReferenceKind.OTHER)


# ------------------------------------------------------------------------------ reading


class _Note:
    """``note(code, message, statement)``: a diagnostic."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics

    def __call__(self, code: str, message: str, statement: str | None) -> None:
        self.diagnostics.append(Diagnostic(code=code, message=message, statement=statement))


@dataclass(slots=True)
class _ExtraReference:
    value: str
    amount: Decimal
    negative: bool
    incorrect: bool


@dataclass(slots=True)
class _Payment:
    """A payment (20) or deduction (21) and the records that follow it."""

    record: _Record
    amount: Decimal  # signed
    sender_bankgiro: str | None
    reference: StructuredReference | None
    reference_code: str
    channel: str
    serial_number: str | None
    image: str
    deduction_code: str | None
    extra_references: list[_ExtraReference] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    name: str | None = None
    street: str = ""
    postal_code: str = ""
    city: str = ""
    country: str = ""
    organisation_number: str | None = None

    def line_draft(self, booked: date, bank_statement_id: str) -> LineDraft:
        counterparty = None
        if self.name or self.sender_bankgiro:
            counterparty = Counterparty(name=self.name, other_account=self.sender_bankgiro)
        return LineDraft(
            amount=self.amount,
            booking_date=booked,
            bank_reference=(
                None if self.serial_number is None else f"{bank_statement_id}/{self.serial_number}"
            ),
            bank_transaction_code=BankTransactionCode(
                proprietary=self.record.code, proprietary_issuer=TRANSACTION_CODE_ISSUER
            ),
            counterparty=counterparty,
            structured_reference=self.reference,
            referred_documents=[
                extra.value for extra in self.extra_references if not extra.negative
            ],
            remittance_text=self._remittance_text(),
            additional_info=self._additional_info(),
            source_line=self.record.line,
        )

    def _remittance_text(self) -> str | None:
        parts = list(self.texts)
        positive = [extra for extra in self.extra_references if not extra.negative]
        negative = [extra for extra in self.extra_references if extra.negative]
        if positive:
            parts.append("extra references: " + ", ".join(_shown(extra) for extra in positive))
        if negative:
            parts.append(
                "negative extra references: " + ", ".join(_shown(extra) for extra in negative)
            )
        return "\n".join(parts) or None

    def _additional_info(self) -> str | None:
        parts = []
        if self.record.code == "21":
            code = self.deduction_code or ""
            parts.append(DEDUCTION_CODES.get(code, f"deduction code {code!r}"))
        channel = PAYMENT_CHANNELS.get(self.channel)
        parts.append(channel or f"payment channel code {self.channel!r}")
        if self.image == "1":
            parts.append("an image of the payment slip is available")
        if self.reference_code == REFERENCE_INCORRECT and self.reference is not None:
            parts.append("Bankgirot found the reference incorrect")
        town = " ".join(part for part in (self.postal_code, self.city) if part)
        address = [part for part in (self.street, town, self.country) if part]
        if address:
            parts.append("address: " + ", ".join(address))
        if self.organisation_number:
            parts.append(f"organisation number {self.organisation_number}")
        return "; ".join(parts) or None


def _shown(extra: _ExtraReference) -> str:
    flags = " incorrect" if extra.incorrect else ""
    amount = f" {extra.amount}" if extra.amount else ""
    return f"{extra.value}{amount}{flags}" if amount or flags else extra.value


@dataclass(slots=True)
class _Section:
    """An opening record (05) and the payments up to its deposit record (15)."""

    record: _Record
    bankgiro: str
    currency: str | None
    payments: list[_Payment] = field(default_factory=list)
    pending: list[tuple[str, str]] = field(default_factory=list)  # notes before its id is known


@dataclass(slots=True)
class _Counts:
    """What the end record (70) counts, as found in the file."""

    payments: int = 0
    deductions: int = 0
    extra_references: int = 0
    deposits: int = 0


class _FileReader:
    """Reads BgMax records in order into statements and diagnostics."""

    def __init__(self, *, tenant_id: str, sha256: str) -> None:
        self.tenant_id = tenant_id
        self.sha256 = sha256
        self.statements: list[ParsedStatement] = []
        self.diagnostics: list[Diagnostic] = []
        self.note = _Note(self.diagnostics)
        self.created_at: datetime | None = None
        self.started = False
        self.ended = False
        self.section: _Section | None = None
        self.payment: _Payment | None = None
        self.counts = _Counts()
        self.statement_ids: set[str] = set()
        self.after_end_noted = False

    # -- dispatch

    def read(self, record: _Record) -> None:
        code = record.code
        if self.ended and code != "01" and not self.after_end_noted:
            self.note(
                "records_after_end",
                f"line {record.line}: a {code} record after the end record (70); read, but "
                "not counted by it",
                None,
            )
            self.after_end_noted = True
        if code == "01":
            self._start(record)
        elif code == "05":
            self._open_section(record)
        elif code in PAYMENT_CODES:
            self._payment(record)
        elif code in ("22", "23"):
            self._extra_reference(record)
        elif code in ("25", "26", "27", "28", "29"):
            self._payer_detail(record)
        elif code == "15":
            self._deposit(record)
        elif code == "70":
            self._end(record)
        elif code.isascii() and code.isdigit():
            self.note(
                "unknown_record",
                f"line {record.line}: transaction code {code} is not a BgMax record this "
                "parser knows; skipped, as Bankgirot asks",
                None,
            )
        else:
            raise InvalidRecord(
                f"{code!r} record",
                "a BgMax record starts with a two-digit transaction code",
                line=record.line,
            )

    def _section_note(self, code: str, message: str) -> None:
        """A note about a payment: tied to its statement once the deposit names it."""
        if self.section is None:
            self.note(code, message, None)
        else:
            self.section.pending.append((code, message))

    # -- start and end records

    def _start(self, record: _Record) -> None:
        layout = record.text_field(3, 22)
        if layout != LAYOUT_NAME:
            raise FormatMismatch(
                f"the start record (line {record.line}) names layout {layout!r}, not "
                f"{LAYOUT_NAME}; this parser reads Bankgirot BgMax files"
            )
        if self.started and not self.ended:
            self.note(
                "missing_end_record",
                f"a start record at line {record.line} before the end record (70) of the "
                "file before it",
                None,
            )
        self._close_open_section(record.line, at_end=False)
        self.started, self.ended, self.after_end_noted = True, False, False
        self.counts = _Counts()
        version = record.text_field(23, 24)
        if version != "01":
            self.note(
                "unknown_version",
                f"the start record gives BgMax version {version!r}; this parser reads version 01",
                None,
            )
        self.created_at = self._timestamp(record)
        marker = record.field(45, 45)
        if marker == "T":
            self.note(
                "test_file",
                "the start record marks this a test file (T): its payments are not real",
                None,
            )
        elif marker != "P":
            self.note(
                "unknown_test_marker",
                f"the start record's test marker is {marker!r}, expected P (production) or T",
                None,
            )

    def _timestamp(self, record: _Record) -> datetime | None:
        text = record.field(25, 44)
        try:
            if not (text.isascii() and text.isdigit()):
                raise ValueError(text)
            moment = datetime.strptime(text[:14], "%Y%m%d%H%M%S").replace(
                microsecond=int(text[14:]), tzinfo=_stockholm()
            )
        except ValueError:
            self.note(
                "invalid_created_at",
                f"the start record's timestamp {text!r} (positions 25-44) is not "
                "YYYYMMDDHHMMSS and microseconds",
                None,
            )
            return None
        return moment

    def _end(self, record: _Record) -> None:
        self._close_open_section(record.line, at_end=False)
        self._finish_payment()
        stated = _Counts(
            payments=record.number(3, 10, "number of payment records"),
            deductions=record.number(11, 18, "number of deduction records"),
            extra_references=record.number(19, 26, "number of extra reference records"),
            deposits=record.number(27, 34, "number of deposit records"),
        )
        checks = (
            (stated.payments, self.counts.payments, "payment records (20)"),
            (stated.deductions, self.counts.deductions, "deduction records (21)"),
            (
                stated.extra_references,
                self.counts.extra_references,
                "extra reference records (22, 23)",
            ),
            (stated.deposits, self.counts.deposits, "deposit records (15)"),
        )
        for says, found, label in checks:
            if says != found:
                self.note(
                    "summary_mismatch",
                    f"the end record (line {record.line}) says {says} {label} but the file "
                    f"has {found}",
                    None,
                )
        self.ended = True

    # -- sections and deposits

    def _open_section(self, record: _Record) -> None:
        self._close_open_section(record.line, at_end=False)
        bankgiro = record.digits(3, 12, "receiving bankgiro number")
        currency = _currency(record, 23, 25, "currency")
        self.section = _Section(
            record=record, bankgiro=_without_zeros(bankgiro) or bankgiro, currency=currency
        )

    def _close_open_section(self, line: int, *, at_end: bool) -> None:
        """A section the next opening, end record or end of file finds without a deposit."""
        self._finish_payment()
        section = self.section
        if section is None:
            return
        if section.payments:
            where = "the file ends" if at_end else f"line {line} comes"
            raise InvalidRecord(
                "15 deposit record",
                f"the section opened at line {section.record.line} has "
                f"{len(section.payments)} payment(s) but {where} before its deposit record "
                "(15), which gives their payment date and receiving account; the file looks "
                "truncated",
                line=line,
            )
        self.note(
            "empty_section",
            f"the opening record at line {section.record.line} is followed by no payment and "
            "no deposit record",
            None,
        )
        self.section = None

    def _deposit(self, record: _Record) -> None:
        self._finish_payment()
        section = self.section
        if section is None:
            raise InvalidRecord(
                "15 deposit record",
                "a deposit record with no opening record (05) before it",
                line=record.line,
            )
        self.counts.deposits += 1
        booked = self._deposit_date(record)
        serial = record.digits(46, 50, "deposit serial number")
        bank_statement_id = f"{booked:%Y%m%d}-{serial}"
        amount = record.ore(51, 68, "deposit amount", bank_statement_id)
        currency = _currency(record, 69, 71, "currency", bank_statement_id) or section.currency
        if currency is None:
            raise InvalidRecord(
                "15 currency",
                "neither the deposit record (positions 69-71) nor its opening record "
                f"(line {section.record.line}, positions 23-25) gives a currency",
                statement=bank_statement_id,
                line=record.line,
            )
        count = record.number(72, 79, "number of payments", bank_statement_id)
        account = _without_zeros(record.field(3, 37)) or section.bankgiro

        def note(code: str, message: str) -> None:
            self.note(code, message, bank_statement_id)

        for code, message in section.pending:
            note(code, message)
        if section.currency and section.currency != currency:
            note(
                "currency_mismatch",
                f"the opening record (line {section.record.line}) is in {section.currency}, "
                f"the deposit record (line {record.line}) in {currency}; read as {currency}",
            )
        if bank_statement_id in self.statement_ids:
            note(
                "duplicate_statement",
                f"deposit {serial} of {booked.isoformat()} appears twice (again at line "
                f"{record.line})",
            )
        self.statement_ids.add(bank_statement_id)
        lines = [payment.line_draft(booked, bank_statement_id) for payment in section.payments]
        total = sum((line.amount for line in lines), Decimal(0))
        where = f"the deposit record (line {record.line})"
        if total != amount:
            note(
                "summary_mismatch",
                f"{where} says the deposit is {amount} {currency} but its payments less "
                f"deductions add up to {total}",
            )
        draft = StatementDraft(
            bank_statement_id=bank_statement_id,
            account_number=account,
            currency=currency,
            source_format=SOURCE_FORMAT,
            kind=StatementKind.NOTIFICATION,
            created_at=self.created_at,
            period_from=booked,
            period_to=booked,
            lines=lines,
            stated=StatedTotals(entry_count=count, where=where),
        )
        self.statements.append(
            assemble_statement(draft, tenant_id=self.tenant_id, sha256=self.sha256, note=note)
        )
        self.section = None

    def _deposit_date(self, record: _Record) -> date:
        text = record.digits(38, 45, "payment date")
        try:
            return datetime.strptime(text, "%Y%m%d").date()  # noqa: DTZ007 - a date
        except ValueError:
            raise InvalidRecord(
                "15 payment date",
                f"positions 38-45 hold {text!r}, which is not a date (YYYYMMDD)",
                line=record.line,
            ) from None

    # -- payments

    def _payment(self, record: _Record) -> None:
        self._finish_payment()
        section = self.section
        if section is None:
            raise InvalidRecord(
                f"{record.code} {'payment' if record.code == '20' else 'deduction'} record",
                "comes before any opening record (05), so the receiving account and currency "
                "are unknown",
                line=record.line,
            )
        deduction = record.code == "21"
        if deduction:
            self.counts.deductions += 1
        else:
            self.counts.payments += 1
        amount = record.ore(38, 55, "amount")
        code = record.field(56, 56)
        raw_reference = record.field(13, 37)
        reference = _reference(code, raw_reference)
        if code == REFERENCE_OCR and reference is not None:
            if reference.kind is not ReferenceKind.OCR:
                self._section_note(
                    "ocr_check_digit",
                    f"line {record.line}: the OCR reference {reference.value} (reference code "
                    "2) fails the Luhn check digit; published as a reference of kind other",
                )
        elif code not in ("0", "1", REFERENCE_OCR, REFERENCE_INCORRECT, *REFERENCES_WRITTEN):
            self._section_note(
                "unknown_reference_code",
                f"line {record.line}: reference code {code!r} (position 56) is not one of "
                "0-5; the reference is published as kind other",
            )
        self.payment = _Payment(
            record=record,
            amount=-amount if deduction else amount,
            sender_bankgiro=_without_zeros(record.field(3, 12)),
            reference=reference,
            reference_code=code,
            channel=record.field(57, 57),
            serial_number=record.text_field(58, 69)
            if _without_zeros(record.field(58, 69))
            else None,
            image=record.field(70, 70),
            deduction_code=record.field(71, 71).strip() if deduction else None,
        )

    def _finish_payment(self) -> None:
        if self.payment is not None and self.section is not None:
            self.section.payments.append(self.payment)
        self.payment = None

    def _require_payment(self, record: _Record) -> _Payment | None:
        if self.payment is None:
            self._section_note(
                "orphan_record",
                f"line {record.line}: a {record.code} record that follows no payment or "
                "deduction record; skipped",
            )
        return self.payment

    def _extra_reference(self, record: _Record) -> None:
        self.counts.extra_references += 1
        payment = self._require_payment(record)
        if payment is None:
            return
        code = record.field(56, 56)
        value = record.text_field(13, 37)
        amount = record.ore(38, 55, "amount")
        if not value:
            return
        payment.extra_references.append(
            _ExtraReference(
                value=compact_reference(value) if code == REFERENCE_OCR else value,
                amount=amount,
                negative=record.code == "23",
                incorrect=code == REFERENCE_INCORRECT,
            )
        )
        if record.field(58, 69) != payment.record.field(58, 69):
            self._section_note(
                "extra_reference_mismatch",
                f"line {record.line}: the extra reference's BGC serial number "
                f"{record.field(58, 69)!r} differs from its payment's (line "
                f"{payment.record.line})",
            )

    def _payer_detail(self, record: _Record) -> None:
        payment = self._require_payment(record)
        if payment is None:
            return
        code = record.code
        if code == "25":
            text = record.text_field(3, 52)
            if text:
                payment.texts.append(text)
        elif code == "26":
            names = [record.text_field(3, 37), record.text_field(38, 72)]
            payment.name = " ".join(name for name in names if name) or None
        elif code == "27":
            payment.street = record.text_field(3, 37)
            payment.postal_code = record.text_field(38, 46)
        elif code == "28":
            payment.city = record.text_field(3, 37)
            country, country_code = record.text_field(38, 72), record.text_field(73, 74)
            payment.country = " ".join(part for part in (country, country_code) if part)
        else:
            payment.organisation_number = _without_zeros(record.field(3, 14))

    # -- end of file

    def finish(self, last_line: int) -> ParseResult:
        self._close_open_section(last_line, at_end=True)
        if not self.started:
            self.note("missing_start_record", "the file has no start record (01BGMAX)", None)
        if not self.ended:
            self.note(
                "missing_end_record",
                "the file has no end record (70); its counts of payments and deposits are not "
                "checked and it may be truncated",
                None,
            )
        if not self.statements:
            self.note("no_statements", "the file holds no deposit", None)
        return ParseResult(
            file_sha256=self.sha256,
            source_format=SOURCE_FORMAT,
            statements=self.statements,
            diagnostics=self.diagnostics,
        )


# ---------------------------------------------------------------------------- entry point


def _starts_like_bgmax(first: str) -> bool:
    """A start record, or (a fragment) an opening or payment record with its bankgiro number;
    anything else asked for as BgMax is another format."""
    if len(first.rstrip()) > RECORD_LENGTH:
        return False
    code = first[:2]
    if code == "01":
        return True  # the start record's layout name decides (FormatMismatch if not BGMAX)
    number = first[2:12]
    return code in ("05", *PAYMENT_CODES) and number.isascii() and number.isdigit()


def parse(
    data: bytes, *, tenant_id: str, sha256: str, statement_format: str = SOURCE_FORMAT
) -> ParseResult:
    """Every deposit of a BgMax file as a statement of its payments and deductions.

    ``statement_format`` is ``bgmax`` (asked for or detected from ``01BGMAX``).
    """
    text = decode_statement_text(data)
    if not text.strip():
        raise EmptyStatementFile("the file is empty; send the BgMax file as the request body")
    first = text.lstrip().splitlines()[0]
    if not _starts_like_bgmax(first):
        shown = first[:20]
        raise FormatMismatch(
            f"format={statement_format} was asked for but the file is not a Bankgirot BgMax "
            f"file: it does not start with a start record (01BGMAX) but with {shown!r}; leave "
            "out format= to detect it"
        )
    reader = _FileReader(tenant_id=tenant_id, sha256=sha256)
    if "\ufffd" in text:
        reader.note(
            "replacement_characters",
            "the file's text holds replacement characters (U+FFFD): letters were lost in an "
            "earlier conversion between character sets; names and texts show them as \ufffd",
            None,
        )
    last_line = 0
    for record in _records(text, reader.note):
        reader.read(record)
        last_line = record.line
    return reader.finish(last_line)
