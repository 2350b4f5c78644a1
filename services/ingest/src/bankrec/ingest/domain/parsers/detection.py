"""Which statement format a file is, from its first bytes.

Only a positive recognition names another format; anything that is not clearly MT940, BAI2,
OFX, OCR giro, BgMax, ESR V11 or an archive goes to the XML (camt) parser, which refuses
non-XML with ``not_xml``.
"""

from __future__ import annotations

import re
from enum import StrEnum

from bankrec.ingest.domain.parsers import esr_v11
from bankrec.ingest.domain.parsers.safe_xml import strip_bom

_SNIFF_BYTES = 4096
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# some exports join the fields with "@@" instead of line breaks
_MT940_START = re.compile(rb"(^|@@)(\{1:|:20:|:25:|:28C?:|:60[FM]:)", re.MULTILINE)
# MT942 has a floor limit (34F) and a date/time indication (13D) and no opening balance
_MT942_MARKS = re.compile(rb"(^|@@)(:34F:|:13D:)", re.MULTILINE)
_MT942_BLOCK = re.compile(rb"\{2:[IO]942")


class StatementFormat(StrEnum):
    """A family of statement files; ``CAMT`` covers camt.052, camt.053 and camt.054."""

    CAMT = "camt"
    MT940 = "mt940"
    MT942 = "mt942"
    BAI2 = "bai2"
    OFX = "ofx"
    CSV = "csv"
    OCR_GIRO = "ocr-giro"
    BGMAX = "bgmax"
    ESR_V11 = "esr-v11"
    ZIP = "zip"
    TAR = "tar"
    GZIP = "gzip"
    UNKNOWN = "unknown"


def detect_format(data: bytes) -> StatementFormat:
    """The format the file's first bytes show; ``UNKNOWN`` when nothing is recognised."""
    if data.startswith(b"PK\x03\x04"):
        return StatementFormat.ZIP
    if data.startswith(b"\x1f\x8b"):
        return StatementFormat.GZIP
    if len(data) > 262 and data[257:262] == b"ustar":
        return StatementFormat.TAR
    if data.startswith(_UTF16_BOMS):
        # UTF-16 (Excel's "Unicode text" CSV, some XML exporters): recognise the text
        return detect_format(_utf16_head_as_utf8(data[:_SNIFF_BYTES]))
    head = strip_bom(data[:_SNIFF_BYTES]).lstrip()
    upper = head.upper()
    if upper.startswith(b"OFXHEADER") or b"<OFX>" in upper:
        return StatementFormat.OFX
    if head.startswith(b"<"):
        return StatementFormat.CAMT
    if head.startswith(b"01,"):
        return StatementFormat.BAI2
    if head.startswith(b"NY000010"):  # Nets OCR giro: transmission start record
        return StatementFormat.OCR_GIRO
    if head.startswith(b"01BGMAX"):  # Bankgirot BgMax: start record
        return StatementFormat.BGMAX
    if _MT940_START.search(head) is not None:
        if _MT942_BLOCK.search(head) or _MT942_MARKS.search(head):
            return StatementFormat.MT942
        return StatementFormat.MT940
    # Swiss ESR/ISR credit records: fixed-width lines of digits with a known transaction code
    if esr_v11.recognised(head, cut=len(data) > _SNIFF_BYTES):
        return StatementFormat.ESR_V11
    return StatementFormat.UNKNOWN


def _utf16_head_as_utf8(head: bytes) -> bytes:
    """The first bytes of a UTF-16 file (with its BOM) as UTF-8, for the checks above; a
    character cut at the end of the head is dropped."""
    return head.decode("utf-16", errors="ignore").encode("utf-8")
