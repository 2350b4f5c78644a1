"""Nets OCR giro (Norway): the file of incoming payments with KID that Nets sends a payee.

A transmission (``NY000010`` ... ``NY000089``) holds assignments (``NY090020`` ...
``NY090088``), one per agreement and credited account; each assignment holds transactions of
two records (amount item 1 ``NY09tt30`` and amount item 2 ``NY09tt31``, ``tt`` the transaction
type) and a third (amount item 3 ``NY09tt32``, a free text) for the terminal payments with text
(types 20 and 21). Every record is exactly 80 characters (Nets' "OCR giro - System manual").

One ``StatementDraft`` per assignment: the assignment account is the account credited, NOK,
statement id ``<transmission number>-<assignment number>``, a notification (the payments that
make up the bank's settlement entries, as camt.054 reports them), each transaction one line:

- amount in øre, positive (money in); the reversing types 18 and 20, or a ``-`` sign, are
  money out and flagged ``reversal``. The assignment's total adds reversals *unsigned* (the
  manual: "amounts from reversings are also added to the sum, not deducted"), so the total is
  checked against the sum of the absolute amounts;
- the KID as ``structured_reference``: a KID whose check digit passes neither mod10 (Luhn) nor
  mod11 (weights 2..7, remainder 1 written ``-``) is published as kind OTHER, never as a KID,
  with a diagnostic, since matching trusts a KID as validated. Which of the two the payee's
  agreement uses is not in the file, so either is accepted;
- the archive reference of amount item 2 as ``bank_reference`` (what ``line_identity`` keys a
  line on) for giro, standing order and BTG transactions. The same field holds the payer's
  agreement id for direct remittance and the terminal (BAX) and session number for terminal
  payments (18-21), which repeat across payments: those go to ``additional_info`` instead;
- the debit account as the counterparty's account, the Nets date as booking date;
- the partial settlement and serial number in ``additional_info``: Nets sums the transactions
  of one serial number into one entry of the bank statement.

The assignment end record's counts and total and the transmission end record's are checked;
a mismatch is a diagnostic. OCR files have no balances, so there is no balance check.

AvtaleGiro (service code 21) shares the record layout, but its files are payment claims a
creditor sends to Nets (assignment type 00), or Nets' lists of payer agreements (24) and
cancellations (36): no money has moved. Such assignments are skipped with a diagnostic when a
transmission also holds OCR giro assignments, and a file of only AvtaleGiro assignments is
refused as not a bank statement (the payments AvtaleGiro collects are reported in the OCR giro
file, transaction type 15).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

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
from bankrec.ingest.domain.references import classify_reference
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

SOURCE_FORMAT = "ocr-giro"
CURRENCY = "NOK"
RECORD_LENGTH = 80
TRANSACTION_CODE_ISSUER = "Nets"

OCR_GIRO_SERVICE = "09"
AVTALEGIRO_SERVICE = "21"

TRANSACTION_TYPES: dict[int, str] = {
    10: "giro debited account",
    11: "standing order",
    12: "direct remittance",
    13: "BTG (business terminal giro)",
    14: "counter giro",
    15: "AvtaleGiro",
    16: "telegiro",
    17: "giro paid in cash",
    18: "reversing with KID",
    19: "purchase with KID",
    20: "reversing with free text",
    21: "purchase with free text",
}
"""Transaction types of the OCR giro service (field 3 of the amount items)."""

REVERSING_TYPES = frozenset({18, 20})
TERMINAL_TYPES = frozenset({18, 19, 20, 21})  # terminal and internet payments
DIRECT_REMITTANCE = 12

_AVTALEGIRO_ASSIGNMENTS = {
    "00": "payment claims (assignment type 00)",
    "24": "a list of payer agreements (assignment type 24)",
    "36": "cancellations of payment claims (assignment type 36)",
}
_ITEM_NUMBER = {"30": 1, "31": 2, "32": 3}
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_MOD11_KID = re.compile(r"\d{1,24}-")


# ------------------------------------------------------------------------------ records


@dataclass(frozen=True, slots=True)
class _Record:
    """One 80-character record and the file line it is on."""

    line: int
    text: str

    @property
    def service(self) -> str:
        return self.text[2:4]

    @property
    def kind(self) -> str:
        """Positions 5-6: transmission, assignment or transaction type."""
        return self.text[4:6]

    @property
    def record_type(self) -> str:
        return self.text[6:8]

    @property
    def label(self) -> str:
        return self.text[:8]

    def field(self, start: int, end: int) -> str:
        """Positions ``start`` to ``end`` (1-based, inclusive) as the manual numbers them."""
        return self.text[start - 1 : end]

    def digits(self, start: int, end: int, name: str, statement: str | None) -> str:
        value = self.field(start, end)
        if not (value.isascii() and value.isdigit()):
            raise InvalidRecord(
                f"{self.label} {name}",
                f"positions {start}-{end} hold {value!r}, expected {end - start + 1} digits",
                statement=statement,
                line=self.line,
            )
        return value

    def number(self, start: int, end: int, name: str, statement: str | None) -> int:
        return int(self.digits(start, end, name, statement))

    def ore(self, start: int, end: int, name: str, statement: str | None) -> Decimal:
        """An amount in øre as kroner."""
        return Decimal(self.number(start, end, name, statement)).scaleb(-2)

    def nets_date(
        self, start: int, name: str, statement: str | None, *, required: bool
    ) -> date | None:
        """A DDMMYY date; ``000000`` is no date. Years 80-99 are 19xx, 00-79 20xx."""
        text = self.digits(start, start + 5, name, statement)
        if text == "000000" and not required:
            return None
        day, month, short_year = int(text[:2]), int(text[2:4]), int(text[4:])
        year = short_year + (1900 if short_year >= 80 else 2000)
        try:
            return date(year, month, day)
        except ValueError:
            raise InvalidRecord(
                f"{self.label} {name}",
                f"positions {start}-{start + 5} hold {text!r}, which is not a date (DDMMYY)",
                statement=statement,
                line=self.line,
            ) from None


def _records(text: str) -> Iterator[_Record]:
    """The file's records; blank lines are skipped, whitespace after position 80 is cut."""
    for number, raw in enumerate(_LINE_BREAK.split(text), start=1):
        if not raw.strip():
            continue
        record = raw
        if len(record) > RECORD_LENGTH and not record[RECORD_LENGTH:].strip():
            record = record[:RECORD_LENGTH]
        if len(record) != RECORD_LENGTH:
            raise InvalidRecord(
                f"{record[:8]!r} record",
                f"the record is {len(record)} characters long; OCR giro records are exactly "
                f"{RECORD_LENGTH}",
                line=number,
            )
        if not record.startswith("NY"):
            raise InvalidRecord(
                f"{record[:8]!r} record",
                "the record does not start with the format code NY",
                line=number,
            )
        yield _Record(number, record)


# --------------------------------------------------------------------------- check digits


def _mod11_valid(kid: str) -> bool:
    """Nets' modulus 11: weights 2, 3, 4, 5, 6, 7, 2, ... from the right; remainder 0 gives
    check digit 0, remainder 1 gives ``-``."""
    body, check = kid[:-1], kid[-1]
    if not (body.isascii() and body.isdigit()):
        return False
    total = sum(int(digit) * (2 + position % 6) for position, digit in enumerate(reversed(body)))
    remainder = total % 11
    expected = "0" if remainder == 0 else "-" if remainder == 1 else str(11 - remainder)
    return check == expected


def kid_check_digit_valid(kid: str) -> bool:
    """The KID's last character is a valid mod10 (Luhn) or mod11 check digit."""
    if len(kid) < 2:
        return False
    if kid.isascii() and kid.isdigit() and bool(luhn.is_valid(kid)):
        return True
    return _mod11_valid(kid)


# ------------------------------------------------------------------------------ reading


@dataclass(slots=True)
class _Transaction:
    """Amount items 1-3 of one transaction, as read."""

    number: int
    transaction_type: int
    line: LineDraft
    has_item_2: bool = False


@dataclass(slots=True)
class _Assignment:
    """An OCR giro assignment being read."""

    start_line: int
    number: str
    account: str
    bank_statement_id: str
    records: int = 1  # the start record
    transactions: list[_Transaction] = field(default_factory=list)


@dataclass(slots=True)
class _SkippedAssignment:
    """An AvtaleGiro assignment: counted for the transmission's totals, not published."""

    start_line: int
    assignment_type: str


@dataclass(slots=True)
class _Transmission:
    start_line: int
    number: str
    records: int = 1  # the start record
    stated_transactions: int = 0  # summed from the assignment end records
    stated_amount: Decimal = Decimal(0)


class _FileReader:
    """Reads a transmission record by record into statements and diagnostics."""

    def __init__(self, *, tenant_id: str, sha256: str) -> None:
        self.tenant_id = tenant_id
        self.sha256 = sha256
        self.statements: list[ParsedStatement] = []
        self.diagnostics: list[Diagnostic] = []
        self.transmission: _Transmission | None = None
        self.assignment: _Assignment | None = None
        self.skipped: _SkippedAssignment | None = None
        self.avtalegiro_seen: list[_SkippedAssignment] = []
        self.statement_ids: set[str] = set()

    def note(self, code: str, message: str, statement: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code=code, message=message, statement=statement))

    # -- dispatch

    def read(self, record: _Record) -> None:
        if self.transmission is not None:
            self.transmission.records += 1
        if self.skipped is not None:
            self._read_skipped(record)
            return
        record_type = record.record_type
        if record_type == "10":
            self._start_transmission(record)
        elif record_type == "89":
            self._end_transmission(record)
        elif record_type == "20":
            self._start_assignment(record)
        elif record_type == "88":
            self._end_assignment(record)
        elif record_type in ("30", "31", "32"):
            self._read_transaction_record(record)
        else:
            raise InvalidRecord(
                f"{record.label} record",
                f"record type {record_type!r} is not an OCR giro record type (10, 20, 30, "
                "31, 32, 88, 89)",
                statement=self._statement_label(),
                line=record.line,
            )

    def _statement_label(self) -> str | None:
        return None if self.assignment is None else self.assignment.bank_statement_id

    # -- transmission

    def _start_transmission(self, record: _Record) -> None:
        if record.label != "NY000010":
            raise InvalidRecord(
                f"{record.label} record",
                "a transmission start record is NY000010 (service code 00, transmission type 00)",
                line=record.line,
            )
        if self.transmission is not None:
            self.note(
                "missing_end_record",
                f"the transmission started at line {self.transmission.start_line} has no "
                f"transmission end record (NY000089) before the next start at line "
                f"{record.line}",
            )
            self._close_open_assignment(record.line)
        number = record.digits(17, 23, "transmission number", None)
        record.digits(9, 16, "data transmitter", None)
        record.digits(24, 31, "data recipient", None)
        self.transmission = _Transmission(start_line=record.line, number=number)

    def _end_transmission(self, record: _Record) -> None:
        if record.label != "NY000089":
            raise InvalidRecord(
                f"{record.label} record",
                "a transmission end record is NY000089 (service code 00, transmission type 00)",
                line=record.line,
            )
        transmission = self._require_transmission(record)
        self._close_open_assignment(record.line)
        transactions = record.number(9, 16, "number of transactions", None)
        records = record.number(17, 24, "number of records", None)
        amount = record.ore(25, 41, "total amount", None)
        where = f"the transmission end record (line {record.line})"
        if transactions != transmission.stated_transactions:
            self.note(
                "summary_mismatch",
                f"{where} says {transactions} transactions but its assignments hold "
                f"{transmission.stated_transactions}",
            )
        if records != transmission.records:
            self.note(
                "summary_mismatch",
                f"{where} says {records} records but the transmission has {transmission.records}",
            )
        if amount != transmission.stated_amount:
            self.note(
                "summary_mismatch",
                f"{where} says the transactions total {amount} {CURRENCY} but its assignments "
                f"total {transmission.stated_amount}",
            )
        self.transmission = None

    def _require_transmission(self, record: _Record) -> _Transmission:
        if self.transmission is None:
            raise InvalidRecord(
                f"{record.label} record",
                "the record is outside a transmission: the file must start with a "
                "transmission start record (NY000010)",
                line=record.line,
            )
        return self.transmission

    # -- assignments

    def _start_assignment(self, record: _Record) -> None:
        transmission = self._require_transmission(record)
        self._close_open_assignment(record.line)
        if record.service == AVTALEGIRO_SERVICE:
            skipped = _SkippedAssignment(start_line=record.line, assignment_type=record.kind)
            self.skipped = skipped
            self.avtalegiro_seen.append(skipped)
            return
        if record.service != OCR_GIRO_SERVICE:
            raise InvalidRecord(
                f"{record.label} record",
                f"service code {record.service!r} is neither OCR giro (09) nor AvtaleGiro (21)",
                line=record.line,
            )
        if record.kind != "00":
            self.note(
                "unexpected_assignment_type",
                f"the assignment start record at line {record.line} has assignment type "
                f"{record.kind!r}; OCR giro assignments are type 00",
            )
        number = record.digits(18, 24, "assignment number", None)
        bank_statement_id = f"{transmission.number}-{number}"
        record.digits(9, 17, "agreement id", bank_statement_id)
        account = record.digits(25, 35, "assignment account", bank_statement_id)
        if bank_statement_id in self.statement_ids:
            self.note(
                "duplicate_statement",
                f"assignment {number} of transmission {transmission.number} appears twice "
                f"(again at line {record.line})",
                bank_statement_id,
            )
        self.statement_ids.add(bank_statement_id)
        self.assignment = _Assignment(
            start_line=record.line,
            number=number,
            account=account,
            bank_statement_id=bank_statement_id,
        )

    def _read_skipped(self, record: _Record) -> None:
        """Records of an AvtaleGiro assignment: counted up to its end record."""
        skipped = self.skipped
        assert skipped is not None
        if record.record_type in ("10", "20", "89"):
            raise InvalidRecord(
                f"{record.label} record",
                f"the AvtaleGiro assignment started at line {skipped.start_line} has no "
                "assignment end record (NY21..88) before this record",
                line=record.line,
            )
        if record.record_type != "88":
            return
        self.skipped = None
        transmission = self.transmission
        if transmission is None:
            return
        transmission.stated_transactions += record.number(9, 16, "number of transactions", None)
        if skipped.assignment_type != "24":  # agreement lists have no amount
            transmission.stated_amount += record.ore(25, 41, "total amount", None)

    def _close_open_assignment(self, line: int) -> None:
        """An assignment still open when the next one or the transmission end comes."""
        if self.skipped is not None:
            raise InvalidRecord(
                "NY21..88 record",
                f"the AvtaleGiro assignment started at line {self.skipped.start_line} has no "
                "assignment end record",
                line=line,
            )
        assignment = self.assignment
        if assignment is None:
            return
        self._check_last_transaction(assignment)
        self.note(
            "missing_end_record",
            f"the assignment started at line {assignment.start_line} has no assignment end "
            f"record (NY090088); its counts and total are not checked",
            assignment.bank_statement_id,
        )
        if self.transmission is not None:
            self.transmission.stated_transactions += len(assignment.transactions)
            self.transmission.stated_amount += sum(
                (abs(t.line.amount) for t in assignment.transactions), Decimal(0)
            )
        self._publish(assignment, stated=None, period=None)

    def _end_assignment(self, record: _Record) -> None:
        assignment = self.assignment
        if assignment is None:
            raise InvalidRecord(
                f"{record.label} record",
                "an assignment end record with no assignment start record (NY090020) before it",
                line=record.line,
            )
        statement = assignment.bank_statement_id
        assignment.records += 1
        self._check_last_transaction(assignment)
        transactions = record.number(9, 16, "number of transactions", statement)
        records = record.number(17, 24, "number of records", statement)
        total = record.ore(25, 41, "total amount", statement)
        earliest = record.nets_date(48, "earliest Nets date", statement, required=False)
        latest = record.nets_date(54, "latest Nets date", statement, required=False)
        where = f"the assignment end record (line {record.line})"
        if records != assignment.records:
            self.note(
                "summary_mismatch",
                f"{where} says {records} records but the assignment has {assignment.records}",
                statement,
            )
        unsigned = sum((abs(t.line.amount) for t in assignment.transactions), Decimal(0))
        if total != unsigned:
            self.note(
                "summary_mismatch",
                f"{where} says the transactions total {total} {CURRENCY} but they add up to "
                f"{unsigned} (reversals counted unsigned, as Nets does)",
                statement,
            )
        if self.transmission is not None:
            self.transmission.stated_transactions += transactions
            self.transmission.stated_amount += total
        period = (earliest, latest) if earliest is not None and latest is not None else None
        self._publish(
            assignment, stated=StatedTotals(entry_count=transactions, where=where), period=period
        )

    def _publish(
        self,
        assignment: _Assignment,
        *,
        stated: StatedTotals | None,
        period: tuple[date, date] | None,
    ) -> None:
        self.assignment = None
        lines = [transaction.line for transaction in assignment.transactions]
        if period is None:
            dates = [line.booking_date for line in lines if line.booking_date is not None]
            period = (min(dates), max(dates)) if dates else None
        draft = StatementDraft(
            bank_statement_id=assignment.bank_statement_id,
            account_number=assignment.account,
            currency=CURRENCY,
            source_format=SOURCE_FORMAT,
            kind=StatementKind.NOTIFICATION,
            period_from=None if period is None else period[0],
            period_to=None if period is None else period[1],
            lines=lines,
            stated=stated,
        )
        statement = assignment.bank_statement_id

        def note(code: str, message: str) -> None:
            self.note(code, message, statement)

        self.statements.append(
            assemble_statement(draft, tenant_id=self.tenant_id, sha256=self.sha256, note=note)
        )

    # -- transactions

    def _require_assignment(self, record: _Record) -> _Assignment:
        if self.assignment is None:
            raise InvalidRecord(
                f"{record.label} record",
                "a transaction record outside an assignment: no assignment start record "
                "(NY090020) before it",
                line=record.line,
            )
        if record.service != OCR_GIRO_SERVICE:
            raise InvalidRecord(
                f"{record.label} record",
                f"service code {record.service!r} in an OCR giro assignment, which holds only "
                "service code 09",
                statement=self.assignment.bank_statement_id,
                line=record.line,
            )
        return self.assignment

    def _read_transaction_record(self, record: _Record) -> None:
        assignment = self._require_assignment(record)
        assignment.records += 1
        statement = assignment.bank_statement_id
        transaction_type = record.number(5, 6, "transaction type", statement)
        number = record.number(9, 15, "transaction number", statement)
        if record.record_type == "30":
            self._check_last_transaction(assignment)
            assignment.transactions.append(
                self._amount_item_1(record, transaction_type, number, statement)
            )
            return
        current = assignment.transactions[-1] if assignment.transactions else None
        if current is None or current.number != number:
            raise InvalidRecord(
                f"{record.label} transaction number",
                f"amount item {_ITEM_NUMBER[record.record_type]} of transaction {number} does "
                "not follow that transaction's amount item 1 (NY09..30)",
                statement=statement,
                line=record.line,
            )
        if current.transaction_type != transaction_type:
            self.note(
                "transaction_type_mismatch",
                f"line {record.line}: transaction {number} is type {current.transaction_type} "
                f"in amount item 1 but type {transaction_type} here; read as "
                f"{current.transaction_type}",
                statement,
            )
        if record.record_type == "31":
            self._amount_item_2(record, current, statement)
        else:
            text = record.field(16, 55).strip()
            if text:
                current.line.remittance_text = text

    def _amount_item_1(
        self, record: _Record, transaction_type: int, number: int, statement: str
    ) -> _Transaction:
        booked = record.nets_date(16, "Nets date", statement, required=True)
        centre_id = record.field(22, 23)
        partial_settlement = record.field(26, 26)
        serial = record.field(27, 31)
        sign = record.field(32, 32)
        amount = record.ore(33, 49, "amount", statement)
        description = TRANSACTION_TYPES.get(transaction_type)
        if description is None:
            self.note(
                "unknown_transaction_type",
                f"line {record.line}: transaction {number} has transaction type "
                f"{transaction_type:02d}, which the OCR giro manual does not list (10-21); "
                "read as an incoming payment",
                statement,
            )
            description = "unknown transaction type"
        if sign not in ("0", "-"):
            self.note(
                "unexpected_sign",
                f"line {record.line}: transaction {number} has sign {sign!r} (position 32), "
                "expected 0 or -; read as 0",
                statement,
            )
        reversing = transaction_type in REVERSING_TYPES or sign == "-"
        kid = self._kid(record, number, statement)
        info = [
            f"{description} (OCR giro type {transaction_type:02d})",
            f"partial settlement {partial_settlement} serial number {serial}",
            f"centre {centre_id}",
        ]
        line = LineDraft(
            amount=-amount if reversing else amount,
            booking_date=booked,
            bank_transaction_code=BankTransactionCode(
                proprietary=f"{transaction_type:02d}", proprietary_issuer=TRANSACTION_CODE_ISSUER
            ),
            structured_reference=kid,
            additional_info="; ".join(info),
            reversal=reversing,
            source_line=record.line,
        )
        return _Transaction(number=number, transaction_type=transaction_type, line=line)

    def _kid(self, record: _Record, number: int, statement: str) -> StructuredReference | None:
        """The KID of amount item 1 (right-aligned, blank-filled), with its check digit."""
        value = record.field(50, 74).strip()
        if not value:
            return None
        if _MOD11_KID.fullmatch(value) and _mod11_valid(value):
            return StructuredReference(value=value, kind=ReferenceKind.KID)
        reference = classify_reference(value)
        if reference is None:
            return None
        if reference.kind is ReferenceKind.KID:
            if kid_check_digit_valid(reference.value):
                return reference
            self.note(
                "kid_check_digit",
                f"line {record.line}: the KID {reference.value} of transaction {number} fails "
                "both the mod10 and the mod11 check digit; published as a reference of kind "
                "other, not as a KID",
                statement,
            )
            return StructuredReference(value=reference.value, kind=ReferenceKind.OTHER)
        if reference.kind is ReferenceKind.OTHER:
            self.note(
                "invalid_kid",
                f"line {record.line}: the KID field of transaction {number} holds {value!r}, "
                "which is not 2 to 25 digits; published as a reference of kind other",
                statement,
            )
        return reference

    def _amount_item_2(self, record: _Record, current: _Transaction, statement: str) -> None:
        current.has_item_2 = True
        line = current.line
        form_number = record.field(16, 25)
        field_7 = record.field(26, 34).strip()
        bank_date = self._optional_date(record, 42, "bank date", statement)
        debit_account = record.field(48, 58).strip()
        info = [line.additional_info] if line.additional_info else []
        if field_7.strip("0"):
            if current.transaction_type == DIRECT_REMITTANCE:
                info.append(f"payer's agreement id {field_7}")
            elif current.transaction_type in TERMINAL_TYPES:
                info.append(f"terminal (BAX) {field_7[:6]} session {field_7[6:]}")
            else:
                line.bank_reference = field_7
        if debit_account.strip("0"):
            line.counterparty = Counterparty(other_account=debit_account)
        if bank_date is not None:
            info.append(f"bank date {bank_date.isoformat()}")
        if form_number.strip("0 "):
            info.append(f"form number {form_number.strip()}")
        line.additional_info = "; ".join(info)

    def _optional_date(self, record: _Record, start: int, name: str, statement: str) -> date | None:
        """A date that only informs: unreadable is a diagnostic, not a refusal."""
        try:
            return record.nets_date(start, name, statement, required=False)
        except InvalidRecord as unreadable:
            self.note("invalid_date", unreadable.message, statement)
            return None

    def _check_last_transaction(self, assignment: _Assignment) -> None:
        """The transaction read last has its amount item 2."""
        if not assignment.transactions:
            return
        last = assignment.transactions[-1]
        if not last.has_item_2:
            self.note(
                "incomplete_transaction",
                f"transaction {last.number} (line {last.line.source_line}) has no amount item "
                "2 (NY09..31); its archive reference and debit account are unknown",
                assignment.bank_statement_id,
            )
            last.has_item_2 = True  # noted once

    # -- end of file

    def finish(self, last_line: int) -> ParseResult:
        if self.skipped is not None:
            raise InvalidRecord(
                "NY21..88 record",
                f"the AvtaleGiro assignment started at line {self.skipped.start_line} has no "
                "assignment end record; the file ends before it",
                line=last_line,
            )
        if self.assignment is not None:
            self._close_open_assignment(last_line)
        if self.transmission is not None:
            self.note(
                "missing_end_record",
                f"the transmission started at line {self.transmission.start_line} has no "
                "transmission end record (NY000089); the file may be truncated",
            )
        if self.avtalegiro_seen and not self.statements:
            raise _avtalegiro_refusal(self.avtalegiro_seen)
        for skipped in self.avtalegiro_seen:
            kind = _AVTALEGIRO_ASSIGNMENTS.get(skipped.assignment_type, "AvtaleGiro records")
            self.note(
                "avtalegiro_skipped",
                f"the AvtaleGiro assignment at line {skipped.start_line} ({kind}) is not a "
                "bank statement and is skipped",
            )
        if not self.statements:
            self.note("no_statements", "the transmission holds no OCR giro assignment")
        return ParseResult(
            file_sha256=self.sha256,
            source_format=SOURCE_FORMAT,
            statements=self.statements,
            diagnostics=self.diagnostics,
        )


def _avtalegiro_refusal(assignments: list[_SkippedAssignment]) -> UnsupportedFormat:
    kinds = sorted(
        {_AVTALEGIRO_ASSIGNMENTS.get(a.assignment_type, "AvtaleGiro records") for a in assignments}
    )
    return UnsupportedFormat(
        f"the file is an AvtaleGiro file (service code 21, assignment at line "
        f"{assignments[0].start_line}) holding {' and '.join(kinds)}, not an OCR giro "
        "statement: AvtaleGiro claim files are what a creditor sends Nets to collect, and "
        "agreement or cancellation lists; they are not bank statements and no money has moved. "
        "The payments AvtaleGiro collects are reported in the OCR giro file (service code 09, "
        "transaction type 15); upload that file instead"
    )


# ---------------------------------------------------------------------------- entry point


def parse(
    data: bytes, *, tenant_id: str, sha256: str, statement_format: str = SOURCE_FORMAT
) -> ParseResult:
    """Every OCR giro assignment of a Nets transmission as a statement of its payments.

    ``statement_format`` is ``ocr-giro`` (asked for or detected from ``NY000010``).
    """
    text = decode_statement_text(data)
    if not text.strip():
        raise EmptyStatementFile("the file is empty; send the OCR giro file as the request body")
    first = text.lstrip().splitlines()[0]
    if not (first.startswith("NY") and first[2:8].isascii() and first[2:8].isdigit()):
        raise FormatMismatch(
            f"format={statement_format} was asked for but the file is not a Nets OCR giro "
            f"file: it does not start with a transmission start record (NY000010) but with "
            f"{first[:20]!r}; leave out format= to detect it"
        )
    reader = _FileReader(tenant_id=tenant_id, sha256=sha256)
    last_line = 0
    for record in _records(text):
        reader.read(record)
        last_line = record.line
    return reader.finish(last_line)
