"""Text statement files in the encodings banks write: UTF-8 (with or without BOM), UTF-16
with BOM, and the legacy single-byte code pages (Windows-1252, ISO-8859-1) older exports use.
"""

from __future__ import annotations

from bankrec.ingest.errors import InvalidRecord

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def decode_statement_text(data: bytes, encoding: str | None = None) -> str:
    """The file's text. ``encoding`` forces one (a CSV profile names it); otherwise UTF-8 is
    tried first and Windows-1252 is the fallback, since a legacy file is rarely valid UTF-8
    and Windows-1252 reads every byte ISO-8859-1 does for the letters banks use."""
    if encoding is not None:
        return data.decode(encoding).lstrip("\ufeff")
    if data.startswith(_UTF16_BOMS):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:  # an odd number of bytes, or a lone surrogate
            raise InvalidRecord(
                "UTF-16 text",
                f"the file starts with a UTF-16 byte order mark but bytes {exc.start}-"
                f"{exc.end - 1} are not UTF-16 ({exc.reason}); it is damaged or cut short: "
                "export it again",
            ) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")
