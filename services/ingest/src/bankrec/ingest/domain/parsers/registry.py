"""Which parser reads which format name: the one table ``parse_statement_file`` dispatches on.

Each line-based format lives in its own module exposing
``parse(data, *, tenant_id, sha256, statement_format) -> ParseResult``; ``statement_format``
is the name asked for or detected (``mt942`` as opposed to ``mt940``), so one module can
serve related formats.
"""

from __future__ import annotations

from typing import Protocol

from bankrec.ingest.domain.model import ParseResult
from bankrec.ingest.domain.parsers import (
    bai2,
    bgmax,
    csv_profiles,
    esr_v11,
    mt940,
    nets_ocr,
    ofx,
)


class FormatParser(Protocol):
    def __call__(
        self, data: bytes, *, tenant_id: str, sha256: str, statement_format: str
    ) -> ParseResult: ...


PARSERS: dict[str, FormatParser] = {
    "mt940": mt940.parse,
    "mt942": mt940.parse,
    "bai2": bai2.parse,
    "ofx": ofx.parse,
    "csv": csv_profiles.parse,
    "ocr-giro": nets_ocr.parse,
    "bgmax": bgmax.parse,
    "esr-v11": esr_v11.parse,
}


def parser_for(statement_format: str) -> FormatParser | None:
    """The parser of a line-based format, or None when there is none by that name."""
    return PARSERS.get(statement_format)
