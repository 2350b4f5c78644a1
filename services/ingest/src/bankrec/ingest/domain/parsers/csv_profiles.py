"""Bank CSV exports, read through declarative profiles (``bank_csv_profiles/*.toml``).

Every bank writes its own CSV: other column names, separators, number and date shapes, sign
conventions. A *profile* says all of that as data, one TOML file per layout, so a new bank
layout is a reviewed data file rather than code. ``PROFILE_KEYS`` below lists every key a
profile may use; a profile is validated when it is loaded and a broken one is refused with
the file and key named (``ProfileError``), never half-used.

How a file is read:

* **Recognition.** The header row must contain every column of the profile's
  ``header.required`` (``A|B`` accepts either spelling; compared without case and with
  whitespace collapsed). The header may follow up to ``preamble.rows`` lines (``Kontonummer:
  ...``) and an Excel ``sep=;`` hint line. When several profiles fit, the one requiring the
  most columns wins (the generic profile requires few, so a bank's own profile beats it).
* **Encoding.** A UTF-8 or UTF-16 byte-order mark decides; otherwise the profile's encodings
  are tried in order (``utf-8`` strictly before a ``cp1252``/``latin-1`` fallback).
* **Numbers.** The profile's decimal mark(s) and thousands separators (``1.234,56``,
  ``1 234,56`` with a space, no-break space or narrow no-break space, ``1'234.56``);
  thousands groups must have three digits. A negative amount may be written ``-12,50``,
  ``12,50-``, ``(12.50)`` or with a U+2212 minus sign. An amount that does not read is
  refused with the file line, column and value.
* **Sign conventions** (``amount.convention``): ``signed`` (positive = money in),
  ``debit_positive`` (positive = money out, as card exports write it), ``debit_credit``
  (separate money-out and money-in columns; the sign written in them is ignored) and
  ``indicator`` (an unsigned amount and a D/C column).
* **Account.** From a column, from a preamble line, or by direction (``account.source =
  "direction"``: the own account is the "to" column for money in and the "from" column for
  money out, as SpareBank 1 and Nordea write it; the other column is the counterparty's
  account). A file with lines of several accounts gives one statement per account. When a
  layout names no account (DNB, Danske Bank), the file is refused with a message saying
  how to provide it; ``parse_csv(account_number=...)`` is where a caller supplies one.
* **Rows.** Blank rows are skipped; ``rows.skip`` patterns drop subtotal rows;
  ``rows.stop`` (or ``rows.stop_at_blank``) ends the transactions and starts a footer whose
  labelled figures (``footer.closing_balance``) are read, as preamble lines' are. A line is
  pending when its status column says so, when its booking date cell holds a marker
  (Nordea's ``Reservert``) or is empty (``status.pending_without_booking_date``), or when
  its text matches ``status.pending_text`` (DNB's ``Reservert transaksjon``).
* **Order.** Lines are published oldest first. With ``statement.order = "auto"`` the file
  order, its reverse and the booking-date order are tried, and the one the running balance
  follows (each balance = the previous one + the line's amount) is taken; without
  balances the dates decide. Several orders fitting with different results is a
  diagnostic (``csv_balance_order_unknown``).
* **Balances.** With a balance-after-line column, opening = first balance - first amount
  and closing = last balance (booked lines only), derived only when the running balance
  follows from the amounts throughout (otherwise ``csv_balance_chain`` names the lines
  where it does not). Balances the file states in its preamble or footer take precedence,
  and a disagreement with the column is a diagnostic. ``assemble_statement`` then checks
  opening + lines = closing.
* **Statement id** (``statement.id``): ``period`` (default) gives ``csv:<from>..<to>``, the
  preamble's period or else the first and last booking date; ``file`` gives
  ``csv:<first 16 hex of the file's SHA-256>``. Either way the statement id is scoped by
  the account, and line ids are made from the lines' content (``line_identity``).
* **Continuation rows.** With ``rows.continuation``, a row with neither booking date nor
  amount adds its text to the previous transaction's additional information.
* **Batches.** With ``amount.detail`` (UBS ``Einzelbetrag``), rows that carry only a detail
  amount are the payments of the preceding collective entry; when they add up to it the
  entry is published as its details (like camt ``TxDtls``), otherwise as one line with a
  diagnostic.

Leniency: oddities become diagnostics; a row is refused only when its date or amount
cannot be read, with the file line, the column and the value in the message.
"""

from __future__ import annotations

import codecs
import csv
import functools
import importlib.resources
import io
import itertools
import re
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from stdnum import iban as iban_numbers

from bankrec.contracts import (
    BankTransactionCode,
    Counterparty,
    EntryStatus,
    ReferenceKind,
    StructuredReference,
    currency_exponent,
    normalize_account_number,
)
from bankrec.ingest.domain.identity import file_sha256
from bankrec.ingest.domain.model import Diagnostic, ParsedStatement, ParseResult
from bankrec.ingest.domain.references import classify_reference
from bankrec.ingest.domain.statement_assembly import (
    LineDraft,
    StatedTotals,
    StatementDraft,
    amount_too_large,
    assemble_statement,
)
from bankrec.ingest.errors import EmptyStatementFile, FormatMismatch, InvalidRecord

SOURCE_FORMAT = "csv"
PROFILE_PACKAGE = "bankrec.ingest.domain.parsers"
PROFILE_FOLDER = "bank_csv_profiles"
_SNIFF_BYTES = 65536
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_MINUS_SIGNS = ("-", "\u2212")  # hyphen-minus, minus sign
_BREAKS_SHOWN = 3


class ProfileError(ValueError):
    """A shipped or supplied CSV profile that cannot be used: names the file and the key."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        super().__init__(f"CSV profile {source}: {key}: {problem}")
        self.source = source
        self.key = key


# ============================================================================ profile model


class AmountConvention(StrEnum):
    """How a row says the sign of its amount."""

    SIGNED = "signed"  # one column, positive = money in
    DEBIT_POSITIVE = "debit_positive"  # one column, positive = money out
    DEBIT_CREDIT = "debit_credit"  # a money-out and a money-in column
    INDICATOR = "indicator"  # an unsigned amount and a debit/credit indicator column


class AccountSource(StrEnum):
    """Where the statement's own account number comes from."""

    COLUMN = "column"
    PREAMBLE = "preamble"
    DIRECTION = "direction"  # "to" column for money in, "from" column for money out
    NONE = "none"  # the layout does not say: the caller must


class StatementIdRule(StrEnum):
    PERIOD = "period"
    FILE = "file"


class LineOrder(StrEnum):
    AUTO = "auto"
    OLDEST_FIRST = "oldest_first"
    NEWEST_FIRST = "newest_first"


def _normalized(name: str) -> str:
    """A header cell or label as compared: no BOM, whitespace collapsed, no case."""
    return " ".join(name.replace("\ufeff", "").split()).casefold()


@dataclass(frozen=True, slots=True)
class Column:
    """A column as a profile names it; ``A|B`` accepts either spelling, first found wins."""

    spelling: str
    alternatives: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        spellings = tuple(_normalized(part) for part in self.spelling.split("|"))
        object.__setattr__(self, "alternatives", spellings)

    def index_in(self, header: Mapping[str, int]) -> int | None:
        for alternative in self.alternatives:
            if alternative in header:
                return header[alternative]
        return None


@dataclass(frozen=True, slots=True)
class NumberFormat:
    """How amounts are written: decimal mark(s), thousands separators, text to drop."""

    decimal_marks: tuple[str, ...]
    thousands: tuple[str, ...]
    strip: tuple[str, ...] = ()
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        decimal = "".join(re.escape(mark) for mark in self.decimal_marks)
        grouped = r"\d+"
        if self.thousands:
            separators = "".join(re.escape(mark) for mark in self.thousands)
            grouped = rf"\d{{1,3}}(?:[{separators}]\d{{3}})+|\d+"
        pattern = re.compile(rf"^(?P<whole>{grouped})(?:[{decimal}](?P<fraction>\d+))?$")
        object.__setattr__(self, "_pattern", pattern)

    def read(self, text: str) -> Decimal:
        """The signed amount ``text`` writes; ``ValueError`` says what is wrong."""
        value = text
        for token in self.strip:
            value = value.replace(token, "")
        value = value.strip()
        negative = False
        if value.startswith("(") and value.endswith(")"):
            negative, value = True, value[1:-1].strip()
        if value.endswith(_MINUS_SIGNS):
            if negative:
                raise ValueError("it has two minus signs")
            negative, value = True, value[:-1].rstrip()
        elif value.startswith(_MINUS_SIGNS):
            if negative:
                raise ValueError("it has two minus signs")
            negative, value = True, value[1:].lstrip()
        elif value.startswith("+"):
            value = value[1:].lstrip()
        found = self._pattern.match(value)
        if found is None:
            raise ValueError("it is not a number in the expected shape")
        whole = re.sub(r"\D", "", found.group("whole"))
        fraction = found.group("fraction")
        try:
            amount = Decimal(f"{whole}.{fraction}" if fraction else whole)
        except InvalidOperation as exc:  # pragma: no cover - the pattern admits digits only
            raise ValueError("it is not a number") from exc
        return -amount if negative else amount

    def describe(self) -> str:
        marks = " or ".join(repr(mark) for mark in self.decimal_marks)
        if not self.thousands:
            return f"decimal mark {marks}, no thousands separator"
        separators = ", ".join(repr(mark) for mark in self.thousands)
        return f"decimal mark {marks}, thousands separator {separators}"


_DATE_PARTS = {
    "%d": "DD",
    "%m": "MM",
    "%Y": "YYYY",
    "%y": "YY",
    "%H": "hh",
    "%M": "mm",
    "%S": "ss",
    "%b": "Mon",
    "%B": "Month",
    "%j": "DDD",
}


def _describe_date_format(pattern: str) -> str:
    shown = pattern
    for directive, text in _DATE_PARTS.items():
        shown = shown.replace(directive, text)
    return shown


@dataclass(frozen=True, slots=True)
class DateFormat:
    """The ``strptime`` patterns a layout writes dates in, tried in order."""

    patterns: tuple[str, ...]

    def read(self, text: str) -> date:
        value = text.strip()
        for pattern in self.patterns:
            try:
                parsed = time.strptime(value, pattern)
            except ValueError:
                continue
            return date(parsed.tm_year, parsed.tm_mon, parsed.tm_mday)
        raise ValueError(f"{value!r} is not a date in the expected format {self.describe()}")

    def describe(self) -> str:
        return " or ".join(_describe_date_format(pattern) for pattern in self.patterns)


@dataclass(frozen=True, slots=True)
class AmountRule:
    convention: AmountConvention
    amount: Column | None = None
    debit: Column | None = None
    credit: Column | None = None
    indicator: Column | None = None
    credit_values: frozenset[str] = frozenset()
    debit_values: frozenset[str] = frozenset()
    detail: Column | None = None


@dataclass(frozen=True, slots=True)
class AccountRule:
    source: AccountSource
    column: Column | None = None
    label: Column | None = None  # preamble label, ``Kontonummer:``
    pattern: re.Pattern[str] | None = None  # preamble text, first group is the number
    credit: Column | None = None  # direction: own account on money in
    debit: Column | None = None  # direction: own account on money out
    bic: Column | None = None


@dataclass(frozen=True, slots=True)
class CurrencyRule:
    """``fixed``: the layout's only currency; otherwise a column and/or a preamble label,
    with ``default`` when neither says."""

    fixed: str | None = None
    column: Column | None = None
    label: Column | None = None
    default: str | None = None


@dataclass(frozen=True, slots=True)
class StatusRule:
    column: Column | None = None
    pending: frozenset[str] = frozenset()
    booked: frozenset[str] = frozenset()
    pending_dates: frozenset[str] = frozenset()
    pending_without_booking_date: bool = False
    pending_text_column: Column | None = None
    pending_text: re.Pattern[str] | None = None


@dataclass(frozen=True, slots=True)
class LabelledValues:
    """Labels of the figures a preamble or footer states (``Anfangssaldo:``)."""

    opening_balance: Column | None = None
    closing_balance: Column | None = None
    period_from: Column | None = None
    period_to: Column | None = None
    entry_count: Column | None = None


@dataclass(frozen=True, slots=True)
class CsvProfile:
    """One bank's CSV layout, as loaded from its TOML file."""

    name: str
    bank: str
    country: str | None
    description: str
    source: str  # the public source the layout follows
    file: str  # where the profile was loaded from
    encodings: tuple[str, ...]
    delimiters: tuple[str, ...]
    quote: str
    header: tuple[Column, ...]
    preamble_rows: int
    numbers: NumberFormat
    dates: DateFormat
    columns: Mapping[str, tuple[Column, ...]]
    amount: AmountRule
    account: AccountRule
    currency: CurrencyRule
    status: StatusRule
    reference: Column | None
    reference_digits: ReferenceKind
    preamble: LabelledValues
    footer: LabelledValues
    skip_rows: tuple[re.Pattern[str], ...]
    stop_rows: tuple[re.Pattern[str], ...]
    stop_at_blank: bool
    continuation: bool  # a row without date and amount continues the previous one's text
    statement_id: StatementIdRule
    order: LineOrder

    def column(self, key: str) -> Column | None:
        found = self.columns.get(key, ())
        return found[0] if found else None


# ============================================================================ loading


# Every key a profile may use, per table; "" is the top level.
PROFILE_KEYS: dict[str, tuple[str, ...]] = {
    "": ("name", "bank", "country", "description", "source"),
    "file": ("encoding", "delimiter", "quote"),
    "header": ("required",),
    "numbers": ("decimal", "thousands", "strip"),
    "dates": ("formats",),
    "columns": (
        "booking_date",
        "value_date",
        "counterparty_name",
        "counterparty_account",
        "counterparty_bic",
        "remittance_text",
        "additional_info",
        "bank_reference",
        "end_to_end_id",
        "customer_reference",
        "purpose_code",
        "transaction_type",
        "balance",
    ),
    "amount": (
        "convention",
        "amount",
        "debit",
        "credit",
        "indicator",
        "credit_values",
        "debit_values",
        "detail",
    ),
    "account": ("source", "column", "label", "pattern", "credit", "debit", "bic"),
    "currency": ("fixed", "column", "label", "default"),
    "reference": ("column", "digits"),
    "status": (
        "column",
        "pending",
        "booked",
        "pending_dates",
        "pending_without_booking_date",
        "pending_text_column",
        "pending_text",
    ),
    "preamble": (
        "rows",
        "opening_balance",
        "closing_balance",
        "period_from",
        "period_to",
        "entry_count",
    ),
    "footer": ("opening_balance", "closing_balance"),
    "rows": ("skip", "stop", "stop_at_blank", "continuation"),
    "statement": ("id", "order"),
}
_LIST_COLUMNS = {"counterparty_name", "remittance_text", "additional_info"}
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class _ProfileReader:
    """Reads and checks one profile's TOML tables; every problem names the key."""

    def __init__(self, raw: dict[str, Any], source: str) -> None:
        self.raw = raw
        self.source = source

    def fail(self, key: str, problem: str) -> ProfileError:
        return ProfileError(self.source, key, problem)

    def table(self, name: str) -> dict[str, Any]:
        value = self.raw.get(name, {})
        if not isinstance(value, dict):
            raise self.fail(name, "must be a table ([" + name + "])")
        return value

    def check_keys(self) -> None:
        for key, value in self.raw.items():
            if key in PROFILE_KEYS[""]:
                continue
            if key not in PROFILE_KEYS:
                known = ", ".join(sorted(k for k in PROFILE_KEYS if k))
                raise self.fail(key, f"unknown table or key (tables: {known})")
            if not isinstance(value, dict):
                raise self.fail(key, f"must be a table ([{key}])")
            for inner in value:
                if inner not in PROFILE_KEYS[key]:
                    known = ", ".join(PROFILE_KEYS[key])
                    raise self.fail(f"{key}.{inner}", f"unknown key (known in [{key}]: {known})")

    def text(self, table: str, key: str, *, required: bool = False) -> str | None:
        scope = self.raw if not table else self.table(table)
        value = scope.get(key)
        where = f"{table}.{key}" if table else key
        if value is None:
            if required:
                raise self.fail(where, "is required")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, "must be a non-empty string")
        return value

    def texts(self, table: str, key: str) -> tuple[str, ...]:
        """A string or a list of strings."""
        value = self.table(table).get(key)
        where = f"{table}.{key}"
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(where, "must be a string or a list of non-empty strings")
        return tuple(value)

    def flag(self, table: str, key: str) -> bool:
        value = self.table(table).get(key, False)
        if not isinstance(value, bool):
            raise self.fail(f"{table}.{key}", "must be true or false")
        return value

    def number(self, table: str, key: str) -> int:
        value = self.table(table).get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
            raise self.fail(f"{table}.{key}", "must be a whole number from 0 to 100")
        return value

    def column(self, table: str, key: str) -> Column | None:
        value = self.text(table, key)
        return None if value is None else Column(value)

    def regex(self, where: str, pattern: str) -> re.Pattern[str]:
        try:
            return re.compile(pattern)
        except re.error as exc:
            raise self.fail(where, f"{pattern!r} is not a valid regular expression: {exc}") from exc

    def choice(self, table: str, key: str, enum: type[StrEnum], default: str) -> str:
        value = self.text(table, key) or default
        allowed = [member.value for member in enum]
        if value not in allowed:
            raise self.fail(f"{table}.{key}", f"{value!r} is not one of {', '.join(allowed)}")
        return value

    def values(self, table: str, key: str) -> frozenset[str]:
        return frozenset(_normalized(v) for v in self.texts(table, key))

    # -- the profile

    def profile(self) -> CsvProfile:
        self.check_keys()
        name = self.text("", "name", required=True) or ""
        if not _NAME.match(name):
            raise self.fail("name", f"{name!r} must be lower case letters, digits and dashes")
        header = tuple(Column(v) for v in self.texts("header", "required"))
        if not header:
            raise self.fail("header.required", "must list at least one column")
        columns = self.columns()
        amount = self.amount()
        profile = CsvProfile(
            name=name,
            bank=self.text("", "bank", required=True) or "",
            country=self.text("", "country"),
            description=self.text("", "description") or "",
            source=self.text("", "source", required=True) or "",
            file=self.source,
            encodings=self.encodings(),
            delimiters=self.delimiters(),
            quote=self.single_char("file", "quote", default='"'),
            header=header,
            preamble_rows=self.number("preamble", "rows"),
            numbers=self.numbers(),
            dates=self.dates(),
            columns=columns,
            amount=amount,
            account=self.account(),
            currency=self.currency(),
            status=self.status(),
            reference=self.column("reference", "column"),
            reference_digits=ReferenceKind(
                self.choice("reference", "digits", _DigitsKind, _DigitsKind.KID.value)
            ),
            preamble=self.labels("preamble"),
            footer=self.labels("footer"),
            skip_rows=tuple(self.regex("rows.skip", p) for p in self.texts("rows", "skip")),
            stop_rows=tuple(self.regex("rows.stop", p) for p in self.texts("rows", "stop")),
            stop_at_blank=self.flag("rows", "stop_at_blank"),
            continuation=self.flag("rows", "continuation"),
            statement_id=StatementIdRule(
                self.choice("statement", "id", StatementIdRule, StatementIdRule.PERIOD.value)
            ),
            order=LineOrder(self.choice("statement", "order", LineOrder, LineOrder.AUTO.value)),
        )
        self.check_consistency(profile)
        return profile

    def encodings(self) -> tuple[str, ...]:
        names = self.texts("file", "encoding") or ("utf-8",)
        for name in names:
            try:
                codecs.lookup(name)
            except LookupError as exc:
                raise self.fail("file.encoding", f"{name!r} is not a known encoding") from exc
        return names

    def delimiters(self) -> tuple[str, ...]:
        names = self.texts("file", "delimiter") or (",",)
        for name in names:
            if len(name) != 1 or name in "\r\n\"'":
                raise self.fail("file.delimiter", f"{name!r} must be one character")
        return names

    def single_char(self, table: str, key: str, *, default: str) -> str:
        value = self.text(table, key) or default
        if len(value) != 1:
            raise self.fail(f"{table}.{key}", f"{value!r} must be one character")
        return value

    def numbers(self) -> NumberFormat:
        decimal = self.texts("numbers", "decimal") or (".",)
        thousands = self.texts("numbers", "thousands")
        for where, marks in (("numbers.decimal", decimal), ("numbers.thousands", thousands)):
            for mark in marks:
                if len(mark) != 1 or mark.isdigit() or mark in "+-()\u2212":
                    raise self.fail(where, f"{mark!r} must be one character, not a digit or sign")
        overlap = set(decimal) & set(thousands)
        if overlap:
            raise self.fail(
                "numbers.thousands",
                f"{''.join(sorted(overlap))!r} is also a decimal mark; a number would be ambiguous",
            )
        return NumberFormat(decimal, thousands, self.texts("numbers", "strip"))

    def dates(self) -> DateFormat:
        patterns = self.texts("dates", "formats")
        if not patterns:
            raise self.fail("dates.formats", "is required (strptime patterns, e.g. '%d.%m.%Y')")
        sample = date(2001, 2, 3)
        for pattern in patterns:
            try:
                written = sample.strftime(pattern)
                parsed = time.strptime(written, pattern)
            except ValueError as exc:
                raise self.fail("dates.formats", f"{pattern!r} is not a usable pattern") from exc
            if (parsed.tm_year, parsed.tm_mon, parsed.tm_mday) != (2001, 2, 3):
                raise self.fail(
                    "dates.formats", f"{pattern!r} does not say day, month and year of a date"
                )
        return DateFormat(patterns)

    def columns(self) -> dict[str, tuple[Column, ...]]:
        table = self.table("columns")
        found: dict[str, tuple[Column, ...]] = {}
        for key in table:
            values = self.texts("columns", key)
            if len(values) > 1 and key not in _LIST_COLUMNS:
                raise self.fail(f"columns.{key}", "names one column (use 'A|B' for spellings)")
            found[key] = tuple(Column(v) for v in values)
        if "booking_date" not in found:
            raise self.fail("columns.booking_date", "is required")
        return found

    def amount(self) -> AmountRule:
        convention = AmountConvention(
            self.choice("amount", "convention", AmountConvention, AmountConvention.SIGNED.value)
        )
        rule = AmountRule(
            convention=convention,
            amount=self.column("amount", "amount"),
            debit=self.column("amount", "debit"),
            credit=self.column("amount", "credit"),
            indicator=self.column("amount", "indicator"),
            credit_values=self.values("amount", "credit_values"),
            debit_values=self.values("amount", "debit_values"),
            detail=self.column("amount", "detail"),
        )
        needs = {
            AmountConvention.SIGNED: ("amount",),
            AmountConvention.DEBIT_POSITIVE: ("amount",),
            AmountConvention.DEBIT_CREDIT: ("debit", "credit"),
            AmountConvention.INDICATOR: ("amount", "indicator", "credit_values", "debit_values"),
        }[convention]
        for key in needs:
            if not getattr(rule, key):
                raise self.fail(f"amount.{key}", f"is required for convention {convention.value!r}")
        if rule.credit_values & rule.debit_values:
            raise self.fail("amount.debit_values", "shares values with amount.credit_values")
        return rule

    def account(self) -> AccountRule:
        source = AccountSource(
            self.choice("account", "source", AccountSource, AccountSource.NONE.value)
        )
        pattern_text = self.text("account", "pattern")
        pattern = None if pattern_text is None else self.regex("account.pattern", pattern_text)
        rule = AccountRule(
            source=source,
            column=self.column("account", "column"),
            label=self.column("account", "label"),
            pattern=pattern,
            credit=self.column("account", "credit"),
            debit=self.column("account", "debit"),
            bic=self.column("account", "bic"),
        )
        if source is AccountSource.COLUMN and rule.column is None:
            raise self.fail("account.column", "is required for source 'column'")
        if source is AccountSource.PREAMBLE and rule.label is None and rule.pattern is None:
            raise self.fail("account.label", "source 'preamble' needs a label or a pattern")
        if source is AccountSource.DIRECTION and (rule.credit is None or rule.debit is None):
            raise self.fail("account.credit", "source 'direction' needs credit and debit columns")
        return rule

    def currency(self) -> CurrencyRule:
        codes: dict[str, str | None] = {}
        for key in ("fixed", "default"):
            code = self.text("currency", key)
            if code is not None and not _CURRENCY.match(code):
                raise self.fail(f"currency.{key}", f"{code!r} is not an ISO 4217 code like 'NOK'")
            codes[key] = code
        rule = CurrencyRule(
            fixed=codes["fixed"],
            column=self.column("currency", "column"),
            label=self.column("currency", "label"),
            default=codes["default"],
        )
        if rule.fixed is None and rule.column is None and rule.label is None:
            raise self.fail("currency", "needs fixed, column or label: a statement has a currency")
        if rule.fixed is not None and (rule.column or rule.label or rule.default):
            raise self.fail(
                "currency.fixed", "a fixed currency excludes column and label (use default)"
            )
        return rule

    def status(self) -> StatusRule:
        text = self.text("status", "pending_text")
        rule = StatusRule(
            column=self.column("status", "column"),
            pending=self.values("status", "pending"),
            booked=self.values("status", "booked"),
            pending_dates=self.values("status", "pending_dates"),
            pending_without_booking_date=self.flag("status", "pending_without_booking_date"),
            pending_text_column=self.column("status", "pending_text_column"),
            pending_text=None if text is None else self.regex("status.pending_text", text),
        )
        if (rule.pending or rule.booked) and rule.column is None:
            raise self.fail("status.column", "is required with status.pending or status.booked")
        if rule.pending_text is not None and rule.pending_text_column is None:
            raise self.fail("status.pending_text_column", "is required with status.pending_text")
        return rule

    def labels(self, table: str) -> LabelledValues:
        return LabelledValues(
            **{
                key: self.column(table, key)
                for key in PROFILE_KEYS[table]
                if key != "rows" and key in self.table(table)
            }
        )

    def check_consistency(self, profile: CsvProfile) -> None:
        """Columns a row cannot be read without must be among the recognised header."""
        required = [set(column.alternatives) for column in profile.header]

        def in_header(column: Column | None) -> bool:
            return column is None or any(
                alternatives <= set(column.alternatives) for alternatives in required
            )

        essentials = {
            "columns.booking_date": profile.column("booking_date"),
            "amount.amount": profile.amount.amount,
            "amount.debit": profile.amount.debit,
            "amount.credit": profile.amount.credit,
            "amount.indicator": profile.amount.indicator,
        }
        for where, column in essentials.items():
            if not in_header(column):
                raise self.fail(
                    where,
                    f"column {column.spelling if column else ''!r} must also be listed in "
                    "header.required (a row cannot be read without it)",
                )
        if profile.account.source is AccountSource.PREAMBLE and profile.preamble_rows == 0:
            raise self.fail("preamble.rows", "account.source 'preamble' needs preamble rows")
        if profile.currency.label is not None and profile.preamble_rows == 0:
            raise self.fail("preamble.rows", "currency.label needs preamble rows")
        stated = [getattr(profile.preamble, key) for key in PROFILE_KEYS["preamble"][1:]]
        if any(stated) and profile.preamble_rows == 0:
            raise self.fail("preamble.rows", "preamble labels need preamble rows")
        has_footer = profile.footer.opening_balance or profile.footer.closing_balance
        if has_footer and not (profile.stop_rows or profile.stop_at_blank):
            raise self.fail("footer", "needs rows.stop or rows.stop_at_blank to find the footer")


class _DigitsKind(StrEnum):
    KID = "kid"
    OCR = "ocr"


def load_profile(text: str, *, source: str) -> CsvProfile:
    """A profile from its TOML text; ``ProfileError`` names ``source`` and the broken key."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(source, "(file)", f"is not valid TOML: {exc}") from exc
    return _ProfileReader(raw, source).profile()


@functools.cache
def shipped_profiles() -> tuple[CsvProfile, ...]:
    """The profiles shipped in ``bank_csv_profiles/``, sorted by file name."""
    folder = importlib.resources.files(PROFILE_PACKAGE).joinpath(PROFILE_FOLDER)
    profiles: list[CsvProfile] = []
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if entry.name.endswith(".toml"):
            text = entry.read_text(encoding="utf-8")
            profiles.append(load_profile(text, source=f"{PROFILE_FOLDER}/{entry.name}"))
    names = Counter(profile.name for profile in profiles)
    for profile in profiles:
        if names[profile.name] > 1:
            raise ProfileError(profile.file, "name", f"{profile.name!r} is used by two profiles")
    return tuple(profiles)


def profile_named(name: str) -> CsvProfile:
    for profile in shipped_profiles():
        if profile.name == name:
            return profile
    known = ", ".join(p.name for p in shipped_profiles())
    raise KeyError(f"no CSV profile named {name!r}; shipped: {known}")


# ============================================================================ reading rows


@dataclass(frozen=True, slots=True)
class _Row:
    line: int  # file line where the row starts
    cells: list[str]

    @property
    def blank(self) -> bool:
        return not any(cell.strip() for cell in self.cells)


def _rows(text: str, delimiter: str, quote: str) -> Iterator[_Row]:
    """The CSV rows of ``text`` with the file line each starts on; quoted fields may hold
    delimiters and line breaks."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar=quote)
    consumed = 0
    while True:
        start = consumed + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InvalidRecord(
                "CSV row", f"cannot be split into fields: {exc}", line=reader.line_num or start
            ) from exc
        consumed = reader.line_num
        yield _Row(start, cells)


@dataclass
class _Layout:
    """A profile that recognises the file, and how the file is written."""

    profile: CsvProfile
    encoding: str
    delimiter: str
    header: _Row
    preamble: list[_Row]

    @functools.cached_property
    def index(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for position, cell in enumerate(self.header.cells):
            name = _normalized(cell)
            if name:
                found.setdefault(name, position)
        return found

    def name_of(self, column: Column) -> str:
        """The column's name as the file writes it."""
        position = column.index_in(self.index)
        if position is None:
            return column.spelling
        return " ".join(self.header.cells[position].replace("\ufeff", "").split())


def _bom_encoding(data: bytes) -> str | None:
    if data.startswith(_UTF8_BOM):
        return "utf-8-sig"
    if data.startswith(_UTF16_BOMS):
        return "utf-16"
    return None


def _decode(data: bytes, encoding: str, *, partial: bool) -> str | None:
    """The text in ``encoding``, or None when the bytes are not in it; ``partial`` decodes a
    prefix whose last character may be cut."""
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        text = decoder.decode(data, final=not partial)
    except UnicodeDecodeError:
        return None
    return text.lstrip("\ufeff")


def _header_match(profile: CsvProfile, row: _Row) -> bool:
    names = {_normalized(cell) for cell in row.cells}
    return all(any(alt in names for alt in column.alternatives) for column in profile.header)


def _find_header(profile: CsvProfile, text: str, delimiter: str) -> _Layout | None:
    """The profile's header within the first ``preamble.rows`` + 1 non-blank rows."""
    preamble: list[_Row] = []
    try:
        for row in _rows(text, delimiter, profile.quote):
            if row.blank:
                continue
            hint = row.cells[0].strip().lower().startswith("sep=") and not any(
                cell.strip() for cell in row.cells[1:]
            )
            if hint and not preamble:
                continue  # Excel's delimiter hint
            if _header_match(profile, row):
                return _Layout(profile, "", delimiter, row, preamble)
            preamble.append(row)
            if len(preamble) > profile.preamble_rows:
                return None
    except InvalidRecord:  # rows the csv module cannot split: not this layout
        return None
    return None


class _Texts:
    """The file decoded in each encoding asked for, decoded once."""

    def __init__(self, data: bytes, *, partial: bool) -> None:
        self.data = data
        self.partial = partial
        self.bom = _bom_encoding(data)
        self.decoded: dict[str, str | None] = {}

    def candidates(self, profile: CsvProfile) -> Iterator[tuple[str, str]]:
        encodings = (self.bom,) if self.bom else profile.encodings
        for encoding in encodings:
            if encoding not in self.decoded:
                self.decoded[encoding] = _decode(self.data, encoding, partial=self.partial)
            text = self.decoded[encoding]
            if text is not None:
                yield encoding, text


def _recognise(
    data: bytes, profiles: Sequence[CsvProfile], *, partial: bool = False
) -> list[_Layout]:
    """Every profile whose header the file has, most specific first."""
    texts = _Texts(data, partial=partial)
    found: list[_Layout] = []
    for profile in profiles:
        for encoding, text in texts.candidates(profile):
            layout = next(
                (
                    match
                    for delimiter in profile.delimiters
                    if (match := _find_header(profile, text, delimiter)) is not None
                ),
                None,
            )
            if layout is not None:
                layout.encoding = encoding
                found.append(layout)
                break
    found.sort(key=lambda layout: (-len(layout.profile.header), layout.profile.name))
    return found


def looks_like_csv(data: bytes) -> bool:
    """Whether a shipped profile recognises the file's header; never raises."""
    try:
        return bool(_recognise(data[:_SNIFF_BYTES], shipped_profiles(), partial=True))
    except InvalidRecord:  # pragma: no cover - _find_header already answers "no"
        return False


# ============================================================================ rows to lines


@dataclass(slots=True)
class _Entry:
    """A transaction row as read, before it is placed in a statement."""

    line: int
    draft: LineDraft
    account: str | None
    balance: Decimal | None
    currency: str | None
    account_bic: str | None = None
    details: list[LineDraft] = field(default_factory=list)

    @property
    def booked(self) -> bool:
        return self.draft.status is EntryStatus.BOOKED


@dataclass(slots=True)
class _FileFacts:
    """What the preamble and footer state about the file."""

    account: str | None = None
    currency: str | None = None
    opening_balance: Decimal | None = None
    closing_balance: Decimal | None = None
    period_from: date | None = None
    period_to: date | None = None
    entry_count: int | None = None
    where: dict[str, str] = field(default_factory=dict)  # figure -> "preamble line 5"


Note = Callable[[str, str], None]


class _FileReader:
    """Reads one recognised file into entries, grouped by account."""

    def __init__(self, layout: _Layout, text: str, note: Note) -> None:
        self.layout = layout
        self.profile = layout.profile
        self.text = text
        self.note = note
        self.facts = _FileFacts()
        self.entries: list[_Entry] = []
        self.unknown_status: Counter[str] = Counter()
        self.labels = _labels_of(self.profile)
        self.positions: dict[int, int | None] = {}

    # -- cells

    def position(self, column: Column | None) -> int | None:
        if column is None:
            return None
        key = id(column)  # the profile's columns live as long as the reader
        if key not in self.positions:
            self.positions[key] = column.index_in(self.layout.index)
        return self.positions[key]

    def cell(self, row: _Row, column: Column | None) -> str:
        position = self.position(column)
        if position is None or position >= len(row.cells):
            return ""
        return row.cells[position].strip()

    def where(self, column: Column) -> str:
        return f"column '{self.layout.name_of(column)}'"

    def amount_in(self, row: _Row, column: Column) -> Decimal | None:
        text = self.cell(row, column)
        if not text:
            return None
        try:
            return self.profile.numbers.read(text)
        except ValueError as exc:
            raise InvalidRecord(
                self.where(column),
                f"{text!r} is not an amount ({exc}; expected {self.profile.numbers.describe()})",
                line=row.line,
            ) from exc

    def date_in(self, row: _Row, column: Column | None) -> date | None:
        if column is None:
            return None
        text = self.cell(row, column)
        if not text:
            return None
        try:
            return self.profile.dates.read(text)
        except ValueError as exc:
            raise InvalidRecord(self.where(column), str(exc), line=row.line) from exc

    def joined(self, row: _Row, key: str) -> str | None:
        parts = [self.cell(row, column) for column in self.profile.columns.get(key, ())]
        text = " ".join(part for part in parts if part)
        return text or None

    def first(self, row: _Row, key: str) -> str | None:
        for column in self.profile.columns.get(key, ()):
            text = self.cell(row, column)
            if text:
                return text
        return None

    # -- the file

    def read(self) -> None:
        self.read_preamble()
        rows = _rows(self.text, self.layout.delimiter, self.profile.quote)
        for row in rows:
            if row.line == self.layout.header.line:
                break
        footer: list[_Row] = []
        for row in rows:
            text = self.layout.delimiter.join(row.cells)
            if row.blank:
                if self.profile.stop_at_blank and self.entries:
                    footer = list(rows)
                    break
                continue
            if any(pattern.search(text) for pattern in self.profile.stop_rows):
                footer = [row, *rows]
                break
            if any(pattern.search(text) for pattern in self.profile.skip_rows):
                continue
            self.read_row(row)
        self.read_footer(footer)
        if self.unknown_status:
            shown = ", ".join(f"{value!r} ({n})" for value, n in self.unknown_status.items())
            self.note(
                "csv_status_unknown",
                f"status value(s) {shown} in column "
                f"'{self.layout.name_of(self.profile.status.column or Column(''))}' are neither "
                "booked nor pending for this layout; the lines are taken as booked",
            )

    def labelled(self, rows: Sequence[_Row], label: Column) -> tuple[str, int] | None:
        """The value a ``label`` row states, and its file line: the next non-empty cell on
        its row, or the cell below it when the row holds labels only (a label row over a
        value row). The label's first spelling found wins (``IBAN:|Kontonummer:``)."""
        for wanted in label.alternatives:
            for position, row in enumerate(rows):
                for index, cell in enumerate(row.cells):
                    if _normalized(cell) != wanted:
                        continue
                    beside = next((v.strip() for v in row.cells[index + 1 :] if v.strip()), "")
                    if beside and _normalized(beside) not in self.labels:
                        return beside, row.line
                    if position + 1 < len(rows):
                        below = rows[position + 1]
                        if index < len(below.cells) and below.cells[index].strip():
                            return below.cells[index].strip(), below.line
        return None

    def read_preamble(self) -> None:
        rows = self.layout.preamble
        rule = self.profile.account
        if rule.source is AccountSource.PREAMBLE:
            if rule.label is not None and (found := self.labelled(rows, rule.label)):
                self.facts.account = found[0]
            elif rule.pattern is not None:
                for row in rows:
                    match = rule.pattern.search(self.layout.delimiter.join(row.cells))
                    if match:
                        self.facts.account = match.group(1) if match.groups() else match.group(0)
                        break
        if self.profile.currency.label is not None:
            found = self.labelled(rows, self.profile.currency.label)
            if found:
                self.facts.currency = self.currency_code(found[0], found[1], "preamble")
        self.read_figures(rows, self.profile.preamble, "preamble")

    def read_footer(self, rows: list[_Row]) -> None:
        self.read_figures(rows, self.profile.footer, "footer")

    def read_figures(self, rows: Sequence[_Row], labels: LabelledValues, part: str) -> None:
        for key in ("opening_balance", "closing_balance", "period_from", "period_to"):
            label: Column | None = getattr(labels, key)
            if label is None or (found := self.labelled(rows, label)) is None:
                continue
            value, line = found
            try:
                if key.startswith("period"):
                    setattr(self.facts, key, self.profile.dates.read(value))
                else:
                    setattr(self.facts, key, self.profile.numbers.read(value))
            except ValueError as exc:
                raise InvalidRecord(f"{part} '{label.spelling}'", str(exc), line=line) from exc
            self.facts.where[key] = f"the {part} ('{label.spelling}', line {line})"
        if labels.entry_count is not None and (found := self.labelled(rows, labels.entry_count)):
            value, line = found
            # isdecimal, not isdigit: int() refuses digits such as superscripts that isdigit takes
            if not value.isdecimal():
                raise InvalidRecord(
                    f"{part} '{labels.entry_count.spelling}'",
                    f"{value!r} is not a number of transactions",
                    line=line,
                )
            self.facts.entry_count = int(value)
            self.facts.where["entry_count"] = f"the {part} ('{labels.entry_count.spelling}')"

    def currency_code(self, text: str, line: int, where: str) -> str:
        code = text.strip().upper()
        if not _CURRENCY.match(code):
            raise InvalidRecord(
                where, f"{text!r} is not a three-letter currency code like 'NOK'", line=line
            )
        return code

    # -- one row

    def row_amount(self, row: _Row) -> Decimal | None:
        """The row's signed amount; None when every amount cell is empty."""
        rule = self.profile.amount
        if rule.convention is AmountConvention.DEBIT_CREDIT:
            assert rule.debit is not None
            assert rule.credit is not None
            debit = self.amount_in(row, rule.debit)
            credit = self.amount_in(row, rule.credit)
            if debit is not None and credit is not None and debit and credit:
                raise InvalidRecord(
                    f"{self.where(rule.debit)} and {self.where(rule.credit)}",
                    f"both hold an amount ({self.cell(row, rule.debit)!r} and "
                    f"{self.cell(row, rule.credit)!r}); a row is money out or money in",
                    line=row.line,
                )
            if debit:
                return -abs(debit)
            if credit:
                return abs(credit)
            if debit is None and credit is None:
                return None
            return Decimal(0)
        assert rule.amount is not None
        amount = self.amount_in(row, rule.amount)
        if amount is None:
            return None
        if rule.convention is AmountConvention.DEBIT_POSITIVE:
            return -amount
        if rule.convention is AmountConvention.INDICATOR:
            assert rule.indicator is not None
            indicator = _normalized(self.cell(row, rule.indicator))
            if indicator in rule.credit_values:
                return abs(amount)
            if indicator in rule.debit_values:
                return -abs(amount)
            expected = ", ".join(sorted(rule.credit_values | rule.debit_values))
            raise InvalidRecord(
                self.where(rule.indicator),
                f"{self.cell(row, rule.indicator)!r} is not a debit/credit indicator "
                f"(expected one of {expected})",
                line=row.line,
            )
        return amount

    def empty_amount(self, row: _Row) -> InvalidRecord:
        rule = self.profile.amount
        columns = [c for c in (rule.amount, rule.debit, rule.credit) if c is not None]
        names = " and ".join(self.where(column) for column in columns)
        return InvalidRecord(
            names,
            "the amount is empty; every transaction row needs an amount",
            line=row.line,
        )

    def status_of(self, row: _Row, booking_text: str) -> EntryStatus:
        rule = self.profile.status
        if booking_text and _normalized(booking_text) in rule.pending_dates:
            return EntryStatus.PENDING
        if not booking_text and rule.pending_without_booking_date:
            return EntryStatus.PENDING
        if rule.pending_text is not None and rule.pending_text.search(
            self.cell(row, rule.pending_text_column)
        ):
            return EntryStatus.PENDING
        if rule.column is not None:
            value = self.cell(row, rule.column)
            if _normalized(value) in rule.pending:
                return EntryStatus.PENDING
            if rule.booked and value and _normalized(value) not in rule.booked:
                self.unknown_status[value] += 1
        return EntryStatus.BOOKED

    def read_row(self, row: _Row) -> None:
        amount = self.row_amount(row)
        detail = self.profile.amount.detail
        booking_column = self.profile.column("booking_date")
        booking_text = self.cell(row, booking_column)
        if amount is None:
            detail_amount = None if detail is None else self.amount_in(row, detail)
            if detail_amount is not None:
                self.read_detail(row, detail_amount)
                return
            if self.profile.continuation and not booking_text and self.entries:
                self.continue_text(row)
                return
            raise self.empty_amount(row)
        status = self.status_of(row, booking_text)
        booking_date = None
        if status is EntryStatus.BOOKED or _normalized(booking_text) not in (
            self.profile.status.pending_dates
        ):
            booking_date = self.date_in(row, booking_column)
        if booking_date is None and status is EntryStatus.BOOKED:
            assert booking_column is not None
            raise InvalidRecord(
                self.where(booking_column),
                f"the booking date is empty; expected {self.profile.dates.describe()}",
                line=row.line,
            )
        own, other = self.accounts(row, amount)
        balance_column = self.profile.column("balance")
        balance = None if balance_column is None else self.amount_in(row, balance_column)
        currency = None
        if self.profile.currency.column is not None:
            text = self.cell(row, self.profile.currency.column)
            if text:
                currency = self.currency_code(
                    text, row.line, self.where(self.profile.currency.column)
                )
        draft = LineDraft(
            amount=amount,
            currency=currency,
            status=status,
            booking_date=booking_date,
            value_date=self.date_in(row, self.profile.column("value_date")),
            source_line=row.line,
        )
        self.describe(draft, row, other)
        bic = self.cell(row, self.profile.account.bic) or None
        self.entries.append(_Entry(row.line, draft, own, balance, currency, bic))

    def read_detail(self, row: _Row, amount: Decimal) -> None:
        if not self.entries:
            assert self.profile.amount.detail is not None
            raise InvalidRecord(
                self.where(self.profile.amount.detail),
                "a detail amount comes before any transaction it could belong to",
                line=row.line,
            )
        parent = self.entries[-1]
        draft = replace(
            parent.draft,
            amount=amount,
            value_date=self.date_in(row, self.profile.column("value_date"))
            or parent.draft.value_date,
            source_line=row.line,
            counterparty=None,
            structured_reference=None,
            remittance_text=None,
            additional_info=None,
            referred_documents=[],
        )
        self.describe(draft, row, None)
        if draft.bank_reference is None:
            draft.bank_reference = parent.draft.bank_reference
        parent.details.append(draft)

    def continue_text(self, row: _Row) -> None:
        """A continuation row (Raiffeisen's payments of a collective order): its text is
        added to the previous transaction's additional information."""
        text = " ".join(" ".join(cell.split()) for cell in row.cells if cell.strip())
        draft = self.entries[-1].draft
        draft.additional_info = "\n".join(p for p in (draft.additional_info, text) if p)

    def accounts(self, row: _Row, amount: Decimal) -> tuple[str | None, str | None]:
        """The row's own account and, by direction, the counterparty's."""
        rule = self.profile.account
        if rule.source is AccountSource.COLUMN:
            return self.cell(row, rule.column) or None, None
        if rule.source is AccountSource.DIRECTION:
            own_column, other_column = (
                (rule.debit, rule.credit) if amount < 0 else (rule.credit, rule.debit)
            )
            return self.cell(row, own_column) or None, self.cell(row, other_column) or None
        return None, None

    def describe(self, draft: LineDraft, row: _Row, other_account: str | None) -> None:
        """Everything but the amount and dates: counterparty, references, texts."""
        name = self.first(row, "counterparty_name")
        account = self.first(row, "counterparty_account") or other_account
        bic = self.first(row, "counterparty_bic")
        if name or account or bic:
            compact = normalize_account_number(account) if account else ""
            is_iban = bool(compact) and bool(iban_numbers.is_valid(compact))
            draft.counterparty = Counterparty(
                name=name,
                iban=compact if is_iban else None,
                other_account=account if account and not is_iban else None,
                bic=bic,
            )
        remittance = self.joined(row, "remittance_text")
        reference_text = self.cell(row, self.profile.reference)
        if reference_text:
            reference = classify_reference(reference_text)
            if reference is not None and reference.kind is not ReferenceKind.OTHER:
                if reference.kind is ReferenceKind.KID:
                    reference = StructuredReference(
                        value=reference.value, kind=self.profile.reference_digits
                    )
                draft.structured_reference = reference
            else:  # free text in a message column is remittance, not a reference
                remittance = " ".join(part for part in (remittance, reference_text) if part)
        draft.remittance_text = remittance
        draft.additional_info = self.joined(row, "additional_info")
        bank_reference = self.first(row, "bank_reference")
        if bank_reference:
            draft.bank_reference = bank_reference
        end_to_end = self.first(row, "end_to_end_id")
        if end_to_end:
            draft.end_to_end_id = end_to_end
        draft.customer_reference = self.first(row, "customer_reference")
        draft.purpose_code = self.first(row, "purpose_code")
        kind = self.first(row, "transaction_type")
        if kind:
            draft.bank_transaction_code = BankTransactionCode(proprietary=kind)


def _labels_of(profile: CsvProfile) -> frozenset[str]:
    """Every preamble and footer label of a profile: a row of them is a label row."""
    columns = [
        *(getattr(profile.preamble, key) for key in PROFILE_KEYS["preamble"] if key != "rows"),
        *(getattr(profile.footer, key) for key in PROFILE_KEYS["footer"]),
        profile.account.label,
        profile.currency.label,
    ]
    return frozenset(alt for column in columns if column is not None for alt in column.alternatives)


def _in_minor_units(amount: Decimal, currency: str) -> Decimal:
    """The amount with the currency's decimals when that loses nothing (``50`` and
    ``20827.000000000`` CHF are ``50.00`` and ``20827.00``); otherwise as written, so
    ``assemble_statement`` can say it has too many decimals."""
    if amount_too_large(amount):  # quantize would raise; assemble_statement refuses it
        return amount
    exact = amount.quantize(Decimal(1).scaleb(-currency_exponent(currency)))
    return exact if exact == amount else amount


# ============================================================================ statements


@dataclass(slots=True)
class _Account:
    number: str
    entries: list[_Entry]


def _group_by_account(
    reader: _FileReader, caller_account: str | None, note: Note
) -> list[_Account]:
    """One group per own account, in order of first appearance."""
    profile = reader.profile
    file_account = reader.facts.account or caller_account
    named = list(dict.fromkeys(e.account for e in reader.entries if e.account))
    if not named and not file_account:
        raise _no_account(profile)
    groups: dict[str, list[_Entry]] = {}
    assumed: list[int] = []
    for entry in reader.entries:
        number = entry.account or file_account
        if number is None:
            if len(named) > 1:
                rule = profile.account
                columns = " / ".join(
                    c.spelling for c in (rule.column, rule.credit, rule.debit) if c is not None
                )
                raise InvalidRecord(
                    f"column '{columns}'",
                    f"the row does not name its own account and the file holds several "
                    f"({', '.join(named)}), so it cannot be placed in a statement",
                    line=entry.line,
                )
            number = named[0]
            assumed.append(entry.line)
        groups.setdefault(number, []).append(entry)
    if assumed:
        shown = ", ".join(str(line) for line in assumed[:_BREAKS_SHOWN])
        more = f" and {len(assumed) - _BREAKS_SHOWN} more" if len(assumed) > _BREAKS_SHOWN else ""
        note(
            "csv_account_assumed",
            f"{len(assumed)} row(s) (file line {shown}{more}) do not name their own account; "
            f"they are booked to {named[0]}, the only account the file names",
        )
    if not groups and file_account:
        groups[file_account] = []
    return [_Account(number, entries) for number, entries in groups.items()]


def _no_account(profile: CsvProfile) -> InvalidRecord:
    rule = profile.account
    if rule.source is AccountSource.NONE:
        why = f"the {profile.bank} CSV export (profile '{profile.name}') does not name the account"
    else:
        columns = [c.spelling for c in (rule.column, rule.label, rule.credit, rule.debit) if c]
        shown = " / ".join(columns) if columns else "the preamble"
        why = f"no row or preamble line of this {profile.bank} export names the account ({shown})"
    return InvalidRecord(
        "account",
        f"{why}, so its lines cannot be booked to an account; export the statement as "
        "camt.053 or MT940 instead, or name the account with the upload (?account=<IBAN or "
        "account number>, or --account with bankrec-ingest parse)",
    )


def _pairs(entries: Sequence[_Entry]) -> Iterator[tuple[int, int]]:
    """Positions of consecutive booked entries that both state a balance."""
    previous: int | None = None
    for position, entry in enumerate(entries):
        if not entry.booked or entry.balance is None:
            continue
        if previous is not None:
            yield previous, position
        previous = position


def _booked_sum(entries: Sequence[_Entry]) -> Decimal:
    return sum((e.draft.amount for e in entries if e.booked), Decimal(0))


def _chain_breaks(entries: Sequence[_Entry]) -> tuple[int, list[str]]:
    """How many balance steps of ``entries`` (taken as oldest first) follow from the
    amounts, and a description of each step that does not."""
    fits = 0
    breaks: list[str] = []
    for i, j in _pairs(entries):
        before, after = entries[i].balance, entries[j].balance
        assert before is not None
        assert after is not None
        step = _booked_sum(entries[i + 1 : j + 1])
        if after - before == step:
            fits += 1
        else:
            breaks.append(
                f"file line {entries[j].line} says {after}, but file line {entries[i].line}'s "
                f"{before} plus {step} is {before + step}"
            )
    return fits, breaks


def _derived_balances(entries: Sequence[_Entry]) -> tuple[Decimal, Decimal] | None:
    """Opening and closing balance from the balance-after-line column, entries oldest first:
    opening = first balance - the booked amounts up to it, closing = last balance + the
    booked amounts after it."""
    positions = [p for p, e in enumerate(entries) if e.booked and e.balance is not None]
    if not positions:
        return None
    first, last = positions[0], positions[-1]
    first_balance, last_balance = entries[first].balance, entries[last].balance
    assert first_balance is not None
    assert last_balance is not None
    opening = first_balance - _booked_sum(entries[: first + 1])
    closing = last_balance + _booked_sum(entries[last + 1 :])
    return opening, closing


def _dated_in_order(entries: Sequence[_Entry]) -> bool:
    dates = [e.draft.booking_date for e in entries if e.draft.booking_date is not None]
    return all(earlier <= later for earlier, later in itertools.pairwise(dates))


def _by_date(entries: Sequence[_Entry], *, newest_first_within_day: bool) -> list[_Entry]:
    """Entries sorted by booking date (undated ones last), keeping the file's order within a
    day or reversing it."""
    ordered = list(entries[::-1]) if newest_first_within_day else list(entries)
    ordered.sort(key=lambda e: e.draft.booking_date or date.max)
    return ordered


@dataclass(slots=True)
class _Chronology:
    """The entries oldest first and what their balance column says."""

    entries: list[_Entry]
    balances: tuple[Decimal, Decimal] | None  # opening, closing; None: not derivable


def _chronological(entries: list[_Entry], order: LineOrder, note: Note, label: str) -> _Chronology:
    """The entries oldest first. ``auto`` tries the file order, its reverse and the order of
    the booking dates (banks list a day's lines in either direction) and takes the one the
    running balance follows; without balances the dates decide. Balances are derived only
    when the chosen order's running balance follows from the amounts throughout."""
    if order is LineOrder.OLDEST_FIRST:
        candidates = [list(entries)]
    elif order is LineOrder.NEWEST_FIRST:
        candidates = [entries[::-1]]
    else:
        dates = [e.draft.booking_date for e in entries if e.draft.booking_date is not None]
        newest_first = bool(dates) and dates[0] > dates[-1]
        candidates = [
            entries[::-1] if newest_first else list(entries),
            list(entries) if newest_first else entries[::-1],
            _by_date(entries, newest_first_within_day=newest_first),
            _by_date(entries, newest_first_within_day=not newest_first),
        ]
    scored = [(candidate, *_chain_breaks(candidate)) for candidate in candidates]
    steps = max(fits + len(breaks) for _, fits, breaks in scored)
    if steps == 0:  # at most one balance: the order cannot be told from it
        chosen = candidates[0]
        return _Chronology(chosen, _derived_balances(chosen))
    best = max(fits for _, fits, _ in scored)
    fitting = [(candidate, breaks) for candidate, fits, breaks in scored if fits == best]
    dated = [(c, b) for c, b in fitting if _dated_in_order(c)] or fitting
    outcomes = {_derived_balances(candidate) for candidate, _ in dated}
    chosen, breaks = dated[0]
    if len(outcomes) > 1:
        note(
            "csv_balance_order_unknown",
            f"{label}: the running balances fit the lines read in more than one order, and "
            "the dates do not tell which; no opening or closing balance is derived from them",
        )
        return _Chronology(chosen, None)
    if breaks:
        more = f" (and {len(breaks) - _BREAKS_SHOWN} more)" if len(breaks) > _BREAKS_SHOWN else ""
        note(
            "csv_balance_chain",
            f"{label}: the running balance does not follow from the amounts: "
            f"{'; '.join(breaks[:_BREAKS_SHOWN])}{more}; no opening or closing balance is "
            "derived from it",
        )
        return _Chronology(chosen, None)
    return _Chronology(chosen, _derived_balances(chosen))


def _split_batches(entries: Sequence[_Entry], note: Note) -> list[LineDraft]:
    """The lines of a statement, a collective entry replaced by its details when they add up."""
    lines: list[LineDraft] = []
    for entry_index, entry in enumerate(entries):
        details = entry.details
        if details and sum((-d.amount for d in details), Decimal(0)) == entry.draft.amount:
            for detail in details:  # details written unsigned under a signed total
                detail.amount = -detail.amount
        if details and sum((d.amount for d in details), Decimal(0)) == entry.draft.amount:
            for detail_index, detail in enumerate(details):
                detail.entry_index = entry_index
                detail.entry_amount = entry.draft.amount
                detail.detail_index = detail_index
                lines.append(detail)
            continue
        if details:
            total = sum((d.amount for d in details), Decimal(0))
            note(
                "csv_batch_details_mismatch",
                f"file line {entry.line}: its {len(details)} detail row(s) add up to {total}, "
                f"not to the entry's {entry.draft.amount}; the entry is kept as one line",
            )
        entry.draft.entry_index = entry_index
        lines.append(entry.draft)
    return lines


def _statement_currency(reader: _FileReader, entries: Sequence[_Entry]) -> str:
    rule = reader.profile.currency
    if rule.fixed:
        return rule.fixed
    if reader.facts.currency:
        return reader.facts.currency
    found = Counter(e.currency for e in entries if e.currency)
    if found:
        return found.most_common(1)[0][0]
    if rule.default:
        return rule.default
    assert rule.column is not None or rule.label is not None
    shown = (rule.column or rule.label or Column("")).spelling
    raise InvalidRecord(
        f"'{shown}'",
        "no row states the currency, and the layout has no fixed currency",
        line=entries[0].line if entries else None,
    )


def _statement_id(
    profile: CsvProfile, facts: _FileFacts, entries: Sequence[_Entry], sha256: str
) -> tuple[str, date | None, date | None]:
    dates = [e.draft.booking_date for e in entries if e.draft.booking_date is not None]
    period_from = facts.period_from or (min(dates) if dates else None)
    period_to = facts.period_to or (max(dates) if dates else None)
    if profile.statement_id is StatementIdRule.PERIOD and period_from and period_to:
        return f"csv:{period_from.isoformat()}..{period_to.isoformat()}", period_from, period_to
    return f"csv:{sha256[:16]}", period_from, period_to


def _draft_for(
    reader: _FileReader, group: _Account, sha256: str
) -> tuple[StatementDraft, list[Diagnostic]]:
    """The statement of one account, and the diagnostics found while drafting it."""
    profile = reader.profile
    facts = reader.facts
    bank_statement_id, period_from, period_to = _statement_id(profile, facts, group.entries, sha256)
    found: list[Diagnostic] = []

    def note(code: str, message: str) -> None:
        found.append(Diagnostic(code, message, bank_statement_id))

    chronology = _chronological(group.entries, profile.order, note, f"account {group.number}")
    entries = chronology.entries
    opening, closing = chronology.balances or (None, None)
    for key, derived in (("opening_balance", opening), ("closing_balance", closing)):
        stated: Decimal | None = getattr(facts, key)
        if stated is not None and derived is not None and stated != derived:
            note(
                "csv_balance_column_mismatch",
                f"{facts.where[key]} states a {key.replace('_', ' ')} of {stated}; the "
                f"running balance column gives {derived}",
            )
    if facts.opening_balance is not None:
        opening = facts.opening_balance
    if facts.closing_balance is not None:
        closing = facts.closing_balance
    currency = _statement_currency(reader, group.entries)
    lines = _split_batches(entries, note)
    for line in lines:
        line_currency = line.currency or currency
        line.amount = _in_minor_units(line.amount, line_currency)
        if line.entry_amount is not None:
            line.entry_amount = _in_minor_units(line.entry_amount, line_currency)
    if opening is not None:
        opening = _in_minor_units(opening, currency)
    if closing is not None:
        closing = _in_minor_units(closing, currency)
    stated_totals = None
    if facts.entry_count is not None:
        stated_totals = StatedTotals(
            entry_count=facts.entry_count, where=facts.where["entry_count"]
        )
    draft = StatementDraft(
        bank_statement_id=bank_statement_id,
        account_number=group.number,
        currency=currency,
        source_format=f"{SOURCE_FORMAT}:{profile.name}",
        servicer_bic=next((e.account_bic for e in group.entries if e.account_bic), None),
        period_from=period_from,
        period_to=period_to,
        opening_booked=opening,
        closing_booked=closing,
        lines=lines,
        stated=stated_totals,
    )
    return draft, found


# ============================================================================ entry points


def parse(data: bytes, *, tenant_id: str, sha256: str, statement_format: str) -> ParseResult:
    """The registry's entry point: ``statement_format`` is ``csv``."""
    if statement_format != SOURCE_FORMAT:
        raise FormatMismatch(f"the CSV parser reads format=csv, not {statement_format!r}")
    return parse_csv(data, tenant_id=tenant_id, sha256=sha256)


def parse_csv(
    data: bytes,
    *,
    tenant_id: str,
    sha256: str | None = None,
    account_number: str | None = None,
    profile: str | None = None,
    profiles: Sequence[CsvProfile] | None = None,
) -> ParseResult:
    """Every statement of a bank CSV export, one per account, or an ``IngestError``.

    ``account_number`` is the account the file belongs to, for layouts that do not name it
    (a row's or the preamble's own account wins). ``profile`` forces a shipped profile by
    name; ``profiles`` replaces the shipped ones (tests, a tenant's own layouts).
    """
    sha256 = sha256 or file_sha256(data)
    if _blank(data):
        raise EmptyStatementFile("the CSV file is empty (or holds only whitespace)")
    candidates = tuple(profiles) if profiles is not None else shipped_profiles()
    if profile is not None:
        candidates = tuple(p for p in candidates if p.name == profile)
        if not candidates:
            known = ", ".join(p.name for p in shipped_profiles())
            raise FormatMismatch(f"there is no CSV profile named {profile!r}; profiles: {known}")
    layouts = _recognise(data, candidates)
    if not layouts:
        raise FormatMismatch(_unrecognised(data, candidates))
    layout = layouts[0]
    diagnostics: list[Diagnostic] = []

    def note(code: str, message: str) -> None:
        diagnostics.append(Diagnostic(code, message))

    tied = [
        other.profile.name
        for other in layouts[1:]
        if len(other.profile.header) == len(layout.profile.header)
    ]
    if tied:
        note(
            "csv_profile_ambiguous",
            f"the header fits the CSV profiles {layout.profile.name} and {', '.join(tied)}; "
            f"it is read as {layout.profile.name}",
        )
    text = _decode(data, layout.encoding, partial=False)
    assert text is not None  # recognition decoded the whole file in this encoding
    reader = _FileReader(layout, text, note)
    reader.read()
    if not reader.entries and not (reader.facts.account or account_number):
        raise EmptyStatementFile(
            f"the {layout.profile.bank} CSV file (profile '{layout.profile.name}') has a "
            "header but no transactions"
        )
    statements: list[ParsedStatement] = []
    for group in _group_by_account(reader, account_number, note):
        draft, found = _draft_for(reader, group, sha256)
        diagnostics.extend(found)

        def statement_note(code: str, message: str, label: str = draft.bank_statement_id) -> None:
            diagnostics.append(Diagnostic(code, message, label))

        statements.append(
            assemble_statement(draft, tenant_id=tenant_id, sha256=sha256, note=statement_note)
        )
    return ParseResult(
        file_sha256=sha256,
        source_format=SOURCE_FORMAT,
        statements=statements,
        diagnostics=diagnostics,
    )


def _blank(data: bytes) -> bool:
    body = data.removeprefix(_UTF8_BOM)
    for bom in _UTF16_BOMS:
        body = body.removeprefix(bom)
    return not body.strip(b" \t\r\n\x00")


def _unrecognised(data: bytes, profiles: Sequence[CsvProfile]) -> str:
    """Why no profile fits: the first line as read, and the layouts ingest knows."""
    encoding = _bom_encoding(data) or "utf-8"
    text = _decode(data[:_SNIFF_BYTES], encoding, partial=True)
    if text is None:
        text = data[:_SNIFF_BYTES].decode("cp1252", errors="replace")
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    shown = first if len(first) <= 120 else first[:117] + "..."
    known = ", ".join(f"{p.name} ({p.bank})" for p in profiles)
    return (
        f"format=csv was asked for, but no CSV profile recognises the file's header "
        f"{shown!r}; ingest reads the CSV exports of: {known}"
    )


__all__ = [
    "PROFILE_KEYS",
    "SOURCE_FORMAT",
    "AccountSource",
    "AmountConvention",
    "CsvProfile",
    "ProfileError",
    "load_profile",
    "looks_like_csv",
    "parse",
    "parse_csv",
    "profile_named",
    "shipped_profiles",
]
