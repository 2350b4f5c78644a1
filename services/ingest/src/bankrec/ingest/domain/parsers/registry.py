"""Which parser reads which format name: the one table ``parse_statement_file`` dispatches on.

Each line-based format lives in its own module exposing
``parse(data, *, tenant_id, sha256, statement_format) -> ParseResult``; ``statement_format``
is the name asked for or detected (``mt942`` as opposed to ``mt940``), so one module can
serve related formats.
"""

from __future__ import annotations

import importlib
from typing import Protocol, cast

from bankrec.ingest.domain.model import ParseResult


class FormatParser(Protocol):
    def __call__(
        self, data: bytes, *, tenant_id: str, sha256: str, statement_format: str
    ) -> ParseResult: ...


# format name -> module under bankrec.ingest.domain.parsers
PARSER_MODULES: dict[str, str] = {
    "mt940": "mt940",
    "mt942": "mt940",
    "bai2": "bai2",
    "ofx": "ofx",
    "csv": "csv_profiles",
    "ocr-giro": "nets_ocr",
    "bgmax": "bgmax",
}


def parser_for(statement_format: str) -> FormatParser | None:
    """The parser of a line-based format, or None when ingest has none for it yet."""
    module_name = PARSER_MODULES.get(statement_format)
    if module_name is None:
        return None
    try:
        module = importlib.import_module(f"bankrec.ingest.domain.parsers.{module_name}")
    except ModuleNotFoundError:
        return None
    parse = getattr(module, "parse", None)
    return cast(FormatParser, parse) if callable(parse) else None


def available_formats() -> tuple[str, ...]:
    """The line-based formats whose parser is present."""
    return tuple(name for name in PARSER_MODULES if parser_for(name) is not None)
