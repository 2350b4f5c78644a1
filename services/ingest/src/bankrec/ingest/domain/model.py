"""What reading a statement file gives: statements with their lines, and diagnostics.

Read as a stream (``read_statement_file``), a file gives ``StatementEvent``s: a statement's
lines in batches as its entries are read, then its header once the statement closes (the
header sums what came before it), and ``FileRead`` at the end. ``parse_statement_file``
collects the same events into one ``ParseResult`` for small files, tests and the CLI.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from bankrec.contracts import StatementHeader, StatementLine


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """Something odd about a file that is still accepted (a missing balance, a sum that
    does not add up). ``statement`` is the bank's statement id when it concerns one."""

    code: str
    message: str
    statement: str | None = None

    def as_json(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "statement": self.statement}


class ParsedStatement(NamedTuple):
    """One statement (camt ``Stmt``/``Rpt``/``Ntfctn``) and its lines, in file order."""

    header: StatementHeader
    lines: list[StatementLine]


@dataclass(frozen=True, slots=True)
class ParseResult:
    """Everything a statement file says, ready to publish; nothing is published yet."""

    file_sha256: str
    source_format: str
    statements: list[ParsedStatement]
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def line_count(self) -> int:
        return sum(len(statement.lines) for statement in self.statements)


@dataclass(frozen=True, slots=True)
class LinesRead:
    """Lines of the file's statement number ``statement`` (0-based, in file order), in
    statement order, with their stable ids. More batches of the same statement may follow."""

    statement: int
    lines: list[StatementLine]


@dataclass(frozen=True, slots=True)
class StatementRead:
    """Statement number ``statement`` is complete: every line of it came before this."""

    statement: int
    header: StatementHeader


@dataclass(frozen=True, slots=True)
class FileRead:
    """The file was read to its end without an error: the last event."""

    file_sha256: str
    source_format: str
    statements: list[StatementHeader]
    line_count: int
    diagnostics: list[Diagnostic]


StatementEvent = LinesRead | StatementRead | FileRead


@dataclass(frozen=True, slots=True)
class ReadingHints:
    """What a first read found that changes lines it had already given out: the reference
    keys each statement repeats, and the statements whose account or page is only stated
    after their entries (their lines wait for the statement's end). Statements are numbered
    in file order from 0."""

    repeated_references: Mapping[int, frozenset[str]] = field(default_factory=dict)
    held_statements: frozenset[int] = frozenset()


class ReadAgain(Exception):  # noqa: N818 - a request to the reader's caller, not an error
    """Events already given out for this file are void: drop them (roll back) and read the
    file again with ``read_statement_file(..., hints=this.hints)``, which gives them right.

    Raised only for files that repeat a bank reference within a statement or state a
    statement's account after its entries; the second read never raises it.
    """

    def __init__(self, hints: ReadingHints) -> None:
        super().__init__("read the statement file again with the hints found")
        self.hints = hints


class IngestStatus(StrEnum):
    """What happened to a received file."""

    RECEIVED = "received"  # a webhook body waiting to be read
    PUBLISHED = "published"  # read; its new statements and lines are (being) published
    DUPLICATE = "duplicate"  # the same file was published before: nothing published
    REFUSED = "refused"  # could not be read: nothing published


@dataclass(slots=True)
class IngestRecord:
    """One received file, as the status endpoint shows it."""

    ingest_id: str
    tenant_id: str
    file_sha256: str
    received_via: str
    received_at: datetime
    status: IngestStatus
    filename: str | None = None
    completed_at: datetime | None = None
    source_format: str | None = None
    statements: int = 0
    lines_published: int = 0
    lines_already_published: int = 0
    duplicate_of: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    spool_path: str | None = None
