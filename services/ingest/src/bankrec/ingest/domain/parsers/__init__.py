"""Statement file parsers and the one entry point that picks among them.

``read_statement_file`` reads a file (a path, a seekable stream or bytes) as a stream of
``StatementEvent``s in constant memory: one pass over the raw bytes first (size, SHA-256,
format, no DOCTYPE/ENTITY), then the format's reader: camt here (streamed with ``iterparse``),
the line-based formats through ``registry`` (they read their whole text), bundles member by
member. Every reader yields drafted lines and headers; this module gives the lines their
stable ids (``line_identity``) and collects diagnostics. ``parse_statement_file`` collects
the same events into one ``ParseResult``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from bankrec.contracts import StatementHeader, StatementLine
from bankrec.ingest.domain.diagnostics import DiagnosticLog
from bankrec.ingest.domain.digest_counter import DigestCounter
from bankrec.ingest.domain.line_identity import (
    LineIdentifier,
    ReferenceRepeated,
    StatementLineIds,
    reference_key,
    repeated_references_note,
)
from bankrec.ingest.domain.model import (
    Diagnostic,
    FileRead,
    LinesRead,
    ParsedStatement,
    ParseResult,
    ReadAgain,
    ReadingHints,
    StatementEvent,
    StatementRead,
)
from bankrec.ingest.domain.parsers.archives import archive_members
from bankrec.ingest.domain.parsers.camt import (
    MESSAGE_NAMES,
    NAMESPACE_PREFIX,
    camt_message_for,
    read_camt,
)
from bankrec.ingest.domain.parsers.camt_schema import CamtSchemas
from bankrec.ingest.domain.parsers.csv_profiles import looks_like_csv, parse_csv
from bankrec.ingest.domain.parsers.detection import StatementFormat, detect_format
from bankrec.ingest.domain.parsers.drafts import (
    LINES_PER_BATCH_DEFAULT,
    Draft,
    LinesDrafted,
    ReadingContext,
    StatementDrafted,
    drafts_of,
)
from bankrec.ingest.domain.parsers.registry import PARSERS, parser_for
from bankrec.ingest.domain.parsers.safe_xml import (
    PARSER_OPTIONS,
    UPLOAD_BYTES_MAX_DEFAULT,
    forbidden_declaration,
)
from bankrec.ingest.domain.parsers.sources import (
    FileFacts,
    StatementSource,
    source_of,
    survey_bytes,
)
from bankrec.ingest.errors import IngestError, UnsupportedFormat

CAMT_FORMATS: tuple[str, ...] = ("camt.053", "camt.052", "camt.054")
LINE_FORMATS: tuple[str, ...] = tuple(PARSERS)
SUPPORTED_FORMATS: tuple[str, ...] = CAMT_FORMATS + LINE_FORMATS
"""Values ``format=`` accepts (besides leaving it out to detect the format)."""

StatementFile = StatementSource | Path | bytes | BinaryIO
"""What a file can be read from: a path, bytes, or a seekable binary stream."""


def read_statement_file(
    file: StatementFile,
    *,
    tenant_id: str,
    statement_format: str | None = None,
    upload_bytes_max: int = UPLOAD_BYTES_MAX_DEFAULT,
    account_number: str | None = None,
    hints: ReadingHints | None = None,
    lines_per_batch: int = LINES_PER_BATCH_DEFAULT,
    schemas: CamtSchemas | None = None,
) -> Generator[StatementEvent, None, None]:
    """A statement file as it is read, in constant memory: each statement's lines in
    batches of ``lines_per_batch`` with their stable ids, then its header
    (``StatementRead``), and ``FileRead`` with the diagnostics last. Pure: nothing is
    published or stored.

    A refusal is an ``IngestError``, raised wherever in the file it is found: events given
    out before it belong to a file that is refused, and must not be published. Rarely
    (a bank reference repeated within a statement, an account stated after the entries)
    lines given out earlier turn out to need other ids: ``ReadAgain`` is raised, and the
    file must be read again with ``hints=`` the exception's ``hints``; events from the
    first read are void.

    ``statement_format`` forces a format (one of ``SUPPORTED_FORMATS``); without it the
    format is detected from the content. ``account_number`` names the account for formats
    whose files may not (some bank CSV exports); the file's own account wins where it has one.
    ``schemas`` (the ISO XSDs, when configured) adds each camt file's schema problems to the
    diagnostics once it has been read (``camt_schema``); it never refuses a file.
    """
    source = source_of(file)
    with source.opened() as stream:
        facts = survey_bytes(stream, bytes_max=upload_bytes_max)
    facts.check(upload_bytes_max)
    options = _Options(statement_format, account_number, upload_bytes_max, schemas)
    log = DiagnosticLog()
    context = ReadingContext(
        tenant_id,
        facts.sha256,
        log,
        held_statements=frozenset() if hints is None else hints.held_statements,
        lines_per_batch=lines_per_batch,
    )
    identity = _FileIdentity(tenant_id, hints)
    with contextlib.closing(_drafts(source, facts, context, options)) as drafts:
        try:
            source_format = yield from identity.events(drafts)
        except _LinesNeedOtherIds:
            if hints is not None:  # pragma: no cover - a second read is told everything
                raise AssertionError("a second read of a statement file found new hints") from None
            drafts.close()
            raise ReadAgain(_survey(source, facts, tenant_id, options)) from None
    for diagnostic in identity.notes:
        log.add(diagnostic)
    yield FileRead(
        file_sha256=facts.sha256,
        source_format=source_format,
        statements=identity.headers,
        line_count=identity.line_count,
        diagnostics=log.diagnostics(),
    )


def parse_statement_file(
    data: bytes | Path | BinaryIO,
    *,
    tenant_id: str,
    statement_format: str | None = None,
    upload_bytes_max: int = UPLOAD_BYTES_MAX_DEFAULT,
    account_number: str | None = None,
    schemas: CamtSchemas | None = None,
) -> ParseResult:
    """Every statement and line in a statement file, or an ``IngestError`` saying why not.

    The events of ``read_statement_file`` collected into one result (so memory grows with
    the file: for small files, tests and the CLI). Lines get their stable ids
    (``line_identity``). Pure: nothing is published or stored.
    """
    options = {
        "tenant_id": tenant_id,
        "statement_format": statement_format,
        "upload_bytes_max": upload_bytes_max,
        "account_number": account_number,
        "schemas": schemas,
    }
    try:
        return collect_events(read_statement_file(data, **options))  # type: ignore[arg-type]
    except ReadAgain as again:
        return collect_events(read_statement_file(data, hints=again.hints, **options))  # type: ignore[arg-type]


def collect_events(events: Iterable[StatementEvent]) -> ParseResult:
    """One ``ParseResult`` from the events of a whole file."""
    lines: dict[int, list[StatementLine]] = {}
    statements: list[ParsedStatement] = []
    for event in events:
        if isinstance(event, LinesRead):
            lines.setdefault(event.statement, []).extend(event.lines)
        elif isinstance(event, StatementRead):
            statements.append(ParsedStatement(event.header, lines.pop(event.statement, [])))
        else:
            return ParseResult(
                file_sha256=event.file_sha256,
                source_format=event.source_format,
                statements=statements,
                diagnostics=event.diagnostics,
            )
    raise AssertionError("the events of a statement file end with FileRead")  # pragma: no cover


# ------------------------------------------------------------------------------ identity


class _LinesNeedOtherIds(Exception):  # noqa: N818 - internal signal
    """Lines given out would get other ids: the file must be surveyed and read again."""


class _FileIdentity:
    """Gives drafted lines their stable ids, statement by statement, as they come."""

    def __init__(self, tenant_id: str, hints: ReadingHints | None) -> None:
        self.identifier = LineIdentifier(tenant_id)
        self.hints = hints
        self.open: dict[int, tuple[StatementLineIds, frozenset[str] | None]] = {}
        self.headers: list[StatementHeader] = []
        self.line_count = 0
        self.notes: list[Diagnostic] = []  # after the parse's own, as a whole-file reader did

    def events(self, drafts: Iterator[Draft]) -> Generator[StatementEvent, None, str]:
        """The events of the drafts; returns what the drafts return (the format)."""
        while True:
            try:
                draft = next(drafts)
            except StopIteration as end:
                return str(end.value)
            if isinstance(draft, LinesDrafted):
                yield LinesRead(draft.statement, self._identified(draft))
            else:
                yield self._closed(draft)

    def _identified(self, draft: LinesDrafted) -> list[StatementLine]:
        """The draft's lines with their ids (given in place: the draft is spent)."""
        opened = self.open.get(draft.statement)
        if opened is None:
            repeated = draft.repeated
            if repeated is None and self.hints is not None:
                repeated = self.hints.repeated_references.get(draft.statement, frozenset())
            account_id = draft.lines[0].account.account_id
            ids = self.identifier.statement(draft.statement, account_id, repeated)
            opened = self.open[draft.statement] = (ids, repeated)
        self.line_count += len(draft.lines)
        try:
            opened[0].identify(draft.lines)
            return draft.lines
        except ReferenceRepeated:
            raise _LinesNeedOtherIds from None

    def _closed(self, draft: StatementDrafted) -> StatementRead:
        if draft.identity_moved:
            raise _LinesNeedOtherIds
        _ids, repeated = self.open.pop(draft.statement, (None, None))
        header = draft.header
        if repeated:
            self.notes.append(
                Diagnostic(
                    "bank_reference_not_unique",
                    repeated_references_note(header.bank_statement_id, repeated),
                    header.bank_statement_id,
                )
            )
        self.headers.append(header)
        return StatementRead(draft.statement, header)


def _survey(
    source: StatementSource, facts: FileFacts, tenant_id: str, options: _Options
) -> ReadingHints:
    """Read the whole file once more, giving nothing out, to find what a first read could
    not know in time: the references each statement repeats, and the statements whose
    lines must wait for their end."""
    context = ReadingContext(tenant_id, facts.sha256, DiagnosticLog())
    # the survey's diagnostics are dropped: it validates nothing
    options = _Options(options.statement_format, options.account_number, options.upload_bytes_max)
    repeated: dict[int, set[str]] = {}
    held: set[int] = set()
    references: dict[int, DigestCounter] = {}
    with contextlib.closing(_drafts(source, facts, context, options)) as drafts:
        for draft in drafts:
            number = draft.statement
            if isinstance(draft, StatementDrafted):
                references.pop(number, None)
                if draft.identity_moved:
                    held.add(number)
            elif draft.repeated is not None:
                if draft.repeated:
                    repeated[number] = set(draft.repeated)
            else:
                counter = references.setdefault(number, DigestCounter())
                for line in draft.lines:
                    key = reference_key(line)
                    if key is not None and counter.add(key) == 1:
                        repeated.setdefault(number, set()).add(key)
    return ReadingHints(
        repeated_references={number: frozenset(keys) for number, keys in repeated.items()},
        held_statements=frozenset(held),
    )


# ------------------------------------------------------------------------------- formats


class _Options:
    __slots__ = ("account_number", "schemas", "statement_format", "upload_bytes_max")

    def __init__(
        self,
        statement_format: str | None,
        account_number: str | None,
        upload_bytes_max: int,
        schemas: CamtSchemas | None = None,
    ) -> None:
        self.statement_format = statement_format
        self.account_number = account_number
        self.upload_bytes_max = upload_bytes_max
        self.schemas = schemas


def _drafts(
    source: StatementSource, facts: FileFacts, context: ReadingContext, options: _Options
) -> Generator[Draft, None, str]:
    """The drafts of one file (or bundle member) in its format; returns the format's name."""
    wanted = None if options.statement_format is None else options.statement_format.strip().lower()
    if wanted is not None:
        if wanted in CAMT_FORMATS:
            return (
                yield from _camt_drafts(
                    source, facts, context, options.schemas, expected_message=wanted
                )
            )
        if wanted not in LINE_FORMATS:
            raise UnsupportedFormat(
                f"format={wanted!r} is not a statement format ingest knows; use one of "
                f"{', '.join(SUPPORTED_FORMATS)} or leave format= out to detect it"
            )
        return (yield from _line_format_drafts(source, wanted, context, options, asked=True))
    detected = detect_format(facts.head)
    if detected is StatementFormat.UNKNOWN and looks_like_csv(facts.head):
        detected = StatementFormat.CSV
    if detected in (StatementFormat.CAMT, StatementFormat.UNKNOWN):
        # UNKNOWN goes to the XML parser too: it refuses non-XML with line and column
        return (yield from _camt_drafts(source, facts, context, options.schemas))
    if detected in (StatementFormat.ZIP, StatementFormat.GZIP, StatementFormat.TAR):
        return (yield from _bundle_drafts(source, facts, context, options))
    return (yield from _line_format_drafts(source, detected.value, context, options, asked=False))


def _camt_drafts(
    source: StatementSource,
    facts: FileFacts,
    context: ReadingContext,
    schemas: CamtSchemas | None,
    *,
    expected_message: str | None = None,
) -> Generator[Draft, None, str]:
    if facts.forbidden_line is not None:  # found in the raw bytes, before lxml sees them
        raise forbidden_declaration(facts.forbidden_line)
    with source.opened() as stream:
        source_format = yield from read_camt(stream, context, expected_message=expected_message)
    if schemas is not None:  # after the read: a file it refuses needs no schema check
        namespace = NAMESPACE_PREFIX + source_format
        for diagnostic in schemas.check(source, namespace, size_bytes=facts.size_bytes):
            context.note(diagnostic)
    return source_format


def _bundle_drafts(
    source: StatementSource, facts: FileFacts, context: ReadingContext, options: _Options
) -> Generator[Draft, None, str]:
    """Every statement file of a bundle, one after the other: one bad member refuses the
    bundle, so nothing of it is published."""
    formats: list[str] = []
    bytes_max = options.upload_bytes_max
    with archive_members(source, facts.head, inflated_bytes_max=bytes_max) as members:
        for member in members:
            try:
                member.facts.check(bytes_max)
                found = yield from _drafts(
                    member.source,
                    member.facts,
                    context.within(member.name),
                    _Options(None, None, bytes_max, options.schemas),
                )
            except IngestError as exc:
                raise exc.within(member.name) from exc
            formats.append(found)
    head = facts.head
    kind = "zip" if head.startswith(b"PK") else "gzip" if head.startswith(b"\x1f\x8b") else "tar"
    return f"{kind}({', '.join(dict.fromkeys(formats))})"


def _line_format_drafts(
    source: StatementSource,
    name: str,
    context: ReadingContext,
    options: _Options,
    *,
    asked: bool,
) -> Generator[Draft, None, str]:
    """A line-based format reads its whole text (bounded by the upload limit) and gives
    its statements whole."""
    parse = parser_for(name)
    if parse is None:
        how = "was asked for" if asked else "is what the file looks like"
        raise UnsupportedFormat(
            f"{name} {how}, and ingest does not read it; it reads {', '.join(SUPPORTED_FORMATS)}"
        )
    with source.opened() as stream:
        data = stream.read()
    if name == "csv" and options.account_number:
        result = parse_csv(
            data,
            tenant_id=context.tenant_id,
            sha256=context.sha256,
            account_number=options.account_number,
        )
    else:
        result = parse(
            data, tenant_id=context.tenant_id, sha256=context.sha256, statement_format=name
        )
    yield from drafts_of(result, context)
    return result.source_format


__all__ = [
    "CAMT_FORMATS",
    "LINE_FORMATS",
    "MESSAGE_NAMES",
    "PARSER_OPTIONS",
    "SUPPORTED_FORMATS",
    "UPLOAD_BYTES_MAX_DEFAULT",
    "StatementFile",
    "StatementFormat",
    "camt_message_for",
    "collect_events",
    "detect_format",
    "parse_statement_file",
    "read_statement_file",
]
