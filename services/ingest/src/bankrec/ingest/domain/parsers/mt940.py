"""SWIFT MT940 customer statements and MT942 interim transaction reports.

A file holds one or more messages, each a sequence of fields ``:tag:value`` (a value may go
on over the following lines). Every message becomes one statement:

- ``:20:`` transaction reference, ``:21:`` related reference (ignored), ``:25:`` account
  (IBAN, ``BLZ/account``, ``BIC/account``, often with the currency appended), ``:28C:`` (or
  the older ``:28:``) statement number / page;
- ``:60F:``/``:60M:`` opening balance (``M``: the intermediate balance a page of a longer
  statement starts with), ``:62F:``/``:62M:`` closing booked balance, ``:64:`` closing
  available balance, ``:65:`` forward available balances (ignored);
- ``:61:`` statement lines, each followed by its ``:86:`` information to account owner
  (read by ``mt940_narrative``); an ``:86:`` before the first line or after the closing
  balance is about the statement and ignored;
- MT942: ``:34F:`` floor limits, ``:13D:`` date and time of the report, ``:90D:``/``:90C:``
  number and sum of the debit and credit entries, checked against the lines.

Signs: ``C`` is money in (positive), ``D`` money out. ``RD`` (reversal of a debit) is money
in and ``RC`` (reversal of a credit) money out, both flagged ``reversal``. A third letter
after the mark is the funds code (the currency's last letter: ``CR`` is a credit in EUR).

What banks add around the messages is tolerated: SWIFT envelopes ``{1:..}{2:..}{4:`` ...
``-}{5:..}``, header lines (``ABNANL2A``/``940``, ``0000 01INGBNL2AXXXX00001``, ``:940:``)
before or between messages (skipped with a diagnostic), ``-`` message separators, blank
lines, CR/LF or LF, ``@@`` line breaks, legacy code pages. A ``-`` line is a separator only
when the next field starts a message: ING wraps ``:86:`` text so that a line holds only
``-``. Unknown tags inside a value (``:12:11`` of a wrapped time) are text.

Refused, with the file line: a field that cannot be read (a date that does not exist, an
amount without its decimal comma, a balance without amount), a statement without ``:20:`` or
``:25:``, a second account, opening or closing balance inside one statement, and a file with
no ``:20:``/``:25:`` field at all (``FormatMismatch``).

The bank statement id is ``<:20:> <:28C:> <date>``: the statement (and page) number alone
repeats across years and many banks write ``00000/001`` every day, so the closing balance date
(the report time for MT942) makes the id of one statement stable and distinct from the next.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from bankrec.contracts import (
    BankTransactionCode,
    Charge,
    Counterparty,
    CurrencyExchange,
    Money,
    StatementKind,
    currency_exponent,
    normalize_account_number,
)
from bankrec.ingest.domain.model import Diagnostic, ParsedStatement, ParseResult
from bankrec.ingest.domain.parsers.mt940_narrative import (
    Narrative,
    collapse,
    is_iban,
    looks_like_bic,
    looks_like_iban,
    read_amount_codes,
    read_narrative,
    without_placeholder,
)
from bankrec.ingest.domain.parsers.text_encoding import decode_statement_text
from bankrec.ingest.domain.statement_assembly import (
    LineDraft,
    StatedTotals,
    StatementDraft,
    amount_too_large,
    assemble_statement,
)
from bankrec.ingest.errors import EmptyStatementFile, FormatMismatch, InvalidRecord

SOURCE_FORMATS = ("mt940", "mt942")

_KNOWN_TAGS = frozenset(
    {
        "20",
        "21",
        "25",
        "25P",
        "28",
        "28C",
        "60F",
        "60M",
        "61",
        "86",
        "62F",
        "62M",
        "64",
        "65",
        "13",
        "13D",
        "34F",
        "90D",
        "90C",
        "NS",
        "NSF",
    }
)
_TAG = re.compile(r"^:(\d\d[A-Z]?|NS[A-Z]?):")
_LINE_BREAKS = re.compile(r"\r\n|\r|\n")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_AT_LINE_BREAK = re.compile(r"@@:\d\d[A-Z]?:")
_SEPARATOR = re.compile(r"^-(?:\}.*|XXX|.{0,2})$")
_ENVELOPE_BLOCK = re.compile(r"^\{(\d):")
_MESSAGE_TYPE_BLOCK = re.compile(r"^\{2:[IO](\d{3})")
_HEADER_MESSAGE_TYPE = re.compile(r"^(940|942)\b")

# An amount has a decimal comma (``1234,56``, ``500,``, ``,02``). Rabobank's old export
# writes a decimal point with two decimals or none (``000000000300.00``, JPY
# ``000000020000.``), read as well; three digits after a point could be thousands, refused.
_AMOUNT = r"(?P<amount>\d+,\d*|,\d+|\d+\.(?:\d\d)?(?![\d.,]))"
_BALANCE = re.compile(r"^(?P<mark>[CD])(?P<date>\d{6})(?P<currency>[A-Z]{3})?\s*" + _AMOUNT + "$")
_STATEMENT_LINE = re.compile(
    r"^(?P<value>\d{6})(?P<entry>\d{4})?(?P<mark>RC|RD|C|D)(?P<funds>[A-Z])?\s*"
    + _AMOUNT
    + r"\s*(?P<rest>.*)$"
)
_STATEMENT_LINE_NO_COMMA = re.compile(
    r"^\d{6}(?:\d{4})?(?:RC|RD|C|D)[A-Z]?\s*(?P<amount>\d+(?:\.\d*)?)"
)
_TRANSACTION_TYPE = re.compile(r"^[A-Z][A-Z0-9 ]{3}")
_FLOOR_LIMIT = re.compile(r"^(?P<currency>[A-Z]{3})\s*(?P<mark>[CD])?\s*(?P<amount>\d*,?\d*)$")
_ENTRY_TOTALS = re.compile(r"^(?P<count>\d*)(?P<currency>[A-Z]{3})\s*(?P<amount>\d+,\d*|,\d+)$")
_DATE_TIME = re.compile(r"^(?P<stamp>\d{10})(?:(?P<sign>[+-])(?P<hh>\d\d)(?P<mm>\d\d))?$")
_WHITESPACE_RUN = re.compile(r"\s{2,}")
_REFERENCE_PLACEHOLDERS = frozenset(
    {"NONREF", "NOTPROVIDED", "NONE", "EREF", "PREF", "KREF", "KREF+", "MREF", "NOREF"}
)
REFERENCE_WIDTH = 16
"""SWIFT's width of the customer and bank references in ``:61:``."""


# --------------------------------------------------------------------------- the text


@dataclass(slots=True)
class _Field:
    """One ``:tag:value`` with its continuation lines, as found in the file."""

    tag: str
    lines: list[str]
    line: int  # file line of the tag
    message_type: str | None  # "940"/"942" from the envelope or the bank's header line

    @property
    def value(self) -> str:
        """The value on one line: continuation lines appended without their breaks."""
        return "".join(part.strip() for part in self.lines)

    @property
    def path(self) -> str:
        return f":{self.tag}:"


@dataclass(slots=True)
class _Text:
    """The fields of a file and the lines outside any message."""

    fields: list[_Field] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)


def _readable_text(data: bytes) -> str:
    text = decode_statement_text(data)
    text = _CONTROL.sub("", text).replace("\t", " ")
    if _AT_LINE_BREAK.search(text):  # some exports write "@@" for each line break
        text = text.replace("@@", "\n")
    return text


def _split_fields(text: str) -> _Text:
    lines = _LINE_BREAKS.split(text)
    starts_message = _next_field_starts_message(lines)
    found = _Text()
    current: _Field | None = None
    message_type: str | None = None
    for index, raw in enumerate(lines):
        number = index + 1
        line = raw
        stripped = line.strip()
        if not stripped:
            continue
        if stripped == "}" or (
            _SEPARATOR.match(stripped) and (stripped.startswith("-}") or starts_message[index + 1])
        ):
            current, message_type = None, None
            line = stripped[2:] if stripped.startswith("-}") else ""  # "-}{5:...}{1:..."
            if not line:
                continue
        if line.lstrip().startswith("{"):
            line, block_type = _without_envelope(line.strip())
            message_type = block_type or message_type
            current = None
            if not line.strip():
                continue
        tag = _TAG.match(line)
        if tag is not None and tag.group(1) in _KNOWN_TAGS:
            current = _Field(tag.group(1), [line[tag.end() :]], number, message_type)
            found.fields.append(current)
        elif current is not None:
            current.lines.append(line)
        else:
            header = _HEADER_MESSAGE_TYPE.match(stripped)
            if header is not None:
                message_type = header.group(1)
            found.skipped.append((number, stripped))
    return found


def _next_field_starts_message(lines: list[str]) -> list[bool]:
    """For each line: whether the next field at or after it starts a message (``:20:`` or
    an envelope) or the file ends there; the lines in between are then outside messages."""
    result = [True] * (len(lines) + 1)
    upcoming = True
    for index in range(len(lines) - 1, -1, -1):
        stripped = lines[index].strip()
        tag = _TAG.match(stripped)
        if stripped.startswith("{"):
            upcoming = True
        elif tag is not None and tag.group(1) in _KNOWN_TAGS:
            upcoming = tag.group(1) == "20"
        result[index] = upcoming
    return result


def _without_envelope(line: str) -> tuple[str, str | None]:
    """The line without its leading SWIFT blocks ``{1:...}{2:...}{3:{..}}{4:``, and the
    message type block 2 names."""
    message_type = None
    rest = line
    while True:
        block = _ENVELOPE_BLOCK.match(rest)
        if block is None:
            return rest, message_type
        if block.group(1) == "4":
            rest = rest[block.end() :]
            continue
        kind = _MESSAGE_TYPE_BLOCK.match(rest)
        if kind is not None:
            message_type = kind.group(1)
        end = _block_end(rest)
        if end is None:
            return "", message_type
        rest = rest[end:]


def _block_end(text: str) -> int | None:
    depth = 0
    for position, character in enumerate(text):
        if character == "{":
            depth += 1
        elif character == "}":
            depth -= 1
            if depth == 0:
                return position + 1
    return None


def _messages(fields: list[_Field]) -> Iterator[list[_Field]]:
    """The fields of each message: a message starts at its ``:20:``."""
    message: list[_Field] = []
    for found in fields:
        if found.tag == "20":
            if message:
                yield message
            message = [found]
        elif not message:
            raise InvalidRecord(
                found.path,
                f"the field at line {found.line} comes before any :20: transaction reference, "
                "which starts every MT940/MT942 message",
                line=found.line,
            )
        else:
            message.append(found)
    if message:
        yield message


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class _Balance:
    amount: Decimal  # signed
    on: date
    currency: str | None
    line: int
    tag: str


@dataclass(slots=True)
class _PendingLine:
    """A ``:61:`` and the ``:86:`` fields that follow it."""

    statement_line: _Field
    narrative: list[list[str]] = field(default_factory=list)


@dataclass(slots=True)
class _Collected:
    """What the fields of one message say, each read on its own."""

    stated: StatedTotals
    message_types: set[str]
    account: _Field | None = None
    number: _Field | None = None
    opening: _Balance | None = None
    closing: _Balance | None = None
    available: _Balance | None = None
    floor_currency: str | None = None
    created_at: datetime | None = None
    has_totals: bool = False
    intraday_fields: bool = False  # :34F: or :13D:, which only MT942 has
    pending: list[_PendingLine] = field(default_factory=list)


def _decimal(amount: str) -> Decimal:
    return Decimal(amount.replace(",", "."))


def _yymmdd(text: str, path: str, statement: str | None, line: int) -> date:
    """A SWIFT date; two-digit years 80-99 are the 1900s (Deutsche Mark statements)."""
    year, month, day = int(text[:2]), int(text[2:4]), int(text[4:6])
    year += 1900 if year >= 80 else 2000
    try:
        return date(year, month, day)
    except ValueError:
        raise InvalidRecord(
            path,
            f"{text!r} is not a date (YYMMDD: {year}-{month:02d}-{day:02d} does not exist)",
            statement=statement,
            line=line,
        ) from None


def _entry_date(text: str, value_date: date, statement: str | None, line: int) -> date:
    """The ``MMDD`` entry date in the year that puts it nearest the value date, so a
    booking on 2 January of a payment valued 30 December lands in the next year."""
    month, day = int(text[:2]), int(text[2:])
    candidates = []
    for year in (value_date.year - 1, value_date.year, value_date.year + 1):
        try:
            candidates.append(date(year, month, day))
        except ValueError:
            continue
    if not candidates:
        raise InvalidRecord(
            ":61: entry date",
            f"{text!r} is not a date (MMDD: month {month:02d}, day {day:02d})",
            statement=statement,
            line=line,
        )
    return min(candidates, key=lambda candidate: abs((candidate - value_date).days))


# ----------------------------------------------------------------------- the reader


class _FileReader:
    """Statements, lines and diagnostics of one file."""

    def __init__(self, *, tenant_id: str, sha256: str, statement_format: str) -> None:
        self.tenant_id = tenant_id
        self.sha256 = sha256
        self.statement_format = statement_format
        self.statements: list[ParsedStatement] = []
        self.diagnostics: list[Diagnostic] = []
        # (account, bank statement id) -> what the statement holds, to tell a repeated
        # statement from a different one that happens to get the same id
        self.seen: dict[tuple[str, str], tuple[object, ...]] = {}

    def note(self, code: str, message: str, statement: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code=code, message=message, statement=statement))

    def read(self, message: list[_Field]) -> None:
        draft = _StatementReader(self, message).draft()
        label = draft.bank_statement_id
        self.statements.append(
            assemble_statement(
                draft,
                tenant_id=self.tenant_id,
                sha256=self.sha256,
                note=lambda code, text: self.note(code, text, label),
            )
        )

    def unique_id(self, draft: StatementDraft) -> str:
        """The draft's bank statement id, made distinct when another statement of the same
        account in this file already has it and holds something else."""
        account = normalize_account_number(draft.account_number)
        content = _content(draft)
        key = draft.bank_statement_id
        seen = self.seen.get((account, key))
        if seen is None:
            self.seen[(account, key)] = content
            return key
        if seen == content:
            self.note(
                "duplicate_statement",
                f"statement '{key}' of account {draft.account_number} appears more than once "
                "in the file with the same content; its lines get the same ids, so consumers "
                "keep the first",
                key,
            )
            return key
        copy = 2
        while (account, f"{key} #{copy}") in self.seen:
            copy += 1
        unique = f"{key} #{copy}"
        self.seen[(account, unique)] = content
        self.note(
            "statement_id_reused",
            f"two different statements of account {draft.account_number} have reference, "
            f"number and date '{key}'; the later one is published as '{unique}'",
            unique,
        )
        return unique

    def result(self) -> ParseResult:
        return ParseResult(
            file_sha256=self.sha256,
            source_format=self.statement_format,
            statements=self.statements,
            diagnostics=self.diagnostics,
        )


def _content(draft: StatementDraft) -> tuple[object, ...]:
    return (
        draft.opening_booked,
        draft.closing_booked,
        tuple(
            (line.amount, line.value_date, line.booking_date, line.bank_reference)
            for line in draft.lines
        ),
    )


class _StatementReader:
    """One message's fields into a ``StatementDraft``."""

    def __init__(self, reader: _FileReader, fields: list[_Field]) -> None:
        self.reader = reader
        self.fields = fields
        self.reference = fields[0].value or None
        self.label = self.reference  # for errors, until the id is known
        self.notes: list[tuple[str, str]] = []  # said once the statement's id is known
        self.decimal_point_line: int | None = None

    def note(self, code: str, message: str) -> None:
        self.notes.append((code, message))

    def _amount(self, text: str, line: int) -> Decimal:
        if "." in text and self.decimal_point_line is None:
            self.decimal_point_line = line
            self.note(
                "decimal_point",
                f"amounts are written with a decimal point ({text!r} at line {line}) instead "
                "of SWIFT's decimal comma; read as decimals",
            )
        return _decimal(text)

    def _refuse(self, found: _Field, path: str, problem: str) -> InvalidRecord:
        return InvalidRecord(path, problem, statement=self.label, line=found.line)

    # -- the fields

    def _collect(self) -> _Collected:
        """Each field of the message read into its value; order and repetition checked."""
        found = _Collected(
            message_types={f.message_type for f in self.fields if f.message_type},
            stated=StatedTotals(where=f"the :90D:/:90C: totals of statement '{self.reference}'"),
        )
        single: dict[str, _Field] = {}
        narrative_open = False  # the last field was a :61: or an :86: that belongs to one
        for item in self.fields[1:]:
            tag = item.tag
            if tag in ("25", "25P", "60F", "60M", "62F", "62M"):
                previous = single.setdefault(tag[:2], item)
                if previous is not item:
                    raise self._refuse(
                        item,
                        item.path,
                        f"a second :{previous.tag}: field in one statement (the first at line "
                        f"{previous.line}); a message has one account, one opening and one "
                        "closing balance, so the file is damaged or a field has the wrong tag",
                    )
            if tag in ("25", "25P"):
                found.account = item
            elif tag in ("28", "28C"):
                found.number = found.number or item
            elif tag in ("60F", "60M"):
                found.opening = self._balance(item)
            elif tag in ("62F", "62M"):
                found.closing = self._balance(item)
            elif tag == "64":
                found.available = found.available or self._balance(item)
            elif tag == "61":
                if found.closing is not None:
                    raise self._refuse(
                        item,
                        ":61:",
                        f"a statement line after the closing balance :{found.closing.tag}: "
                        f"(line {found.closing.line}); lines come before the closing balance",
                    )
                found.pending.append(_PendingLine(item))
            elif tag == "86" and narrative_open and found.pending:
                found.pending[-1].narrative.append(item.lines)
            elif tag == "34F":
                found.intraday_fields = True
                found.floor_currency = found.floor_currency or self._floor_limit_currency(item)
            elif tag in ("13", "13D"):
                found.intraday_fields = True
                found.created_at = found.created_at or self._created_at(item)
            elif tag in ("90D", "90C"):
                found.has_totals = True
                self._entry_totals(item, found.stated)
            narrative_open = tag == "61" or (tag == "86" and narrative_open)
        return found

    def draft(self) -> StatementDraft:
        first = self.fields[0]
        if self.reference is None:
            raise self._refuse(first, ":20:", "the transaction reference is empty")
        found = self._collect()
        if found.account is None or not found.account.value:
            raise InvalidRecord(
                ":25:",
                "the statement has no account identification (:25:), so its lines cannot be "
                "attributed to an account",
                statement=self.label,
                line=first.line,
            )
        opening, closing, available = found.opening, found.closing, found.available
        currency = self._currency(found, found.account, first)
        if found.message_types:
            intraday = "942" in found.message_types
        else:
            intraday = found.intraday_fields or self.reader.statement_format == "mt942"
        if not intraday and (opening is None or closing is None):
            missing = " and ".join(
                name
                for name, balance in (("opening (:60F:)", opening), ("closing (:62F:)", closing))
                if balance is None
            )
            self.note(
                "missing_balance",
                f"statement '{self.reference}' has no {missing} balance, so opening + lines "
                "= closing cannot be checked",
            )
        if found.account.tag == "25P":  # option P: the account, then the bank's BIC
            first_line, *bic_lines = found.account.lines
            servicer_bic, account_number = _account(first_line, currency)
            servicer_bic = "".join("".join(bic_lines).split()) or servicer_bic
        else:
            servicer_bic, account_number = _account(found.account.value, currency)
        sequence = self._sequence_number(found.number)
        created_at = found.created_at
        lines = [self._line(item, currency) for item in found.pending]
        on: date | datetime | None = None
        if closing is not None:
            on = closing.on
        elif created_at is not None:
            on = created_at.replace(tzinfo=None)
        elif opening is not None:
            on = opening.on
        elif lines:
            on = lines[-1].booking_date
        draft = StatementDraft(
            bank_statement_id=_statement_key(
                self.reference, None if found.number is None else found.number.value, on
            ),
            account_number=account_number,
            currency=currency,
            source_format="mt942" if intraday else "mt940",
            kind=StatementKind.INTRADAY if intraday else StatementKind.END_OF_DAY,
            servicer_bic=servicer_bic,
            electronic_sequence_number=sequence,
            legal_sequence_number=sequence,
            created_at=created_at,
            period_to=closing.on if closing else (created_at.date() if created_at else None),
            opening_booked=None if opening is None else _minor(opening.amount, currency),
            opening_date=None if opening is None else opening.on,
            closing_booked=None if closing is None else _minor(closing.amount, currency),
            closing_date=None if closing is None else closing.on,
            closing_available=None if available is None else _minor(available.amount, currency),
            closing_available_date=None if available is None else available.on,
            lines=lines,
            stated=found.stated if found.has_totals else None,
        )
        draft.bank_statement_id = self.reader.unique_id(draft)
        self.label = draft.bank_statement_id
        for code, message in self.notes:
            self.reader.note(code, message, self.label)
        return draft

    # -- balances and totals

    def _balance(self, found: _Field) -> _Balance:
        text = found.value
        match = _BALANCE.match(text)
        if match is None:
            raise self._refuse(
                found,
                found.path,
                f"{text!r} is not a balance: expected C or D, the date YYMMDD, the currency "
                "and the amount with a decimal comma (C240131EUR1234,56)",
            )
        on = _yymmdd(match["date"], f"{found.path} date", self.label, found.line)
        sign = -1 if match["mark"] == "D" else 1
        return _Balance(
            amount=sign * self._amount(match["amount"], found.line),
            on=on,
            currency=match["currency"],
            line=found.line,
            tag=found.tag,
        )

    def _floor_limit_currency(self, found: _Field) -> str | None:
        match = _FLOOR_LIMIT.match(found.value)
        if match is None:
            self.note(
                "invalid_floor_limit",
                f":34F: at line {found.line} holds {found.value!r}, not a currency and amount; "
                "ignored",
            )
            return None
        return match["currency"]

    def _created_at(self, found: _Field) -> datetime | None:
        match = _DATE_TIME.match(found.value)
        if match is None:
            self.note(
                "invalid_date_time",
                f":{found.tag}: at line {found.line} holds {found.value!r}, not YYMMDDhhmm+hhmm; "
                "the report time is left out",
            )
            return None
        stamp = match["stamp"]
        day = _yymmdd(stamp[:6], f"{found.path} date", self.label, found.line)
        if match["sign"] is None:
            self.note(
                "date_time_without_offset",
                f":{found.tag}: at line {found.line} ({found.value}) has no UTC offset; read "
                "as UTC",
            )
            zone = UTC
        else:
            hours, minutes = int(match["hh"]), int(match["mm"])
            if hours > 23 or minutes > 59:  # datetime.timezone takes less than 24 hours
                raise self._refuse(
                    found,
                    f"{found.path} UTC offset",
                    f"{match['sign'] + match['hh'] + match['mm']!r} is not a UTC offset "
                    "(+hhmm, at most 2359)",
                )
            offset = timedelta(hours=hours, minutes=minutes)
            zone = timezone(-offset if match["sign"] == "-" else offset)
        try:
            return datetime(
                day.year, day.month, day.day, int(stamp[6:8]), int(stamp[8:10]), tzinfo=zone
            )
        except ValueError:
            raise self._refuse(
                found, f"{found.path} time", f"{stamp[6:]!r} is not a time (hhmm)"
            ) from None

    def _entry_totals(self, found: _Field, stated: StatedTotals) -> None:
        match = _ENTRY_TOTALS.match(found.value)
        if match is None:
            raise self._refuse(
                found,
                found.path,
                f"{found.value!r} is not a number of entries, currency and sum (3EUR1234,56)",
            )
        if len(match["count"]) > 18:  # int() refuses 4300 digits and more with a ValueError
            raise self._refuse(
                found, found.path, f"the number of entries has {len(match['count'])} digits"
            )
        count = int(match["count"]) if match["count"] else None
        amount = _decimal(match["amount"])
        if found.tag == "90D":
            stated.debit_count, stated.debit_sum = count, amount
        else:
            stated.credit_count, stated.credit_sum = count, amount

    def _currency(self, found: _Collected, account: _Field, first: _Field) -> str:
        """The statement's currency: its balances', else the floor limit's or totals', else
        the one some banks append to the account."""
        balances = (found.opening, found.closing, found.available)
        named = [b.currency for b in balances if b is not None and b.currency is not None]
        currency = named[0] if named else found.floor_currency
        if currency is None:
            for item in self.fields:
                totals = _ENTRY_TOTALS.match(item.value) if item.tag in ("90D", "90C") else None
                if totals is not None:
                    currency = totals["currency"]
                    break
        if currency is None:
            suffix = re.search(r"[^A-Z]([A-Z]{3})$", account.value)
            currency = suffix.group(1) if suffix else None
        if currency is None:
            raise InvalidRecord(
                ":60F:",
                "the statement has no balance (:60F:, :62F:, :64:), floor limit (:34F:) or "
                "totals (:90D:/:90C:) that names its currency",
                statement=self.label,
                line=first.line,
            )
        for balance in balances:
            if balance is None:
                continue
            if balance.currency is None:
                self.note(
                    "balance_without_currency",
                    f":{balance.tag}: at line {balance.line} has no currency; read as "
                    f"{currency}, the statement's currency",
                )
            elif balance.currency != currency:
                raise InvalidRecord(
                    f":{balance.tag}: currency",
                    f"the balance is in {balance.currency} but the statement's other "
                    f"balances are in {currency}",
                    statement=self.label,
                    line=balance.line,
                )
        return currency

    def _sequence_number(self, number: _Field | None) -> int | None:
        if number is None:
            return None
        statement_number = number.value.split("/")[0].strip()
        # isdecimal, not isdigit: int() refuses digits such as superscripts that isdigit
        # takes; and SWIFT's 5 digits (18 at most here), as int() refuses 4300 and more
        if (
            statement_number.isdecimal()
            and len(statement_number) <= 18
            and int(statement_number) > 0
        ):
            return int(statement_number)
        return None

    # -- statement lines

    def _line(self, pending: _PendingLine, currency: str) -> LineDraft:
        found = pending.statement_line
        first, *more = found.lines
        match = _STATEMENT_LINE.match(first.strip())
        if match is None and more:  # a line broken inside the amount
            match = _STATEMENT_LINE.match(first.strip() + more[0].strip())
            more = more[1:]
        if match is None:
            raise self._refuse(found, ":61:", _statement_line_problem(first.strip()))
        value_date = _yymmdd(match["value"], ":61: value date", self.label, found.line)
        booking_date = value_date
        if match["entry"]:
            booking_date = _entry_date(match["entry"], value_date, self.label, found.line)
        mark = match["mark"]
        amount = self._amount(match["amount"], found.line)
        signed = amount if mark in ("C", "RD") else -amount
        transaction_type, customer, bank, extra = _references(match["rest"])
        supplementary = collapse(" ".join(part.strip() for part in (extra, *more) if part))
        narrative = read_narrative(pending.narrative)
        if supplementary:
            read_amount_codes(supplementary, narrative)
        customer_reference = (
            customer or narrative.customer_reference or narrative.payment_information_id
        )
        return LineDraft(
            amount=_minor(signed, currency),
            booking_date=booking_date,
            value_date=value_date,
            bank_reference=bank,
            end_to_end_id=narrative.end_to_end_id,
            customer_reference=customer_reference,
            bank_transaction_code=_transaction_code(narrative, transaction_type),
            counterparty=_counterparty(narrative, customer, supplementary),
            structured_reference=narrative.structured_reference,
            remittance_text=narrative.remittance_text,
            additional_info=_additional_info(narrative, supplementary),
            reversal=mark in ("RC", "RD"),
            charges=[
                Charge(amount=Money(amount=value, currency=code))
                for code, value in narrative.charges
            ],
            exchange=_exchange(narrative),
            purpose_code=narrative.purpose_code,
            source_line=found.line,
        )


def _statement_line_problem(text: str) -> str:
    no_comma = _STATEMENT_LINE_NO_COMMA.match(text)
    if no_comma is not None:
        return (
            f"the amount {no_comma['amount']!r} in {text!r} has no decimal comma; SWIFT writes "
            "amounts like 500, or 12,50, so the amount cannot be read with certainty"
        )
    return (
        f"{text!r} is not a statement line: expected the value date YYMMDD, an optional entry "
        "date MMDD, C, D, RC or RD, the amount with a decimal comma and the transaction type "
        "(2401310131D12,50NTRFNONREF)"
    )


def _references(rest: str) -> tuple[str | None, str | None, str | None, str]:
    """Transaction type, customer reference, bank reference and leftover text of the part
    of ``:61:`` after the amount (``NTRFmyref//bankref``)."""
    text = rest.rstrip()
    transaction_type = None
    if not text.upper().startswith("NONREF") and _TRANSACTION_TYPE.match(text):
        transaction_type, text = text[:4].strip() or None, text[4:]
    customer, _, bank = text.partition("//")
    extra = ""
    if len(customer.strip()) > REFERENCE_WIDTH:
        # Rabobank writes the counterparty after a padded 16-character reference
        padded = _WHITESPACE_RUN.search(customer.strip())
        if padded is not None:
            kept = customer.strip()
            customer, extra = kept[: padded.start()], kept[padded.end() :]
    bank = bank.strip()
    padded_bank = _WHITESPACE_RUN.search(bank)
    if padded_bank is not None:
        bank, extra = bank[: padded_bank.start()], f"{extra} {bank[padded_bank.end() :]}"
    customer_reference = customer.strip() or None
    if customer_reference is not None and customer_reference.upper() in _REFERENCE_PLACEHOLDERS:
        customer_reference = None
    return transaction_type, customer_reference, without_placeholder(bank), extra.strip()


def _transaction_code(
    narrative: Narrative, transaction_type: str | None
) -> BankTransactionCode | None:
    """The German business transaction code (GVC) when the ``:86:`` has one, else the
    SWIFT transaction type of ``:61:`` (``NTRF``, ``NMSC``, ``S202``)."""
    if narrative.transaction_code is not None:
        return BankTransactionCode(proprietary=narrative.transaction_code, proprietary_issuer="DK")
    if transaction_type is not None:
        return BankTransactionCode(proprietary=transaction_type, proprietary_issuer="SWIFT")
    return None


def _counterparty(
    narrative: Narrative, customer: str | None, supplementary: str | None
) -> Counterparty | None:
    account = narrative.counterparty_account
    name = narrative.counterparty_name
    if account is None:
        # Rabobank: the counterparty's IBAN as supplementary details; SNS: as the reference
        head = (supplementary or "").split(" ")[0]
        if head and looks_like_iban(head):
            account = head
        elif customer and looks_like_iban(customer):
            account = customer
            name = name or supplementary
    bic = narrative.counterparty_bic
    if account is None and name is None and bic is None:
        return None
    is_international = account is not None and is_iban(account)
    return Counterparty(
        name=name,
        iban=normalize_account_number(account) if account and is_international else None,
        other_account=account if account and not is_international else None,
        bic=bic if bic and looks_like_bic(bic) else None,
    )


def _additional_info(narrative: Narrative, supplementary: str | None) -> str | None:
    parts = [narrative.posting_text, supplementary]
    if narrative.mandate_reference:
        parts.append(f"mandate {narrative.mandate_reference}")
    if narrative.creditor_id:
        parts.append(f"creditor id {narrative.creditor_id}")
    parts.extend(f"ultimate party {party}" for party in narrative.ultimate_parties)
    parts.extend(narrative.details)
    found = [part for part in parts if part]
    return "; ".join(dict.fromkeys(found)) or None


def _exchange(narrative: Narrative) -> CurrencyExchange | None:
    if narrative.original_amount is None:
        return None
    currency, amount = narrative.original_amount
    return CurrencyExchange(instructed_amount=Money(amount=amount, currency=currency))


def _minor(amount: Decimal, currency: str) -> Decimal:
    """The amount with the currency's decimals (``9,`` EUR is 9.00); an amount with more
    decimals than the currency has is kept as written (assembly reports it)."""
    if amount_too_large(amount):  # quantize would raise; assemble_statement refuses it
        return amount
    quantized = amount.quantize(Decimal(1).scaleb(-currency_exponent(currency)))
    return quantized if quantized == amount else amount


def _statement_key(reference: str, number: str | None, on: date | datetime | None) -> str:
    parts = [reference.strip()]
    if number:
        parts.append("".join(number.split()))
    if on is not None:
        parts.append(on.isoformat(timespec="minutes") if isinstance(on, datetime) else str(on))
    return " ".join(parts)


def _account(text: str, currency: str) -> tuple[str | None, str]:
    """The servicing bank's BIC (when the bank writes ``BIC/account``) and the account as
    the bank gives it. A currency appended to an IBAN (``NL77INGB0574908765EUR``,
    ``NL34RABO0142623393 EUR``) is dropped so the account is the one camt files name; other
    account numbers keep it (``1700.59.286EUR`` and ``1700.59.286USD`` are two accounts of
    one customer). ``BLZ/account`` stays whole: a German account number is only unique with
    its bank code."""
    account = text.strip().lstrip("/")
    bic = None
    prefix, slash, rest = account.partition("/")
    if slash and rest.strip() and looks_like_bic(prefix):
        bic, account = prefix, rest.strip()
    for suffix in (f"/{currency}", f" {currency}", currency):
        if account.endswith(suffix) and looks_like_iban(account[: -len(suffix)]):
            return bic, normalize_account_number(account[: -len(suffix)])
    if looks_like_iban(account):
        return bic, normalize_account_number(account)
    return bic, account


# ---------------------------------------------------------------------- entry point


def parse(data: bytes, *, tenant_id: str, sha256: str, statement_format: str) -> ParseResult:
    """Every MT940 statement or MT942 report in the file, each with its lines.

    ``statement_format`` is ``mt940`` or ``mt942`` (asked for or detected); a message's own
    type (envelope block 2, ``:34F:``/``:13D:``) decides whether it is intraday.
    """
    name = statement_format.upper()
    text = _readable_text(data)
    if not text.strip():
        raise EmptyStatementFile(f"the file is empty; send the {name} file as the request body")
    found = _split_fields(text)
    if not any(f.tag in ("20", "25") for f in found.fields):
        shown = text.strip().splitlines()[0][:40]
        raise FormatMismatch(
            f"the file is not a SWIFT MT940/MT942 statement: it has no :20: (transaction "
            f"reference) or :25: (account identification) field, and it starts with {shown!r}; "
            f"if format={statement_format} was given, leave it out to detect the format"
        )
    reader = _FileReader(tenant_id=tenant_id, sha256=sha256, statement_format=statement_format)
    if found.skipped:
        first_line, first_text = found.skipped[0]
        reader.note(
            "skipped_lines",
            f"{len(found.skipped)} line(s) outside the SWIFT messages were skipped (bank "
            f"headers or separators), the first at line {first_line}: {first_text[:40]!r}",
        )
    for message in _messages(found.fields):
        reader.read(message)
    return reader.result()
