"""What parsing a statement file gives: statements with their lines, and diagnostics."""

from __future__ import annotations

from dataclasses import dataclass, field
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
