"""Document numbers: the keys an open item is found by, and the numbers a payer wrote.

An item's ``document_no`` / ``external_document_no`` is compared in compact form (upper case,
letters and digits only, leading zeros of an all-digit number dropped); an item numbered
``INV-10234`` is also found by its digits ``10234``, since payers write "Faktura 10234", but
only when no item is numbered ``10234`` in full (a purchase order ``PO-19972`` must not make
the invoice ``19972`` ambiguous).

The numbers in a line's texts are read tolerantly ("Faktura 10234", "fakt.nr. 10234",
"Fakt nr:10234", "inv 10234/10235", "INV-10234", "faktura nr 10234 og 10235"), but a number
is always a whole token: never digits inside a longer number (10234 in 9102345), an IBAN or
account number, an amount (10234,50 / kr 10234,-) or a date. A number right after an
invoice word ("faktura", "inv", "Rechnung", ...) is *named*; one standing alone is *bare*
and counts only when longer than four characters (seed 002); one after a customer, account
or organisation number word ("kundenr", "konto", "org.nr", "KID") is not a document number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

KEY_LENGTH_MIN = 3  # "Faktura 12" names nothing: too many things are numbered 12
BARE_LENGTH_MIN = 5  # seed 002: only texts longer than four characters are compared
SHORT_PREFIX_LENGTH_MAX = 4  # "PO 7712", "B 4410": a short word written apart from its number

_LETTER = "A-ZÆØÅÄÖÜ"
_ALNUM = f"{_LETTER}0-9"

INVOICE_WORDS = frozenset(
    {
        "FAKTURA", "FAKTURAER", "FAKTURANR", "FAKTURANUMMER", "FAKTUROR", "FAKTNR", "FAKT",
        "FAK", "FA", "FAKTURANO", "INV", "INVOICE", "INVOICES", "INVNR", "INVNO", "INVOICENO",
        "RECHNUNG", "RECHNUNGEN", "RECHNUNGSNR", "RECHNUNGSNUMMER", "RG", "RGNR", "RE", "RNR",
        "FACTURE", "FACTURA", "FACTUUR", "BILAG", "BILAGSNR", "DOK", "DOKUMENT", "DOC",
        "DOCUMENT", "NOTA", "BILL", "BILLS", "RENR", "LASKU", "LASKUN", "LASKUT", "LASKUNRO",
    }
)  # fmt: skip
NOT_DOCUMENT_WORDS = frozenset(
    {
        "KUNDE", "KUNDENR", "KUNDENUMMER", "KUNDNR", "KUNDNUMMER", "CUSTOMER", "CUST",
        "CUSTNO", "KD", "KDNR", "KONTO", "KONTONR", "KONTONUMMER", "ACCOUNT", "ACC", "ACCT",
        "KTO", "KTONR", "IBAN", "BBAN", "BIC", "SWIFT", "REGNR", "ORG", "ORGNR",
        "ORGANISASJONSNR", "MVA", "VAT", "CVR", "TLF", "TEL", "PHONE", "MOB", "MOBIL", "KID",
        "OCR", "MEDLEMSNR", "MEDLEM", "MEMBER", "POLISE", "POLICY", "AVTALE", "AVTALENR",
    }
)  # fmt: skip
# words that continue a list of numbers after an invoice word: "faktura nr 10234 og 10235"
CONNECTOR_WORDS = frozenset(
    {
        "NR",
        "NO",
        "NRO",
        "NUMERO",
        "NUMMER",
        "NUMBER",
        "NUM",
        "N",
        "OG",
        "AND",
        "UND",
        "OCH",
        "ET",
        "U",
    }
)
CURRENCY_WORDS = ("NOK", "SEK", "DKK", "EUR", "USD", "GBP", "CHF", "KR")

IBAN_LENGTH_MIN = 15  # Norway's, the shortest
IBAN_LENGTH_MAX = 34
IBAN_GROUP_LENGTH = 4  # an IBAN is printed in groups of four

# the text is read in whitespace-separated chunks; these shapes span chunks
_IBAN_START = re.compile(rf"[{_LETTER}]{{2}}\d{{2}}[{_ALNUM}]*")
_IBAN_GROUP = re.compile(rf"[{_ALNUM}]{{1,4}}")
_AMOUNT = re.compile(r"\d[\d.,'-]*")
_ACCOUNT_GROUPS = (re.compile(r"\d{4}"), re.compile(r"\d{2}"), re.compile(r"\d{5}[.,;:]?"))
# and these lie within one chunk: digits joined by . , : (an amount, a date, a time, a dotted
# account number), a whole amount "10234,-", a date with - or /
_NOT_A_NUMBER_IN_CHUNK = re.compile(
    r"\d+(?:[.,:]\d+)+|\d+[.,]-|(?<!\d)\d{1,4}[-/]\d{1,2}[-/]\d{1,4}(?!\d)"
)
_BARRIER = "~"
_TOKEN = re.compile(rf"[{_ALNUM}]+(?:-[{_ALNUM}]+)*|{_BARRIER}")
_NOT_KEY_CHAR = re.compile(rf"[^{_ALNUM}]")
_PREFIXED = re.compile(rf"([{_LETTER}]+)(\d{{{KEY_LENGTH_MIN},}})")


def _normal_digits(key: str) -> str:
    """An all-digit key without its leading zeros (0010234 and 10234 are one number)."""
    return (key.lstrip("0") or "0") if key.isdigit() else key


def compact_document_no(value: str) -> str:
    """``INV-10234`` -> ``INV10234``; ``0010234`` -> ``10234``."""
    return _normal_digits(_NOT_KEY_CHAR.sub("", value.upper()))


@dataclass(frozen=True, slots=True)
class DocumentKey:
    """A key an item is found by, the item field it comes from, and whether it is only the
    digits of a prefixed number (found only when no item has the key in full)."""

    key: str
    field: str
    digits_only: bool = False


def document_keys(**numbers: str | None) -> tuple[DocumentKey, ...]:
    """The keys an item is found by, per field (``document_no="INV-10234"``): each number in
    compact form, and for a number with a letter prefix (``INV-10234``, ``PO-7712``) its
    digits as well, marked ``digits_only``."""
    keys: list[DocumentKey] = []
    for field, value in numbers.items():
        if not value:
            continue
        compact = compact_document_no(value)
        if len(compact) >= KEY_LENGTH_MIN:
            keys.append(DocumentKey(compact, field))
        prefixed = _PREFIXED.fullmatch(compact)
        if prefixed is not None:
            digits = _normal_digits(prefixed.group(2))
            if len(digits) >= KEY_LENGTH_MIN:
                keys.append(DocumentKey(digits, field, digits_only=True))
    return tuple(keys)


@dataclass(frozen=True, slots=True)
class WrittenNumber:
    """A number a payer wrote: as written, the keys it is looked up by (most exact first),
    whether an invoice word named it, and the line field it was read from."""

    written: str
    keys: tuple[str, ...]
    named: bool
    field: str
    prefixed: bool = False  # the invoice word is part of the token: INV-10234, FAKT10234


_DIGIT = re.compile(r"\d")


def _has_digit(token: str) -> bool:
    return _DIGIT.search(token) is not None


def numbers_in(text: str | None, field: str, *, all_named: bool = False) -> list[WrittenNumber]:
    """The document numbers written in ``text`` (see the module docstring), in order.

    ``all_named``: the text is a list of document numbers (camt ``RfrdDocInf``), so every
    number in it counts as named.
    """
    if not text or not _has_digit(text):
        return []  # most texts a payer writes hold no number at all
    return list(_numbers_read(text, field, all_named))


# several rules read one line's texts, and banks repeat theirs ("Giro 1234 ..."); the
# numbers are frozen, so the same text read for the same field gives the same tuple
@lru_cache(maxsize=4096)
def _numbers_read(text: str, field: str, all_named: bool) -> tuple[WrittenNumber, ...]:
    reader = _Reader(field, all_named)
    chunks = text.upper().split()
    position = 0
    while position < len(chunks):
        chunk = chunks[position]
        if chunk.isalpha() and chunk not in CURRENCY_WORDS:  # a plain word: nothing to try
            reader.read_word(chunk)
            position += 1
            continue
        span = _not_a_number_span(chunks, position)
        if span:
            reader.barrier()
            position += span
            continue
        if _has_digit(chunk):
            chunk = _NOT_A_NUMBER_IN_CHUNK.sub(f" {_BARRIER} ", chunk)
        for token in _TOKEN.findall(chunk):
            reader.read(token)
        position += 1
    return tuple(reader.found)


def _not_a_number_span(chunks: Sequence[str], position: int) -> int:
    """How many chunks from ``position`` on are an IBAN, a spaced account number or an
    amount with its currency (0: none)."""
    chunk = chunks[position]
    following = chunks[position + 1] if position + 1 < len(chunks) else ""
    if not _has_digit(chunk):
        if chunk.rstrip(".,:") in CURRENCY_WORDS and following[:1].isdigit():
            return 2  # NOK 10234, kr. 10234
        return 0
    if _IBAN_START.fullmatch(chunk):
        if len(chunk) >= IBAN_LENGTH_MIN:
            return 1
        if len(chunk) == IBAN_GROUP_LENGTH:  # NO93 8601 1117 947
            length, end = len(chunk), position + 1
            while end < len(chunks) and length < IBAN_LENGTH_MAX:
                group = chunks[end]
                if not _IBAN_GROUP.fullmatch(group):
                    break
                length, end = length + len(group), end + 1
                if len(group) < IBAN_GROUP_LENGTH:
                    break  # the last group is the short one
            if length >= IBAN_LENGTH_MIN:
                return end - position
    if _AMOUNT.fullmatch(chunk) and following.rstrip(".,") in CURRENCY_WORDS:
        return 2  # 10234 NOK, 10234,- kr
    groups = chunks[position : position + len(_ACCOUNT_GROUPS)]
    if len(groups) == len(_ACCOUNT_GROUPS) and all(
        shape.fullmatch(group) for shape, group in zip(_ACCOUNT_GROUPS, groups, strict=True)
    ):
        return len(_ACCOUNT_GROUPS)  # 1503 01 23455
    return 0


class _Reader:
    """Reads tokens in order and remembers whether an invoice word (or a word saying "not a
    document number") came before the number at hand."""

    def __init__(self, field: str, all_named: bool) -> None:
        self.field = field
        self.all_named = all_named
        self.mode: str | None = "named" if all_named else None  # "named", "excluded", None
        self.short_word: str | None = None  # a short word right before a number: "PO 7712"
        self.found: list[WrittenNumber] = []

    def barrier(self) -> None:
        self.mode, self.short_word = ("named" if self.all_named else None), None

    def read_word(self, token: str) -> None:
        """A token without a digit: an invoice word, a word saying "not a document number",
        a connector or any other word."""
        word = token.replace("-", "")
        if word in INVOICE_WORDS:
            self.mode, self.short_word = "named", None
        elif word in NOT_DOCUMENT_WORDS:
            self.mode, self.short_word = "excluded", None
        elif word in CONNECTOR_WORDS:
            self.short_word = None
        else:
            self.mode = "named" if self.all_named else None
            self.short_word = word if len(word) <= SHORT_PREFIX_LENGTH_MAX else None

    def read(self, token: str) -> None:
        if token == _BARRIER:
            self.barrier()
            return
        if not _has_digit(token):
            self.read_word(token)
            return
        written = _written(
            token, self.field, named=self.mode == "named", short_word=self.short_word
        )
        self.short_word = None
        if written is None or (self.mode == "excluded" and not written.prefixed):
            return
        if written.prefixed:
            self.mode = "named"  # "INV-10234/10235": the list goes on after a prefixed number
        self.found.append(written)


def _written(
    token: str, field: str, *, named: bool, short_word: str | None
) -> WrittenNumber | None:
    parts = token.split("-")
    prefixed = False
    keys: list[str] = []
    if len(parts) > 1 and parts[0] in INVOICE_WORDS:  # INV-10234: the word names the number
        prefixed = True
        keys += [compact_document_no(token), compact_document_no("".join(parts[1:]))]
    else:
        compact = compact_document_no(token)
        keys.append(compact)
        glued = _PREFIXED.fullmatch(compact)
        if glued is not None and glued.group(1) in INVOICE_WORDS:  # INV10234, FAKT10234
            prefixed = True
            keys.append(_normal_digits(glued.group(2)))
    if short_word is not None:
        keys.append(short_word + keys[0])
    named = named or prefixed
    length_min = KEY_LENGTH_MIN if named else BARE_LENGTH_MIN
    usable = tuple(dict.fromkeys(key for key in keys if len(key) >= length_min))
    if not usable:
        return None
    return WrittenNumber(written=token, keys=usable, named=named, field=field, prefixed=prefixed)


def keys_of(numbers: Iterable[WrittenNumber]) -> set[str]:
    """Every key of the numbers (to compare with an item's document keys)."""
    return {key for number in numbers for key in number.keys}
