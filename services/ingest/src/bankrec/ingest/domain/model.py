"""What parsing a statement file gives: statements with their lines, and diagnostics."""

from __future__ import annotations

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
