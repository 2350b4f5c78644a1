"""Reading uploaded XML safely: size first, no DTD or entity ever, streaming events.

Uploaded statement files are untrusted. Before lxml sees a byte the file is checked for size
and for ``<!DOCTYPE``/``<!ENTITY`` (which no bank statement needs), so no entity can expand
(billion laughs) or reach a file or URL (XXE); the parser is configured to refuse them too,
and a DOCTYPE that slipped past the byte check (an unusual encoding) is refused when the
first element starts. The byte check runs over a stream in chunks (``sources.survey_bytes``)
or over bytes (``refuse_dtd``), with the same patterns.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from lxml import etree

from bankrec.ingest.errors import (
    EmptyStatementFile,
    ForbiddenXmlConstruct,
    NotXml,
    StatementTooLarge,
)

UPLOAD_BYTES_MAX_DEFAULT = 50 * 1024 * 1024

_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
FORBIDDEN_PATTERNS: tuple[re.Pattern[bytes], ...] = (
    re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE),
    *(
        re.compile(re.escape(marker.encode(codec)), re.IGNORECASE)
        for codec in ("utf-16-le", "utf-16-be")
        for marker in ("<!DOCTYPE", "<!ENTITY", "<!doctype", "<!entity")
    ),
)

# Every option written out; the defaults of lxml are not what an upload needs.
PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,  # an entity reference is never replaced by its text
    "no_network": True,  # nothing named in the file is ever fetched
    "load_dtd": False,  # no DTD is read, internal or external
    "dtd_validation": False,  # validation would need the DTD
    "attribute_defaults": False,  # attribute defaults come from a DTD
    "huge_tree": False,  # keep libxml2's limits on depth and text size
    "recover": False,  # a malformed file is refused, never guessed at
    "remove_comments": True,  # comments carry nothing a statement needs
    "remove_pis": True,  # neither do processing instructions
}


def check_upload_size(data: bytes, upload_bytes_max: int) -> None:
    """Refuse an empty file or one over the byte limit, before any parsing."""
    if len(data) > upload_bytes_max:
        raise StatementTooLarge(len(data), upload_bytes_max)
    if not strip_bom(data).strip():
        raise EmptyStatementFile("the file is empty; send the statement file as the request body")


def strip_bom(data: bytes) -> bytes:
    for bom in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :]
    return data


def forbidden_construct(data: bytes) -> int | None:
    """Where the first ``<!DOCTYPE`` or ``<!ENTITY`` declaration starts, or None."""
    first = FORBIDDEN_PATTERNS[0].search(data)
    found = None if first is None else first.start()
    if b"\x00" in data:  # the UTF-16 forms all hold NUL bytes: skip them on other files
        for pattern in FORBIDDEN_PATTERNS[1:]:
            match = pattern.search(data)
            if match is not None and (found is None or match.start() < found):
                found = match.start()
    return found


def refuse_dtd(data: bytes) -> None:
    """Refuse any ``<!DOCTYPE`` or ``<!ENTITY`` declaration anywhere in the file."""
    found = forbidden_construct(data)
    if found is not None:
        raise forbidden_declaration(data.count(b"\n", 0, found) + 1)


def forbidden_declaration(line: int) -> ForbiddenXmlConstruct:
    return ForbiddenXmlConstruct(
        f"the file contains a DOCTYPE or ENTITY declaration (line {line}); bank "
        "statements never need one and it is refused for safety (XXE, entity "
        "expansion). Remove it and upload again"
    )


class XmlEvents:
    """The parser's (event, element) pairs over bytes or a binary stream; malformed XML
    becomes ``NotXml``.

    ``tags`` (``{*}Name`` patterns) limits the events to those elements, which saves most of
    the per-element Python work on big files. Check the bytes first (``refuse_dtd``,
    ``sources.survey_bytes``); this refuses a DOCTYPE again from the parser's own view.
    ``root`` is the root element once iterated.
    """

    def __init__(
        self,
        data: bytes | BinaryIO,
        *,
        events: tuple[str, ...] = ("start", "end"),
        tags: tuple[str, ...] | None = None,
    ) -> None:
        stream = io.BytesIO(data) if isinstance(data, bytes) else data
        self._context = etree.iterparse(stream, events=events, tag=tags, **PARSER_OPTIONS)

    @property
    def root(self) -> Any:
        return self._context.root

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        events = iter(self._context)
        try:
            for event, element in events:
                _refuse_doctype(element.getroottree())  # before the first element is used
                yield event, element
                break
            else:
                if self._context.root is not None:
                    _refuse_doctype(self._context.root.getroottree())
                return
            yield from events  # the rest straight from lxml's iterator
        except etree.XMLSyntaxError as exc:
            line, column = exc.position if exc.position else (exc.lineno, None)
            raise NotXml(_syntax_reason(exc), line=line, column=column) from None


def _refuse_doctype(tree: Any) -> None:
    docinfo = tree.docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise ForbiddenXmlConstruct(
            "the file declares a DOCTYPE; bank statements never need one and it is refused "
            "for safety. Remove it and upload again"
        )


def _syntax_reason(exc: etree.XMLSyntaxError) -> str:
    message = str(exc.msg or exc).strip()
    # lxml appends ", line N, column M"; the position is reported separately
    return re.sub(r",? line \d+, column \d+$", "", message) or "malformed XML"
