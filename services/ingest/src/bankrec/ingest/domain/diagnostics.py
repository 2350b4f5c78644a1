"""The diagnostics of one file, kept in bounded memory.

A diagnostic can be made per entry (an entry without status, in another currency), so a
file of hundreds of thousands of entries could carry as many; nobody reads past the first
few of a kind, and they are stored with the file's record. So at most ``per_code_max`` of
each code are kept, in the order they were made, and one closing diagnostic per code says
how many more there were.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace

from bankrec.ingest.domain.model import Diagnostic

DIAGNOSTICS_PER_CODE_MAX = 100


class DiagnosticLog:
    """Diagnostics in the order they were made, at most ``per_code_max`` of each code."""

    def __init__(self, per_code_max: int = DIAGNOSTICS_PER_CODE_MAX) -> None:
        self.per_code_max = per_code_max
        self._kept: list[Diagnostic] = []
        self._kept_by_code: Counter[str] = Counter()
        self._omitted: Counter[str] = Counter()

    def add(self, diagnostic: Diagnostic) -> None:
        if self._kept_by_code[diagnostic.code] < self.per_code_max:
            self._kept_by_code[diagnostic.code] += 1
            self._kept.append(diagnostic)
        else:
            self._omitted[diagnostic.code] += 1

    def extend(
        self,
        other: DiagnosticLog,
        *,
        statement: str | None = None,
        change: Callable[[Diagnostic], Diagnostic] | None = None,
    ) -> None:
        """Add what ``other`` kept, in its order (about ``statement`` when given, each
        changed by ``change``), and count what it left out."""
        for diagnostic in other._kept:
            if statement is not None:
                diagnostic = replace(diagnostic, statement=statement)
            self.add(diagnostic if change is None else change(diagnostic))
        self._omitted.update(other._omitted)

    def diagnostics(self) -> list[Diagnostic]:
        """What was kept, then one diagnostic per code saying how many were left out."""
        return [
            *self._kept,
            *(
                Diagnostic(
                    "more_diagnostics",
                    f"{omitted} more '{code}' diagnostic(s) like the ones above are not listed",
                )
                for code, omitted in self._omitted.items()
            ),
        ]
