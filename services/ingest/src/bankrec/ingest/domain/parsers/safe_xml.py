"""Reading uploaded XML safely: size first, no DTD or entity ever, streaming events.

Uploaded statement files are untrusted. Before lxml sees a byte the file is checked for size
and for ``<!DOCTYPE``/``<!ENTITY`` (which no bank statement needs), so no entity can expand
(billion laughs) or reach a file or URL (XXE); the parser is configured to refuse them too,
and a DOCTYPE that slipped past the byte check (an unusual encoding) is refused when the
first element starts.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

from lxml import etree

from bankrec.ingest.errors import (
    EmptyStatementFile,
    ForbiddenXmlConstruct,
    NotXml,
    StatementTooLarge,
)

UPLOAD_BYTES_MAX_DEFAULT = 50 * 1024 * 1024

_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_FORBIDDEN_PATTERNS: tuple[re.Pattern[bytes], ...] = (
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


def refuse_dtd(data: bytes) -> None:
    """Refuse any ``<!DOCTYPE`` or ``<!ENTITY`` declaration anywhere in the file."""
    for pattern in _FORBIDDEN_PATTERNS:
        found = pattern.search(data)
        if found is not None:
            line = data.count(b"\n", 0, found.start()) + 1
            raise ForbiddenXmlConstruct(
                f"the file contains a DOCTYPE or ENTITY declaration (line {line}); bank "
                "statements never need one and it is refused for safety (XXE, entity "
                "expansion). Remove it and upload again"
            )


class XmlEvents:
    """The parser's (event, element) pairs; malformed XML becomes ``NotXml``.

    ``tags`` (``{*}Name`` patterns) limits the events to those elements, which saves most of
    the per-element Python work on big files. Call ``refuse_dtd`` first; this refuses a
    DOCTYPE again from the parser's own view. ``root`` is the root element once iterated.
    """

    def __init__(
        self,
        data: bytes,
        *,
        events: tuple[str, ...] = ("start", "end"),
        tags: tuple[str, ...] | None = None,
    ) -> None:
        self._context = etree.iterparse(io.BytesIO(data), events=events, tag=tags, **PARSER_OPTIONS)

    @property
    def root(self) -> Any:
        return self._context.root

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        first = True
        try:
            for event, element in self._context:
                if first:
                    first = False
                    _refuse_doctype(element.getroottree())
                yield event, element
            if first and self._context.root is not None:
                _refuse_doctype(self._context.root.getroottree())
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
