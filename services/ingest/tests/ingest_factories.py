"""Small named factories for camt files: an entry, a transaction detail, a statement, a file.

Defaults describe one Norwegian NOK account on 2026-11-20; every test overrides only what it
is about. Versions 08+ wrap parties in ``Pty`` and 10+ write the status as ``Sts/Cd``, as
the ISO schemas do.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

IBAN = "NO9386011117947"
REPO_ROOT = Path(__file__).resolve().parents[3]
CORPUS_DIR = (REPO_ROOT.parent / "shared" / "corpus").resolve()
CAMT_NAMESPACE = re.compile(rb"tech:xsd:camt\.05[234]\.")
_NOT_CAMT_FILES = {".xsd", ".pydata", ".json", ".md", ".php", ".py", ".java", ".rb", ".go"}


def camt_corpus_files(pattern: re.Pattern[bytes] = CAMT_NAMESPACE) -> list[Path]:
    """The corpus files, sorted, whose bytes match ``pattern`` (a camt namespace), leaving
    out schemas, expected outputs and source code; none without the corpus."""
    if not CORPUS_DIR.is_dir():
        return []
    return sorted(
        path
        for path in CORPUS_DIR.rglob("*")
        if path.is_file()
        and path.suffix.lower() not in _NOT_CAMT_FILES
        and pattern.search(path.read_bytes()) is not None
    )


DEMO_STATEMENT = REPO_ROOT / "deploy" / "demo" / "statement-2026-11.camt053.xml"

_CONTAINERS = {
    "camt.053": ("BkToCstmrStmt", "Stmt"),
    "camt.052": ("BkToCstmrAcctRpt", "Rpt"),
    "camt.054": ("BkToCstmrDbtCdtNtfctn", "Ntfctn"),
}


def namespace(message: str = "camt.053", version: int = 2) -> str:
    return f"urn:iso:std:iso:20022:tech:xsd:{message}.001.{version:02d}"


def _tag(name: str, value: str | None) -> str:
    return "" if value is None else f"<{name}>{escape(value)}</{name}>"


@dataclass
class Detail:
    """One ``TxDtls``."""

    amount: str | None = None
    currency: str = "NOK"
    amount_path: str = "AmtDtls/TxAmt"  # or "" for TxDtls/Amt (v04+)
    indicator: str | None = None
    end_to_end_id: str | None = None
    instruction_id: str | None = None
    bank_reference: str | None = None
    debtor: str | None = None
    debtor_iban: str | None = None
    debtor_other: str | None = None
    creditor: str | None = None
    creditor_iban: str | None = None
    unstructured: list[str] = field(default_factory=list)
    creditor_reference: str | None = None
    referred_documents: list[str] = field(default_factory=list)
    additional_info: str | None = None

    def xml(self, version: int) -> str:
        parts = ["<TxDtls>"]
        refs = (
            _tag("AcctSvcrRef", self.bank_reference)
            + _tag("InstrId", self.instruction_id)
            + _tag("EndToEndId", self.end_to_end_id)
        )
        if refs:
            parts.append(f"<Refs>{refs}</Refs>")
        if self.amount is not None:
            amount = f'<Amt Ccy="{self.currency}">{self.amount}</Amt>'
            if self.amount_path == "":
                parts.append(amount)
            else:
                outer, inner = self.amount_path.split("/")
                parts.append(f"<{outer}><{inner}>{amount}</{inner}></{outer}>")
        parts.append(_tag("CdtDbtInd", self.indicator))
        parties = self._party("Dbtr", self.debtor, self.debtor_iban, self.debtor_other, version)
        parties += self._party("Cdtr", self.creditor, self.creditor_iban, None, version)
        if parties:
            parts.append(f"<RltdPties>{parties}</RltdPties>")
        remittance = "".join(_tag("Ustrd", text) for text in self.unstructured)
        structured = ""
        if self.creditor_reference is not None:
            structured += (
                "<CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp>"
                f"{_tag('Ref', self.creditor_reference)}</CdtrRefInf>"
            )
        for number in self.referred_documents:
            structured = f"<RfrdDocInf>{_tag('Nb', number)}</RfrdDocInf>" + structured
        if structured:
            remittance += f"<Strd>{structured}</Strd>"
        if remittance:
            parts.append(f"<RmtInf>{remittance}</RmtInf>")
        parts.append(_tag("AddtlTxInf", self.additional_info))
        parts.append("</TxDtls>")
        return "".join(parts)

    @staticmethod
    def _party(
        role: str, name: str | None, iban: str | None, other: str | None, version: int
    ) -> str:
        found = ""
        if name is not None:
            inner = _tag("Nm", name)
            found += f"<{role}>{f'<Pty>{inner}</Pty>' if version >= 8 else inner}</{role}>"
        if iban is not None:
            found += f"<{role}Acct><Id>{_tag('IBAN', iban)}</Id></{role}Acct>"
        elif other is not None:
            found += f"<{role}Acct><Id><Othr>{_tag('Id', other)}</Othr></Id></{role}Acct>"
        return found


@dataclass
class Entry:
    """One ``Ntry``."""

    amount: str = "100.00"
    indicator: str | None = "CRDT"
    currency: str = "NOK"
    status: str | None = "BOOK"
    status_form: str | None = None  # "code" (<Sts><Cd>) or "text" (<Sts>); by version if None
    reversal: bool | None = None
    booking_date: str | None = "2026-11-20"
    booking_date_time: str | None = None
    value_date: str | None = "2026-11-20"
    reference: str | None = None
    bank_reference: str | None = None
    domain: str | None = "PMNT"
    family: str | None = "RCDT"
    sub_family: str | None = "DMCT"
    proprietary: str | None = None
    proprietary_issuer: str | None = None
    additional_info: str | None = None
    details: list[Detail] = field(default_factory=list)

    @property
    def signed(self) -> Decimal:
        return Decimal(self.amount) * (-1 if self.indicator == "DBIT" else 1)

    def xml(self, version: int) -> str:
        parts = ["<Ntry>", _tag("NtryRef", self.reference)]
        parts.append(f'<Amt Ccy="{self.currency}">{self.amount}</Amt>')
        parts.append(_tag("CdtDbtInd", self.indicator))
        if self.reversal is not None:
            parts.append(_tag("RvslInd", "true" if self.reversal else "false"))
        if self.status is not None:
            form = self.status_form or ("code" if version >= 10 else "text")
            code = f"<Cd>{self.status}</Cd>" if form == "code" else self.status
            parts.append(f"<Sts>{code}</Sts>")
        if self.booking_date_time is not None:
            parts.append(f"<BookgDt>{_tag('DtTm', self.booking_date_time)}</BookgDt>")
        elif self.booking_date is not None:
            parts.append(f"<BookgDt>{_tag('Dt', self.booking_date)}</BookgDt>")
        if self.value_date is not None:
            parts.append(f"<ValDt>{_tag('Dt', self.value_date)}</ValDt>")
        parts.append(_tag("AcctSvcrRef", self.bank_reference))
        code = ""
        if self.domain is not None:
            code += (
                f"<Domn>{_tag('Cd', self.domain)}<Fmly>{_tag('Cd', self.family)}"
                f"{_tag('SubFmlyCd', self.sub_family)}</Fmly></Domn>"
            )
        if self.proprietary is not None:
            code += f"<Prtry>{_tag('Cd', self.proprietary)}{_tag('Issr', self.proprietary_issuer)}</Prtry>"
        if code:
            parts.append(f"<BkTxCd>{code}</BkTxCd>")
        if self.details:
            inner = "".join(detail.xml(version) for detail in self.details)
            parts.append(f"<NtryDtls>{inner}</NtryDtls>")
        parts.append(_tag("AddtlNtryInf", self.additional_info))
        parts.append("</Ntry>")
        return "".join(parts)


def balance(code: str, amount: Decimal | str, currency: str = "NOK", on: str = "2026-11-20") -> str:
    value = Decimal(amount)
    indicator = "DBIT" if value < 0 else "CRDT"
    return (
        f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
        f'<Amt Ccy="{currency}">{abs(value)}</Amt><CdtDbtInd>{indicator}</CdtDbtInd>'
        f"<Dt><Dt>{on}</Dt></Dt></Bal>"
    )


@dataclass
class Statement:
    """One ``Stmt`` (or ``Rpt``/``Ntfctn``). ``closing="auto"`` closes at opening + entries."""

    entries: list[Entry] = field(default_factory=list)
    statement_id: str | None = "2026-11-20-00321"
    iban: str | None = IBAN
    other_id: str | None = None
    currency: str | None = "NOK"
    opening: str | None = "1000.00"
    closing: str | None = "auto"
    created_at: str | None = "2026-11-20T23:15:02+01:00"
    electronic_sequence_number: str | None = "321"
    legal_sequence_number: str | None = "321"
    extra_xml: str = ""

    def xml(self, version: int) -> str:
        parts = [_tag("Id", self.statement_id)]
        parts.append(_tag("ElctrncSeqNb", self.electronic_sequence_number))
        parts.append(_tag("LglSeqNb", self.legal_sequence_number))
        parts.append(_tag("CreDtTm", self.created_at))
        parts.append(
            "<FrToDt><FrDtTm>2026-11-20T00:00:00+01:00</FrDtTm>"
            "<ToDtTm>2026-11-20T23:59:59+01:00</ToDtTm></FrToDt>"
        )
        account_id = _tag("IBAN", self.iban) if self.iban else ""
        if self.other_id:
            account_id += f"<Othr>{_tag('Id', self.other_id)}</Othr>"
        parts.append(
            f"<Acct><Id>{account_id}</Id>{_tag('Ccy', self.currency)}"
            "<Ownr><Nm>NORDISK VERKSTED AS</Nm></Ownr></Acct>"
        )
        currency = self.currency or "NOK"
        if self.opening is not None:
            parts.append(balance("OPBD", self.opening, currency))
        if self.closing is not None:
            closing = self.closing
            if closing == "auto":
                booked = sum((e.signed for e in self.entries if e.status == "BOOK"), Decimal(0))
                closing = str(Decimal(self.opening or "0") + booked)
            parts.append(balance("CLBD", closing, currency))
        parts.append(self.extra_xml)
        parts.extend(entry.xml(version) for entry in self.entries)
        return "".join(parts)


def camt_file(
    *statements: Statement,
    message: str = "camt.053",
    version: int = 2,
    group_header: bool = True,
    envelope: bool = False,
) -> bytes:
    """A whole camt file holding the given statements (one default statement if none)."""
    container, element = _CONTAINERS[message]
    if version == 1:
        container += "V01"
    body = "".join(
        f"<{element}>{statement.xml(version)}</{element}>"
        for statement in (statements or (Statement(entries=[Entry()]),))
    )
    header = (
        "<GrpHdr><MsgId>MSG-1</MsgId><CreDtTm>2026-11-20T23:15:02+01:00</CreDtTm></GrpHdr>"
        if group_header
        else ""
    )
    document = (
        f'<Document xmlns="{namespace(message, version)}">'
        f"<{container}>{header}{body}</{container}></Document>"
    )
    if envelope:
        document = (
            "<BizMsgEnvlp><AppHdr xmlns='urn:iso:std:iso:20022:tech:xsd:head.001.001.02'>"
            f"<MsgDefIdr>{message}.001.{version:02d}</MsgDefIdr></AppHdr>{document}</BizMsgEnvlp>"
        )
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + document).encode()


class LoopErrors:
    """What reached the event loop's exception handler while a test ran (``Task exception was
    never retrieved`` goes there)."""

    def __init__(self) -> None:
        self.contexts: list[dict[str, Any]] = []

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        self.contexts.append(context)
