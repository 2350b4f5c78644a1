"""ISO 20022 bank-to-customer cash management: camt.053 statements (and camt.052 reports,
camt.054 notifications, which share the structure), versions 001.01 to 001.14.

The file is streamed with ``lxml.etree.iterparse``: each ``Ntry`` is read into plain values
at its end tag and dropped from the tree, each ``Stmt`` is turned into a header and lines at
its end tag and dropped, so memory follows the parsed result rather than the XML tree.

Leniency: about half of the real files fail their own schema (elements out of order, missing
``GrpHdr``, texts too long), so only what a line cannot exist without is required (statement
``Id``, account, entry amount and credit/debit indicator); everything else odd becomes a
``Diagnostic``. Unknown elements are ignored.

Signs: an amount is positive for a credit (``CRDT``, money in) and negative for a debit
(``DBIT``). A reversal (``RvslInd`` true) keeps the sign its ``CdtDbtInd`` gives (a reversed
incoming payment is reported as a debit) and is flagged ``reversal``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from bankrec.contracts import (
    BankTransactionCode,
    EntryStatus,
    StatementKind,
    normalize_account_number,
)
from bankrec.ingest.domain.identity import file_sha256
from bankrec.ingest.domain.model import Diagnostic, ParsedStatement, ParseResult
from bankrec.ingest.domain.parsers.camt_statements import (
    OTHER_ACCOUNT_PATHS,
    Detail,
    Entry,
    Party,
    StatementBuilder,
)
from bankrec.ingest.domain.parsers.safe_xml import XmlEvents, refuse_dtd
from bankrec.ingest.domain.parsers.xml_nodes import (
    Node,
    is_true,
    joined,
    read_amount,
    read_date_choice,
    sign_of,
)
from bankrec.ingest.domain.references import classify_reference
from bankrec.ingest.errors import (
    FormatMismatch,
    InvalidValue,
    MissingElement,
    UnknownNamespace,
)

NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:"
VERSION_MIN = 1
VERSION_MAX = 14
_NAMESPACE = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:(camt\.05[234])\.001\.(\d{2})$")
SUPPORTED_DESCRIPTION = (
    f"ISO 20022 camt.053 (also camt.052 and camt.054) versions 001.{VERSION_MIN:02d} to "
    f"001.{VERSION_MAX:02d}, namespace {NAMESPACE_PREFIX}camt.053.001.NN"
)
_NOT_PROVIDED = {"NOTPROVIDED", "NOT PROVIDED", "NONREF"}


@dataclass(frozen=True, slots=True)
class CamtMessage:
    """What a ``Document`` namespace says: message, version and the element names it uses."""

    message: str  # camt.052 | camt.053 | camt.054
    version: int
    namespace: str
    container: str  # BkToCstmrStmt | BkToCstmrAcctRpt | BkToCstmrDbtCdtNtfctn
    statement: str  # Stmt | Rpt | Ntfctn
    kind: StatementKind

    @property
    def source_format(self) -> str:
        return f"{self.message}.001.{self.version:02d}"

    @property
    def container_tag(self) -> str:
        """Version 01 names its message element with the version (``BkToCstmrStmtV01``)."""
        return f"{self.container}V01" if self.version == 1 else self.container


_MESSAGES: dict[str, tuple[str, str, StatementKind]] = {
    "camt.053": ("BkToCstmrStmt", "Stmt", StatementKind.END_OF_DAY),
    "camt.052": ("BkToCstmrAcctRpt", "Rpt", StatementKind.INTRADAY),
    "camt.054": ("BkToCstmrDbtCdtNtfctn", "Ntfctn", StatementKind.NOTIFICATION),
}
MESSAGE_NAMES: tuple[str, ...] = tuple(sorted(_MESSAGES))


def camt_message_for(namespace: str) -> CamtMessage | None:
    """The camt message a namespace names, or None when ingest does not read it."""
    found = _NAMESPACE.match(namespace.strip())
    if found is None:
        return None
    version = int(found.group(2))
    if not VERSION_MIN <= version <= VERSION_MAX:
        return None
    container, statement, kind = _MESSAGES[found.group(1)]
    return CamtMessage(found.group(1), version, namespace, container, statement, kind)


def parse_camt(
    data: bytes,
    *,
    tenant_id: str,
    expected_message: str | None = None,
    sha256: str | None = None,
) -> ParseResult:
    """Every statement in a camt file, each with its lines, plus diagnostics.

    ``expected_message`` (``camt.053``, ...) refuses a file of another message. Size limits
    are the caller's (``parse_statement_file``); DOCTYPE/ENTITY are refused here.
    """
    refuse_dtd(data)
    reader = _FileReader(tenant_id=tenant_id, sha256=sha256 or file_sha256(data))
    message: CamtMessage | None = None
    tags: _Tags | None = None
    statements_in_document = 0
    events = XmlEvents(data, tags=_STREAMED_TAGS)

    for event, element in events:
        if event == "start":
            if message is None:
                local, namespace = _split_tag(element.tag)
                if local == "Document":
                    message = _message_or_refuse(namespace, expected_message)
                    tags = _Tags.of(message)
                    reader.documents.append(message)
                    statements_in_document = 0
            elif tags is not None and element.tag == tags.statement:
                parent = element.getparent()
                if parent is not None and parent.tag == tags.container:
                    reader.begin_statement()
            continue

        # event == "end"
        if message is None or tags is None:
            continue  # an element of an envelope (AppHdr, ...) around the Document
        tag = element.tag
        parent = element.getparent()
        parent_tag = None if parent is None else parent.tag
        if tag == tags.entry and parent_tag == tags.statement:
            reader.add_entry(Node(element, message.namespace))
            _discard(element)
        elif tag == tags.statement and parent_tag == tags.container:
            reader.end_statement(Node(element, message.namespace), message)
            statements_in_document += 1
            _discard(element)
        elif tag == tags.group_header and parent_tag == tags.container:
            reader.read_group_header(Node(element, message.namespace))
            _discard(element)
        elif tag == tags.document:
            if next(element.iterchildren(tags.container), None) is None:
                raise MissingElement(
                    f"Document/{message.container_tag}",
                    line=element.sourceline,
                    hint=f"a {message.message} Document holds one <{message.container_tag}>",
                )
            if statements_in_document == 0:
                raise MissingElement(
                    f"{message.container_tag}/{message.statement}",
                    line=element.sourceline,
                    hint="the file holds no statement",
                )
            message, tags = None, None
            element.clear()

    if not reader.documents:
        root = events.root
        local, namespace = _split_tag(None if root is None else root.tag)
        shown = f"'{namespace}'" if namespace else "no namespace"
        raise UnknownNamespace(
            f"the file's root element is <{local}> ({shown}) and it holds no ISO 20022 "
            f"<Document>; ingest reads {SUPPORTED_DESCRIPTION}",
            found=namespace,
        )
    return reader.result()


# Only these elements produce parser events: the rest is read from them, not streamed.
_STREAMED_TAGS = tuple(
    f"{{*}}{name}"
    for name in (
        "Document",
        "GrpHdr",
        "Ntry",
        *(statement for _container, statement, _kind in _MESSAGES.values()),
    )
)


# ---------------------------------------------------------------------------- XML access


@dataclass(frozen=True, slots=True)
class _Tags:
    document: str
    container: str
    statement: str
    entry: str
    group_header: str

    @classmethod
    def of(cls, message: CamtMessage) -> _Tags:
        ns = message.namespace
        return cls(
            document=f"{{{ns}}}Document",
            container=f"{{{ns}}}{message.container_tag}",
            statement=f"{{{ns}}}{message.statement}",
            entry=f"{{{ns}}}Ntry",
            group_header=f"{{{ns}}}GrpHdr",
        )


def _split_tag(tag: Any) -> tuple[str, str]:
    """(local name, namespace) of an element tag."""
    if not isinstance(tag, str):
        return "", ""
    qname = etree.QName(tag)
    return qname.localname, qname.namespace or ""


def _message_or_refuse(namespace: str, expected_message: str | None) -> CamtMessage:
    message = camt_message_for(namespace)
    if message is None:
        raise _unknown_namespace(namespace)
    if expected_message is not None and message.message != expected_message:
        raise FormatMismatch(
            f"format={expected_message} was asked for but the file is {message.source_format} "
            f"(namespace {namespace}); leave out format= to detect it"
        )
    return message


def _unknown_namespace(namespace: str) -> UnknownNamespace:
    shown = f"namespace '{namespace}'" if namespace else "no namespace"
    return UnknownNamespace(
        f"the <Document> has {shown}, which ingest does not read; it reads {SUPPORTED_DESCRIPTION}",
        found=namespace,
    )


def _discard(element: Any) -> None:
    """Free an element that has been read: its content and its place in the parent."""
    element.clear()
    parent = element.getparent()
    if parent is not None:
        parent.remove(element)


# ------------------------------------------------------------------------------ reading


_STATUS = {
    "BOOK": EntryStatus.BOOKED,
    "PDNG": EntryStatus.PENDING,
    "FUTR": EntryStatus.PENDING,
    "INFO": EntryStatus.INFO,
}


@dataclass
class _StatementState:
    entries: list[Entry] = field(default_factory=list)


class _FileReader:
    """Collects statements, lines and diagnostics as the parser streams the file."""

    def __init__(self, *, tenant_id: str, sha256: str) -> None:
        self.tenant_id = tenant_id
        self.sha256 = sha256
        self.documents: list[CamtMessage] = []
        self.statements: list[ParsedStatement] = []
        self.diagnostics: list[Diagnostic] = []
        self.group_created_at: str | None = None
        self.group_page: tuple[str | None, str | None] = (None, None)  # (PgNb, LastPgInd)
        self.group_header_seen = False
        self.current = _StatementState()
        self.statement_label: str | None = None  # for errors raised while reading entries
        self.seen_statement_ids: set[str] = set()

    # -- diagnostics and errors

    def note(self, code: str, message: str, statement: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code=code, message=message, statement=statement))

    def result(self) -> ParseResult:
        return ParseResult(
            file_sha256=self.sha256,
            source_format=self.documents[0].source_format,
            statements=self.statements,
            diagnostics=self.diagnostics,
        )

    # -- group header

    def read_group_header(self, node: Node) -> None:
        self.group_header_seen = True
        self.group_created_at = node.text("CreDtTm")
        self.group_page = (node.text("MsgPgntn/PgNb"), node.text("MsgPgntn/LastPgInd"))

    # -- entries

    def begin_statement(self) -> None:
        self.current = _StatementState()
        self.statement_label = None

    def add_entry(self, node: Node) -> None:
        if self.statement_label is None:  # the statement's Id precedes its entries
            parent = node.element.getparent()
            if parent is not None:
                self.statement_label = Node(parent, node.namespace).text("Id")
        index = len(self.current.entries)
        self.current.entries.append(self._read_entry(node, index))

    def _read_entry(self, node: Node, index: int) -> Entry:
        where = f"Ntry #{index + 1}"
        amount, currency = read_amount(
            node, "Amt", within="Ntry", required=True, statement=self.statement_label
        )
        assert amount is not None  # required=True raised otherwise
        assert currency is not None
        indicator = node.text("CdtDbtInd")
        sign = sign_of(indicator)
        if sign is None:
            if indicator is None:
                raise MissingElement(
                    "Ntry/CdtDbtInd", statement=self.statement_label, line=node.line
                )
            raise InvalidValue(
                "Ntry/CdtDbtInd",
                indicator,
                "CRDT or DBIT",
                statement=self.statement_label,
                line=node.line,
            )
        return Entry(
            index=index,
            line=node.line,
            amount=sign * amount,
            currency=currency,
            status=self._status(node, where),
            reversal=is_true(node.text("RvslInd")),
            booking_date=read_date_choice(node, "BookgDt", statement=self.statement_label),
            value_date=read_date_choice(node, "ValDt", statement=self.statement_label),
            reference=node.text("NtryRef"),
            bank_reference=node.text("AcctSvcrRef"),
            bank_transaction_code=_bank_transaction_code(node.child("BkTxCd")),
            additional_info=joined(node.texts("AddtlNtryInf")),
            details=tuple(self._read_detail(d) for d in node.children("NtryDtls/TxDtls")),
        )

    def _status(self, node: Node, where: str) -> EntryStatus:
        status_node = node.child("Sts")
        code = None
        if status_node is not None:
            code = status_node.text("Cd") or status_node.own_text() or status_node.text("Prtry")
        if code is None:
            self.note(
                "missing_status",
                f"{where} (line {node.line}) has no <Sts>; read as booked",
                self.statement_label,
            )
            return EntryStatus.BOOKED
        status = _STATUS.get(code.upper())
        if status is None:
            self.note(
                "unknown_status",
                f"{where} (line {node.line}) has status {code!r}; read as information only",
                self.statement_label,
            )
            return EntryStatus.INFO
        return status

    def _read_detail(self, node: Node) -> Detail:
        amount, currency = None, None
        for path in ("Amt", "AmtDtls/TxAmt/Amt", "AmtDtls/InstdAmt/Amt"):
            amount, currency = read_amount(
                node, path, within="TxDtls", required=False, statement=self.statement_label
            )
            if amount is not None:
                break
        end_to_end = node.text("Refs/EndToEndId")
        if end_to_end is not None and end_to_end.upper() in _NOT_PROVIDED:
            end_to_end = None
        reference = None
        documents: list[str] = []
        for structured in node.children("RmtInf/Strd"):
            if reference is None:
                for text in structured.texts("CdtrRefInf/Ref"):
                    reference = classify_reference(text)
                    if reference is not None:
                        break
            documents.extend(structured.texts("RfrdDocInf/Nb"))
        return Detail(
            amount=amount,
            currency=currency,
            sign=sign_of(node.text("CdtDbtInd")),
            end_to_end_id=end_to_end,
            instruction_id=node.text("Refs/InstrId"),
            bank_reference=node.text("Refs/AcctSvcrRef"),
            bank_transaction_code=_bank_transaction_code(node.child("BkTxCd")),
            debtor=_party(node, "Dbtr"),
            creditor=_party(node, "Cdtr"),
            structured_reference=reference,
            referred_documents=tuple(dict.fromkeys(documents)),
            remittance_text=joined(node.texts("RmtInf/Ustrd")),
            additional_info=joined(node.texts("AddtlTxInf")),
        )

    # -- statements

    def end_statement(self, node: Node, message: CamtMessage) -> None:
        entries = self.current.entries
        self.current = _StatementState()
        self.statements.append(StatementBuilder(self, node, message, entries).build())
        self.statement_label = None


def _bank_transaction_code(node: Node | None) -> BankTransactionCode | None:
    if node is None:
        return None
    domain = node.child("Domn")
    proprietary = node.child("Prtry")
    values = {
        "domain": None if domain is None else domain.text("Cd"),
        "family": None if domain is None else domain.text("Fmly/Cd"),
        "sub_family": None if domain is None else domain.text("Fmly/SubFmlyCd"),
        "proprietary": None if proprietary is None else proprietary.text("Cd"),
        "proprietary_issuer": None if proprietary is None else proprietary.text("Issr"),
    }
    if not any(values.values()):
        return None
    return BankTransactionCode(**values)


def _party(detail: Node, role: str) -> Party:
    """Debtor or creditor of a transaction: name, account and bank.

    Up to v07 the party is ``RltdPties/Dbtr/Nm``; from v08 it is wrapped in ``Pty`` (a
    person or company) or ``Agt`` (a bank).
    """
    parties = detail.child("RltdPties")
    agents = detail.child(f"RltdAgts/{role}Agt/FinInstnId")
    bic = None if agents is None else agents.first_text("BICFI", "BIC")
    if parties is None:
        return Party(bic=bic)
    name = None
    party = parties.child(role)
    if party is not None:
        name = party.first_text("Nm", "Pty/Nm", "Agt/FinInstnId/Nm")
        bic = bic or party.first_text("Agt/FinInstnId/BICFI", "Agt/FinInstnId/BIC")
    if name is None:
        name = parties.first_text(f"Ultmt{role}/Nm", f"Ultmt{role}/Pty/Nm")
    account = parties.child(f"{role}Acct/Id")
    iban = None if account is None else account.text("IBAN")
    other = None if account is None else account.first_text(*OTHER_ACCOUNT_PATHS)
    return Party(
        name=name,
        iban=normalize_account_number(iban) if iban else None,
        other_account=other,
        bic=bic,
    )
