"""bankrec ingest: statement files in, statement headers and lines on Kafka out.

``parse_statement_file`` is the pure entry point (no I/O); ``create_app`` builds the HTTP
service; ``StatementIngest`` is the use case between them.
"""

from bankrec.ingest.domain import (
    SUPPORTED_FORMATS,
    Diagnostic,
    ParsedStatement,
    ParseResult,
    StatementFormat,
    detect_format,
    parse_statement_file,
)
from bankrec.ingest.errors import IngestError

__all__ = [
    "SUPPORTED_FORMATS",
    "Diagnostic",
    "IngestError",
    "ParseResult",
    "ParsedStatement",
    "StatementFormat",
    "detect_format",
    "parse_statement_file",
]
