"""Which statement format a file is, from its first bytes.

Only a positive recognition names another format; anything that is not clearly MT940, BAI2,
OFX or an archive goes to the XML (camt) parser, which refuses non-XML with ``not_xml``.
"""

from __future__ import annotations

import re
from enum import StrEnum

from bankrec.ingest.domain.parsers.safe_xml import strip_bom

_SNIFF_BYTES = 4096
_MT940_START = re.compile(rb"^(\{1:|:20:|:25:|:28C?:|:60[FM]:)", re.MULTILINE)


class StatementFormat(StrEnum):
    """A family of statement files; ``CAMT`` covers camt.052, camt.053 and camt.054."""

    CAMT = "camt"
    MT940 = "mt940"
    BAI2 = "bai2"
    OFX = "ofx"
    ZIP = "zip"
    GZIP = "gzip"
    UNKNOWN = "unknown"


def detect_format(data: bytes) -> StatementFormat:
    """The format the file's first bytes show; ``UNKNOWN`` when nothing is recognised."""
    if data.startswith(b"PK\x03\x04"):
        return StatementFormat.ZIP
    if data.startswith(b"\x1f\x8b"):
        return StatementFormat.GZIP
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return StatementFormat.CAMT  # UTF-16: only the XML formats are written that way
    head = strip_bom(data[:_SNIFF_BYTES]).lstrip()
    upper = head.upper()
    if upper.startswith(b"OFXHEADER") or b"<OFX>" in upper:
        return StatementFormat.OFX
    if head.startswith(b"<"):
        return StatementFormat.CAMT
    if head.startswith(b"01,"):
        return StatementFormat.BAI2
    if _MT940_START.search(head) is not None:
        return StatementFormat.MT940
    return StatementFormat.UNKNOWN
