"""Statement file parsers and the one entry point that picks among them.

``parse_statement_file`` checks size, detects (or takes) the format and hands the bytes to
that format's parser. Today camt (ISO 20022 camt.052/053/054) is read; MT940, BAI2, OFX and
CSV are recognised and refused with ``unsupported_format`` until their parsers exist.
"""

from __future__ import annotations

from bankrec.ingest.domain.identity import file_sha256
from bankrec.ingest.domain.model import ParseResult
from bankrec.ingest.domain.parsers.camt import MESSAGE_NAMES, camt_message_for, parse_camt
from bankrec.ingest.domain.parsers.detection import StatementFormat, detect_format
from bankrec.ingest.domain.parsers.safe_xml import (
    PARSER_OPTIONS,
    UPLOAD_BYTES_MAX_DEFAULT,
    check_upload_size,
)
from bankrec.ingest.errors import UnsupportedFormat

SUPPORTED_FORMATS: tuple[str, ...] = ("camt.053", "camt.052", "camt.054")
"""Values ``format=`` accepts (besides leaving it out to detect the format)."""

_PLANNED_FORMATS = ("mt940", "mt942", "bai2", "ofx", "csv")


def parse_statement_file(
    data: bytes,
    *,
    tenant_id: str,
    statement_format: str | None = None,
    upload_bytes_max: int = UPLOAD_BYTES_MAX_DEFAULT,
) -> ParseResult:
    """Every statement and line in a statement file, or an ``IngestError`` saying why not.

    ``statement_format`` forces a format (``camt.053``, ``camt.052``, ``camt.054``); without it
    the format is detected from the content. Pure: nothing is published or stored.
    """
    check_upload_size(data, upload_bytes_max)
    sha256 = file_sha256(data)
    if statement_format is not None:
        wanted = statement_format.strip().lower()
        if wanted not in SUPPORTED_FORMATS:
            raise _unsupported(wanted, asked=True)
        return parse_camt(data, tenant_id=tenant_id, expected_message=wanted, sha256=sha256)
    detected = detect_format(data)
    if detected in (StatementFormat.CAMT, StatementFormat.UNKNOWN):
        # UNKNOWN goes to the XML parser too: it refuses non-XML with line and column
        return parse_camt(data, tenant_id=tenant_id, sha256=sha256)
    raise _unsupported(detected.value, asked=False)


def _unsupported(name: str, *, asked: bool) -> UnsupportedFormat:
    supported = ", ".join(SUPPORTED_FORMATS)
    if asked and name not in _PLANNED_FORMATS:
        return UnsupportedFormat(
            f"format={name!r} is not a statement format ingest knows; use one of {supported} "
            "or leave format= out to detect it"
        )
    how = "was asked for" if asked else "is what the file looks like"
    return UnsupportedFormat(
        f"{name} {how}, and ingest does not read it yet; it reads {supported}"
        + (" (zip/gzip bundles must be unpacked first)" if name in ("zip", "gzip") else "")
    )


__all__ = [
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
