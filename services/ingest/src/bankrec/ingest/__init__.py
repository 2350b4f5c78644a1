"""bankrec ingest: statement files in, statement headers and lines on Kafka out.

``read_statement_file`` is the pure entry point (a file of any size read as a stream of
events in constant memory; ``parse_statement_file`` collects them for small files);
``create_app`` builds the HTTP service; ``StatementIngest`` is the use case between them.
"""

from bankrec.ingest.domain import (
    SUPPORTED_FORMATS,
    Diagnostic,
    ParsedStatement,
    ParseResult,
    ReadAgain,
    StatementEvent,
    StatementFormat,
    detect_format,
    parse_statement_file,
    read_statement_file,
)
from bankrec.ingest.errors import IngestError

__all__ = [
    "SUPPORTED_FORMATS",
    "Diagnostic",
    "IngestError",
    "ParseResult",
    "ParsedStatement",
    "ReadAgain",
    "StatementEvent",
    "StatementFormat",
    "detect_format",
    "parse_statement_file",
    "read_statement_file",
]
