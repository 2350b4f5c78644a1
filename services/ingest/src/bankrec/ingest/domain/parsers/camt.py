"""ISO 20022 bank-to-customer cash management: camt.053 statements (and camt.052 reports,
camt.054 notifications, which share the structure), versions 001.01 to 001.14.

The file is streamed with ``lxml.etree.iterparse``: each ``Ntry`` is read into plain values
at its end tag (``camt_entries`` reads an ordinary one in a single walk; anything unusual is
read here, on ``Node`` paths, which says precisely what is wrong), becomes its lines at once
and is dropped from the tree; the lines leave in batches (``LinesDrafted``) and each ``Stmt``
becomes its header at its end tag (``StatementDrafted``, after its lines) and is dropped.
Memory therefore stays the same whatever the size of the file: one entry's subtree, one
batch of lines, running totals.

Leniency: about half of the real files fail their own schema (elements out of order, missing
``GrpHdr``, texts too long), so only what a line cannot exist without is required (statement
``Id``, account, entry amount and credit/debit indicator); everything else odd becomes a
``Diagnostic``. Unknown elements are ignored.

Signs: an amount is positive for a credit (``CRDT``, money in) and negative for a debit
(``DBIT``). A reversal (``RvslInd`` true) keeps the sign its ``CdtDbtInd`` gives (a reversed
incoming payment is reported as a debit) and is flagged ``reversal``.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from bankrec.contracts import (
    BankTransactionCode,
    EntryStatus,
    StatementKind,
    StatementLine,
    normalize_account_number,
)
from bankrec.ingest.domain.diagnostics import DiagnosticLog
from bankrec.ingest.domain.model import Diagnostic
from bankrec.ingest.domain.parsers.camt_entries import read_ordinary_entry
from bankrec.ingest.domain.parsers.camt_statements import (
    OTHER_ACCOUNT_PATHS,
    Detail,
    Entry,
    EntryTotals,
    Party,
    StatementFacts,
    lines_for,
    read_statement_facts,
    statement_header,
)
from bankrec.ingest.domain.parsers.drafts import (
    Draft,
    LinesDrafted,
    ReadingContext,
    StatementDrafted,
)
from bankrec.ingest.domain.parsers.safe_xml import XmlEvents
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
    IngestError,
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


def read_camt(
    stream: BinaryIO,
    context: ReadingContext,
    *,
    expected_message: str | None = None,
) -> Generator[Draft, None, str]:
    """The statements of a camt file as it is read: each statement's lines in batches,
    then its header; returns the file's source format (``camt.053.001.02``, ...).

    ``expected_message`` (``camt.053``, ...) refuses a file of another message. Size limits
    and the byte check for DOCTYPE/ENTITY are the caller's (``read_statement_file``); the
    parser refuses a DOCTYPE again from its own view.
    """
    reader = _FileReader(context)
    message: CamtMessage | None = None
    tags: _Tags | None = None
    statements_in_document = 0
    events = XmlEvents(stream, tags=_STREAMED_TAGS)

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
            entry = reader.read_entry(element, message.namespace)
            batch = reader.take_entry(entry, parent, message)
            if batch is not None:
                yield batch
            _discard(element)
        elif tag == tags.statement and parent_tag == tags.container:
            yield from reader.end_statement(Node(element, message.namespace), message)
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
    return reader.documents[0].source_format


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
    """(local name, namespace) of an element tag (``{namespace}local``).

    Split by hand: ``etree.QName`` raises ValueError on a namespace URI holding ``}``,
    which any file may declare; such a namespace is then refused as unknown."""
    if not isinstance(tag, str):
        return "", ""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].rpartition("}")
        return local, namespace
    return tag, ""


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
    """A statement being read: what its lines so far were given, and its running totals."""

    number: int  # in the file, from 0
    held: bool  # its lines wait for its end (its account is only known there)
    facts: StatementFacts | None = None  # what the lines built so far carry
    looked: bool = False  # the facts were looked for when the first entry ended
    waiting: list[Entry] = field(default_factory=list)  # entries of a held statement
    batch: list[StatementLine] = field(default_factory=list)
    line_count: int = 0
    totals: EntryTotals = field(default_factory=EntryTotals)
    first_entry_currency: str | None = None
    entry_notes: DiagnosticLog = field(default_factory=DiagnosticLog)  # made after its own

    def note_entry(self, code: str, message: str) -> None:
        self.entry_notes.add(Diagnostic(code, message))


class _FileReader:
    """Reads entries and statements as the parser streams the file."""

    def __init__(self, context: ReadingContext) -> None:
        self.context = context
        self.tenant_id = context.tenant_id
        self.sha256 = context.sha256
        self.documents: list[CamtMessage] = []
        self.group_created_at: str | None = None
        self.group_page: tuple[str | None, str | None] = (None, None)  # (PgNb, LastPgInd)
        self.group_header_seen = False
        self.current: _StatementState | None = None
        self.statement_label: str | None = None  # for errors raised while reading entries
        self.seen_statement_ids: set[str] = set()
        self.entries_read = 0  # in the current statement

    # -- diagnostics

    def note(self, code: str, message: str, statement: str | None = None) -> None:
        self.context.note(Diagnostic(code=code, message=message, statement=statement))

    # -- group header

    def read_group_header(self, node: Node) -> None:
        self.group_header_seen = True
        self.group_created_at = node.text("CreDtTm")
        self.group_page = (node.text("MsgPgntn/PgNb"), node.text("MsgPgntn/LastPgInd"))

    # -- entries

    def begin_statement(self) -> None:
        number = self.context.next_statement()
        self.current = _StatementState(number, held=number in self.context.held_statements)
        self.statement_label = None
        self.entries_read = 0

    def read_entry(self, element: Any, namespace: str) -> Entry:
        """An ``Ntry``: read fast when it is ordinary, otherwise in full (which raises the
        precise error or makes the diagnostic)."""
        if self.statement_label is None:  # the statement's Id precedes its entries
            parent = element.getparent()
            if parent is not None:
                self.statement_label = Node(parent, namespace).text("Id")
        index = self.entries_read
        self.entries_read += 1
        entry = read_ordinary_entry(element, namespace, index, _bank_transaction_code_of)
        if entry is None:
            entry = self._read_entry(Node(element, namespace), index)
        return entry

    def take_entry(self, entry: Entry, statement: Any, message: CamtMessage) -> LinesDrafted | None:
        """Add an entry to the statement; a batch of its lines once one is full."""
        if self.current is None:
            # its statement element is not directly inside the message's container, so it
            # was never begun (and its end is not read as a statement either)
            raise MissingElement(
                f"Document/{message.container_tag}",
                line=statement.sourceline,
                hint=f"this <{message.statement}> holding entries is not inside "
                f"<{message.container_tag}>, so it cannot be read as a statement",
            )
        state = self._state()
        state.totals.add(entry)
        if state.first_entry_currency is None:
            state.first_entry_currency = entry.currency
        if not state.looked and not state.held:
            state.looked = True
            # in schema order the statement's Id, Acct and Bal precede its entries; if they
            # are not stated yet (or wrong), the statement's end tells which
            with contextlib.suppress(IngestError):
                state.facts = read_statement_facts(
                    self,
                    Node(statement, message.namespace),
                    message,
                    first_entry_currency=entry.currency,
                )
        if state.facts is None:
            state.waiting.append(entry)
            return None
        return self._add_lines(state, entry, state.facts)

    def _add_lines(
        self, state: _StatementState, entry: Entry, facts: StatementFacts
    ) -> LinesDrafted | None:
        lines = lines_for(entry, facts, sequence=state.line_count, note=state.note_entry)
        state.line_count += len(lines)
        state.batch.extend(lines)
        if len(state.batch) < self.context.lines_per_batch:
            return None
        batch = LinesDrafted(state.number, state.batch, None)
        state.batch = []
        return batch

    def _state(self) -> _StatementState:
        if self.current is None:  # pragma: no cover - the parser starts a statement first
            raise AssertionError("an entry outside a statement")
        return self.current

    def _read_entry(self, node: Node, index: int) -> Entry:
        where = f"Ntry #{index + 1}"
        line = node.line
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
            line=line,
            amount=sign * amount,
            currency=currency,
            status=self._status(node, where),
            reversal=is_true(node.text("RvslInd")),
            booking_date=read_date_choice(node, "BookgDt", statement=self.statement_label),
            value_date=read_date_choice(node, "ValDt", statement=self.statement_label),
            reference=node.text("NtryRef"),
            bank_reference=node.text("AcctSvcrRef"),
            bank_transaction_code=_bank_transaction_code(node),
            additional_info=joined(node.texts("AddtlNtryInf")),
            details=tuple(self._read_detail(d) for d in node.children("NtryDtls/TxDtls")),
        )

    def _status(self, node: Node, where: str) -> EntryStatus:
        status_element = node.at("Sts")
        code = None
        if status_element is not None:
            own = status_element.text
            code = (
                node.text("Sts/Cd")
                or (None if own is None else str(own).strip() or None)
                or node.text("Sts/Prtry")
            )
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
        # the first reference that classifies, and every referred document, over all
        # structured remittances in document order
        reference = None
        for text in node.texts("RmtInf/Strd/CdtrRefInf/Ref"):
            reference = classify_reference(text)
            if reference is not None:
                break
        documents = node.texts("RmtInf/Strd/RfrdDocInf/Nb")
        return Detail(
            amount=amount,
            currency=currency,
            sign=sign_of(node.text("CdtDbtInd")),
            end_to_end_id=end_to_end,
            instruction_id=node.text("Refs/InstrId"),
            bank_reference=node.text("Refs/AcctSvcrRef"),
            bank_transaction_code=_bank_transaction_code(node),
            debtor=_party(node, "Dbtr"),
            creditor=_party(node, "Cdtr"),
            structured_reference=reference,
            referred_documents=tuple(dict.fromkeys(documents)),
            remittance_text=joined(node.texts("RmtInf/Ustrd")),
            additional_info=joined(node.texts("AddtlTxInf")),
        )

    # -- statements

    def end_statement(self, node: Node, message: CamtMessage) -> Iterator[Draft]:
        """The statement's remaining lines, then its header."""
        state = self._state()
        bank_statement_id = node.text("Id")
        if bank_statement_id is None:
            raise MissingElement(f"{message.statement}/Id", line=node.line)
        self.statement_label = bank_statement_id

        def note(code: str, text: str) -> None:
            self.note(code, text, bank_statement_id)

        if not self.group_header_seen:
            self.group_header_seen = True  # say it once per file
            note("missing_group_header", "the file has no <GrpHdr> before its statements")
        facts = read_statement_facts(
            self, node, message, first_entry_currency=state.first_entry_currency, note=note
        )
        if facts.statement_id in self.seen_statement_ids:
            note(
                "duplicate_statement",
                f"statement '{bank_statement_id}' of this account appears more than once in "
                "the file; its lines get the same ids, so consumers keep the first",
            )
        self.seen_statement_ids.add(facts.statement_id)
        moved = state.facts is not None and not state.facts.same_identity(facts)
        for entry in state.waiting:
            batch = self._add_lines(state, entry, facts)
            if batch is not None:
                yield batch
        state.waiting = []
        self.context.note_all(state.entry_notes, statement=bank_statement_id)
        if state.batch:
            yield LinesDrafted(state.number, state.batch, None)
            state.batch = []
        header = statement_header(
            self, node, message, facts, state.totals, line_count=state.line_count, note=note
        )
        self.current = None
        self.statement_label = None
        yield StatementDrafted(state.number, header, identity_moved=moved)


def _bank_transaction_code(node: Node) -> BankTransactionCode | None:
    """The ``BkTxCd`` of an entry or detail (its first ``Domn`` and ``Prtry``)."""
    if node.at("BkTxCd") is None:
        return None
    values = tuple(node.text(path) for path in _CODE_PATHS)
    if not any(values):
        return None
    return _bank_transaction_code_of(*values)


_CODE_PATHS = (
    "BkTxCd/Domn/Cd",
    "BkTxCd/Domn/Fmly/Cd",
    "BkTxCd/Domn/Fmly/SubFmlyCd",
    "BkTxCd/Prtry/Cd",
    "BkTxCd/Prtry/Issr",
)


@functools.lru_cache(maxsize=1024)
def _bank_transaction_code_of(*values: str | None) -> BankTransactionCode:
    """Codes repeat across a file and the model is immutable: build each one once."""
    domain, family, sub_family, proprietary, issuer = values
    return BankTransactionCode(
        domain=domain,
        family=family,
        sub_family=sub_family,
        proprietary=proprietary,
        proprietary_issuer=issuer,
    )


def _party(detail: Node, role: str) -> Party:
    """Debtor or creditor of a transaction: name, account and bank.

    Up to v07 the party is ``RltdPties/Dbtr/Nm``; from v08 it is wrapped in ``Pty`` (a
    person or company) or ``Agt`` (a bank).
    """
    paths = _PARTY_PATHS[role]
    # every lookup follows the first element at each step, as child() by child() would
    bic = detail.first_text(*paths.agent_bics)
    if detail.at("RltdPties") is None:
        return Party(bic=bic)
    name = None
    if detail.at(paths.party) is not None:
        name = detail.first_text(*paths.names)
        bic = bic or detail.first_text(*paths.party_bics)
    if name is None:
        name = detail.first_text(*paths.ultimate_names)
    iban = detail.text(paths.iban)
    other = detail.first_text(*paths.other_accounts)
    return Party(
        name=name,
        # an IBAN as banks write it is already compact: only odd ones need the full clean-up
        iban=(iban.upper() if iban.isalnum() else normalize_account_number(iban)) if iban else None,
        other_account=other,
        bic=bic,
    )


@dataclass(frozen=True, slots=True)
class _PartyPaths:
    """Where a role's name, bank and account are, from the transaction detail."""

    agent_bics: tuple[str, ...]
    party: str
    names: tuple[str, ...]
    party_bics: tuple[str, ...]
    ultimate_names: tuple[str, ...]
    iban: str
    other_accounts: tuple[str, ...]

    @classmethod
    def of(cls, role: str) -> _PartyPaths:
        agent = f"RltdAgts/{role}Agt/FinInstnId"
        party = f"RltdPties/{role}"
        account = f"RltdPties/{role}Acct/Id"
        return cls(
            agent_bics=(f"{agent}/BICFI", f"{agent}/BIC"),
            party=party,
            names=(f"{party}/Nm", f"{party}/Pty/Nm", f"{party}/Agt/FinInstnId/Nm"),
            party_bics=(f"{party}/Agt/FinInstnId/BICFI", f"{party}/Agt/FinInstnId/BIC"),
            ultimate_names=(f"RltdPties/Ultmt{role}/Nm", f"RltdPties/Ultmt{role}/Pty/Nm"),
            iban=f"{account}/IBAN",
            other_accounts=tuple(f"{account}/{path}" for path in OTHER_ACCOUNT_PATHS),
        )


_PARTY_PATHS = {role: _PartyPaths.of(role) for role in ("Dbtr", "Cdtr")}
