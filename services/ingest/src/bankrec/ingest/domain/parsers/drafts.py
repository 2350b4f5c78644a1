"""What a format reader gives while it reads: drafted lines and headers, before line ids.

Every reader (camt as it streams, the line-based formats and bundles from what they read)
yields ``Draft``s into one ``read_statement_file`` loop, which gives the lines their stable
ids (``line_identity``) and numbers nothing itself: statements are numbered in file order by
the ``ReadingContext`` every reader of one file shares, so bundle members continue the count.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from itertools import count

from bankrec.contracts import StatementHeader, StatementLine
from bankrec.ingest.domain.diagnostics import DiagnosticLog
from bankrec.ingest.domain.line_identity import repeated_references
from bankrec.ingest.domain.model import Diagnostic, ParseResult

LINES_PER_BATCH_DEFAULT = 500


@dataclass(frozen=True, slots=True)
class LinesDrafted:
    """Lines of statement number ``statement``, in statement order, without their ids.

    ``repeated`` are the bank reference keys the statement repeats when the reader knows
    them all (it holds the whole statement); None when it does not (camt, streamed)."""

    statement: int
    lines: list[StatementLine]
    repeated: frozenset[str] | None


@dataclass(frozen=True, slots=True)
class StatementDrafted:
    """Statement number ``statement`` has ended. ``identity_moved``: its account or page,
    read from the whole statement, differs from what its earlier lines were given (an
    element out of schema order); the file must be read again holding its lines."""

    statement: int
    header: StatementHeader
    identity_moved: bool = False


Draft = LinesDrafted | StatementDrafted


@dataclass(slots=True)
class ReadingContext:
    """What every reader of one file shares; ``member`` names the bundle member read."""

    tenant_id: str
    sha256: str  # of the file as received (a bundle's, for its members)
    diagnostics: DiagnosticLog
    held_statements: frozenset[int] = frozenset()
    lines_per_batch: int = LINES_PER_BATCH_DEFAULT
    member: str | None = None
    numbers: Iterator[int] = field(default_factory=count)

    def next_statement(self) -> int:
        """The file-wide number of the statement that begins now."""
        return next(self.numbers)

    def note(self, diagnostic: Diagnostic) -> None:
        self.diagnostics.add(self._named(diagnostic))

    def note_all(self, notes: DiagnosticLog, *, statement: str | None) -> None:
        """Add a statement's own log (``statement`` names it)."""
        self.diagnostics.extend(notes, statement=statement, change=self._named)

    def within(self, member: str) -> ReadingContext:
        """The context of one member of a bundle: the same file, statement count and log."""
        return replace(self, member=member)

    def _named(self, diagnostic: Diagnostic) -> Diagnostic:
        if self.member is None:
            return diagnostic
        return replace(diagnostic, message=f"{self.member}: {diagnostic.message}")


def drafts_of(result: ParseResult, context: ReadingContext) -> Iterator[Draft]:
    """The drafts of a file a reader read whole (the line-based formats): each statement's
    lines in batches, with the references it repeats, then its header."""
    for diagnostic in result.diagnostics:
        context.note(diagnostic)
    for header, lines in result.statements:
        number = context.next_statement()
        repeated = repeated_references(lines)
        size = context.lines_per_batch
        for start in range(0, len(lines), size):
            yield LinesDrafted(number, lines[start : start + size], repeated)
        yield StatementDrafted(number, header)
