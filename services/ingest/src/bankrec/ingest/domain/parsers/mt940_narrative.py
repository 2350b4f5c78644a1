"""The ``:86:`` field of an MT940/MT942 statement line ("information to account owner") in
the three shapes banks write it, read into the same plain values.

SWIFT leaves ``:86:`` free (6 lines of 65 characters), so each banking community filled it
its own way:

- **German structured** (DFÜ-Abkommen / DATEV, also Austrian, Luxembourg, Polish and Triodos
  exports): a three-digit business transaction code (GVC) and numbered subfields ``?00`` ...
  ``?63`` (Triodos writes ``>`` instead of ``?``): ``?00`` posting text, ``?10`` primanota,
  ``?20``-``?29`` and ``?60``-``?63`` remittance in pieces of 27 characters, ``?30`` the
  counterparty's bank code or BIC, ``?31`` its account or IBAN (``?38`` an IBAN), ``?32``/
  ``?33`` its name. SEPA payments carry keys inside the remittance pieces: ``EREF+``
  end-to-end id, ``KREF+`` customer reference, ``MREF+`` mandate, ``CRED+`` creditor id,
  ``SVWZ+`` the remittance text proper, ``ABWA+``/``ABWE+`` ultimate parties, ``PURP+``.
- **Slash-keyed** (Dutch banks: ING, ABN AMRO, Rabobank, Knab, bunq, SNS; HSBC and others):
  ``/KEY/value`` pairs such as ``/EREF/``, ``/REMI/``, ``/NAME/``, ``/IBAN/``, ``/BIC/``,
  ``/ORDP/``, ``/BENM/``, ING's ``/CNTP/account/bic/name/city/`` and structured remittance
  ``/REMI/STRD/CUR/ref/`` or ``/CDTRREFTP//CD/SCOR/ISSR/CUR/CDTRREF/ref``.
- **Free text**: everything else (ABN AMRO's old layout, Danske Bank, mBank, PostFinance ...),
  kept as the remittance text with its whitespace collapsed.

Line breaks: ``:86:`` is wrapped at 65 characters wherever the line is full, even inside a
word or a subfield. German subfields are joined without the breaks (the ``?nn`` markers are
the structure); for the other dialects a full line (65 characters with the tag) continues
without a space and a shorter one with a space. Remittance pieces of German subfields follow
the same idea at 27 characters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from bankrec.contracts import ReferenceKind, StructuredReference
from bankrec.ingest.domain.references import classify_reference, compact_reference, is_valid_rf

LINE_WIDTH = 65
"""SWIFT's width of a ``:86:`` line, the tag included on the first line."""
TAG_WIDTH = len(":86:")
RF_LENGTH_MAX = 25
GERMAN_PIECE_WIDTH = 27
"""Width of a German remittance subfield (``?20``..``?29``, ``?60``..``?63``)."""

NOT_PROVIDED = frozenset({"NOTPROVIDED", "NOT PROVIDED", "NONREF", "NONE"})
"""What banks write in a reference field that holds no reference."""

_GERMAN_START = re.compile(r"^(\d{3})(?=[?>]\d\d)")
_GERMAN_REMITTANCE = tuple(f"{n:02d}" for n in (*range(20, 30), *range(60, 64)))
_SEPA_KEYS = (
    "EREF",
    "KREF",
    "MREF",
    "CRED",
    "DEBT",
    "SVWZ",
    "ABWA",
    "ABWE",
    "IBAN",
    "BIC",
    "OAMT",
    "COAM",
    "PURP",
)
_SEPA_KEY = re.compile(r"(?<![A-Za-z0-9])(" + "|".join(_SEPA_KEYS) + r")\+")
# Keys of the slash dialect (NVB/ING/ABN AMRO/Rabobank/Knab/bunq/HSBC). Only these split
# the text: a value may hold other slashes (``/REMI/NR.201303-112/11.3.2013``).
_SLASH_KEYS = (
    "TRTP",
    "EREF",
    "PREF",
    "KREF",
    "MARF",
    "CSID",
    "CNTP",
    "REMI",
    "PURP",
    "ULTC",
    "ULTD",
    "ULTB",
    "RTRN",
    "ISDT",
    "NAME",
    "ADDR",
    "IBAN",
    "BIC",
    "BBAN",
    "ORDP",
    "BENM",
    "ACCW",
    "OCMT",
    "CHGS",
    "EXCH",
    "TRCD",
    "BUSP",
    "SUM",
    "OSDR",
    "OGB",
)
_SLASH_KEY = re.compile(r"/(" + "|".join(_SLASH_KEYS) + r")/")
_SLASH_START = re.compile(r"^/(" + "|".join(_SLASH_KEYS) + r")/")
_CREDITOR_REFERENCE = re.compile(
    r"CDTRREFTP/+CD/(?P<code>[^/]*)/+ISSR/(?P<issuer>[^/]*)/+CDTRREF/+(?P<ref>[^/]+)"
)
_STRUCTURED_REMITTANCE = re.compile(r"^/*STRD/+(?P<issuer>[^/]*)/+(?P<ref>[^/]+)")
_UNSTRUCTURED_REMITTANCE = re.compile(r"^/*USTD/*")
_AMOUNT_CODE = re.compile(r"/(OCMT|CHGS)/([A-Z]{3})\s*(\d+,\d*|,\d+)")
_BIC_SHAPE = re.compile(r"^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$")
_BANK_CODE = re.compile(r"^\d{8}$")
_IBAN_SHAPE = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$")
_RF = re.compile(r"(?<![A-Z0-9])RF\d{2}[0-9A-Z]*(?: [0-9A-Z]{1,4})*")
_KNAB_ACCOUNT = re.compile(r"REK:\s*([A-Z]{2}\d{2}[A-Z0-9]{10,30})\s*/\s*NAAM:\s*(.+?)\s*$")
_ISSUERS_NOT_KID = {"CUR"}  # Currence: the Dutch betalingskenmerk, not a Norwegian KID
_WHITESPACE = re.compile(r"\s+")


@dataclass(slots=True)
class Narrative:
    """What a ``:86:`` field says about one statement line."""

    dialect: str = "empty"  # german-structured | slash-keyed | free-text | empty
    transaction_code: str | None = None  # German GVC
    posting_text: str | None = None  # ?00 Buchungstext, /TRTP/
    end_to_end_id: str | None = None
    customer_reference: str | None = None  # KREF+ / /KREF/
    payment_information_id: str | None = None  # /PREF/ (the batch)
    mandate_reference: str | None = None
    creditor_id: str | None = None
    purpose_code: str | None = None
    return_reason: str | None = None
    counterparty_name: str | None = None
    counterparty_account: str | None = None
    counterparty_bic: str | None = None
    ultimate_parties: list[str] = field(default_factory=list)
    remittance_text: str | None = None
    structured_reference: StructuredReference | None = None
    original_amount: tuple[str, Decimal] | None = None  # /OCMT/: currency, amount
    charges: list[tuple[str, Decimal]] = field(default_factory=list)  # /CHGS/
    details: list[str] = field(default_factory=list)  # other facts, for additional_info


def read_narrative(fields: Sequence[Sequence[str]]) -> Narrative:
    """The values of a statement line's ``:86:`` field(s); each field is its physical lines
    (the first without the ``:86:`` tag). Some banks write one ``:86:`` per text line."""
    raw_lines = [line for lines in fields for line in lines]
    if not any(line.strip() for line in raw_lines):
        return Narrative()
    unbroken = "".join(raw_lines).strip()
    german = _GERMAN_START.match(unbroken)
    if german is not None:
        return _read_german(unbroken, german.group(1))
    text = " ".join(_unwrapped(lines) for lines in fields).strip()
    if _SLASH_START.match(text):
        return _read_slash_keyed(text)
    return _read_free_text(fields, text)


def read_amount_codes(text: str, narrative: Narrative) -> None:
    """``/OCMT/EUR11,85`` (original ordered amount) and ``/CHGS/EUR0,50`` (charges), as
    ``:61:`` supplementary details and HSBC's ``:86:`` write them."""
    for code, currency, amount in _AMOUNT_CODE.findall(text):
        value = _decimal(amount)
        if code == "OCMT" and narrative.original_amount is None:
            narrative.original_amount = (currency, value)
        elif code == "CHGS":
            narrative.charges.append((currency, value))


def collapse(text: str | None) -> str | None:
    """Runs of whitespace as one space; None for nothing."""
    if text is None:
        return None
    collapsed = _WHITESPACE.sub(" ", text).strip()
    return collapsed or None


def looks_like_bic(value: str) -> bool:
    return _BIC_SHAPE.match(value) is not None


def is_iban(value: str) -> bool:
    """A valid IBAN: shaped like one and its ISO 13616 check digits pass (mod 97 = 1).
    Computed here rather than with ``stdnum.iban``, which costs a registry lookup per call
    and dominated the time of a large statement."""
    compact = "".join(value.split()).upper()
    if _IBAN_SHAPE.match(compact) is None:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(character, 36)) for character in rearranged)) % 97 == 1


def looks_like_iban(value: str) -> bool:
    """Shaped like an IBAN (country, two digits, 11 to 30 letters or digits), whether or
    not its check digits pass: enough to tell an account from a name or a reference."""
    return _IBAN_SHAPE.match("".join(value.split()).upper()) is not None


def without_placeholder(value: str | None) -> str | None:
    """A reference, or None when it is empty or says there is none (``NOTPROVIDED``)."""
    text = collapse(value)
    if text is None or text.upper() in NOT_PROVIDED:
        return None
    return text


# ------------------------------------------------------------------------ line breaks


def _unwrapped(lines: Sequence[str]) -> str:
    """One field's lines as one text: a full line (65 characters with the tag) continues
    without a space, a shorter one with a space."""
    text = ""
    for index, line in enumerate(lines):
        if index > 0:
            previous = lines[index - 1]
            width = len(previous) + (TAG_WIDTH if index == 1 else 0)
            text += "" if width >= LINE_WIDTH else " "
        text += line
    return text


def _pieces_joined(pieces: Sequence[str], width: int = GERMAN_PIECE_WIDTH) -> tuple[str, set[int]]:
    """German remittance pieces as one text (a full 27-character piece continues without a
    space) and the offsets where a piece starts, where a SEPA key may begin unspaced."""
    text = ""
    starts: set[int] = set()
    for index, piece in enumerate(pieces):
        if index > 0 and text and len(pieces[index - 1]) < width:
            text += " "
        starts.add(len(text))
        text += piece
    return text, starts


# ---------------------------------------------------------------------- German subfields


def _read_german(unbroken: str, code: str) -> Narrative:
    separator = unbroken[3]
    parts = re.split(re.escape(separator) + r"(\d{2})", unbroken[3:])
    subfields: list[tuple[str, str]] = list(zip(parts[1::2], parts[2::2], strict=True))
    values: dict[str, str] = {}
    for number, value in subfields:
        values.setdefault(number, value)
    if separator == ">":
        return _read_triodos(subfields, values)
    narrative = Narrative(dialect="german-structured", transaction_code=code)
    narrative.posting_text = collapse(values.get("00"))
    pieces = [value for number, value in subfields if number in _GERMAN_REMITTANCE]
    text, starts = _pieces_joined(pieces)
    keyed = _sepa_keys(text, starts)
    _apply_sepa_keys(narrative, keyed, text)

    name_pieces = [value for number, value in subfields if number in ("32", "33")]
    name = collapse(_pieces_joined(name_pieces)[0]) if name_pieces else None
    bank = _compact(values.get("30"))
    account = _compact(values.get("38")) or _compact(values.get("31"))
    if account is None:
        account = _compact(keyed.get("IBAN"))
    if account is not None and not is_iban(account) and bank and _BANK_CODE.match(bank):
        account = f"{bank}/{account}"
    bic = bank if bank and looks_like_bic(bank) else _compact(keyed.get("BIC"))
    narrative.counterparty_name = name
    narrative.counterparty_account = account
    narrative.counterparty_bic = bic if bic and looks_like_bic(bic) else None
    return narrative


def _read_triodos(subfields: list[tuple[str, str]], values: dict[str, str]) -> Narrative:
    """Triodos writes ``>`` subfields: ``>10`` the counterparty's account (zeros for a SEPA
    payment, whose BIC and IBAN open the remittance pieces), ``>20``.. the description,
    ``>31`` the account holder's own account (not the counterparty's). Its code (``000``)
    is no German GVC."""
    narrative = Narrative(dialect="german-structured")
    pieces = [value for number, value in subfields if number in _GERMAN_REMITTANCE]
    account = _compact(values.get("10"))
    if account is not None and not account.strip("0"):
        account = None
    bic = None
    if len(pieces) >= 2 and looks_like_bic(pieces[0].strip()) and looks_like_iban(pieces[1]):
        bic, account, pieces = pieces[0].strip(), _compact(pieces[1]), pieces[2:]
    narrative.counterparty_account = account
    narrative.counterparty_bic = bic
    text, starts = _pieces_joined(pieces)
    _apply_sepa_keys(narrative, _sepa_keys(text, starts), text)
    return narrative


def _sepa_keys(text: str, starts: set[int]) -> dict[str, str]:
    """SEPA keys (``EREF+`` ...) in a German remittance text: key -> value, and ``""`` ->
    the text outside any key. A key counts after a space, a ``+``, the start of a piece or
    the start of the text, so ``SVWZ+`` inside a word is text."""
    found = [m for m in _SEPA_KEY.finditer(text) if _key_boundary(text, m.start(), starts)]
    if not found:
        return {"": text}
    keyed: dict[str, str] = {"": text[: found[0].start()]}
    for index, match in enumerate(found):
        end = found[index + 1].start() if index + 1 < len(found) else len(text)
        keyed.setdefault(match.group(1), text[match.end() : end])
    return keyed


def _key_boundary(text: str, at: int, starts: set[int]) -> bool:
    return at == 0 or at in starts or text[at - 1] in " +"


def _apply_sepa_keys(narrative: Narrative, keyed: dict[str, str], text: str) -> None:
    narrative.end_to_end_id = without_placeholder(keyed.get("EREF"))
    narrative.customer_reference = without_placeholder(keyed.get("KREF"))
    narrative.mandate_reference = without_placeholder(keyed.get("MREF"))
    narrative.creditor_id = collapse(keyed.get("CRED"))
    narrative.purpose_code = collapse(keyed.get("PURP"))
    for key in ("ABWA", "ABWE"):
        party = collapse(keyed.get(key))
        if party:
            narrative.ultimate_parties.append(party)
    for key, label in (("OAMT", "original amount"), ("COAM", "compensation amount")):
        value = collapse(keyed.get(key))
        if value:
            narrative.details.append(f"{label} {value}")
    if "SVWZ" in keyed:
        remittance = collapse(keyed["SVWZ"])
    elif len(keyed) > 1:
        remittance = collapse(keyed[""])
    else:
        remittance = collapse(text)
    narrative.remittance_text = remittance
    narrative.structured_reference = _rf_reference(remittance)


# ------------------------------------------------------------------------- slash keys


def _read_slash_keyed(text: str) -> Narrative:
    matches = list(_SLASH_KEY.finditer(text))
    values: dict[str, str] = {}
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        value = text[match.end() : end].strip()
        if value.endswith("/"):  # ING closes each value with the "/" of its "//"
            value = value[:-1].rstrip()
        values.setdefault(match.group(1), value)
    narrative = Narrative(dialect="slash-keyed")
    narrative.posting_text = collapse(values.get("TRTP"))
    narrative.end_to_end_id = without_placeholder(values.get("EREF"))
    narrative.customer_reference = without_placeholder(values.get("KREF"))
    narrative.payment_information_id = without_placeholder(values.get("PREF"))
    narrative.mandate_reference = without_placeholder(values.get("MARF"))
    narrative.creditor_id = collapse(values.get("CSID"))
    narrative.return_reason = collapse(values.get("RTRN"))
    purpose = values.get("PURP")
    if purpose:
        narrative.purpose_code = collapse(purpose.replace("/CD/", "").strip("/"))
    for key in ("ULTD", "ULTC", "ULTB"):
        party = collapse((values.get(key) or "").replace("/NAME/", " ").strip("/"))
        if party:
            narrative.ultimate_parties.append(party)

    name = collapse(values.get("NAME"))
    account = _compact(values.get("IBAN")) or _compact(values.get("BBAN"))
    bic = _compact(values.get("BIC"))
    counterparty = values.get("CNTP")
    if counterparty is not None:  # ING: account/bic/name/city
        parts = [*counterparty.split("/"), "", "", ""]
        account = account or _compact(parts[0])
        bic = bic or _compact(parts[1])
        name = name or collapse(parts[2])
    with_account = values.get("ACCW")
    if with_account and account is None:  # Rabobank: "account,bic"
        account_part, _, bic_part = with_account.partition(",")
        account = _compact(account_part)
        bic = bic or _compact(bic_part)
    for party_key in ("BENM", "ORDP"):
        party = values.get(party_key)
        first = _compact(party.split("/")[0]) if party else None
        if account is None and first is not None and is_iban(first):
            account = first
    narrative.counterparty_name = name
    narrative.counterparty_account = account
    narrative.counterparty_bic = bic if bic and looks_like_bic(bic) else None

    _read_remittance(narrative, values.get("REMI"))
    if narrative.remittance_text is None and "REMI" not in values:
        # no /REMI/ (HSBC writes /OCMT/... and then free lines): keep the whole text
        narrative.remittance_text = collapse(text)
    if narrative.structured_reference is None:
        narrative.structured_reference = _rf_reference(narrative.remittance_text)
    read_amount_codes(text, narrative)
    if narrative.return_reason:
        narrative.details.append(f"return reason {narrative.return_reason}")
    return narrative


def _read_remittance(narrative: Narrative, remittance: str | None) -> None:
    if remittance is None:
        return
    creditor_reference = _CREDITOR_REFERENCE.search(remittance)
    structured = _STRUCTURED_REMITTANCE.match(remittance)
    if creditor_reference is not None:
        narrative.structured_reference = _structured_reference(
            creditor_reference.group("ref"), creditor_reference.group("issuer")
        )
        text = remittance[: creditor_reference.start()]
    elif structured is not None:
        narrative.structured_reference = _structured_reference(
            structured.group("ref"), structured.group("issuer")
        )
        text = ""
    else:
        text = _UNSTRUCTURED_REMITTANCE.sub("", remittance)
    narrative.remittance_text = collapse(text.strip("/ "))


def _structured_reference(value: str, issuer: str | None) -> StructuredReference | None:
    reference = classify_reference(value)
    if reference is None:
        return None
    if reference.kind is ReferenceKind.KID and (issuer or "").upper() in _ISSUERS_NOT_KID:
        return StructuredReference(value=reference.value, kind=ReferenceKind.OCR)
    return reference


# -------------------------------------------------------------------------- free text


def _read_free_text(fields: Sequence[Sequence[str]], text: str) -> Narrative:
    narrative = Narrative(dialect="free-text")
    first_line = (fields[0][0] if fields and fields[0] else "").strip()
    head, _, rest = first_line.partition(" ")
    if head and looks_like_iban(head) and len(fields[0]) > 1:
        # SNS/ASN: the counterparty's IBAN and name, then the description
        narrative.counterparty_account = _compact(head)
        narrative.counterparty_name = collapse(rest)
        remaining = [list(fields[0][1:]), *[list(f) for f in fields[1:]]]
        text = " ".join(_unwrapped(lines) for lines in remaining)
    for line in (line for lines in fields for line in lines):
        knab = _KNAB_ACCOUNT.search(line)
        if knab is not None and narrative.counterparty_account is None:
            narrative.counterparty_account = knab.group(1)
            narrative.counterparty_name = collapse(knab.group(2))
    keyed = _sepa_keys(text, set())
    if len(keyed) > 1:
        _apply_sepa_keys(narrative, keyed, text)
    else:
        narrative.remittance_text = collapse(text)
        narrative.structured_reference = _rf_reference(narrative.remittance_text)
    return narrative


# ------------------------------------------------------------------------------ values


def _compact(value: str | None) -> str | None:
    if value is None:
        return None
    compact = "".join(value.split())
    return compact or None


def _rf_reference(text: str | None) -> StructuredReference | None:
    """An ISO 11649 creditor reference (``RF18 5390 0754 7034``) in a remittance text, when
    its check digits pass."""
    if not text:
        return None
    for match in _RF.finditer(text.upper()):
        groups = match.group(0).split(" ")  # printed in groups of four, or in one piece
        for count in range(len(groups), 0, -1):
            candidate = compact_reference("".join(groups[:count]))
            if len(candidate) <= RF_LENGTH_MAX and is_valid_rf(candidate):
                return StructuredReference(value=candidate, kind=ReferenceKind.RF)
    return None


def _decimal(amount: str) -> Decimal:
    return Decimal(amount.replace(",", "."))
