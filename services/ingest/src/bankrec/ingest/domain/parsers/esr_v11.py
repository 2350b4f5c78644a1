"""Swiss ESR/ISR credit records ("V11"): the orange-slip payments a bank (BESR) or
PostFinance (VESR) reports to the slip's participant.

Fixed-width type-3 records, one per line (Credit Suisse "BVRB - Documentation technique",
"Structure des enregistrements"; PostFinance writes the same layout). A credit record has
100 characters, all digits:

- 1-3 transaction code, 4-12 ESR participant number, 13-39 the 27-digit ESR reference
  (mod10 recursive check digit), 40-49 amount in centimes, 50-59 submission reference,
  60-65 submission date, 66-71 processing date, 72-77 credit date (YYMMDD), 78-86 microfilm
  number (the bank's internal reference at Credit Suisse), 87 reject code, 88-96 reserve,
  97-100 the charges the Post took for a payment in cash, in centimes.

A total record (999, or 995) closes the credit records of one participant: 4-12 participant
number, 13-39 sort key (nines), 40-51 total amount, 52-63 number of credit records, 64-69
creation date, 70-78 total charges, 79-87 reserve. Credit Suisse pads every record with
blanks to 126 characters (128 with CR LF); records whose trailing blanks were cut (OCA's
sample total records end at position 87) are padded.

Transaction codes: first digit 0 = ISR (the amount printed on the slip), 1 = ISR+ (the payer
wrote it); second digit 0 = paid without the slip (transfer), 1 = at the post office
counter (the spec's 002, 012, 102, 112); third digit 2 = credit, 5 = reversal ("Storno",
money out: a negative line flagged ``reversal``), 8 = correction (a credit booked again with
corrected data: money in). The signs are those under which the corpus file ``vesr.V11``'s
total record (3700.00 over 24 records, one 005 and one 008 among them) adds up. A 995 total
states its amount as a debit (negative), as OCA's importer reads it.

One ``StatementDraft`` per total record: the account is the participant number as printed
on the slip (``01-162-8`` for ``010001628``), CHF (type-3 records carry no currency: an EUR
ISR is delivered in 200-character type-4 records, which this module does not read), statement
id ``<participant number>-<creation date>``, a notification (the payments behind one credit
on the bank statement, as camt.054 reports them). Each credit record is a line with:

- the reference as ``structured_reference`` of kind OTHER: the contract has no ISR kind, and
  the kinds it has are checked with Luhn (OCR) or mod10/mod11 (KID, at most 25 digits)
  downstream, which a valid 27-digit ESR reference fails. Its own mod10 recursive check
  digit is checked here; a wrong one is a diagnostic (the bank reports what it credited);
- the processing date as booking date, the credit date as value date, the submission date,
  submission reference, microfilm number and reject code in ``additional_info``;
- the charges as a ``Charge`` borne by the creditor (whether the credit deducted them is not
  in the file, so ``included`` stays unknown);
- no ``bank_reference``: nothing in the record is unique per payment (the microfilm number
  repeats in ``vesr.V11``), so ``line_identity`` keys a line on what it says (dates, amount,
  reference) and its ordinal among identical lines.

The total record's count, amount and charges are checked against its credit records (a
mismatch is a ``summary_mismatch`` diagnostic). Credit records that no total record closes
(the file ends, or the next record is another participant's) still make a statement, with a
``missing_total_record`` diagnostic. Refused: a record of another type (``invalid_record``,
naming the line and what it holds), a record of the wrong width, fields that cannot be read.
A PostFinance Debit Direct delivery (``*.g11``: records 081, 084, 097 of 200 characters) and
200-character records in general are another layout: ``unsupported_format``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from stdnum.ch import esr

from bankrec.contracts import (
    BankTransactionCode,
    Charge,
    Money,
    ReferenceKind,
    StatementKind,
    StructuredReference,
)
from bankrec.ingest.domain.model import Diagnostic, ParsedStatement, ParseResult
from bankrec.ingest.domain.parsers.text_encoding import decode_statement_text
from bankrec.ingest.domain.statement_assembly import (
    LineDraft,
    StatedTotals,
    StatementDraft,
    assemble_statement,
)
from bankrec.ingest.errors import (
    EmptyStatementFile,
    FormatMismatch,
    InvalidRecord,
    UnsupportedFormat,
)

SOURCE_FORMAT = "esr-v11"
CURRENCY = "CHF"
RECORD_LENGTH = 100
TOTAL_RECORD_FIELDS_END = 87  # the last position a total record needs
PADDED_RECORD_LENGTH_MAX = 128  # Credit Suisse: 126 characters + CR LF, or blanks
REFERENCE_LENGTH = 27
TRANSACTION_CODE_ISSUER = "ESR"
CHARGES_BEARER = "CRED"  # the participant (the creditor) pays the Post's cash charges

CREDIT_CODES = frozenset(
    f"{slip}{channel}{kind}" for slip in "01" for channel in "01" for kind in "258"
)
TOTAL_CODES = frozenset({"999", "995"})
DEBIT_TOTAL = "995"
REVERSAL = "5"
CORRECTION = "8"

_SLIPS = {"0": "ISR", "1": "ISR+"}
_CHANNELS = {"0": "paid without the slip (transfer)", "1": "paid at the post office counter"}
_KINDS = {"2": "credit", REVERSAL: "reversal", CORRECTION: "correction"}

DEBIT_DIRECT_LENGTH = 200
DEBIT_DIRECT_CODES = frozenset({"081", "084", "097"})
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_LINE_BREAK_BYTES = re.compile(rb"\r\n|\r|\n")
_DEBIT_DIRECT_CURRENCIES = ("CHF", "EUR")


# ------------------------------------------------------------------------------ records


@dataclass(frozen=True, slots=True)
class _Record:
    """One record padded to 100 characters, its length without trailing blanks, and the file
    line it is on."""

    line: int
    text: str
    length: int

    @property
    def code(self) -> str:
        return self.text[:3]

    def field(self, start: int, end: int) -> str:
        """Positions ``start`` to ``end`` (1-based, inclusive) as the spec numbers them."""
        return self.text[start - 1 : end]

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

    def centimes(self, start: int, end: int, name: str, statement: str | None = None) -> Decimal:
        """An amount in centimes (hundredths) as francs."""
        return Decimal(self.number(start, end, name, statement)).scaleb(-2)

    def yymmdd(self, start: int, name: str, statement: str | None = None) -> date | None:
        """A YYMMDD date (years 69-99 are 19YY, 00-68 20YY); None for zeros."""
        text = self.digits(start, start + 5, name, statement)
        if text == "000000":
            return None
        try:
            return datetime.strptime(text, "%y%m%d").date()  # noqa: DTZ007 - a date
        except ValueError:
            raise InvalidRecord(
                f"{self.code} {name}",
                f"positions {start}-{start + 5} hold {text!r}, which is not a date (YYMMDD)",
                statement=statement,
                line=self.line,
            ) from None


def _records(text: str) -> Iterator[_Record]:
    """The file's records: blank lines skipped, trailing blanks dropped, padded to 100."""
    for number, raw in enumerate(_LINE_BREAK.split(text), start=1):
        record = raw.rstrip()
        if not record:
            continue
        if len(record) > RECORD_LENGTH:
            raise InvalidRecord(
                f"{record[:3]!r} record",
                f"the record is {len(record)} characters long without its trailing blanks; "
                f"ESR type-3 records have {RECORD_LENGTH}: it holds {record[:40]!r}...",
                line=number,
            )
        yield _Record(number, record.ljust(RECORD_LENGTH), len(record))


# ------------------------------------------------------------------------- small values


def reference_check_digit_valid(reference: str) -> bool:
    """A 27-digit ESR reference whose last digit is its mod10 recursive check digit."""
    return (
        len(reference) == REFERENCE_LENGTH
        and _ascii_digits(reference)
        and esr.calc_check_digit(reference[:-1]) == reference[-1]
    )


def participant_number(digits: str) -> str:
    """A 9-digit participant number as printed on the slip: ``010001628`` -> ``01-162-8``."""
    return f"{digits[:2]}-{int(digits[2:8])}-{digits[8]}"


def transaction_description(code: str) -> str:
    """What a credit record's transaction code says, in words."""
    return f"{_SLIPS[code[0]]} {_KINDS[code[2]]}, {_CHANNELS[code[1]]} (code {code})"


def recognised(head: bytes, *, cut: bool) -> bool:
    """Whether the first bytes of a file are ESR type-3 records, or a PostFinance Debit
    Direct delivery (which ``parse`` names and refuses). The first line must be a well-formed
    credit or total record; the lines after it only have to look like records (a transaction
    code, at most 128 characters), so that a bad record later on is refused by the parser
    with its line and field rather than taken for XML. ``cut``: ``head`` is the start of a
    longer file, so its last line may be incomplete."""
    lines = [line.rstrip() for line in _LINE_BREAK_BYTES.split(head)]
    if cut and len(lines) > 1:
        lines = lines[:-1]
    texts = [line.decode("latin-1") for line in lines if line]
    if not texts:
        return False
    first, *rest = texts
    if _is_debit_direct(first):
        return True
    return _is_type3(first) and all(_looks_like_record(text) for text in rest)


def _looks_like_record(record: str) -> bool:
    return len(record) <= PADDED_RECORD_LENGTH_MAX and _ascii_digits(record[:3])


def _is_type3(record: str) -> bool:
    """A credit or total record, its trailing blanks cut, with digits where it has numbers."""
    code = record[:3]
    if code in CREDIT_CODES:
        # the submission reference (50-59) may hold blanks; every other field is digits
        return (
            len(record) == RECORD_LENGTH
            and _ascii_digits(record[:49])
            and _ascii_digits(record[59:])
        )
    return (
        code in TOTAL_CODES
        and TOTAL_RECORD_FIELDS_END <= len(record) <= RECORD_LENGTH
        and _ascii_digits(record[:TOTAL_RECORD_FIELDS_END])
    )


def _ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _is_debit_direct(line: str) -> bool:
    """A record of PostFinance's Debit Direct delivery (DD-ESR): transaction type 081
    (credit), 084 (rejection or return) or 097 (total), a 27-digit reference at 16-42 and the
    currency at 43-45."""
    return (
        line[:3] in DEBIT_DIRECT_CODES
        and RECORD_LENGTH < len(line.rstrip()) <= DEBIT_DIRECT_LENGTH
        and _ascii_digits(line[15:42])
        and line[42:45] in _DEBIT_DIRECT_CURRENCIES
        and _ascii_digits(line[45:57])
    )


# ------------------------------------------------------------------------------ reading


class _Note:
    """``note(code, message, statement)``: a diagnostic."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics

    def __call__(self, code: str, message: str, statement: str | None) -> None:
        self.diagnostics.append(Diagnostic(code=code, message=message, statement=statement))


@dataclass(slots=True)
class _Credit:
    """A credit record, read."""

    record: _Record
    participant: str  # 9 digits
    line: LineDraft
    charges: Decimal  # signed as the amount: a reversal's charges count negative


@dataclass(slots=True)
class _Group:
    """The credit records since the last total record, and the notes about them that wait
    for their statement's id."""

    credits: list[_Credit] = field(default_factory=list)
    pending: list[tuple[str, str]] = field(default_factory=list)

    @property
    def participant(self) -> str | None:
        return self.credits[0].participant if self.credits else None


class _FileReader:
    """Reads ESR type-3 records in order into statements and diagnostics."""

    def __init__(self, *, tenant_id: str, sha256: str) -> None:
        self.tenant_id = tenant_id
        self.sha256 = sha256
        self.statements: list[ParsedStatement] = []
        self.diagnostics: list[Diagnostic] = []
        self.note = _Note(self.diagnostics)
        self.group = _Group()
        self.statement_ids: set[str] = set()

    def read(self, record: _Record) -> None:
        code = record.code
        if code in CREDIT_CODES:
            self._credit(record)
        elif code in TOTAL_CODES:
            self._total(record)
        else:
            raise InvalidRecord(
                f"{code!r} record",
                f"the record holds {record.text.rstrip()[:40]!r}...: transaction code "
                f"{code!r} is neither an ESR type-3 credit record ({_codes_shown()}) nor a "
                "total record (999, 995)",
                line=record.line,
            )

    # -- credit records

    def _credit(self, record: _Record) -> None:
        if record.length != RECORD_LENGTH:
            raise InvalidRecord(
                f"{record.code} record",
                f"the record is {record.length} characters long; a credit record has "
                f"{RECORD_LENGTH}",
                line=record.line,
            )
        participant = record.digits(4, 12, "participant number")
        if self.group.participant not in (None, participant):
            self._close_untotalled(f"line {record.line} is a credit of another participant")
        reference = record.digits(13, 39, "reference")
        amount = record.centimes(40, 49, "amount")
        submitted = self._informative_date(record, 60, "submission date")
        processed = record.yymmdd(66, "processing date")
        if processed is None:
            raise InvalidRecord(
                f"{record.code} processing date",
                "positions 66-71 hold no date (000000); the processing date is the booking "
                "date of the payment",
                line=record.line,
            )
        credited = self._informative_date(record, 72, "credit date")
        charges = record.centimes(97, 100, "charges")
        code = record.code
        reversal = code[2] == REVERSAL
        self.group.credits.append(
            _Credit(
                record=record,
                participant=participant,
                line=LineDraft(
                    amount=-amount if reversal else amount,
                    booking_date=processed,
                    value_date=credited,
                    bank_transaction_code=BankTransactionCode(
                        proprietary=code, proprietary_issuer=TRANSACTION_CODE_ISSUER
                    ),
                    structured_reference=self._reference(record, reference),
                    additional_info=_additional_info(record, submitted),
                    reversal=reversal,
                    charges=[]
                    if not charges
                    else [
                        Charge(
                            amount=Money(amount=charges, currency=CURRENCY),
                            bearer=CHARGES_BEARER,
                        )
                    ],
                    source_line=record.line,
                ),
                charges=-charges if reversal else charges,
            )
        )

    def _reference(self, record: _Record, reference: str) -> StructuredReference | None:
        if not reference.strip("0"):
            return None  # no reference on the slip
        if not reference_check_digit_valid(reference):
            self.group.pending.append(
                (
                    "esr_check_digit",
                    f"line {record.line}: the ESR reference {reference} fails its mod10 "
                    f"recursive check digit (expected {esr.calc_check_digit(reference[:-1])}); "
                    "published as the bank reported it",
                )
            )
        return StructuredReference(value=reference, kind=ReferenceKind.OTHER)

    def _informative_date(self, record: _Record, start: int, name: str) -> date | None:
        """A date that only informs: unreadable is a diagnostic, not a refusal."""
        try:
            return record.yymmdd(start, name)
        except InvalidRecord as unreadable:
            self.group.pending.append(("invalid_date", unreadable.message))
            return None

    # -- total records

    def _total(self, record: _Record) -> None:
        if record.length < TOTAL_RECORD_FIELDS_END:
            raise InvalidRecord(
                f"{record.code} record",
                f"the record is {record.length} characters long; a total record has its "
                f"fields up to position {TOTAL_RECORD_FIELDS_END}",
                line=record.line,
            )
        participant = record.digits(4, 12, "participant number")
        if self.group.participant not in (None, participant):
            self._close_untotalled(
                f"the total record at line {record.line} is participant "
                f"{participant_number(participant)}'s"
            )
        created = record.yymmdd(64, "creation date")
        if created is None:
            raise InvalidRecord(
                f"{record.code} creation date",
                "positions 64-69 hold no date (000000); the creation date names the statement",
                line=record.line,
            )
        statement = f"{participant}-{created:%Y%m%d}"
        stated_amount = record.centimes(40, 51, "total amount", statement)
        count = record.number(52, 63, "number of records", statement)
        stated_charges = record.centimes(70, 78, "total charges", statement)
        if record.code == DEBIT_TOTAL:
            stated_amount, stated_charges = -stated_amount, -stated_charges
        where = f"the total record (line {record.line})"
        notes: list[tuple[str, str]] = []
        total = sum((credit.line.amount for credit in self.group.credits), Decimal(0))
        if total != stated_amount:
            notes.append(
                (
                    "summary_mismatch",
                    f"{where} says the credits total {stated_amount} {CURRENCY} but they add up "
                    f"to {total} (reversals counted negative)",
                )
            )
        charges = sum((credit.charges for credit in self.group.credits), Decimal(0))
        if charges != stated_charges:
            notes.append(
                (
                    "summary_mismatch",
                    f"{where} says the charges total {stated_charges} {CURRENCY} but the "
                    f"credit records' charges add up to {charges}",
                )
            )
        self._publish(
            participant=participant,
            bank_statement_id=statement,
            stated=StatedTotals(entry_count=count, where=where),
            notes=notes,
            empty_period=created,
        )

    def _close_untotalled(self, why: str) -> None:
        """The credit records no total record closed: a statement, with a diagnostic."""
        group = self.group
        participant = group.participant
        if participant is None:
            return
        latest = max(credit.line.booking_date or date.min for credit in group.credits)
        first, last = group.credits[0].record.line, group.credits[-1].record.line
        self._publish(
            participant=participant,
            bank_statement_id=f"{participant}-{latest:%Y%m%d}-no-total",
            stated=None,
            notes=[
                (
                    "missing_total_record",
                    f"the credit records at lines {first}-{last} are followed by no total "
                    f"record ({why}); their count and total are not checked and the file may "
                    "be truncated",
                )
            ],
            empty_period=latest,
        )

    def _publish(
        self,
        *,
        participant: str,
        bank_statement_id: str,
        stated: StatedTotals | None,
        notes: list[tuple[str, str]],
        empty_period: date,
    ) -> None:
        group, self.group = self.group, _Group()

        def note(code: str, message: str) -> None:
            self.note(code, message, bank_statement_id)

        if bank_statement_id in self.statement_ids:
            note(
                "duplicate_statement",
                f"participant {participant_number(participant)} has two total records of "
                "the same creation date in this file; their lines share the statement id",
            )
        self.statement_ids.add(bank_statement_id)
        if esr.calc_check_digit(participant[:-1]) != participant[-1]:
            note(
                "participant_check_digit",
                f"the participant number {participant} fails its mod10 recursive check digit",
            )
        for code, message in [*group.pending, *notes]:
            note(code, message)
        lines = [credit.line for credit in group.credits]
        dates = [line.booking_date for line in lines if line.booking_date is not None]
        draft = StatementDraft(
            bank_statement_id=bank_statement_id,
            account_number=participant_number(participant),
            currency=CURRENCY,
            source_format=SOURCE_FORMAT,
            kind=StatementKind.NOTIFICATION,
            period_from=min(dates, default=empty_period),
            period_to=max(dates, default=empty_period),
            lines=lines,
            stated=stated,
        )
        self.statements.append(
            assemble_statement(draft, tenant_id=self.tenant_id, sha256=self.sha256, note=note)
        )

    def finish(self) -> ParseResult:
        self._close_untotalled("the file ends")
        return ParseResult(
            file_sha256=self.sha256,
            source_format=SOURCE_FORMAT,
            statements=self.statements,
            diagnostics=self.diagnostics,
        )


def _additional_info(record: _Record, submitted: date | None) -> str:
    parts = [transaction_description(record.code)]
    if submitted is not None:
        parts.append(f"submitted {submitted.isoformat()}")
    submission_reference = record.field(50, 59).strip()
    if submission_reference.strip("0"):
        parts.append(f"submission reference {submission_reference}")
    microfilm = record.field(78, 86)
    if microfilm.strip("0"):
        parts.append(f"microfilm number {microfilm}")
    reject = record.field(87, 87)
    if reject != "0":
        parts.append(f"reject code {reject}")
    return "; ".join(parts)


def _codes_shown() -> str:
    return ", ".join(sorted(CREDIT_CODES))


# ---------------------------------------------------------------------------- entry point


def _refuse_other_layouts(first: str, statement_format: str) -> None:
    """The first record is not a type-3 record: say what the file is instead."""
    if _is_debit_direct(first):
        raise UnsupportedFormat(
            "the file is a PostFinance Debit Direct delivery (DD-ESR layout: 200-character "
            "records 081 credits, 084 rejections and returns, 097 totals, as in *.g11 files), "
            "not ESR V11 credit records; ingest does not read it: ask PostFinance for the "
            "camt.054 of the direct debits instead"
        )
    record = first.rstrip()
    if len(record) == DEBIT_DIRECT_LENGTH and record[:3].isdigit():
        raise UnsupportedFormat(
            "the file has 200-character records (ESR type 4, or another PostFinance layout); "
            "ingest reads ESR type-3 records of 100 characters: ask for type-3 records (V11) "
            "or camt.054"
        )
    if len(record) > PADDED_RECORD_LENGTH_MAX or not _ascii_digits(record[:12]):
        raise FormatMismatch(
            f"format={statement_format} was asked for but the file is not an ESR V11 file: it "
            "does not start with an ESR type-3 record (a transaction code and participant "
            f"number, at most {PADDED_RECORD_LENGTH_MAX} characters) but with {record[:20]!r}; "
            "leave out format= to detect it"
        )


def parse(
    data: bytes, *, tenant_id: str, sha256: str, statement_format: str = SOURCE_FORMAT
) -> ParseResult:
    """Every total record of an ESR V11 file as a statement of the credit records it closes.

    ``statement_format`` is ``esr-v11`` (asked for or detected from the records' shape).
    """
    text = decode_statement_text(data)
    if not text.strip():
        raise EmptyStatementFile("the file is empty; send the ESR V11 file as the request body")
    first = text.strip().splitlines()[0]
    _refuse_other_layouts(first, statement_format)
    reader = _FileReader(tenant_id=tenant_id, sha256=sha256)
    for record in _records(text):
        reader.read(record)
    return reader.finish()
