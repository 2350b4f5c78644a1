"""ISO 20022 schema (XSD) problems of a camt file, as diagnostics: never a refusal.

About a quarter to a half of real camt files fail their own schema (elements out of order,
texts too long, bad BIC/IBAN patterns) and are still read (``camt``, leniently). When a
directory of the ISO XSDs is configured (``CamtSchemas``; the project ships none, see
``docs/decisions/0005-camt-schema-diagnostics.md``) each camt file is also validated against
the XSD of its namespace, and what fails becomes a ``schema_invalid`` diagnostic per error
("line 12: element 'Bal': missing child element 'Amt'").

How a file is validated, so that memory and time stay bounded whatever the file:

- First as a stream (lxml pull parser with the schema, each entry dropped once read):
  constant memory, and most files are valid, so most files end here. libxml2 stops
  validating a stream at its first error and reports it without a line; the line is found
  by feeding again, up to the chunk where it appeared, line by line.
- An invalid file of at most ``max_bytes`` is then validated as a tree, which lists every
  error. lxml computes a path for each error by walking the element's preceding siblings,
  so time grows with errors x siblings (50,000 failing siblings: 9 to 90 s). A big tree
  is therefore validated a piece at a time (what every piece shares, then a window of
  entries of at most ``piece_elements_max`` elements each), and stops after
  ``ERRORS_MAX`` errors.
- A larger file, or one with an entry too big for a piece, keeps the stream's first error,
  and a ``schema_check_stopped`` diagnostic says why the rest is not listed.

``CamtSchemas`` is the only part that reads files besides the statement itself: the XSDs,
once each, compiled on first use (``compile_all`` at start-up checks them all).
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any, BinaryIO

from lxml import etree

from bankrec.ingest.domain.diagnostics import DiagnosticLog
from bankrec.ingest.domain.model import Diagnostic
from bankrec.ingest.domain.parsers.camt import (
    MESSAGE_NAMES,
    NAMESPACE_PREFIX,
    VERSION_MAX,
    VERSION_MIN,
    CamtMessage,
    camt_message_for,
)
from bankrec.ingest.domain.parsers.safe_xml import PARSER_OPTIONS, forbidden_declaration
from bankrec.ingest.domain.parsers.sources import StatementSource, source_of, survey_bytes
from bankrec.ingest.errors import NotXml

# an invalid file validated as a tree peaks at about 12x its size (a 30 MB one: 351 MB)
SCHEMA_MAX_BYTES_DEFAULT = 8 * 1024 * 1024
PIECE_ELEMENTS_MAX_DEFAULT = 20_000  # a piece's worst case (every element failing) ~1 s
ERRORS_MAX = 10_000  # listed per file; the diagnostics keep 100 and count the rest
STREAM_CHUNK_BYTES = 1024 * 1024

SCHEMA_INVALID = "schema_invalid"
SCHEMA_NOT_CHECKED = "schema_not_checked"
SCHEMA_CHECK_STOPPED = "schema_check_stopped"

_XS = "{http://www.w3.org/2001/XMLSchema}"
_STREAMED_TAGS = ("{*}Ntry", "{*}Stmt", "{*}Rpt", "{*}Ntfctn")  # dropped once validated
_NOT_A_DOCUMENT_ROOT = "SCHEMAV_CVC_ELT_1"  # the root is no global element: an envelope


class CamtSchemaError(Exception):
    """An XSD of the schema directory cannot be used: a configuration error, found at
    start-up (``compile_all``), never a refusal of a statement file."""

    def __init__(self, path: Path, problem: str) -> None:
        message = (
            f"{path}: {problem} (BANKREC_INGEST_SCHEMA_DIR names the directory of the ISO "
            "20022 camt XSDs, named as ISO names them: camt.053.001.02.xsd, ...)"
        )
        super().__init__(message)
        self.path = path
        self.message = message


@dataclass(frozen=True, slots=True)
class _Compiled:
    schema: etree.XMLSchema
    lock: threading.Lock  # XMLSchema.validate() keeps its errors on the schema object


class CamtSchemas:
    """The camt XSDs of one directory, each compiled once, on first use, and shared by the
    threads that read files; ``check`` validates a file against the one of its namespace."""

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int = SCHEMA_MAX_BYTES_DEFAULT,
        piece_elements_max: int = PIECE_ELEMENTS_MAX_DEFAULT,
    ) -> None:
        if not directory.is_dir():
            raise CamtSchemaError(directory, "is not a directory")
        self.directory = directory
        self.max_bytes = max_bytes
        self.piece_elements_max = piece_elements_max
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def schema_file(self, message: CamtMessage) -> Path:
        return self.directory / f"{message.source_format}.xsd"

    def compile_all(self) -> int:
        """Compile every camt XSD of the directory now (at start-up, so a broken one stops
        the service rather than a request); how many there are. Raises ``CamtSchemaError``."""
        found = 0
        for name in MESSAGE_NAMES:
            for version in range(VERSION_MIN, VERSION_MAX + 1):
                message = camt_message_for(f"{NAMESPACE_PREFIX}{name}.001.{version:02d}")
                if message is not None and self._schema(message) is not None:
                    found += 1
        if not found:
            raise CamtSchemaError(self.directory, "holds no camt.052/053/054 XSD")
        return found

    def check(
        self,
        file: StatementSource | Path | bytes | BinaryIO,
        namespace: str,
        *,
        size_bytes: int | None = None,
    ) -> list[Diagnostic]:
        """The schema problems of a camt file whose ``Document`` has ``namespace``: one
        ``schema_invalid`` per error (at most 100, then a count), ``schema_not_checked``
        when there is no XSD for it; nothing for a valid file. Never refuses the file.

        ``size_bytes`` is the file's size when the caller surveyed it (and refused any
        DOCTYPE); without it the file is surveyed here first. Raises only ``NotXml`` or
        ``ForbiddenXmlConstruct`` (a file the parser would refuse too) and
        ``CamtSchemaError`` (an XSD that does not compile)."""
        log = DiagnosticLog()
        message = camt_message_for(namespace)
        compiled = None if message is None else self._schema(message)
        if message is None or compiled is None:
            looked = (
                f"looked for {self.schema_file(message)}"
                if message is not None
                else "ingest reads no such message (camt.052/053/054, versions 01 to 14)"
            )
            log.add(Diagnostic(SCHEMA_NOT_CHECKED, f"no XSD for namespace {namespace}: {looked}"))
            return log.diagnostics()
        source = source_of(file)
        if size_bytes is None:
            with source.opened() as stream:
                facts = survey_bytes(stream, bytes_max=1 << 62)
            if facts.forbidden_line is not None:
                raise forbidden_declaration(facts.forbidden_line)
            size_bytes = facts.size_bytes or 0
        for diagnostic in _Validation(compiled, message, source, self).run(size_bytes):
            log.add(diagnostic)
        return log.diagnostics()

    def _schema(self, message: CamtMessage) -> _Compiled | None:
        with self._lock:
            compiled = self._compiled.get(message.namespace)
            if compiled is None:
                path = self.schema_file(message)
                if not path.is_file():
                    return None
                compiled = _Compiled(_compile(path, message.namespace), threading.Lock())
                self._compiled[message.namespace] = compiled
            return compiled


def _compile(path: Path, namespace: str) -> etree.XMLSchema:
    """An XSD read with the upload parser's options (no network, no DTD, no entities); one
    that refers to other files is refused, as the ISO camt XSDs are self-contained."""
    try:
        with path.open("rb") as stream:
            document = etree.parse(stream, etree.XMLParser(**PARSER_OPTIONS))
    except (OSError, etree.XMLSyntaxError) as exc:
        raise CamtSchemaError(path, f"cannot be read as XML: {exc}") from None
    if document.docinfo.doctype or document.docinfo.internalDTD is not None:
        raise CamtSchemaError(path, "declares a DOCTYPE; an ISO XSD has none")
    root = document.getroot()
    if root.tag != f"{_XS}schema":
        raise CamtSchemaError(path, "is not an XML Schema (its root is not <xs:schema>)")
    for reference in root.iter(f"{_XS}import", f"{_XS}include", f"{_XS}redefine"):
        raise CamtSchemaError(
            path,
            f"refers to another schema file ({etree.QName(reference).localname} "
            f"{reference.get('schemaLocation') or reference.get('namespace')}); use the "
            "self-contained XSD ISO publishes",
        )
    if root.get("targetNamespace") != namespace:
        raise CamtSchemaError(
            path,
            f"its targetNamespace is {root.get('targetNamespace')!r}, not {namespace!r} as its "
            "name says",
        )
    try:
        return etree.XMLSchema(document)
    except etree.XMLSchemaParseError as exc:
        raise CamtSchemaError(path, f"does not compile as an XML Schema: {exc}") from None


# ----------------------------------------------------------------------------- validation


@dataclass(frozen=True, slots=True)
class _StreamError:
    """The first schema error of a stream: its text, and the chunk whose feeding found it."""

    text: str
    type_name: str
    chunk: int


@dataclass(frozen=True, slots=True)
class _TreeErrors:
    errors: list[tuple[int, str]]  # (line, libxml2 message), in line order
    stopped: str | None  # why the list ends before the file's errors do
    too_big: str | None  # why the tree could not be validated in pieces at all
    documents: int = 1  # Documents of the namespace found


class _Validation:
    """One file against one schema (see the module docstring for the order)."""

    def __init__(
        self,
        compiled: _Compiled,
        message: CamtMessage,
        source: StatementSource,
        schemas: CamtSchemas,
    ) -> None:
        self.compiled = compiled
        self.message = message
        self.source = source
        self.max_bytes = schemas.max_bytes
        self.piece_elements_max = schemas.piece_elements_max

    def run(self, size_bytes: int) -> Iterator[Diagnostic]:
        first = self._first_stream_error()
        if first is None:
            return
        enveloped = first.type_name == _NOT_A_DOCUMENT_ROOT
        reason: str | None = None
        if size_bytes <= self.max_bytes:
            found = self._tree_errors()
            if found.documents == 0:
                yield Diagnostic(
                    SCHEMA_NOT_CHECKED,
                    f"the file holds no <Document> in namespace {self.message.namespace}",
                )
                return
            if found.too_big is None:
                for line, text in found.errors:
                    yield _invalid(line, text)
                if found.stopped is not None:
                    yield Diagnostic(SCHEMA_CHECK_STOPPED, found.stopped)
                if found.errors or enveloped:  # an envelope was all the stream objected to
                    return
            reason = found.too_big
        else:
            reason = (
                f"the file is {size_bytes:,} bytes, more than the {self.max_bytes:,} "
                "(BANKREC_INGEST_SCHEMA_MAX_BYTES) validated as a whole"
            )
        if enveloped and reason is not None:
            yield Diagnostic(
                SCHEMA_NOT_CHECKED,
                f"{reason}, and its Document is inside an envelope, which only a whole "
                "validation reaches; the schema was not checked",
            )
            return
        yield _invalid(self._line_of(first), first.text)
        if reason is not None:
            yield Diagnostic(
                SCHEMA_CHECK_STOPPED,
                f"{reason}: it was validated as a stream, which stops at the first schema "
                "error; any later ones are not listed",
            )

    # -- as a stream

    def _pull_parser(self) -> Any:
        return etree.XMLPullParser(
            events=("end",), tag=_STREAMED_TAGS, schema=self.compiled.schema, **PARSER_OPTIONS
        )

    def _first_stream_error(self) -> _StreamError | None:
        """Validate the file as a stream in constant memory; its first error, or None."""
        parser = self._pull_parser()
        with self.source.opened() as stream:
            chunk_number = 0
            while chunk := stream.read(STREAM_CHUNK_BYTES):
                found = _feed(parser, chunk)
                if found is not None:
                    return _StreamError(_text(found), found.type_name, chunk_number)
                chunk_number += 1
        # a schema error found only at the very end raises here; it is in the log too
        with contextlib.suppress(etree.XMLSyntaxError):
            parser.close()
        found = _first_schema_error(parser)
        return None if found is None else _StreamError(_text(found), found.type_name, chunk_number)

    def _line_of(self, first: _StreamError) -> int | None:
        """The line whose feeding found the stream's first error (a stream error has no
        line): the chunks before it again as they were fed, then its chunk line by line."""
        parser = self._pull_parser()
        lines = 0
        last_line_open = False  # the bytes fed so far end inside a line
        with self.source.opened() as stream:
            for chunk_number in count():
                chunk = stream.read(STREAM_CHUNK_BYTES)
                if not chunk:  # found when the parser closed: at the file's last line
                    return max(lines + last_line_open, 1)
                last_line_open = not chunk.endswith(b"\n")
                if chunk_number < first.chunk:
                    _feed(parser, chunk)
                    lines += chunk.count(b"\n")
                    continue
                for piece in chunk.splitlines(keepends=True):
                    if _feed(parser, piece) is not None:
                        return lines + 1
                    lines += piece.count(b"\n")
        return None  # pragma: no cover - the loop returns

    # -- as a tree

    def _tree_errors(self) -> _TreeErrors:
        try:
            with self.source.opened() as stream:
                tree = etree.parse(stream, etree.XMLParser(**PARSER_OPTIONS))
        except etree.XMLSyntaxError as exc:
            raise NotXml(str(exc.msg or exc), line=exc.lineno) from None
        root = tree.getroot()
        document_tag = f"{{{self.message.namespace}}}Document"
        documents = [root] if root.tag == document_tag else list(root.iter(document_tag))
        errors: list[tuple[int, str]] = []
        for document in documents:
            found = _Pieces(document, self.message, self.piece_elements_max).errors(
                self._validate, ERRORS_MAX - len(errors)
            )
            if found.too_big is not None:
                return found
            errors.extend(found.errors)
            if found.stopped is not None:
                return _TreeErrors(sorted(errors, key=_by_line), found.stopped, None)
        return _TreeErrors(sorted(errors, key=_by_line), None, None, len(documents))

    def _validate(self, document: Any) -> list[tuple[int, str]]:
        with self.compiled.lock:
            if self.compiled.schema.validate(document):
                return []
            return [(error.line, error.message) for error in self.compiled.schema.error_log]


def _by_line(error: tuple[int, str]) -> int:
    return error[0]


class _Pieces:
    """A ``Document`` tree validated a piece at a time when it is big: first without any
    entry (what every piece shares: group header, statement headers), then with a window of
    entries at a time, each entry back in its statement; a window's errors less the shared
    ones are the entries' own. Entries return in order, each at its statement's first
    entry's place (an element interleaved between entries is checked after them).

    The pieces are the file's own elements, moved (copies would lose their line numbers):
    the ``Document``'s content goes into a new ``Document`` element inside it, which is what
    is validated, and entries wait beside it. Both stay inside the original element, where
    the namespace is declared: lxml moves a subtree out of its namespace's scope in time
    quadratic in its size."""

    def __init__(self, document: Any, message: CamtMessage, piece_elements_max: int) -> None:
        self.document = document
        self.entry_tag = f"{{{message.namespace}}}Ntry"
        self.statement_tag = f"{{{message.namespace}}}{message.statement}"
        self.piece_elements_max = piece_elements_max

    def errors(
        self, validate: Callable[[Any], list[tuple[int, str]]], errors_max: int
    ) -> _TreeErrors:
        if _size(self.document) <= self.piece_elements_max:
            return self._capped(validate(self.document), errors_max)
        piece, waiting = self._split()
        entries = self._entries(piece, waiting)
        shared_size = _size(piece)
        biggest = max((size for _statement, _place, _entry, size in entries), default=0)
        if shared_size + biggest > self.piece_elements_max:
            return _TreeErrors([], None, self._too_big(shared_size, biggest))
        shared = validate(piece)
        found = list(shared)
        shared_count = Counter(shared)
        for window in self._windows(entries, shared_size):
            placed = Counter[Any]()
            for statement, place, entry, _size_of in window:
                statement.insert(place + placed[statement], entry)
                placed[statement] += 1
            found.extend((Counter(validate(piece)) - shared_count).elements())
            for _statement, _place, entry, _size_of in window:
                waiting.append(entry)
            if len(found) >= errors_max:
                break
        return self._capped(found, errors_max)

    def _split(self) -> tuple[Any, Any]:
        """(the piece validated, where entries wait), both new elements inside the
        ``Document``; the piece holds all the ``Document`` held."""
        document = self.document
        content = list(document)
        piece = etree.SubElement(document, document.tag, attrib=dict(document.attrib))
        piece.sourceline = document.sourceline
        for child in content:
            piece.append(child)
        waiting = etree.SubElement(document, f"{self.entry_tag}Waiting")
        return piece, waiting

    def _entries(self, piece: Any, waiting: Any) -> list[tuple[Any, int, Any, int]]:
        """Every entry, in file order, moved out of its statement to wait: (statement,
        place, entry, elements in it)."""
        entries = []
        for statement in piece.iter(self.statement_tag):
            own = [child for child in statement if child.tag == self.entry_tag]
            if not own:
                continue
            place = statement.index(own[0])
            for entry in own:
                waiting.append(entry)
                entries.append((statement, place, entry, _size(entry)))
        return entries

    def _windows(
        self, entries: list[tuple[Any, int, Any, int]], shared_size: int
    ) -> Iterator[list[tuple[Any, int, Any, int]]]:
        window: list[tuple[Any, int, Any, int]] = []
        size = shared_size
        for entry in entries:
            if window and size + entry[3] > self.piece_elements_max:
                yield window
                window, size = [], shared_size
            window.append(entry)
            size += entry[3]
        if window:
            yield window

    def _too_big(self, shared_size: int, biggest: int) -> str:
        what = (
            f"its statements hold {shared_size:,} elements besides their entries"
            if shared_size > self.piece_elements_max // 2
            else f"an entry holds {biggest:,} elements"
        )
        return f"{what}, more than the {self.piece_elements_max:,} validated at a time"

    @staticmethod
    def _capped(found: list[tuple[int, str]], errors_max: int) -> _TreeErrors:
        if len(found) < errors_max:
            return _TreeErrors(found, None, None)
        return _TreeErrors(
            found[:errors_max],
            f"validation stopped after {errors_max:,} schema errors; the file may hold more",
            None,
        )


def _size(element: Any) -> int:
    """Elements in a subtree (comments and processing instructions are not kept)."""
    return sum(1 for _ in element.iter())


def _feed(parser: Any, data: bytes) -> Any:
    """Feed bytes to a validating pull parser, dropping each entry and statement once
    read; the first schema error so far, or None."""
    try:
        parser.feed(data)
    except etree.XMLSyntaxError as exc:  # checked well-formed before; kept for direct use
        raise NotXml(str(exc.msg or exc), line=exc.lineno) from None
    for _event, element in parser.read_events():
        element.clear()
        parent = element.getparent()
        if parent is not None:
            parent.remove(element)
    return _first_schema_error(parser)


def _first_schema_error(parser: Any) -> Any:
    for error in parser.feed_error_log:
        if error.domain == etree.ErrorDomains.SCHEMASV:
            return error
    return None


def _text(error: Any) -> str:
    return str(error.message)


# ------------------------------------------------------------------------------ messages


def _invalid(line: int | None, text: str) -> Diagnostic:
    where = f"line {line}: " if line else ""
    return Diagnostic(SCHEMA_INVALID, f"{where}{readable(text)}")


_NAMESPACED = re.compile(r"\{(?:urn|https?):[^{}\s']*\}")
_ELEMENT = re.compile(
    r"^Element '(?P<element>[^']+)'(?:, attribute '(?P<attribute>[^']+)')?: (?P<problem>.+)$",
    re.DOTALL,
)
_TEXT_MAX = 300  # a value quoted from the file can be long


def _one_of(names: str) -> str:
    return ", ".join(f"'{name.strip()}'" for name in names.split(","))


_PROBLEMS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = tuple(
    (re.compile(pattern, re.DOTALL), rewrite)
    for pattern, rewrite in (
        (
            r"Missing child element\(s\)\. Expected is \( ([^,]+) \)\.",
            lambda m: f"missing child element '{m[1]}'",
        ),
        (
            r"Missing child element\(s\)\. Expected is one of \( (.+) \)\.",
            lambda m: f"missing child element, one of {_one_of(m[1])}",
        ),
        (
            r"This element is not expected\. Expected is \( ([^,]+) \)\.",
            lambda m: f"not expected here; expected '{m[1]}'",
        ),
        (
            r"This element is not expected\. Expected is one of \( (.+) \)\.",
            lambda m: f"not expected here; expected one of {_one_of(m[1])}",
        ),
        (r"This element is not expected\.", lambda m: "not expected here"),
        (
            r"\[facet 'maxLength'\] The value has a length of '(\d+)'; this exceeds the "
            r"allowed maximum length of '(\d+)'\.",
            lambda m: f"text of {m[1]} characters, more than the {m[2]} allowed",
        ),
        (
            r"\[facet 'minLength'\] The value has a length of '(\d+)'; this underruns the "
            r"allowed minimum length of '(\d+)'\.",
            lambda m: f"text of {m[1]} characters, fewer than the {m[2]} required",
        ),
        (
            r"\[facet 'pattern'\] The value '(.*)' is not accepted by the pattern '(.*)'\.",
            lambda m: f"value '{m[1]}' does not match the pattern '{m[2]}'",
        ),
        (
            r"\[facet 'enumeration'\] The value '(.*)' is not an element of the set \{(.*)\}\.",
            lambda m: f"value '{m[1]}' is not one of {m[2]}",
        ),
        (
            r"\[facet 'fractionDigits'\] The value '(.*)' has more fractional digits than are "
            r"allowed \('(\d+)'\)\.",
            lambda m: f"value '{m[1]}' has more than {m[2]} decimals",
        ),
        (
            r"\[facet 'totalDigits'\] The value '(.*)' has more digits than are allowed "
            r"\('(\d+)'\)\.",
            lambda m: f"value '{m[1]}' has more than {m[2]} digits",
        ),
        (
            r"'(.*)' is not a valid value of the (?:local )?(?:atomic|list|union) type '(.*)'\.",
            lambda m: f"value '{m[1]}' is not a valid {m[2]}",
        ),
        (
            r"The attribute '(.*)' is required but missing\.",
            lambda m: f"attribute '{m[1]}' is missing",
        ),
        (r"The attribute '(.*)' is not allowed\.", lambda m: f"attribute '{m[1]}' is not allowed"),
        (
            r"Character content other than whitespace is not allowed because the content type "
            r"is 'element-only'\.",
            lambda m: "holds text where only child elements belong",
        ),
    )
)


def readable(text: str) -> str:
    """A libxml2 schema error as a person reads it: no namespaces, the element first, the
    problem in plain words ("element 'Bal': missing child element 'Amt'")."""
    text = _NAMESPACED.sub("", text.strip())
    found = _ELEMENT.match(text)
    if found is None:
        return _shortened(text.rstrip("."))
    subject = f"element '{found['element']}'"
    if found["attribute"]:
        subject += f", attribute '{found['attribute']}'"
    problem = found["problem"].strip()
    for pattern, rewrite in _PROBLEMS:
        matched = pattern.fullmatch(problem)
        if matched is not None:
            problem = rewrite(matched)
            break
    else:
        problem = problem[:1].lower() + problem[1:].rstrip(".")
    return _shortened(f"{subject}: {problem}")


def _shortened(text: str) -> str:
    return text if len(text) <= _TEXT_MAX else text[: _TEXT_MAX - 3] + "..."


__all__ = [
    "ERRORS_MAX",
    "PIECE_ELEMENTS_MAX_DEFAULT",
    "SCHEMA_CHECK_STOPPED",
    "SCHEMA_INVALID",
    "SCHEMA_MAX_BYTES_DEFAULT",
    "SCHEMA_NOT_CHECKED",
    "CamtSchemaError",
    "CamtSchemas",
    "readable",
]
