"""The ingest domain, pure Python: statement files in, statements, lines and messages out.

``read_statement_file`` reads a file of any size as a stream of events in constant memory;
``parse_statement_file`` collects them for small files. Publication planning
(``publication``) turns the events into the messages that are new.
"""

from bankrec.ingest.domain.identity import (
    file_sha256,
    header_message_id_for,
    line_id_for,
    statement_id_for,
)
from bankrec.ingest.domain.messages import OutgoingMessage, messages_for
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
from bankrec.ingest.domain.parsers import (
    SUPPORTED_FORMATS,
    UPLOAD_BYTES_MAX_DEFAULT,
    StatementFile,
    StatementFormat,
    collect_events,
    detect_format,
    parse_statement_file,
    read_statement_file,
)
from bankrec.ingest.domain.references import classify_reference

__all__ = [
    "SUPPORTED_FORMATS",
    "UPLOAD_BYTES_MAX_DEFAULT",
    "Diagnostic",
    "FileRead",
    "LinesRead",
    "OutgoingMessage",
    "ParseResult",
    "ParsedStatement",
    "ReadAgain",
    "ReadingHints",
    "StatementEvent",
    "StatementFile",
    "StatementFormat",
    "StatementRead",
    "classify_reference",
    "collect_events",
    "detect_format",
    "file_sha256",
    "header_message_id_for",
    "line_id_for",
    "messages_for",
    "parse_statement_file",
    "read_statement_file",
    "statement_id_for",
]
