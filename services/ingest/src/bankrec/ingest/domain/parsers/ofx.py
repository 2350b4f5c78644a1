"""Open Financial Exchange files, OFX 1.x (SGML) and 2.x (XML), and Quicken's QFX (OFX with
``INTU.*`` elements): the bank statements (``BANKMSGSRSV1/STMTTRNRS/STMTRS``) and credit-card
statements (``CREDITCARDMSGSRSV1/CCSTMTTRNRS/CCSTMTRS``) they carry, several per file.

Reading: the bytes are decoded as the headers say (``ENCODING``/``CHARSET`` of OFX 1.x, the
XML declaration of 2.x; a file declared Windows-1252 that is valid UTF-8 is read as UTF-8,
which is what exporters that copy the 1.x boilerplate header write). One small tokenizer
reads both dialects, since SGML OFX leaves leaf elements unclosed (``<TRNAMT>-12.34``) and
no XML parser may see it: a tag followed by text is a leaf, a tag followed by another tag
is an aggregate when it is one OFX defines or is closed somewhere in the file, and an
aggregate left open is closed by its parent's end tag or when its sibling starts (a
``<LEDGERBAL>`` inside an unclosed ``<BANKTRANLIST>``). ``<!DOCTYPE``/``<!ENTITY`` are
refused; only the five XML entities and character references are expanded.

Each STMTRS/CCSTMTRS becomes one statement: the account is ``ACCTID`` of BANKACCTFROM /
CCACCTFROM (BANKID, a routing number or sort code, is not part of it), the currency
``CURDEF``, the period ``BANKTRANLIST`` DTSTART to DTEND, closing booked ``LEDGERBAL``,
closing available ``AVAILBAL``. OFX has no opening balance; none is invented, so the
balance check cannot be made (said once per file). Each STMTTRN is a booked line:
``TRNAMT`` signed from the account holder's side (positive = money in, for a card too: a
purchase is negative), booked ``DTPOSTED``, value date ``DTAVAIL``, ``FITID`` (the bank's
unique id) as bank reference, ``CHECKNUM`` (else ``REFNUM``) as customer reference,
``NAME``/``PAYEE`` and ``BANKACCTTO``/``CCACCTTO`` as counterparty, ``MEMO`` as remittance
text, ``TRNTYPE`` as proprietary bank transaction code (issuer ``OFX``).

Currencies: ``ORIGCURRENCY`` says the amount was converted into CURDEF from CURSYM at
CURRATE (CURDEF per unit of CURSYM); ``CURRENCY`` says the amount is in CURSYM, so the line
keeps that currency (and stays out of the account's sums) rather than be converted here.

Statement id: OFX has none. A statement is the bank's answer for one account and one
period, so ``bank_statement_id`` is ``<ACCTID>:<DTSTART>/<DTEND>`` (an ISO 8601 interval,
``1452687~7:2000-01-01T07:00:00/2013-05-25T06:00:00``; dates without a time stay dates,
``..`` stands for a missing end). The same download gives the same id; a download with a
later DTEND is another statement. A statement without a transaction list is identified by
its balance date: ``<ACCTID>:asof-<LEDGERBAL DTASOF>``.

Dates are ``YYYYMMDD[HHMMSS[.XXX]][[offset:TZ]]``; the date written is the booking date
(never shifted to UTC), and a date-time without an offset is GMT as the spec says.
Amounts may use a decimal comma (European exports) and a thousands separator other than
the decimal one. Investment statements (INVSTMTRS), transfers and sign-on-only responses
hold no bank statement and are refused with what the file is instead.
"""

from __future__ import annotations

import bisect
import codecs
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation

from stdnum import iban as iban_number

from bankrec.contracts import (
    BankTransactionCode,
    Counterparty,
    CurrencyExchange,
    currency_exponent,
    normalize_account_number,
)
from bankrec.ingest.domain.model import Diagnostic, ParsedStatement, ParseResult
from bankrec.ingest.domain.parsers.safe_xml import refuse_dtd
from bankrec.ingest.domain.parsers.text_encoding import decode_statement_text
from bankrec.ingest.domain.statement_assembly import (
    LineDraft,
    StatementDraft,
    amount_too_large,
    assemble_statement,
)
from bankrec.ingest.errors import (
    EmptyStatementFile,
    FormatMismatch,
    InvalidRecord,
    InvalidValue,
    MissingElement,
)

SOURCE_FORMAT = "ofx"
TRANSACTION_TYPE_ISSUER = "OFX"
BANK_STATEMENT = "STMTRS"
CARD_STATEMENT = "CCSTMTRS"
_ACCOUNT_OF = {BANK_STATEMENT: "BANKACCTFROM", CARD_STATEMENT: "CCACCTFROM"}

Note = Callable[[str, str], None]

# ------------------------------------------------------------------------- tokenizer

# Aggregates OFX defines (with the elements around them that hold no statement data);
# any other element is an aggregate only when the file closes it and no text follows it.
KNOWN_AGGREGATES = frozenset(
    {
        "OFX",
        "SIGNONMSGSRSV1",
        "SONRS",
        "STATUS",
        "FI",
        "BANKMSGSRSV1",
        "STMTTRNRS",
        "STMTRS",
        "BANKACCTFROM",
        "BANKACCTTO",
        "BANKTRANLIST",
        "BANKTRANLISTP",
        "STMTTRN",
        "STMTTRNP",
        "PAYEE",
        "CURRENCY",
        "ORIGCURRENCY",
        "LEDGERBAL",
        "AVAILBAL",
        "BALLIST",
        "BAL",
        "CREDITCARDMSGSRSV1",
        "CCSTMTTRNRS",
        "CCSTMTRS",
        "CCACCTFROM",
        "CCACCTTO",
        "INVSTMTMSGSRSV1",
        "INVSTMTTRNRS",
        "INVSTMTRS",
        "INVBANKTRAN",
        "INTRATRNRS",
        "INTRARS",
        "XFERINFO",
        "SIGNUPMSGSRSV1",
        "ACCTINFOTRNRS",
        "ACCTINFORS",
        "ACCTINFO",
        "PROFMSGSRSV1",
        "PROFTRNRS",
        "PROFRS",
        "STMTENDTRNRS",
        "STMTENDRS",
        "CCSTMTENDTRNRS",
        "CCSTMTENDRS",
    }
)
KNOWN_LEAVES = frozenset(
    {
        "CODE",
        "SEVERITY",
        "MESSAGE",
        "DTSERVER",
        "LANGUAGE",
        "DTPROFUP",
        "DTACCTUP",
        "ORG",
        "FID",
        "TRNUID",
        "CLTCOOKIE",
        "CURDEF",
        "BANKID",
        "BRANCHID",
        "ACCTID",
        "ACCTTYPE",
        "ACCTKEY",
        "DTSTART",
        "DTEND",
        "TRNTYPE",
        "DTPOSTED",
        "DTUSER",
        "DTAVAIL",
        "TRNAMT",
        "FITID",
        "CORRECTFITID",
        "CORRECTACTION",
        "SRVRTID",
        "CHECKNUM",
        "REFNUM",
        "SIC",
        "PAYEEID",
        "NAME",
        "EXTDNAME",
        "MEMO",
        "CURRATE",
        "CURSYM",
        "BALAMT",
        "DTASOF",
        "MKTGINFO",
        "ADDR1",
        "ADDR2",
        "ADDR3",
        "CITY",
        "STATE",
        "POSTALCODE",
        "COUNTRY",
        "PHONE",
    }
)
# Where an aggregate belongs: opening one closes whatever its parent left open.
_PARENTS: dict[str, frozenset[str]] = {
    "STMTTRN": frozenset({"BANKTRANLIST", "INVBANKTRAN"}),
    "STMTTRNP": frozenset({"BANKTRANLISTP"}),
    **{
        name: frozenset({BANK_STATEMENT, CARD_STATEMENT})
        for name in ("BANKTRANLIST", "BANKTRANLISTP", "LEDGERBAL", "AVAILBAL", "BALLIST")
    },
    BANK_STATEMENT: frozenset({"STMTTRNRS"}),
    CARD_STATEMENT: frozenset({"CCSTMTTRNRS"}),
    "STMTTRNRS": frozenset({"BANKMSGSRSV1"}),
    "CCSTMTTRNRS": frozenset({"CREDITCARDMSGSRSV1"}),
    **{
        name: frozenset({"OFX"})
        for name in (
            "SIGNONMSGSRSV1",
            "BANKMSGSRSV1",
            "CREDITCARDMSGSRSV1",
            "INVSTMTMSGSRSV1",
            "SIGNUPMSGSRSV1",
            "PROFMSGSRSV1",
        )
    },
}

_MARKUP = re.compile(
    r"<(?:(?P<special>[!?])|(?P<close>/)?\s*(?P<name>[A-Za-z][A-Za-z0-9._:-]*)(?P<rest>[^<>]*)>)"
)
# markup that is skipped, with what ends it (a comment, a processing instruction such as the
# XML declaration or the OFX 2 header, another declaration); CDATA is read as text
_SKIPPED = (("<!--", "-->"), ("<?", "?>"), ("<!", ">"))
_CDATA = ("<![CDATA[", "]]>")
_CLOSE_TAG = re.compile(r"</\s*([A-Za-z][A-Za-z0-9._:-]*)")
_ENTITY = re.compile(r"&(?:(amp|lt|gt|quot|apos);|#(\d{1,7});|#[xX]([0-9A-Fa-f]{1,6});)")
_NAMED_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


@dataclass(slots=True)
class OfxElement:
    """An aggregate of an OFX file: its aggregates in order, and the text of its leaves.

    Leaves are kept as text in a dict (the first of a name wins) rather than as elements:
    a dict of strings is invisible to the garbage collector, which otherwise walks every
    leaf of a large file again and again while it is read.
    """

    name: str
    line: int
    children: list[OfxElement] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)  # leaf name -> its text
    value_lines: dict[str, int] = field(default_factory=dict)  # leaf name -> its line

    def child(self, name: str) -> OfxElement | None:
        for candidate in self.children:
            if candidate.name == name:
                return candidate
        return None

    def children_named(self, name: str) -> list[OfxElement]:
        return [c for c in self.children if c.name == name]

    def has(self, name: str) -> bool:
        """Whether the leaf is present, even empty."""
        return name in self.values

    def text(self, path: str) -> str | None:
        """The stripped text of the leaf at ``path`` (``A/B``); None when absent or blank."""
        element: OfxElement | None = self
        *aggregates, leaf = path.split("/") if "/" in path else (path,)
        for step in aggregates:
            element = None if element is None else element.child(step)
        if element is None:
            return None
        value = element.values.get(leaf)
        return None if value is None else value.strip() or None

    def line_of(self, name: str) -> int:
        """The line of a leaf, else of this aggregate."""
        return self.value_lines.get(name, self.line)

    def iter(self, names: frozenset[str]) -> Iterator[OfxElement]:
        """Descendants named one of ``names``, in file order (not looking inside them)."""
        for _parent, element in self.iter_with_parents(names):
            yield element

    def iter_with_parents(self, names: frozenset[str]) -> Iterator[tuple[OfxElement, OfxElement]]:
        """(parent, descendant) for descendants named one of ``names``, in file order.
        Walked with a stack, not recursion: nesting depth is the file's to choose (and
        elements keep no parent link, so the tree has no cycles for the collector)."""
        todo = [(self, child) for child in reversed(self.children)]
        while todo:
            parent, element = todo.pop()
            if element.name in names:
                yield parent, element
            else:
                todo.extend((element, child) for child in reversed(element.children))


def _unescape(text: str) -> str:
    def replace(found: re.Match[str]) -> str:
        named, decimal, hexadecimal = found.groups()
        if named:
            return _NAMED_ENTITIES[named]
        code = int(decimal) if decimal else int(hexadecimal, 16)
        if code == 0 or code > 0x10FFFF:
            return found.group(0)
        return chr(code)

    return _ENTITY.sub(replace, text) if "&" in text else text


class _TreeBuilder:
    """Builds the element tree from the markup of an OFX body (from ``<OFX>`` on)."""

    def __init__(self, text: str, offset_line: int) -> None:
        self.text = text
        self.newlines = [found.start() for found in re.finditer("\n", text)]
        self.offset_line = offset_line
        self.closed_somewhere = {name.upper() for name in _CLOSE_TAG.findall(text)}
        self.root = OfxElement("#document", offset_line)
        self.stack: list[OfxElement] = [self.root]
        self.pending: tuple[str, int, OfxElement] | None = None  # (name, line, its parent)
        self.last_leaf: str | None = None  # the leaf just read, whose end tag may follow

    def line_at(self, position: int) -> int:
        return self.offset_line + bisect.bisect_left(self.newlines, position)

    def build(self) -> OfxElement:
        """One pass over the text; every search goes forward, so the time is linear."""
        text = self.text
        texts: list[str] = []  # the text read since the last tag
        position = 0
        while True:
            found = _MARKUP.search(text, position)
            if found is None:
                texts.append(_unescape(text[position:]))
                break
            opening = found.start()
            texts.append(_unescape(text[position:opening]))
            if found.group("special") is not None:
                position = self._skip(opening, texts)
                continue
            position = found.end()
            content = "".join(texts)
            texts = []
            name = found.group("name").upper()
            closing_tag = found.group("close") is not None
            self._settle(content, closes=name if closing_tag else None)
            if closing_tag:
                self._close(name)
            else:
                self._open(name, self.line_at(opening), found.group("rest"))
        self._settle("".join(texts), closes=None)
        return self.root

    def _skip(self, opening: int, texts: list[str]) -> int:
        """Past a comment, processing instruction or declaration; CDATA is kept as text.
        One never closed is refused: it would silently hide the rest of the file."""
        text = self.text
        start, end = _CDATA
        if text.startswith(start, opening):
            closing = self._closing(opening, start, end, "CDATA section")
            texts.append(text[opening + len(start) : closing])
            return closing + len(end)
        for start, end in _SKIPPED:
            if text.startswith(start, opening):
                what = {"<!--": "comment", "<?": "processing instruction"}.get(start, "declaration")
                return self._closing(opening, start, end, what) + len(end)
        return opening + 1  # pragma: no cover - _MARKUP only finds "<!" and "<?"

    def _closing(self, opening: int, start: str, end: str, what: str) -> int:
        closing = self.text.find(end, opening + len(start))
        if closing < 0:
            line = self.line_at(opening)
            raise InvalidRecord(
                f"{start} {what}",
                f"the {what} opened at line {line} is never closed with {end!r}",
                line=line,
            )
        return closing

    def _settle(self, content: str, *, closes: str | None) -> None:
        """Decide what the element opened last is, now that what follows it is known."""
        if self.pending is None:
            return
        name, line, parent = self.pending
        self.pending = None
        value = content.strip()
        closed_at_once = closes == name and name not in KNOWN_AGGREGATES
        if value or closed_at_once or not self._is_aggregate(name):
            self._leaf(parent, name, line, value)
            return
        element = OfxElement(name=name, line=line)
        parent.children.append(element)
        self.stack.append(element)

    def _leaf(self, parent: OfxElement, name: str, line: int, value: str) -> None:
        parent.values.setdefault(name, value)
        parent.value_lines.setdefault(name, line)
        self.last_leaf = name

    def _is_aggregate(self, name: str) -> bool:
        if name in KNOWN_AGGREGATES:
            return True
        return name not in KNOWN_LEAVES and name in self.closed_somewhere

    def _open(self, name: str, line: int, rest: str) -> None:
        self.last_leaf = None
        parents = _PARENTS.get(name)
        if parents is not None and self.stack[-1].name not in parents:
            for depth in range(len(self.stack) - 1, 0, -1):
                if self.stack[depth].name in parents:
                    del self.stack[depth + 1 :]  # close what the parent left open
                    break
        if rest.rstrip().endswith("/"):  # <NAME/>: an empty element
            self._leaf(self.stack[-1], name, line, "")
            self.last_leaf = None
            return
        self.pending = (name, line, self.stack[-1])

    def _close(self, name: str) -> None:
        if self.last_leaf == name:
            self.last_leaf = None  # the end tag of the leaf just read
            return
        self.last_leaf = None
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].name == name:
                del self.stack[depth:]
                return
        # an end tag nothing opened: ignored, like a lenient SGML reader does


# ------------------------------------------------------------------- headers, decoding

_OFX_START = re.compile(r"<\s*OFX(?:\s[^<>]*)?>", re.IGNORECASE)
_OFX_START_BYTES = re.compile(rb"<\s*OFX(?:\s[^<>]*)?>", re.IGNORECASE)
_SGML_HEADER = re.compile(rb"^\s*([A-Z]+)\s*:\s*(.*?)\s*$", re.MULTILINE)
_XML_ENCODING = re.compile(rb"<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']", re.I)
_XML_OFX_VERSION = re.compile(rb"<\?OFX[^>]*?VERSION\s*=\s*[\"'](\d+)[\"']", re.IGNORECASE)
_CHARSETS = {"1252": "cp1252", "ISO-8859-1": "latin-1", "8859-1": "latin-1", "NONE": None}
_ASCII = {"ascii", "us-ascii", "usascii"}


@dataclass(frozen=True, slots=True)
class _Header:
    version: str | None
    encoding: str | None  # a Python codec, or None to detect


def _read_header(head: bytes) -> _Header:
    """Version and encoding from the OFX 1.x header lines or the 2.x XML declarations."""
    fields = {key.upper(): value.strip() for key, value in _SGML_HEADER.findall(head)}
    xml_encoding = _XML_ENCODING.search(head)
    xml_version = _XML_OFX_VERSION.search(head)
    version_bytes = xml_version.group(1) if xml_version else fields.get(b"VERSION")
    version = version_bytes.decode("ascii", "replace") if version_bytes else None
    encoding: str | None = None
    if xml_encoding is not None:
        encoding = xml_encoding.group(1).decode("ascii")
    else:
        declared = fields.get(b"ENCODING", b"").decode("ascii", "replace").upper()
        charset = fields.get(b"CHARSET", b"").decode("ascii", "replace").upper()
        if declared in ("UTF-8", "UNICODE"):
            encoding = "utf-8"
        elif charset:
            encoding = _CHARSETS.get(charset, charset)
    if encoding is not None and encoding.lower() in _ASCII:
        encoding = None  # a non-ASCII byte cannot be ASCII: detect instead
    return _Header(version=version if version and version.isdigit() else None, encoding=encoding)


def _decode(data: bytes, header: _Header, note: Note) -> str:
    """The text, in the declared encoding where the bytes bear it out."""
    encoding = header.encoding
    if encoding is None:
        return decode_statement_text(data)
    try:
        codec = codecs.lookup(encoding).name
    except (LookupError, ValueError):  # ValueError: a name with a NUL character in it
        note("unknown_encoding", f"the file declares encoding {encoding!r}, unknown; detected")
        return decode_statement_text(data)
    if codec.startswith(("utf-16", "utf-32")):
        # <OFX> was found as ASCII bytes, so the file is not in a two- or four-byte encoding
        note("declared_charset", f"the file declares {encoding} but is not; detected")
        return decode_statement_text(data)
    if codec != "utf-8" and _is_utf8_text(data):
        note("declared_charset", f"the file declares {encoding} but is UTF-8 text; read as UTF-8")
        return decode_statement_text(data, "utf-8")
    try:
        return decode_statement_text(data, codec)
    except (UnicodeDecodeError, LookupError):
        note("declared_charset", f"the file is not valid {encoding} as it declares; detected")
        return decode_statement_text(data)


def _is_utf8_text(data: bytes) -> bool:
    """Holds non-ASCII bytes and all of them are UTF-8."""
    if data.isascii():
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# ---------------------------------------------------------------------------- values

_OFX_DATE = re.compile(
    r"(?P<year>\d{4})(?P<month>\d{2})(?P<day>\d{2})"
    r"(?:(?P<hour>\d{2})(?P<minute>\d{2})(?P<second>\d{2})?)?"
    r"(?:[.:]\d{1,6})?"
    r"\s*(?:\[\s*(?P<offset>[+-]?\d{1,2}(?:\.\d{1,2})?)?\s*(?::[^\]]*)?\])?"
)
_AMOUNT = re.compile(r"(?P<sign>[+-]?)(?P<whole>\d*)(?:[.,](?P<fraction>\d+))?")
_GROUPED_AMOUNT = re.compile(
    r"(?P<sign>[+-]?)(?P<whole>\d{1,3}(?:(?P<group>[.,])\d{3})+)(?:(?P<point>[.,])(?P<fraction>\d+))?"
)
_CURRENCY_CODE = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True, slots=True)
class _Moment:
    """An OFX date-time as written: the date, the time if any, the offset if any."""

    day: date
    clock: time | None
    offset: timedelta | None

    @property
    def key(self) -> str:
        """How the moment appears in a statement id: the date, with the time if written."""
        if self.clock is None:
            return self.day.isoformat()
        return f"{self.day.isoformat()}T{self.clock.isoformat()}"

    def aware(self) -> datetime:
        """A timezone-aware date-time; without an offset, GMT as the OFX spec says."""
        zone = UTC if self.offset is None else timezone(self.offset)
        return datetime.combine(self.day, self.clock or time(0), tzinfo=zone)


def parse_ofx_datetime(value: str) -> _Moment | None:
    """``YYYYMMDD[HHMM[SS][.XXX]][[offset[:TZ]]]``; None when it is not one."""
    found = _OFX_DATE.fullmatch(value.strip())
    if found is None:
        return None
    try:
        day = date(int(found["year"]), int(found["month"]), int(found["day"]))
        clock = None
        if found["hour"] is not None:
            clock = time(int(found["hour"]), int(found["minute"]), int(found["second"] or 0))
        offset = None
        if found["offset"] is not None:
            offset = timedelta(hours=float(found["offset"]))
            if abs(offset) >= timedelta(hours=24):
                return None
    except ValueError:
        return None
    return _Moment(day=day, clock=clock, offset=offset)


def parse_ofx_amount(value: str) -> Decimal | None:
    """An OFX amount (``-12.34``, ``12,34``, ``1,234.56``, ``1.234,56``); None if not one."""
    text = "".join(value.split())
    found = _AMOUNT.fullmatch(text)
    if found is not None and (found["whole"] or found["fraction"]):
        whole, fraction = found["whole"] or "0", found["fraction"]
    else:
        found = _GROUPED_AMOUNT.fullmatch(text)
        if found is None or (found["point"] is not None and found["point"] == found["group"]):
            return None
        whole, fraction = found["whole"].replace(found["group"], ""), found["fraction"]
    digits = f"{found['sign']}{whole}" + (f".{fraction}" if fraction else "")
    try:
        amount = Decimal(digits)
    except InvalidOperation:  # pragma: no cover - the patterns only let digits through
        return None
    return abs(amount) if amount == 0 else amount


@dataclass(frozen=True, slots=True)
class _Balance:
    """A LEDGERBAL/AVAILBAL as written: the amount may be empty, the date missing."""

    tag: str
    line: int
    text: str | None  # BALAMT as written; None when empty
    amount: Decimal | None
    moment: _Moment | None

    @property
    def day(self) -> date | None:
        return None if self.moment is None else self.moment.day


_BALANCE_NAMES = {"LEDGERBAL": "closing", "AVAILBAL": "available"}


def _in_units_of(amount: Decimal, currency: str) -> Decimal:
    """The amount with at least the currency's decimals (``-80`` USD is ``-80.00``);
    more decimals than the currency has are kept, for the assembly to note."""
    exponent = currency_exponent(currency)
    if amount_too_large(amount):  # quantize would raise; assemble_statement refuses it
        return amount
    if -amount.as_tuple().exponent >= exponent:  # type: ignore[operator]
        return amount
    return amount.quantize(Decimal(1).scaleb(-exponent))


# ---------------------------------------------------------------------------- parsing


def parse(data: bytes, *, tenant_id: str, sha256: str, statement_format: str) -> ParseResult:
    """Every bank and credit-card statement of an OFX/QFX file, with diagnostics."""
    del statement_format  # only "ofx" is dispatched here
    if not data.strip():
        raise EmptyStatementFile("the file is empty; send the OFX file as the request body")
    refuse_dtd(data)
    diagnostics: list[Diagnostic] = []

    def note(code: str, message: str) -> None:
        diagnostics.append(Diagnostic(code=code, message=message))

    start = _OFX_START_BYTES.search(data)
    if start is None:
        if b"OFXHEADER" in data[:4096].upper():
            raise MissingElement("OFX", hint="the file has OFX headers but no <OFX> element")
        raise FormatMismatch(
            "the file has no <OFX> element (nor OFX headers); it is not an OFX/QFX file"
        )
    header = _read_header(data[: start.start()])
    text = _decode(data, header, note)
    body = _OFX_START.search(text)
    if body is None:  # pragma: no cover - the byte search found it
        raise MissingElement("OFX", hint="no <OFX> element after decoding")
    first_line = text.count("\n", 0, body.start()) + 1
    root = _TreeBuilder(text[body.start() :], first_line).build()
    source_format = f"{SOURCE_FORMAT}.{header.version}" if header.version else SOURCE_FORMAT
    reader = _OfxReader(
        root,
        tenant_id=tenant_id,
        sha256=sha256,
        source_format=source_format,
        diagnostics=diagnostics,
    )
    statements = reader.read()
    return ParseResult(
        file_sha256=sha256,
        source_format=source_format,
        statements=statements,
        diagnostics=diagnostics,
    )


_STATEMENTS = frozenset({BANK_STATEMENT, CARD_STATEMENT})
_NOT_BANK_STATEMENTS = {
    "INVSTMTRS": "investment statements (INVSTMTRS)",
    "INTRARS": "transfer responses (INTRARS)",
    "ACCTINFORS": "an account list (ACCTINFORS)",
    "PROFRS": "a profile response (PROFRS)",
    "STMTENDRS": "statement closing information (STMTENDRS)",
    "CCSTMTENDRS": "statement closing information (CCSTMTENDRS)",
}


class _OfxReader:
    """Turns the element tree into statements."""

    def __init__(
        self,
        root: OfxElement,
        *,
        tenant_id: str,
        sha256: str,
        source_format: str,
        diagnostics: list[Diagnostic],
    ) -> None:
        self.root = root
        self.tenant_id = tenant_id
        self.sha256 = sha256
        self.source_format = source_format
        self.diagnostics = diagnostics
        self.seen_statement_ids: set[str] = set()

    def note(self, code: str, message: str, statement: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code=code, message=message, statement=statement))

    def read(self) -> list[ParsedStatement]:
        if self.root.child("OFX") is None:
            raise MissingElement("OFX", hint="the file has no <OFX> element")
        found = list(self.root.iter_with_parents(_STATEMENTS))
        others = list(self.root.iter(frozenset(_NOT_BANK_STATEMENTS)))
        if not found:
            raise MissingElement(
                "BANKMSGSRSV1/STMTTRNRS/STMTRS",
                hint=self._nothing_to_read(others),
            )
        for name in dict.fromkeys(other.name for other in others):
            self.note(
                "not_a_bank_statement",
                f"the file also holds {_NOT_BANK_STATEMENTS[name]}, which ingest does not "
                "read; only its bank and credit-card statements are imported",
            )
        created_at = self._server_time()
        statements = [self._statement(element, wrapper, created_at) for wrapper, element in found]
        self.note(
            "no_opening_balance",
            "OFX statements carry no opening balance, so opening balance + lines = closing "
            "balance cannot be checked; the closing balance (LEDGERBAL) is kept",
        )
        return statements

    def _nothing_to_read(self, others: list[OfxElement]) -> str:
        """Why a file holds no statement, in words: what it holds instead, bank errors."""
        reasons: list[str] = []
        kinds = list(dict.fromkeys(_NOT_BANK_STATEMENTS[other.name] for other in others))
        if kinds:
            reasons.append(
                f"the file holds {' and '.join(kinds)}, which ingest does not read; it reads "
                "bank (STMTRS) and credit-card (CCSTMTRS) statements"
            )
        for status in self.root.iter(frozenset({"STATUS"})):
            severity = (status.text("SEVERITY") or "").upper()
            if severity == "ERROR":
                reasons.append(
                    f"the bank answered with status {status.text('CODE') or '?'} {severity}"
                    + (f": {status.text('MESSAGE')}" if status.text("MESSAGE") else "")
                    + f" (line {status.line})"
                )
        if not reasons:
            message_sets = [
                child.name for element in self.root.children for child in element.children
            ]
            if message_sets and all(name == "SIGNONMSGSRSV1" for name in message_sets):
                reasons.append("the file holds only the bank's sign-on response (SONRS)")
            else:
                reasons.append("the file holds no bank or credit-card statement")
        return "; ".join(reasons)

    def _server_time(self) -> datetime | None:
        sign_on = next(self.root.iter(frozenset({"SONRS"})), None)
        value = None if sign_on is None else sign_on.text("DTSERVER")
        if value is None:
            return None
        moment = parse_ofx_datetime(value)
        if moment is None:
            self.note("invalid_date", f"SONRS/DTSERVER {value!r} is not an OFX date; ignored")
            return None
        return moment.aware()

    # -- one statement

    def _statement(
        self, element: OfxElement, wrapper: OfxElement, created_at: datetime | None
    ) -> ParsedStatement:
        name = element.name
        account_tag = _ACCOUNT_OF[name]
        account = element.child(account_tag)
        if account is None:
            raise MissingElement(f"{name}/{account_tag}", line=element.line)
        number = account.text("ACCTID")
        if number is None:
            raise MissingElement(f"{name}/{account_tag}/ACCTID", line=account.line)
        lists = element.children_named("BANKTRANLIST")
        transactions = [t for listing in lists for t in listing.children_named("STMTTRN")]
        period = self._period(name, lists)
        ledger = self._balance(element, "LEDGERBAL")
        available = self._balance(element, "AVAILBAL")
        statement_id = self._statement_id(name, element, number, period, ledger)

        def note(code: str, message: str) -> None:
            self.note(code, message, statement_id)

        currency = self._currency(element, transactions, note)
        for balance in (ledger, available):
            if balance is not None and balance.text is not None and balance.amount is None:
                raise InvalidValue(
                    f"{name}/{balance.tag}/BALAMT",
                    balance.text,
                    "a decimal amount such as -12.34",
                    statement=statement_id,
                    line=balance.line,
                )
            if balance is not None and balance.amount is None:
                note(
                    "missing_balance",
                    f"<{name}/{balance.tag}/BALAMT> (line {balance.line}) is empty; the "
                    f"statement has no {_BALANCE_NAMES[balance.tag]} balance",
                )
        if len(lists) > 1:
            note(
                "several_transaction_lists",
                f"{name} (line {element.line}) has {len(lists)} BANKTRANLIST; their "
                "transactions are read as one list",
            )
        if element.child("BANKTRANLISTP") is not None:
            note(
                "pending_transactions_ignored",
                f"{name} (line {element.line}) lists pending transactions (BANKTRANLISTP); "
                "only posted transactions (STMTTRN) are imported",
            )
        self._check_status(wrapper, note)
        lines = [
            self._line(transaction, name, currency, statement_id, note)
            for transaction in transactions
        ]
        self._note_transaction_ids(transactions, note)
        draft = StatementDraft(
            bank_statement_id=statement_id,
            account_number=number,
            currency=currency,
            source_format=self.source_format,
            created_at=created_at,
            period_from=None if period[0] is None else period[0].day,
            period_to=None if period[1] is None else period[1].day,
            closing_booked=None
            if ledger is None or ledger.amount is None
            else _in_units_of(ledger.amount, currency),
            closing_date=None if ledger is None else ledger.day,
            closing_available=None
            if available is None or available.amount is None
            else _in_units_of(available.amount, currency),
            closing_available_date=None if available is None else available.day,
            lines=lines,
        )
        return assemble_statement(draft, tenant_id=self.tenant_id, sha256=self.sha256, note=note)

    def _period(self, name: str, lists: list[OfxElement]) -> tuple[_Moment | None, _Moment | None]:
        starts: list[_Moment] = []
        ends: list[_Moment] = []
        for listing in lists:
            for tag, found in (("DTSTART", starts), ("DTEND", ends)):
                moment = self._moment(listing, tag, f"{name}/BANKTRANLIST/{tag}", None)
                if moment is not None:
                    found.append(moment)
        start = min(starts, key=lambda m: (m.day, m.clock or time(0))) if starts else None
        end = max(ends, key=lambda m: (m.day, m.clock or time(0))) if ends else None
        return start, end

    def _moment(
        self, element: OfxElement, tag: str, path: str, statement: str | None
    ) -> _Moment | None:
        """A required-format date of the statement: unreadable is refused, absent is None."""
        value = element.text(tag)
        if value is None:
            return None
        moment = parse_ofx_datetime(value)
        if moment is None:
            raise InvalidValue(
                path,
                value,
                "an OFX date YYYYMMDD[HHMMSS[.XXX]][[offset:TZ]]",
                statement=statement,
                line=element.line_of(tag),
            )
        return moment

    def _balance(self, element: OfxElement, tag: str) -> _Balance | None:
        """LEDGERBAL or AVAILBAL as written: its amount (None when empty or unreadable,
        ``text`` says which) and its date."""
        balance = element.child(tag)
        if balance is None:
            return None
        value = balance.text("BALAMT")
        moment = self._moment(balance, "DTASOF", f"{element.name}/{tag}/DTASOF", None)
        return _Balance(
            tag=tag,
            line=balance.line_of("BALAMT"),
            text=value,
            amount=None if value is None else parse_ofx_amount(value),
            moment=moment,
        )

    def _statement_id(
        self,
        name: str,
        element: OfxElement,
        number: str,
        period: tuple[_Moment | None, _Moment | None],
        ledger: _Balance | None,
    ) -> str:
        start, end = period
        if start is not None or end is not None:
            statement_id = f"{number}:{'..' if start is None else start.key}/{'..' if end is None else end.key}"
        elif ledger is not None and ledger.moment is not None:
            statement_id = f"{number}:asof-{ledger.moment.key}"
        else:
            raise MissingElement(
                f"{name}/BANKTRANLIST/DTEND",
                line=element.line,
                hint="an OFX statement is identified by its period (BANKTRANLIST DTSTART and "
                "DTEND) or by the date of its balance (LEDGERBAL/DTASOF), and it has neither",
            )
        if statement_id in self.seen_statement_ids:
            self.note(
                "duplicate_statement",
                f"the statement of account {number} for {statement_id.partition(':')[2]} "
                "appears more than once in the file; its lines get the same ids, so "
                "consumers keep the first",
                statement_id,
            )
        self.seen_statement_ids.add(statement_id)
        return statement_id

    def _currency(self, element: OfxElement, transactions: list[OfxElement], note: Note) -> str:
        path = f"{element.name}/CURDEF"
        value = element.text("CURDEF")
        if value is None:
            # some exports leave CURDEF empty and name the currency on each transaction
            named = {
                symbol.upper()
                for transaction in transactions
                for tag in ("CURRENCY", "ORIGCURRENCY")
                if (symbol := transaction.text(f"{tag}/CURSYM")) is not None
            }
            if len(named) == 1:
                currency = named.pop()
                if _CURRENCY_CODE.fullmatch(currency) is not None:
                    note(
                        "currency_from_transactions",
                        f"<{path}> is empty; the account currency {currency} is the one its "
                        "transactions name (CURSYM)",
                    )
                    return currency
            raise MissingElement(path, line=element.line, hint="the statement names no currency")
        currency = value.upper()
        if _CURRENCY_CODE.fullmatch(currency) is None:
            raise InvalidValue(path, value, "an ISO 4217 currency code", line=element.line)
        return currency

    @staticmethod
    def _check_status(wrapper: OfxElement, note: Note) -> None:
        """A warning in the transaction wrapper's STATUS (the statement is still there)."""
        status = wrapper.child("STATUS")
        if status is None:
            return
        severity = (status.text("SEVERITY") or "INFO").upper()
        if severity != "INFO":
            note(
                "bank_status",
                f"the bank reports status {status.text('CODE') or '?'} {severity}"
                + (f" ({status.text('MESSAGE')})" if status.text("MESSAGE") else "")
                + f" for this statement (line {status.line})",
            )

    @staticmethod
    def _note_transaction_ids(transactions: list[OfxElement], note: Note) -> None:
        """FITID tells a transaction from a repeat of it: missing or repeated ones are said."""
        missing = [t.line for t in transactions if t.text("FITID") is None]
        if missing:
            shown = ", ".join(str(line) for line in missing[:5])
            more = ", ..." if len(missing) > 5 else ""
            note(
                "missing_fitid",
                f"{len(missing)} transaction(s) have no FITID, the bank's id that tells a "
                f"transaction from a repeat of it (line {shown}{more})",
            )
        seen: dict[str, int] = {}
        for transaction in transactions:
            fitid = transaction.text("FITID")
            if fitid is None:
                continue
            if fitid in seen:
                note(
                    "repeated_fitid",
                    f"FITID {fitid!r} of the transaction of line {transaction.line} is also "
                    f"that of line {seen[fitid]}; both are imported",
                )
            else:
                seen[fitid] = transaction.line

    # -- one transaction

    def _line(
        self,
        transaction: OfxElement,
        statement_name: str,
        currency: str,
        statement_id: str,
        note: Note,
    ) -> LineDraft:
        path = f"{statement_name}/BANKTRANLIST/STMTTRN"
        line = transaction.line
        if not transaction.has("TRNAMT"):
            raise MissingElement(f"{path}/TRNAMT", statement=statement_id, line=line)
        value = transaction.text("TRNAMT") or ""
        amount = parse_ofx_amount(value)
        if amount is None:
            raise InvalidValue(
                f"{path}/TRNAMT",
                value,
                "a decimal amount such as -12.34",
                statement=statement_id,
                line=transaction.line_of("TRNAMT"),
            )
        posted = self._moment(transaction, "DTPOSTED", f"{path}/DTPOSTED", statement_id)
        if posted is None:
            note(
                "missing_booking_date",
                f"the transaction of line {line} has no DTPOSTED; it has no booking date",
            )
        line_currency, exchange = self._exchange(transaction, currency, note)
        details: list[str] = []
        user_date = self._optional_moment(transaction, "DTUSER", path, note)
        if user_date is not None and (posted is None or user_date.day != posted.day):
            details.append(f"transaction date {user_date.day.isoformat()}")
        check_number = transaction.text("CHECKNUM")
        if check_number is not None and not check_number.strip("0"):
            check_number = None  # "0": no cheque
        reference_number = transaction.text("REFNUM")
        if check_number and reference_number:
            details.append(f"reference number {reference_number}")
        correction = transaction.text("CORRECTACTION")
        if correction is not None:
            corrected = transaction.text("CORRECTFITID") or "?"
            details.append(f"correction {correction.upper()} of FITID {corrected}")
            note(
                "correction",
                f"the transaction of line {line} corrects ({correction.upper()}) the one with "
                f"FITID {corrected}; it is imported as a line of its own",
            )
        type_code = transaction.text("TRNTYPE")
        available = self._optional_moment(transaction, "DTAVAIL", path, note)
        return LineDraft(
            amount=_in_units_of(amount, line_currency or currency),
            currency=line_currency,
            booking_date=None if posted is None else posted.day,
            value_date=None if available is None else available.day,
            bank_reference=transaction.text("FITID"),
            customer_reference=check_number or reference_number,
            bank_transaction_code=None
            if type_code is None
            else BankTransactionCode(
                proprietary=type_code.upper(), proprietary_issuer=TRANSACTION_TYPE_ISSUER
            ),
            counterparty=_counterparty(transaction),
            remittance_text=transaction.text("MEMO"),
            additional_info="; ".join(details) or None,
            exchange=exchange,
            source_line=line,
        )

    def _optional_moment(
        self, transaction: OfxElement, tag: str, path: str, note: Note
    ) -> _Moment | None:
        """A secondary date of a transaction: unreadable is noted and left out."""
        value = transaction.text(tag)
        if value is None:
            return None
        moment = parse_ofx_datetime(value)
        if moment is None:
            note(
                "invalid_date",
                f"<{path}/{tag}> {value!r} (line {transaction.line}) is not an OFX date; ignored",
            )
        return moment

    @staticmethod
    def _exchange(
        transaction: OfxElement, currency: str, note: Note
    ) -> tuple[str | None, CurrencyExchange | None]:
        """The line's currency (None: the account's) and the exchange the file states."""
        for tag in ("ORIGCURRENCY", "CURRENCY"):
            aggregate = transaction.child(tag)
            if aggregate is None:
                continue
            symbol = (aggregate.text("CURSYM") or "").upper()
            if _CURRENCY_CODE.fullmatch(symbol) is None:
                note(
                    "invalid_currency",
                    f"<{tag}/CURSYM> of the transaction of line {transaction.line} is "
                    f"{symbol or 'empty'}, not a currency code; ignored",
                )
                continue
            if symbol == currency:
                return None, None
            rate_text = aggregate.text("CURRATE")
            rate = None if rate_text is None else parse_ofx_amount(rate_text)
            if rate is not None and rate <= 0:
                rate = None
            exchange = CurrencyExchange(source_currency=symbol, target_currency=currency, rate=rate)
            # ORIGCURRENCY: TRNAMT is already in CURDEF; CURRENCY: TRNAMT is in CURSYM
            return (None if tag == "ORIGCURRENCY" else symbol), exchange
        return None, None


def _counterparty(transaction: OfxElement) -> Counterparty | None:
    payee = transaction.child("PAYEE")
    name = transaction.text("NAME") or (None if payee is None else payee.text("NAME"))
    to = transaction.child("BANKACCTTO") or transaction.child("CCACCTTO")
    account = None if to is None else to.text("ACCTID")
    if name is None and account is None:
        return None
    compact = None if account is None else normalize_account_number(account)
    is_iban = compact is not None and bool(iban_number.is_valid(compact))
    return Counterparty(
        name=name,
        iban=compact if is_iban else None,
        other_account=None if is_iban else account,
    )
