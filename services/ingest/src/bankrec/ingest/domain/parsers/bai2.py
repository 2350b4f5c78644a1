"""BAI2 cash management balance reporting (Bank Administration Institute, version 2, 2005
specification, now ASC X9): the prior-day and same-day account reports of US and Canadian
banks.

A file is records ``NN,field,field,.../``::

    01 file header      02 group header: originator, as-of date, currency, modifier
    03 account identifier: account number, currency, then repeated status and summary
       amounts (type code, amount, item count, funds type): 010 opening ledger, 015 closing
       ledger, 040/045 opening/closing available, 100 total credits, 400 total debits, ...
    16 transaction detail: type code, amount, funds type, bank and customer reference, text
    88 continuation of the record before it
    49 account trailer  98 group trailer  99 file trailer (control totals, record counts)

Each ``03 ... 49`` account section becomes one statement: opening booked = 010, closing
booked = 015 (never the available balances 040/045 in their place: those are other
figures), closing available = 045. Its 16 records are the lines, booked on the group's
as-of date, with the value date of a value-dated (``V``) funds type.

Amounts are integers in the currency's minor units (``12345`` USD is 123.45; JPY has no
decimals); the currency is the 03's, else the group's, else USD. A 16 amount is unsigned:
type codes 100-399 and the customised 920-959 are credits, 400-699 and 960-999 debits; any
other detail code (loan 7xx, 890 non-monetary, status codes) is kept as an information line.
The type code goes to ``bank_transaction_code.proprietary`` (issuer ``BAI``), the text of
the 16 and its 88 continuations to ``remittance_text``.

Statement ids: BAI2 has none. A statement is one account's report for one as-of date, so
``bank_statement_id`` is ``<account number>:<as-of date>`` (``1234567890:2022-02-01``). An
interim report (as-of-date modifier 1 or 3) adds ``-interim-<as-of time>`` so the final
report of the day keeps the plain id, and an account reported again in the same file for
the same date adds ``#2``, ``#3``, ... (with a diagnostic).

The file's own control figures are checked and a difference is a ``Diagnostic``, never a
refusal: the 49/98/99 control totals (the algebraic sum of every amount in the section,
summary amounts included) and record counts, the 98/99 counts of accounts and groups, and
the 100/400 totals and item counts against the 16 records.

Record delimiting, as real files write it: a record ends with ``/`` or with its line. The
text of a 16 (its last field) runs to the end of the record and may hold commas and
slashes, so a slash ends it only where another record follows on the same line
(``.../ 16,...``). Several records on one line, a text wrapped onto a line of its own and
``88:`` written for ``88,`` are all read (the last two with a note). BAI2 times carry no
time zone, so ``created_at`` stays empty rather than guess one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from bankrec.contracts import BankTransactionCode, EntryStatus, StatementKind, currency_exponent
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
    MissingElement,
)

SOURCE_FORMAT = "bai2"
DEFAULT_CURRENCY = "USD"
TYPE_CODE_ISSUER = "BAI"

OPENING_LEDGER = "010"
CLOSING_LEDGER = "015"
CLOSING_AVAILABLE = "045"
TOTAL_CREDITS = "100"
TOTAL_DEBITS = "400"

RECORD_CODES = ("01", "02", "03", "16", "49", "88", "98", "99")
_RECORD_START = re.compile(r"(01|02|03|16|49|88|98|99)([,:])")
# A slash inside a text field ends the record only where the next record follows on the
# same line: another detail, a continuation or the account trailer.
_TEXT_RECORD_END = re.compile(r"/\s*(?=16,\s*\d{3}\s*,|88,|49,\s*[+-]?\d*\s*,)")
_INTEGER = re.compile(r"[+-]?\d+")
_DIGITS = re.compile(r"\d+")
_CURRENCY = re.compile(r"[A-Z]{3}")
_TYPE_CODE = re.compile(r"\d{3}")
_FUNDS_TYPES = ("", "0", "1", "2", "V", "S", "D", "Z")
DISTRIBUTIONS_MAX = 99  # a D funds type distributes over days: a handful in practice
_INTERIM_MODIFIERS = ("1", "3")  # interim previous-day, interim same-day
_GROUP_STATUS = {"2": "deletion", "3": "correction", "4": "test only"}

Note = Callable[[str, str], None]


def parse(data: bytes, *, tenant_id: str, sha256: str, statement_format: str) -> ParseResult:
    """Every account section of a BAI2 file as a statement, with diagnostics."""
    del statement_format  # only "bai2" is dispatched here
    text = decode_statement_text(data)
    if not text.strip():
        raise EmptyStatementFile("the file is empty; send the BAI2 file as the request body")
    reader = _Bai2Reader(tenant_id=tenant_id, sha256=sha256)
    records = _logical_records(_split_records(text, reader.note))
    reader.read(records)
    return ParseResult(
        file_sha256=sha256,
        source_format=SOURCE_FORMAT,
        statements=reader.statements,
        diagnostics=reader.diagnostics,
    )


# ----------------------------------------------------------------------------- records


@dataclass(slots=True)
class _Segment:
    """The fields of one physical record (a base record or one of its 88s)."""

    content: str
    line: int


@dataclass(slots=True)
class _Record:
    """A logical record: its own fields and those of the 88 records continuing it."""

    code: str
    segments: list[_Segment]

    @property
    def line(self) -> int:
        return self.segments[0].line

    @property
    def physical_count(self) -> int:
        """Records as the trailers count them: the record and each of its 88s."""
        return len(self.segments)

    def fields(self) -> list[_Field]:
        """Every field, in order over the 88s, each knowing whether it ended its record."""
        found: list[_Field] = []
        for segment in self.segments:
            values = segment.content.split(",")
            found.extend(
                _Field(value.strip(), segment.line, last=position == len(values) - 1)
                for position, value in enumerate(values)
            )
        return found


@dataclass(frozen=True, slots=True)
class _Field:
    value: str
    line: int
    last: bool  # the last field of its physical record


@dataclass(slots=True)
class _OpenRecord:
    """A record being read off the lines: its parts until its end is found."""

    code: str
    line: int
    text: bool  # ends with a text field that may hold commas and slashes
    parts: list[str] = field(default_factory=list)

    def content(self) -> str:
        if not self.text:
            return "".join(self.parts).strip()
        joined = " ".join(part.strip() for part in self.parts if part.strip())
        return joined[:-1].rstrip() if joined.endswith("/") else joined


def _split_records(text: str, note: Note) -> list[tuple[str, _Segment]]:
    """The physical records of the file, ``(code, segment)`` in order."""
    records: list[tuple[str, _Segment]] = []
    current: _OpenRecord | None = None
    last_base = ""  # the last record that is not an 88: an 88 after a 16 continues text
    wrapped_noted = False

    def finish(record: _OpenRecord) -> None:
        records.append((record.code, _Segment(record.content(), record.line)))

    def open_record(start: re.Match[str], number: int) -> _OpenRecord:
        nonlocal last_base
        code = start.group(1)
        if start.group(2) == ":":
            note(
                "record_separator",
                f"file line {number} starts '{code}:' instead of '{code},'; read as a "
                f"{code} record",
            )
        if code != "88":
            last_base = code
        text_record = code == "16" or (code == "88" and last_base == "16")
        return _OpenRecord(code=code, line=number, text=text_record)

    for number, physical in enumerate(text.splitlines(), start=1):
        rest = physical.strip()
        if not rest:
            continue
        start = _RECORD_START.match(rest)
        if start is not None:
            if current is not None:
                finish(current)
            current = open_record(start, number)
            rest = rest[start.end() :]
        elif current is None:
            if not records:
                raise FormatMismatch(
                    "the file does not start with a BAI2 file header (a line beginning "
                    f"'01,'); its first line is {rest[:40]!r}"
                )
            raise InvalidRecord(
                f"line {number}",
                f"{rest[:40]!r} does not begin with a BAI2 record code "
                f"({', '.join(RECORD_CODES)}) and continues no record",
                line=number,
            )
        elif not wrapped_noted:
            wrapped_noted = True
            note(
                "wrapped_record",
                f"file line {number} continues the {current.code} record of line "
                f"{current.line} without a record code; read as part of it",
            )
        while current is not None:
            remainder = _consume(current, rest)
            if remainder is None:
                break  # the record goes on (or ends with the line)
            finish(current)
            current = None
            rest = remainder.strip()
            if not rest:
                break
            start = _RECORD_START.match(rest)
            if start is None:
                note(
                    "ignored_text",
                    f"file line {number}: {rest[:40]!r} after the end of a record is not "
                    "a record; ignored",
                )
                break
            current = open_record(start, number)
            rest = rest[start.end() :]
    if current is not None:
        finish(current)
    return records


def _consume(record: _OpenRecord, rest: str) -> str | None:
    """Add what of ``rest`` belongs to ``record``; what follows its end, or None."""
    if record.text:
        end = _TEXT_RECORD_END.search(rest)
        if end is None:
            record.parts.append(rest)
            return None
        record.parts.append(rest[: end.start()])
        return rest[end.end() :]
    slash = rest.find("/")
    if slash < 0:
        record.parts.append(rest)
        return None
    record.parts.append(rest[:slash])
    return rest[slash + 1 :]


def _logical_records(physical: list[tuple[str, _Segment]]) -> list[_Record]:
    """88 continuation records joined to the record they continue."""
    records: list[_Record] = []
    for code, segment in physical:
        if code == "88":
            if not records:
                raise InvalidRecord(
                    "88",
                    "a continuation record with no record before it to continue",
                    line=segment.line,
                )
            records[-1].segments.append(segment)
        else:
            records.append(_Record(code=code, segments=[segment]))
    return records


# ------------------------------------------------------------------------------ values


def _integer(value: str, path: str, line: int, *, signed: bool = True) -> int | None:
    """An integer field (an amount in minor units, a count); None when blank."""
    text = value.strip()
    if not text:
        return None
    pattern = _INTEGER if signed else _DIGITS
    if pattern.fullmatch(text) is None:
        expected = "a whole number" if signed else "digits only (no sign, no decimal point)"
        raise InvalidRecord(path, f"{text!r} is not {expected}", line=line)
    return _bounded_int(text, path, line)


_NUMBER_DIGITS_MAX = 18


def _bounded_int(text: str, path: str, line: int) -> int:
    """``int(text)`` of a field of digits, refused past 18 digits: no BAI2 figure is that
    long, and int() itself refuses 4300 digits with a ValueError."""
    if len(text.lstrip("+-")) > _NUMBER_DIGITS_MAX:
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise InvalidRecord(
            path,
            f"{shown!r} has more than {_NUMBER_DIGITS_MAX} digits; no BAI2 figure does",
            line=line,
        )
    return int(text)


def _yymmdd(value: str, path: str, line: int) -> date | None:
    text = value.strip()
    if not text:
        return None
    if _DIGITS.fullmatch(text) is None or len(text) != 6:
        raise InvalidRecord(path, f"{text!r} is not a date YYMMDD", line=line)
    year = int(text[:2])
    try:
        return date(2000 + year if year < 70 else 1900 + year, int(text[2:4]), int(text[4:6]))
    except ValueError:
        raise InvalidRecord(path, f"{text!r} is not a date YYMMDD", line=line) from None


def _currency(value: str, path: str, line: int) -> str | None:
    text = value.strip().upper()
    if not text:
        return None
    if _CURRENCY.fullmatch(text) is None:
        raise InvalidRecord(path, f"{value.strip()!r} is not an ISO 4217 currency code", line=line)
    return text


def _money(minor_units: int, currency: str) -> Decimal:
    return Decimal(minor_units).scaleb(-currency_exponent(currency))


def _shown(minor_units: int, currency: str) -> str:
    return f"{_money(minor_units, currency):,} {currency}"


def direction_of(type_code: str) -> int | None:
    """+1 for a credit type code, -1 for a debit, None for one that moves no money."""
    code = int(type_code)
    if 100 <= code <= 399 or 920 <= code <= 959:
        return 1
    if 400 <= code <= 699 or 960 <= code <= 999:
        return -1
    return None


class _FieldCursor:
    """The fields of a 16 record read one by one across its 88s; the text is the rest."""

    def __init__(self, record: _Record) -> None:
        self._segments = record.segments
        self._index = 0
        self._position = 0
        self._exhausted = False

    @property
    def line(self) -> int:
        return self._segments[min(self._index, len(self._segments) - 1)].line

    def next(self) -> str:
        """The next field; an empty one (defaulted) once every record is read."""
        while self._exhausted:
            if self._index + 1 >= len(self._segments):
                return ""
            self._index += 1
            self._position = 0
            self._exhausted = False
        content = self._segments[self._index].content
        comma = content.find(",", self._position)
        if comma < 0:
            value = content[self._position :]
            self._exhausted = True
        else:
            value = content[self._position : comma]
            self._position = comma + 1
        return value.strip()

    def text_parts(self) -> list[str]:
        """The text field: the rest of the current record and every 88 after it."""
        parts: list[str] = []
        if not self._exhausted and self._index < len(self._segments):
            parts.append(self._segments[self._index].content[self._position :])
        parts.extend(segment.content for segment in self._segments[self._index + 1 :])
        return [part.strip() for part in parts if part.strip()]


# ----------------------------------------------------------------------------- sections


@dataclass(slots=True)
class _Summary:
    """One type code of an 03 record: its amount and item count (None when blank)."""

    amount: int | None
    count: int | None


@dataclass(slots=True)
class _Group:
    line: int
    as_of: date
    as_of_time: str
    currency: str | None
    modifier: str
    records: int = 0
    accounts: int = 0
    control_total: int = 0  # the sum of the account control totals


@dataclass(slots=True)
class _Account:
    line: int
    number: str
    currency: str
    summaries: dict[str, _Summary]
    lines: list[LineDraft] = field(default_factory=list)
    records: int = 0
    control_total: int = 0  # every amount of the section, in minor units


@dataclass(slots=True)
class _File:
    line: int
    records: int = 0
    groups: int = 0
    control_total: int = 0  # the sum of the group control totals


class _Bai2Reader:
    """Walks the records of a file: files, groups, accounts, details, trailers."""

    def __init__(self, *, tenant_id: str, sha256: str) -> None:
        self.tenant_id = tenant_id
        self.sha256 = sha256
        self.statements: list[ParsedStatement] = []
        self.diagnostics: list[Diagnostic] = []
        self._statement_ids: dict[str, int] = {}
        self._file: _File | None = None
        self._group: _Group | None = None
        self._account: _Account | None = None
        self._type_codes: dict[str, BankTransactionCode] = {}

    def note(self, code: str, message: str, statement: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code=code, message=message, statement=statement))

    # -- the walk

    def read(self, records: list[_Record]) -> None:
        if not records or records[0].code != "01":
            first = records[0].code if records else "nothing"
            raise FormatMismatch(
                f"the file does not start with a BAI2 file header (01 record) but with {first}"
            )
        for record in records:
            self._count(record)
            handler = self._HANDLERS[record.code]
            handler(self, record)
        self._end_of_data()
        if not self.statements:
            raise MissingElement(
                "03",
                hint="the file holds no account identifier (03 record), so no statement",
            )

    def _count(self, record: _Record) -> None:
        """Trailer record counts include the header and trailer records themselves."""
        count = record.physical_count
        if record.code == "01":
            return  # counted when the file opens
        if self._file is not None:
            self._file.records += count
        if record.code == "02":
            return  # counted when the group opens
        if self._group is not None:
            self._group.records += count
        if self._account is not None and record.code != "03":
            self._account.records += count

    def _file_header(self, record: _Record) -> None:
        if self._file is not None:
            self._close_group(record.line, trailer=None)
            self._close_file(record.line, trailer=None)
        fields = record.fields()
        version = fields[7].value if len(fields) > 7 else ""
        if version and version != "2":
            self.note(
                "bai_version",
                f"the file header (line {record.line}) says BAI version {version!r}; read as "
                "version 2",
            )
        self._file = _File(line=record.line, records=record.physical_count)

    def _group_header(self, record: _Record) -> None:
        if self._file is None:
            raise InvalidRecord(
                "02", "a group header after the file trailer (99)", line=record.line
            )
        if self._group is not None:
            self._close_group(record.line, trailer=None)
        fields = [f.value for f in record.fields()] + [""] * 8
        as_of = _yymmdd(fields[3], "02 as-of date", record.line)
        if as_of is None:
            raise InvalidRecord("02 as-of date", "is blank", line=record.line)
        status = fields[2]
        if status in _GROUP_STATUS:
            self.note(
                "group_status",
                f"the group of line {record.line} has status {status} "
                f"({_GROUP_STATUS[status]}); its accounts are read like any other",
            )
        self._group = _Group(
            line=record.line,
            as_of=as_of,
            as_of_time=fields[4],
            currency=_currency(fields[5], "02 currency code", record.line),
            modifier=fields[6],
            records=record.physical_count,
        )
        self._file.groups += 1

    def _account_identifier(self, record: _Record) -> None:
        group = self._require_group(record)
        if self._account is not None:
            self._close_account(record.line, trailer=None)
        fields = record.fields()
        number = fields[0].value if fields else ""
        if not number:
            raise InvalidRecord("03 customer account number", "is blank", line=record.line)
        currency = (
            _currency(fields[1].value, "03 currency code", fields[1].line)
            if len(fields) > 1
            else None
        )
        summaries, control_total = self._summaries(fields[2:], number)
        self._account = _Account(
            line=record.line,
            number=number,
            currency=currency or group.currency or DEFAULT_CURRENCY,
            summaries=summaries,
            records=record.physical_count,
            control_total=control_total,
        )
        group.accounts += 1

    def _summaries(self, fields: list[_Field], account: str) -> tuple[dict[str, _Summary], int]:
        """The status and summary amounts of an 03 record and their sum (minor units)."""
        summaries: dict[str, _Summary] = {}
        total = 0
        index = 0
        while index < len(fields):
            slot = fields[index]
            if not slot.value:
                if slot.last:  # "...,/": the comma before the slash opens no new amount
                    index += 1
                    continue
                if all(not f.value for f in fields[index:]):
                    break
            values = [f.value for f in fields[index : index + 4]] + [""] * 4
            type_code, amount_text, count_text, funds = values[:4]
            path = f"03 type code {type_code or '(blank)'}"
            if type_code and _TYPE_CODE.fullmatch(type_code) is None:
                raise InvalidRecord(
                    "03 type code", f"{type_code!r} is not a 3-digit BAI type code", line=slot.line
                )
            amount = _integer(amount_text, f"{path} amount", slot.line)
            count = _integer(count_text, f"{path} item count", slot.line, signed=False)
            index += 4 + _funds_fields(funds, fields, index + 4, path, slot.line)
            if not type_code:
                continue
            if amount is not None:
                total += amount
            if type_code in summaries:
                self.note(
                    "repeated_type_code",
                    f"account {account}: type code {type_code} appears twice in its 03 record "
                    f"(line {slot.line}); the first is used",
                )
                continue
            summaries[type_code] = _Summary(amount=amount, count=count)
        return summaries, total

    def _detail(self, record: _Record) -> None:
        account = self._account
        if account is None:
            raise InvalidRecord(
                "16",
                "a transaction detail outside an account (no 03 record before it)",
                line=record.line,
            )
        group = self._require_group(record)
        cursor = _FieldCursor(record)
        type_code = cursor.next()
        if not type_code:
            raise InvalidRecord("16 type code", "is blank", line=record.line)
        if _TYPE_CODE.fullmatch(type_code) is None:
            raise InvalidRecord(
                "16 type code", f"{type_code!r} is not a 3-digit BAI type code", line=record.line
            )
        amount_text = cursor.next()
        if not amount_text:
            raise InvalidRecord("16 amount", "is blank", line=cursor.line)
        if _DIGITS.fullmatch(amount_text) is None:
            raise InvalidRecord(
                "16 amount",
                f"{amount_text!r} is not an unsigned amount in minor units (the type code "
                "gives the direction)",
                line=cursor.line,
            )
        amount = _bounded_int(amount_text, "16 amount", cursor.line)
        funds = cursor.next().upper()
        value_date, availability = self._funds(funds, cursor, account.currency)
        bank_reference = cursor.next()
        customer_reference = cursor.next()
        text = " ".join(cursor.text_parts())
        direction = direction_of(type_code)
        status = EntryStatus.BOOKED
        if direction is None:
            status = EntryStatus.INFO
            self.note(
                "non_monetary_type_code",
                f"account {account.number}: the 16 record of line {record.line} has type code "
                f"{type_code}, neither a credit (100-399, 920-959) nor a debit (400-699, "
                "960-999); kept as an information line, not booked",
            )
        account.control_total += amount
        account.lines.append(
            LineDraft(
                amount=_money(amount, account.currency) * (direction or 1),
                status=status,
                booking_date=group.as_of,
                value_date=value_date,
                bank_reference=bank_reference or None,
                customer_reference=customer_reference or None,
                bank_transaction_code=self._transaction_code(type_code),
                remittance_text=text or None,
                additional_info=availability,
                source_line=record.line,
            )
        )

    def _transaction_code(self, type_code: str) -> BankTransactionCode:
        """One (immutable) code object per type code, shared by its lines."""
        code = self._type_codes.get(type_code)
        if code is None:
            code = BankTransactionCode(proprietary=type_code, proprietary_issuer=TYPE_CODE_ISSUER)
            self._type_codes[type_code] = code
        return code

    def _funds(
        self, funds: str, cursor: _FieldCursor, currency: str
    ) -> tuple[date | None, str | None]:
        """The value date (``V``) or availability (``S``, ``D``) the funds type adds."""
        if funds not in _FUNDS_TYPES:
            raise InvalidRecord(
                "16 funds type",
                f"{funds!r} is not a BAI2 funds type (0, 1, 2, V, S, D, Z or blank)",
                line=cursor.line,
            )
        if funds == "V":
            value_date = _yymmdd(cursor.next(), "16 value date", cursor.line)
            cursor.next()  # value time: the date is what a line carries
            return value_date, None
        if funds == "S":
            labels = ("immediate", "one day", "two or more days")
            amounts = [
                _integer(cursor.next(), "16 availability amount", cursor.line) for _ in labels
            ]
            shown = [
                f"{label} {_shown(amount, currency)}"
                for label, amount in zip(labels, amounts, strict=True)
                if amount is not None
            ]
            return None, f"availability: {', '.join(shown)}" if shown else None
        if funds == "D":
            path = "16 number of distributions"
            count = _integer(cursor.next(), path, cursor.line, signed=False) or 0
            if count > DISTRIBUTIONS_MAX:
                raise InvalidRecord(
                    path,
                    f"{count} is more than the {DISTRIBUTIONS_MAX} a file can hold",
                    line=cursor.line,
                )
            shown = []
            for _ in range(count):
                days = _integer(cursor.next(), "16 availability days", cursor.line, signed=False)
                amount = _integer(cursor.next(), "16 availability amount", cursor.line)
                if days is not None and amount is not None:
                    shown.append(f"{days} day(s) {_shown(amount, currency)}")
            return None, f"availability: {', '.join(shown)}" if shown else None
        return None, None

    def _account_trailer(self, record: _Record) -> None:
        if self._account is None:
            raise InvalidRecord(
                "49", "an account trailer without its account (03 record)", line=record.line
            )
        self._close_account(record.line, trailer=record)

    def _group_trailer(self, record: _Record) -> None:
        self._require_group(record)
        self._close_group(record.line, trailer=record)

    def _file_trailer(self, record: _Record) -> None:
        if self._file is None:
            raise InvalidRecord("99", "a file trailer without its file header", line=record.line)
        self._close_group(record.line, trailer=None)
        self._close_file(record.line, trailer=record)

    def _end_of_data(self) -> None:
        if self._file is not None:
            self._close_group(None, trailer=None)
            self._close_file(None, trailer=None)

    _HANDLERS: dict[str, Callable[[_Bai2Reader, _Record], None]] = {
        "01": _file_header,
        "02": _group_header,
        "03": _account_identifier,
        "16": _detail,
        "49": _account_trailer,
        "98": _group_trailer,
        "99": _file_trailer,
    }

    def _require_group(self, record: _Record) -> _Group:
        if self._group is None:
            raise InvalidRecord(
                record.code,
                f"a {record.code} record outside a group (no 02 group header before it)",
                line=record.line,
            )
        return self._group

    # -- closing sections and checking their trailers

    def _close_account(self, line: int | None, trailer: _Record | None) -> None:
        account, group = self._account, self._group
        if account is None or group is None:
            return
        self._account = None
        statement_id = self._statement_id(account, group)
        stated_total = account.control_total
        if trailer is None:
            where = "the end of the file" if line is None else f"line {line}"
            self.note(
                "missing_trailer",
                f"account {account.number} (line {account.line}) has no account trailer "
                f"(49) before {where}",
                statement_id,
            )
        else:
            fields = [f.value for f in trailer.fields()] + ["", ""]
            said_total = self._trailer_figure(fields[0], "49 account control total", trailer)
            said_records = self._trailer_figure(fields[1], "49 number of records", trailer)
            self._compare(
                said_total,
                account.control_total,
                f"the account trailer (49, line {trailer.line}) of account {account.number} "
                "says the amounts of the account add up to {said} but they add up to {actual}",
                "control_total_mismatch",
                statement_id,
            )
            self._compare(
                said_records,
                account.records,
                f"the account trailer (49, line {trailer.line}) of account {account.number} "
                "says the account has {said} records but it has {actual}",
                "record_count_mismatch",
                statement_id,
            )
            if said_total is not None:
                stated_total = said_total
        group.control_total += stated_total
        self._assemble(account, group, statement_id)

    def _close_group(self, line: int | None, trailer: _Record | None) -> None:
        self._close_account(line, trailer=None)
        group, file = self._group, self._file
        if group is None or file is None:
            return
        self._group = None
        stated_total = group.control_total
        if trailer is None:
            where = "the end of the file" if line is None else f"line {line}"
            self.note(
                "missing_trailer",
                f"the group of line {group.line} has no group trailer (98) before {where}",
            )
        else:
            fields = [f.value for f in trailer.fields()] + ["", "", ""]
            said_total = self._trailer_figure(fields[0], "98 group control total", trailer)
            said_accounts = self._trailer_figure(fields[1], "98 number of accounts", trailer)
            said_records = self._trailer_figure(fields[2], "98 number of records", trailer)
            where = f"the group trailer (98, line {trailer.line})"
            self._compare(
                said_total,
                group.control_total,
                f"{where} says its account control totals add up to {{said}} but they add up "
                "to {actual}",
                "control_total_mismatch",
            )
            self._compare(
                said_accounts,
                group.accounts,
                f"{where} says the group has {{said}} accounts but it has {{actual}}",
                "account_count_mismatch",
            )
            self._compare(
                said_records,
                group.records,
                f"{where} says the group has {{said}} records but it has {{actual}}",
                "record_count_mismatch",
            )
            if said_total is not None:
                stated_total = said_total
        file.control_total += stated_total

    def _close_file(self, line: int | None, trailer: _Record | None) -> None:
        file = self._file
        if file is None:
            return
        self._file = None
        if trailer is None:
            where = "the end of the file" if line is None else f"line {line}"
            self.note(
                "missing_trailer",
                f"the file header of line {file.line} has no file trailer (99) before {where}",
            )
            return
        fields = [f.value for f in trailer.fields()] + ["", "", ""]
        said_total = self._trailer_figure(fields[0], "99 file control total", trailer)
        said_groups = self._trailer_figure(fields[1], "99 number of groups", trailer)
        said_records = self._trailer_figure(fields[2], "99 number of records", trailer)
        where = f"the file trailer (99, line {trailer.line})"
        self._compare(
            said_total,
            file.control_total,
            f"{where} says its group control totals add up to {{said}} but they add up to "
            "{actual}",
            "control_total_mismatch",
        )
        self._compare(
            said_groups,
            file.groups,
            f"{where} says the file has {{said}} groups but it has {{actual}}",
            "group_count_mismatch",
        )
        self._compare(
            said_records,
            file.records,
            f"{where} says the file has {{said}} records but it has {{actual}}",
            "record_count_mismatch",
        )

    def _trailer_figure(self, value: str, path: str, trailer: _Record) -> int | None:
        """A trailer's total or count; one that cannot be read is noted and not checked."""
        try:
            return _integer(value, path, trailer.line)
        except InvalidRecord as unreadable:
            self.note("invalid_trailer", f"{unreadable.message}; not checked")
            return None

    def _compare(
        self,
        said: int | None,
        actual: int,
        template: str,
        code: str,
        statement: str | None = None,
    ) -> None:
        if said is not None and said != actual:
            self.note(code, template.format(said=said, actual=actual), statement)

    # -- statements

    def _statement_id(self, account: _Account, group: _Group) -> str:
        base = f"{account.number}:{group.as_of.isoformat()}"
        if group.modifier in _INTERIM_MODIFIERS:
            base = f"{base}-interim-{group.as_of_time or '0000'}"
        seen = self._statement_ids.get(base, 0) + 1
        self._statement_ids[base] = seen
        if seen == 1:
            return base
        statement_id = f"{base}#{seen}"
        self.note(
            "repeated_account",
            f"account {account.number} is reported again for {group.as_of.isoformat()} "
            f"(line {account.line}); this report is statement {statement_id}",
            statement_id,
        )
        return statement_id

    def _assemble(self, account: _Account, group: _Group, statement_id: str) -> None:
        currency = account.currency
        summaries = account.summaries

        def amount_of(type_code: str) -> Decimal | None:
            found = summaries.get(type_code)
            if found is None or found.amount is None:
                return None
            return _money(found.amount, currency)

        def note(code: str, message: str) -> None:
            self.note(code, message, statement_id)

        draft = StatementDraft(
            bank_statement_id=statement_id,
            account_number=account.number,
            currency=currency,
            source_format=SOURCE_FORMAT,
            kind=StatementKind.INTRADAY if group.modifier == "3" else StatementKind.END_OF_DAY,
            period_from=group.as_of,
            period_to=group.as_of,
            opening_booked=amount_of(OPENING_LEDGER),
            opening_date=group.as_of,
            closing_booked=amount_of(CLOSING_LEDGER),
            closing_date=group.as_of,
            closing_available=amount_of(CLOSING_AVAILABLE),
            closing_available_date=group.as_of,
            lines=account.lines,
            stated=self._stated_totals(account, note),
        )
        self.statements.append(
            assemble_statement(draft, tenant_id=self.tenant_id, sha256=self.sha256, note=note)
        )

    @staticmethod
    def _stated_totals(account: _Account, note: Note) -> StatedTotals | None:
        """The 100/400 totals to check against the lines; a summary-only report is noted."""
        credits = account.summaries.get(TOTAL_CREDITS)
        debits = account.summaries.get(TOTAL_DEBITS)
        if credits is None and debits is None:
            return None
        currency = account.currency
        if not account.lines:
            reported = [
                f"{label} {_shown(summary.amount, currency)}"
                for label, summary in (("credits", credits), ("debits", debits))
                if summary is not None and summary.amount
            ]
            if reported:
                note(
                    "summary_only",
                    f"account {account.number} reports total {' and '.join(reported)} in its "
                    "03 record but no transaction detail (16 records); the statement has no "
                    "lines",
                )
            return None
        return StatedTotals(
            credit_count=None if credits is None else credits.count,
            credit_sum=None
            if credits is None or credits.amount is None
            else _money(credits.amount, currency),
            debit_count=None if debits is None else debits.count,
            debit_sum=None
            if debits is None or debits.amount is None
            else _money(debits.amount, currency),
            where=f"the 03 record of account {account.number} (100 total credits, 400 total "
            "debits)",
        )


def _funds_fields(funds: str, fields: list[_Field], start: int, path: str, line: int) -> int:
    """How many fields after an 03 funds type belong to it (a value date, distributions)."""
    kind = funds.strip().upper()
    if kind not in _FUNDS_TYPES:
        raise InvalidRecord(
            f"{path} funds type",
            f"{funds!r} is not a BAI2 funds type (0, 1, 2, V, S, D, Z or blank)",
            line=line,
        )
    if kind == "V":
        return 2
    if kind == "S":
        return 3
    if kind == "D":
        count_text = fields[start].value if start < len(fields) else ""
        count = _integer(count_text, f"{path} number of distributions", line, signed=False)
        return 1 + 2 * (count or 0)
    return 0
