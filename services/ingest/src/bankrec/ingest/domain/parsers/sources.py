"""Where a statement file's bytes come from, and what one pass over the raw bytes tells.

A file is read more than once without being held in memory: a first pass over its bytes
(``survey_bytes``: size, SHA-256, the first bytes for format detection, any forbidden XML
declaration), then the parse, and in rare cases a second parse (``ReadAgain``). So a source
is anything that can be opened again from its start: a path, a seekable binary stream, or
bytes (small files and tests).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from bankrec.ingest.domain.parsers.safe_xml import forbidden_construct
from bankrec.ingest.errors import EmptyStatementFile, StatementTooLarge

CHUNK_BYTES = 1024 * 1024
HEAD_BYTES = 64 * 1024  # what format detection and the CSV profile sniffer look at
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_CARRY_BYTES = 64  # longer than any forbidden marker, so one across two chunks is found
_OPEN_DECLARATION = re.compile(rb"<!\s*\Z")  # "<!" then only whitespace up to the chunk's end


class StatementSource(Protocol):
    """A statement file that can be read from its start as often as needed."""

    @property
    def name(self) -> str | None: ...

    def opened(self) -> contextlib.AbstractContextManager[BinaryIO]: ...


@dataclass(frozen=True, slots=True)
class PathSource:
    path: Path

    @property
    def name(self) -> str | None:
        return self.path.name

    @contextlib.contextmanager
    def opened(self) -> Iterator[BinaryIO]:
        with self.path.open("rb") as stream:
            yield stream


@dataclass(frozen=True, slots=True)
class StreamSource:
    """A seekable binary stream; it is rewound for each read and never closed here."""

    stream: BinaryIO

    @property
    def name(self) -> str | None:
        return None

    @contextlib.contextmanager
    def opened(self) -> Iterator[BinaryIO]:
        self.stream.seek(0)
        yield self.stream


def source_of(file: StatementSource | Path | bytes | BinaryIO) -> StatementSource:
    """A source for a path, bytes or a seekable binary stream."""
    if isinstance(file, Path):
        return PathSource(file)
    if isinstance(file, bytes | bytearray | memoryview):
        return StreamSource(io.BytesIO(bytes(file)))
    if isinstance(file, PathSource | StreamSource) or hasattr(file, "opened"):
        return file
    if not file.seekable():
        raise ValueError("a statement stream must be seekable: it is read more than once")
    return StreamSource(file)


@dataclass(frozen=True, slots=True)
class FileFacts:
    """What one pass over a file's raw bytes tells, before anything parses it."""

    size_bytes: int | None  # None: more than the limit it was read with
    sha256: str
    head: bytes  # the first HEAD_BYTES
    blank: bool  # nothing but a byte-order mark and whitespace
    forbidden_line: int | None  # line of the first <!DOCTYPE or <!ENTITY, if any

    def check(self, upload_bytes_max: int) -> None:
        """Refuse an empty file or one over the byte limit, before any parsing."""
        if self.size_bytes is None or self.size_bytes > upload_bytes_max:
            raise StatementTooLarge(self.size_bytes, upload_bytes_max)
        if self.blank:
            raise EmptyStatementFile(
                "the file is empty; send the statement file as the request body"
            )


def survey_bytes(stream: BinaryIO, *, bytes_max: int) -> FileFacts:
    """Size, SHA-256, first bytes and forbidden declarations of a stream, read once in
    chunks (constant memory). Reading stops past ``bytes_max`` (an upload limit, or what a
    bundle may still inflate to): the size is then None."""
    digest = hashlib.sha256()
    head = b""
    size = 0
    blank = True
    scanner = _ForbiddenScanner()
    while chunk := stream.read(CHUNK_BYTES):
        first = size == 0
        size += len(chunk)
        if size > bytes_max:
            return FileFacts(None, "", b"", blank=False, forbidden_line=None)
        digest.update(chunk)
        if len(head) < HEAD_BYTES:
            head += chunk[: HEAD_BYTES - len(head)]
        if blank:
            blank = not (_without_bom(chunk) if first else chunk).strip()
        scanner.scan(chunk)
    return FileFacts(
        size_bytes=size,
        sha256=digest.hexdigest(),
        head=head,
        blank=blank,
        forbidden_line=scanner.found_line,
    )


class _ForbiddenScanner:
    """Finds the first forbidden declaration in a stream of chunks, also across chunks."""

    def __init__(self) -> None:
        self.found_line: int | None = None
        self._carry = b""
        self._lines_before = 0  # newlines in the bytes before ``_carry``

    def scan(self, chunk: bytes) -> None:
        if self.found_line is not None:
            return
        window = self._carry + chunk
        found = forbidden_construct(window)
        if found is not None:
            self.found_line = self._lines_before + window.count(b"\n", 0, found) + 1
            return
        # keep the window's end: a marker may continue in the next chunk
        keep = _CARRY_BYTES
        opened = _OPEN_DECLARATION.search(window)
        if opened is not None:  # "<!" and whitespace: the keyword may still come
            # (bounded: after a chunk of whitespace it is no XML declaration lxml accepts)
            keep = max(keep, min(len(window) - opened.start(), CHUNK_BYTES))
        keep = min(keep, len(window))
        self._lines_before += window.count(b"\n", 0, len(window) - keep)
        self._carry = window[len(window) - keep :]


def _without_bom(data: bytes) -> bytes:
    for bom in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :]
    return data


__all__ = [
    "CHUNK_BYTES",
    "HEAD_BYTES",
    "FileFacts",
    "PathSource",
    "StatementSource",
    "StreamSource",
    "source_of",
    "survey_bytes",
]
