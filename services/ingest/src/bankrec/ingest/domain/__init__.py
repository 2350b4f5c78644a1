"""The ingest domain, pure Python: statement files in, statements, lines and messages out."""

from bankrec.ingest.domain.identity import (
    file_sha256,
    header_message_id_for,
    line_id_for,
    statement_id_for,
)
from bankrec.ingest.domain.messages import OutgoingMessage, messages_for
from bankrec.ingest.domain.model import Diagnostic, ParsedStatement, ParseResult
from bankrec.ingest.domain.parsers import (
    SUPPORTED_FORMATS,
    UPLOAD_BYTES_MAX_DEFAULT,
    StatementFormat,
    detect_format,
    parse_statement_file,
)
from bankrec.ingest.domain.references import classify_reference

__all__ = [
    "SUPPORTED_FORMATS",
    "UPLOAD_BYTES_MAX_DEFAULT",
    "Diagnostic",
    "OutgoingMessage",
    "ParseResult",
    "ParsedStatement",
    "StatementFormat",
    "classify_reference",
    "detect_format",
    "file_sha256",
    "header_message_id_for",
    "line_id_for",
    "messages_for",
    "parse_statement_file",
    "statement_id_for",
]
