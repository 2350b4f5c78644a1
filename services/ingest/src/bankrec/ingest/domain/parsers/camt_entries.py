"""Reading an ordinary ``Ntry`` fast: one walk over the elements the reader uses.

An entry is read some 40 ways (amount, dates, references, parties, codes, remittance); asking
each path of a ``Node`` walks the tree again and cost more than lxml's parsing of the file.
Here one walk, guided by the paths the reader uses (``_ENTRY`` and ``_DETAIL``: nothing else
is visited), collects the elements, and the entry is built from what was collected.

It reads only what is ordinary: every element it uses at most once where the reader takes
the first one, every value readable, a known status. Anything else (a repeated element, an
amount that cannot be read, a missing status that deserves a diagnostic) makes it give up
(``None``) and the entry is read by ``camt._FileReader._read_entry`` on a ``Node``, which
raises the precise error or makes the diagnostic. So both readers give the same entry
whenever this one gives one; a unit test runs both over the corpus.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from bankrec.contracts import (
    BankTransactionCode,
    EntryStatus,
    StructuredReference,
    normalize_account_number,
)
from bankrec.ingest.domain.parsers.camt_statements import Detail, Entry, Party
from bankrec.ingest.domain.parsers.xml_nodes import (
    is_true,
    joined,
    parse_date,
    parse_datetime,
    sign_of,
)
from bankrec.ingest.domain.references import classify_reference
from bankrec.ingest.domain.statement_assembly import amount_too_large

_LEAF: Final = object()  # an element whose text (or attribute) is read; one may occur
_TEXTS: Final = object()  # an element whose text is read every time it occurs


class _Unusual(Exception):  # noqa: N818 - internal: hand the entry to the full reader
    """The entry is not ordinary: read it with the full reader."""


@dataclass(frozen=True, slots=True)
class _Container:
    """An element whose children are read; ``every``: each occurrence (the reader asks
    for all of them), otherwise only one may occur."""

    children: dict[str, Any]
    every: bool = False


_DATE = _Container({"Dt": _LEAF, "DtTm": _LEAF})
_CODE = _Container(
    {
        "Domn": _Container({"Cd": _LEAF, "Fmly": _Container({"Cd": _LEAF, "SubFmlyCd": _LEAF})}),
        "Prtry": _Container({"Cd": _LEAF, "Issr": _LEAF}),
    }
)
_INSTITUTION = _Container({"FinInstnId": _Container({"Nm": _LEAF, "BICFI": _LEAF, "BIC": _LEAF})})
_ACCOUNT_ID = _Container(
    {
        "IBAN": _LEAF,
        "Othr": _Container({"Id": _LEAF}),
        "BBAN": _LEAF,
        "UPIC": _LEAF,
        "PrtryAcct": _Container({"Id": _LEAF}),
    }
)


def _parties() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for role in ("Dbtr", "Cdtr"):
        found[role] = _Container(
            {"Nm": _LEAF, "Pty": _Container({"Nm": _LEAF}), "Agt": _INSTITUTION}
        )
        found[f"Ultmt{role}"] = _Container({"Nm": _LEAF, "Pty": _Container({"Nm": _LEAF})})
        found[f"{role}Acct"] = _Container({"Id": _ACCOUNT_ID})
    return found


_DETAIL = _Container(
    {
        "Amt": _LEAF,
        "AmtDtls": _Container(
            {"TxAmt": _Container({"Amt": _LEAF}), "InstdAmt": _Container({"Amt": _LEAF})}
        ),
        "Refs": _Container({"EndToEndId": _LEAF, "InstrId": _LEAF, "AcctSvcrRef": _LEAF}),
        "CdtDbtInd": _LEAF,
        "BkTxCd": _CODE,
        "RltdPties": _Container(_parties()),
        "RltdAgts": _Container({"DbtrAgt": _INSTITUTION, "CdtrAgt": _INSTITUTION}),
        "RmtInf": _Container(
            {
                "Ustrd": _TEXTS,
                "Strd": _Container(
                    {
                        "CdtrRefInf": _Container({"Ref": _TEXTS}, every=True),
                        "RfrdDocInf": _Container({"Nb": _TEXTS}, every=True),
                    },
                    every=True,
                ),
            },
            every=True,
        ),
        "AddtlTxInf": _TEXTS,
    },
    every=True,
)
_ENTRY = _Container(
    {
        "Amt": _LEAF,
        "CdtDbtInd": _LEAF,
        "RvslInd": _LEAF,
        "Sts": _Container({"Cd": _LEAF, "Prtry": _LEAF}),
        "BookgDt": _DATE,
        "ValDt": _DATE,
        "NtryRef": _LEAF,
        "AcctSvcrRef": _LEAF,
        "BkTxCd": _CODE,
        "AddtlNtryInf": _TEXTS,
        "NtryDtls": _Container({"TxDtls": _DETAIL}, every=True),
    }
)
_STATUS = {
    "BOOK": EntryStatus.BOOKED,
    "PDNG": EntryStatus.PENDING,
    "FUTR": EntryStatus.PENDING,
    "INFO": EntryStatus.INFO,
}
_NOT_PROVIDED = {"NOTPROVIDED", "NOT PROVIDED", "NONREF"}
_OTHER_ACCOUNTS = ("Othr/Id", "BBAN", "UPIC", "PrtryAcct/Id")


class _Found:
    """What the walk collected for an entry or one transaction detail."""

    __slots__ = ("details", "elements", "texts", "values")

    def __init__(self) -> None:
        self.values: dict[str, str | None] = {}  # path -> the stripped text of the one leaf
        self.elements: dict[str, Any] = {}  # path -> the one container (or amount) there
        self.texts: dict[str, list[str]] = {}  # path -> every non-blank text, in order
        self.details: list[_Found] = []

    def first_text(self, *paths: str) -> str | None:
        values = self.values
        for path in paths:
            text = values.get(path)
            if text is not None:
                return text
        return None


def read_ordinary_entry(element: Any, namespace: str, index: int, code_of: Any) -> Entry | None:
    """The entry of an ``Ntry`` element, or None when it is not ordinary (see the module
    docstring). ``code_of`` builds a bank transaction code from its five values."""
    found = _Found()
    try:
        _walk(element, f"{{{namespace}}}", found)
        return _entry(found, element, index, code_of)
    except _Unusual:
        return None


_Compiled = dict[str, tuple[Any, str, Any, bool]]  # tag -> (kind, path, children, keep)
_COMPILED: dict[str, tuple[_Compiled, _Compiled]] = {}  # namespace prefix -> entry, detail


def _compiled(prefix: str) -> tuple[_Compiled, _Compiled]:
    """The schemas keyed by full tag, each element's path worked out once per namespace."""
    found = _COMPILED.get(prefix)
    if found is None:
        found = _COMPILED[prefix] = (
            _compile(_ENTRY.children, prefix, ""),
            _compile(_DETAIL.children, prefix, ""),
        )
    return found


def _compile(schema: dict[str, Any], prefix: str, path: str) -> _Compiled:
    compiled: _Compiled = {}
    for local, kind in schema.items():
        here = path + local
        children = None
        if isinstance(kind, _Container) and kind is not _DETAIL:
            children = _compile(kind.children, prefix, here + "/")
        compiled[prefix + local] = (kind, here, children, local == "Amt")
    return compiled


def _walk(root: Any, prefix: str, found: _Found) -> None:
    """Collect what the schema names, in document order, in one pass over the entry's
    descendants (lxml iterates them in C; recursing from Python cost more)."""
    entry_schema, detail_schema = _compiled(prefix)
    # where the children of each element read go: (their schema, collector)
    places: dict[Any, tuple[_Compiled, _Found]] = {root: (entry_schema, found)}
    for child in root.iterdescendants():
        place = places.get(child.getparent())
        if place is None:
            continue  # inside an element that is not read
        schema, into = place
        read = schema.get(child.tag)
        if read is None:
            continue  # not read (or in another namespace, where the reader's paths never go)
        kind, here, children, keep = read
        if kind is _TEXTS:
            text = child.text
            if text is not None and text.strip():
                into.texts.setdefault(here, []).append(" ".join(text.split()))
        elif kind is _LEAF:
            values = into.values
            if here in values:
                raise _Unusual  # the reader takes the first: leave it to the full one
            text = child.text
            values[here] = None if text is None else (text.strip() or None)
            if keep:
                into.elements[here] = child  # an amount: its currency is an attribute
        elif kind is _DETAIL:
            detail = _Found()
            into.details.append(detail)
            places[child] = (detail_schema, detail)
        else:
            if not kind.every:
                if here in into.elements:
                    raise _Unusual
                into.elements[here] = child
            places[child] = (children, into)


def _amount(found: _Found, path: str) -> tuple[Decimal | None, str | None]:
    text = found.values.get(path)
    if text is None:
        return None, None
    element = found.elements[path]
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _Unusual from None
    if amount_too_large(value) or value < 0:
        raise _Unusual  # the full reader refuses it
    currency = (element.get("Ccy") or "").strip().upper()
    if len(currency) != 3 or not currency.isalpha() or not currency.isascii():
        raise _Unusual
    return value, currency


def _date(found: _Found, path: str) -> date | None:
    if path not in found.elements:
        return None
    text = found.values.get(_DATE_PATHS[path][0])
    if text is not None:
        parsed = parse_date(text)
        if parsed is None:
            raise _Unusual
        return parsed
    text = found.values.get(_DATE_PATHS[path][1])
    if text is not None:
        moment = parse_datetime(text)
        if moment is None:
            raise _Unusual
        return moment.date()
    return None


_DATE_PATHS = {path: (f"{path}/Dt", f"{path}/DtTm") for path in ("BookgDt", "ValDt")}


def _code(found: _Found, code_of: Any) -> BankTransactionCode | None:
    if "BkTxCd" not in found.elements:
        return None
    text = found.values.get
    values = (
        text("BkTxCd/Domn/Cd"),
        text("BkTxCd/Domn/Fmly/Cd"),
        text("BkTxCd/Domn/Fmly/SubFmlyCd"),
        text("BkTxCd/Prtry/Cd"),
        text("BkTxCd/Prtry/Issr"),
    )
    if not any(values):
        return None
    code: BankTransactionCode = code_of(*values)
    return code


def _entry(found: _Found, element: Any, index: int, code_of: Any) -> Entry:
    text = found.values.get
    amount, currency = _amount(found, "Amt")
    sign = sign_of(text("CdtDbtInd"))
    if amount is None or currency is None or sign is None:
        raise _Unusual
    status_element = found.elements.get("Sts")
    if status_element is None:
        raise _Unusual  # the full reader says so in a diagnostic
    own = status_element.text
    code = text("Sts/Cd") or (None if own is None else own.strip() or None) or text("Sts/Prtry")
    status = None if code is None else _STATUS.get(code.upper())
    if status is None:
        raise _Unusual  # the full reader says so in a diagnostic
    line = element.sourceline
    return Entry(
        index=index,
        line=int(line) if line else None,
        amount=sign * amount,
        currency=currency,
        status=status,
        reversal=is_true(text("RvslInd")),
        booking_date=_date(found, "BookgDt"),
        value_date=_date(found, "ValDt"),
        reference=text("NtryRef"),
        bank_reference=text("AcctSvcrRef"),
        bank_transaction_code=_code(found, code_of),
        additional_info=joined(found.texts.get("AddtlNtryInf", ())),
        details=tuple(_detail(detail, code_of) for detail in found.details),
    )


def _detail(found: _Found, code_of: Any) -> Detail:
    text = found.values.get
    amount, currency = None, None
    for path in ("Amt", "AmtDtls/TxAmt/Amt", "AmtDtls/InstdAmt/Amt"):
        amount, currency = _amount(found, path)
        if amount is not None:
            break
    end_to_end = text("Refs/EndToEndId")
    if end_to_end is not None and end_to_end.upper() in _NOT_PROVIDED:
        end_to_end = None
    reference: StructuredReference | None = None
    for candidate in found.texts.get("RmtInf/Strd/CdtrRefInf/Ref", ()):
        reference = classify_reference(candidate)
        if reference is not None:
            break
    documents = found.texts.get("RmtInf/Strd/RfrdDocInf/Nb", [])
    return Detail(
        amount=amount,
        currency=currency,
        sign=sign_of(text("CdtDbtInd")),
        end_to_end_id=end_to_end,
        instruction_id=text("Refs/InstrId"),
        bank_reference=text("Refs/AcctSvcrRef"),
        bank_transaction_code=_code(found, code_of),
        debtor=_party(found, "Dbtr"),
        creditor=_party(found, "Cdtr"),
        structured_reference=reference,
        referred_documents=tuple(dict.fromkeys(documents)),
        remittance_text=joined(found.texts.get("RmtInf/Ustrd", ())),
        additional_info=joined(found.texts.get("AddtlTxInf", ())),
    )


def _party(found: _Found, role: str) -> Party:
    paths = _PARTY_PATHS[role]
    first_text = found.first_text
    elements = found.elements
    # a text can only be where its container is: look inside the containers present
    bic = first_text(*paths.agent_bics) if paths.agent in elements else None
    if "RltdPties" not in elements:
        return Party(bic=bic)
    name = None
    if paths.party in elements:
        name = first_text(*paths.names)
        bic = bic or first_text(*paths.party_bics)
    if name is None and paths.ultimate in elements:
        name = first_text(*paths.ultimate_names)
    if paths.account not in elements:
        return Party(name=name, bic=bic)
    iban = found.values.get(paths.iban)
    return Party(
        name=name,
        iban=(iban.upper() if iban.isalnum() else normalize_account_number(iban)) if iban else None,
        other_account=first_text(*paths.other_accounts),
        bic=bic,
    )


@dataclass(frozen=True, slots=True)
class _PartyPaths:
    """Where a role's name, bank and account are, from the transaction detail (as
    ``camt._party`` asks for them)."""

    agent: str
    agent_bics: tuple[str, ...]
    party: str
    names: tuple[str, ...]
    party_bics: tuple[str, ...]
    ultimate: str
    ultimate_names: tuple[str, ...]
    account: str
    iban: str
    other_accounts: tuple[str, ...]

    @classmethod
    def of(cls, role: str) -> _PartyPaths:
        agent = f"RltdAgts/{role}Agt/FinInstnId"
        party = f"RltdPties/{role}"
        account = f"RltdPties/{role}Acct/Id"
        ultimate = f"RltdPties/Ultmt{role}"
        return cls(
            agent=agent,
            agent_bics=(f"{agent}/BICFI", f"{agent}/BIC"),
            party=party,
            names=(f"{party}/Nm", f"{party}/Pty/Nm", f"{party}/Agt/FinInstnId/Nm"),
            party_bics=(f"{party}/Agt/FinInstnId/BICFI", f"{party}/Agt/FinInstnId/BIC"),
            ultimate=ultimate,
            ultimate_names=(f"{ultimate}/Nm", f"{ultimate}/Pty/Nm"),
            account=account,
            iban=f"{account}/IBAN",
            other_accounts=tuple(f"{account}/{path}" for path in _OTHER_ACCOUNTS),
        )


_PARTY_PATHS = {role: _PartyPaths.of(role) for role in ("Dbtr", "Cdtr")}
