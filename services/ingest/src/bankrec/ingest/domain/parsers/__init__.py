"""Statement file parsers and the one entry point that picks among them.

``parse_statement_file`` checks size, detects (or takes) the format and hands the bytes to
that format's parser: camt (ISO 20022 camt.052/053/054) here, the line-based formats through
``registry``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from bankrec.ingest.domain.identity import file_sha256
from bankrec.ingest.domain.line_identity import identify_lines
from bankrec.ingest.domain.model import Diagnostic, ParsedStatement, ParseResult
from bankrec.ingest.domain.parsers.archives import unpack_archive
from bankrec.ingest.domain.parsers.camt import MESSAGE_NAMES, camt_message_for, parse_camt
from bankrec.ingest.domain.parsers.csv_profiles import looks_like_csv, parse_csv
from bankrec.ingest.domain.parsers.detection import StatementFormat, detect_format
from bankrec.ingest.domain.parsers.registry import PARSERS, parser_for
from bankrec.ingest.domain.parsers.safe_xml import (
    PARSER_OPTIONS,
    UPLOAD_BYTES_MAX_DEFAULT,
    check_upload_size,
)
from bankrec.ingest.errors import IngestError, UnsupportedFormat

CAMT_FORMATS: tuple[str, ...] = ("camt.053", "camt.052", "camt.054")
LINE_FORMATS: tuple[str, ...] = tuple(PARSERS)
SUPPORTED_FORMATS: tuple[str, ...] = CAMT_FORMATS + LINE_FORMATS
"""Values ``format=`` accepts (besides leaving it out to detect the format)."""


def parse_statement_file(
    data: bytes,
    *,
    tenant_id: str,
    statement_format: str | None = None,
    upload_bytes_max: int = UPLOAD_BYTES_MAX_DEFAULT,
    account_number: str | None = None,
) -> ParseResult:
    """Every statement and line in a statement file, or an ``IngestError`` saying why not.

    ``account_number`` names the account for formats whose files may not (some bank CSV
    exports); the file's own account wins where it has one.

    ``statement_format`` forces a format (one of ``SUPPORTED_FORMATS``); without it the
    format is detected from the content. Lines get their stable ids (``line_identity``).
    Pure: nothing is published or stored.
    """
    result = _parse_file(
        data,
        tenant_id=tenant_id,
        statement_format=statement_format,
        upload_bytes_max=upload_bytes_max,
        account_number=account_number,
    )
    diagnostics = list(result.diagnostics)
    statements: list[ParsedStatement] = []
    ordinals: Counter[str] = Counter()  # identical lines on several pages keep apart
    for statement in result.statements:
        label = statement.header.bank_statement_id

        def note(code: str, message: str, label: str | None = label) -> None:
            diagnostics.append(Diagnostic(code, message, label))

        statements.append(
            identify_lines(statement, tenant_id=tenant_id, note=note, ordinals=ordinals)
        )
    return replace(result, statements=statements, diagnostics=diagnostics)


def _parse_file(
    data: bytes,
    *,
    tenant_id: str,
    statement_format: str | None,
    upload_bytes_max: int,
    account_number: str | None = None,
) -> ParseResult:
    check_upload_size(data, upload_bytes_max)
    sha256 = file_sha256(data)
    if statement_format is not None:
        wanted = statement_format.strip().lower()
        if wanted in CAMT_FORMATS:
            return parse_camt(data, tenant_id=tenant_id, expected_message=wanted, sha256=sha256)
        if wanted not in LINE_FORMATS:
            raise UnsupportedFormat(
                f"format={wanted!r} is not a statement format ingest knows; use one of "
                f"{', '.join(SUPPORTED_FORMATS)} or leave format= out to detect it"
            )
        return _parse_line_format(
            data, wanted, tenant_id=tenant_id, sha256=sha256, asked=True, account=account_number
        )
    detected = detect_format(data)
    if detected is StatementFormat.UNKNOWN and looks_like_csv(data):
        detected = StatementFormat.CSV
    if detected in (StatementFormat.CAMT, StatementFormat.UNKNOWN):
        # UNKNOWN goes to the XML parser too: it refuses non-XML with line and column
        return parse_camt(data, tenant_id=tenant_id, sha256=sha256)
    if detected in (StatementFormat.ZIP, StatementFormat.GZIP, StatementFormat.TAR):
        return _parse_bundle(data, tenant_id=tenant_id, sha256=sha256, bytes_max=upload_bytes_max)
    return _parse_line_format(
        data,
        detected.value,
        tenant_id=tenant_id,
        sha256=sha256,
        asked=False,
        account=account_number,
    )


def _parse_bundle(data: bytes, *, tenant_id: str, sha256: str, bytes_max: int) -> ParseResult:
    """Every statement file of a bundle, as one result: one bad member refuses the bundle,
    so nothing of it is published."""
    statements: list[ParsedStatement] = []
    diagnostics: list[Diagnostic] = []
    formats: list[str] = []
    for member in unpack_archive(data, inflated_bytes_max=bytes_max):
        try:
            result = _parse_file(
                member.data, tenant_id=tenant_id, statement_format=None, upload_bytes_max=bytes_max
            )
        except IngestError as exc:
            raise exc.within(member.name) from exc
        statements.extend(
            ParsedStatement(header.model_copy(update={"file_sha256": sha256}), lines)
            for header, lines in result.statements
        )
        diagnostics.extend(
            Diagnostic(d.code, f"{member.name}: {d.message}", d.statement)
            for d in result.diagnostics
        )
        formats.append(result.source_format)
    kind = "zip" if data.startswith(b"PK") else "gzip" if data.startswith(b"\x1f\x8b") else "tar"
    return ParseResult(
        file_sha256=sha256,
        source_format=f"{kind}({', '.join(dict.fromkeys(formats))})",
        statements=statements,
        diagnostics=diagnostics,
    )


def _parse_line_format(
    data: bytes, name: str, *, tenant_id: str, sha256: str, asked: bool, account: str | None
) -> ParseResult:
    if name == "csv" and account:
        return parse_csv(data, tenant_id=tenant_id, sha256=sha256, account_number=account)
    parse = parser_for(name)
    if parse is None:
        how = "was asked for" if asked else "is what the file looks like"
        raise UnsupportedFormat(
            f"{name} {how}, and ingest does not read it; it reads {', '.join(SUPPORTED_FORMATS)}"
        )
    return parse(data, tenant_id=tenant_id, sha256=sha256, statement_format=name)


__all__ = [
    "CAMT_FORMATS",
    "LINE_FORMATS",
    "MESSAGE_NAMES",
    "PARSER_OPTIONS",
    "SUPPORTED_FORMATS",
    "UPLOAD_BYTES_MAX_DEFAULT",
    "StatementFormat",
    "camt_message_for",
    "detect_format",
    "parse_camt",
    "parse_statement_file",
]
