"""What a file adds to what ingest already published: nothing is published twice.

A file is planned as it is read (``FilePublication``), batch by batch, so nothing of it needs
to be held: for each batch of lines the caller says which of their ids were published
already, by this tenant before or earlier in this same file (it stores each batch's new ids
before asking about the next), and gets the lines that are new; when a statement closes,
the caller says whether the statement itself was published already, and gets its header
message (a statement not seen before) with the counts of new and repeated lines. Gaps in the
bank's electronic sequence numbers per account are reported here too.
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field

from bankrec.contracts import StatementHeader, StatementKind, StatementLine, mask_account_number
from bankrec.ingest.domain.messages import OutgoingMessage, header_message, line_message
from bankrec.ingest.domain.model import Diagnostic


@dataclass(frozen=True, slots=True)
class KnownStatement:
    """A statement already published: its account and electronic sequence number."""

    statement_id: str
    account_id: str
    electronic_sequence_number: int | None


@dataclass(slots=True)
class ClosedStatement:
    """What closing a statement adds: its header's message, unless it was published
    before, and the statement to remember as published."""

    message: OutgoingMessage | None
    known: KnownStatement | None


@dataclass(slots=True)
class _OpenStatement:
    fresh: int = 0
    repeated: int = 0


@dataclass(slots=True)
class FilePublication:
    """The plan of one file's publication, made statement by statement as it is read."""

    tenant_id: str
    file_sha256: str
    lines_published: int = 0
    lines_already_published: int = 0
    statements_already_published: int = 0
    diagnostics: list[Diagnostic] = field(default_factory=list)
    _open: dict[int, _OpenStatement] = field(default_factory=dict)
    _last_sequence: dict[str, int] = field(default_factory=dict)
    _accounts_known: set[str] = field(default_factory=set)

    def new_lines(
        self, statement: int, lines: Sequence[StatementLine], published: Container[str]
    ) -> list[StatementLine]:
        """The lines of a batch to publish: those whose id is not in ``published`` (ids
        published before, also earlier in this file) nor repeated within the batch."""
        seen: set[str] = set()
        fresh: list[StatementLine] = []
        for line in lines:
            if line.line_id in published or line.line_id in seen:
                continue
            seen.add(line.line_id)
            fresh.append(line)
        counts = self._open.setdefault(statement, _OpenStatement())
        counts.fresh += len(fresh)
        counts.repeated += len(lines) - len(fresh)
        self.lines_published += len(fresh)
        self.lines_already_published += len(lines) - len(fresh)
        return fresh

    def line_messages(self, lines: Sequence[StatementLine]) -> list[OutgoingMessage]:
        return [
            line_message(line, tenant_id=self.tenant_id, file_sha256=self.file_sha256)
            for line in lines
        ]

    def needs_last_sequence(self, account_id: str) -> bool:
        """Whether the last published sequence number of the account is still to be told
        (``tell_last_sequence``): once per account, before its first statement closes."""
        return account_id not in self._accounts_known

    def tell_last_sequence(self, account_id: str, last: int | None) -> None:
        self._accounts_known.add(account_id)
        if last is not None:
            self._last_sequence[account_id] = last

    def close_statement(
        self, statement: int, header: StatementHeader, *, published_before: bool
    ) -> ClosedStatement:
        """Close a statement whose lines were all planned; ``published_before``: the
        statement id was published before (or earlier in this file)."""
        counts = self._open.pop(statement, _OpenStatement())
        total = counts.fresh + counts.repeated
        if published_before:
            self.statements_already_published += 1
            if counts.fresh:
                self.diagnostics.append(
                    Diagnostic(
                        "statement_changed",
                        f"statement '{header.bank_statement_id}' was received before; "
                        f"{counts.fresh} line(s) in it are new and are published, the rest "
                        "were published already",
                        header.bank_statement_id,
                    )
                )
            return ClosedStatement(message=None, known=None)
        self.diagnostics.extend(_sequence_diagnostics(header, self._last_sequence))
        sequence = header.electronic_sequence_number
        account = header.account.account_id
        if sequence is not None and header.kind is StatementKind.END_OF_DAY:
            self._last_sequence[account] = max(sequence, self._last_sequence.get(account, sequence))
        if counts.repeated:
            self.diagnostics.append(
                Diagnostic(
                    "lines_already_received",
                    f"{counts.repeated} of the {total} lines of statement "
                    f"'{header.bank_statement_id}' were received before in another statement "
                    "or file and are not published again",
                    header.bank_statement_id,
                )
            )
        updated = header.model_copy(
            update={"line_count": counts.fresh, "lines_already_received": counts.repeated}
        )
        return ClosedStatement(
            message=header_message(updated, tenant_id=self.tenant_id, file_sha256=self.file_sha256),
            known=KnownStatement(header.statement_id, account, sequence),
        )


def _sequence_diagnostics(
    header: StatementHeader, last_sequence: Mapping[str, int]
) -> list[Diagnostic]:
    sequence = header.electronic_sequence_number
    if sequence is None or header.kind is not StatementKind.END_OF_DAY:
        return []
    last = last_sequence.get(header.account.account_id)
    if last is None:
        return []
    account = mask_account_number(header.account.number)
    if sequence > last + 1:
        missing = f"{last + 1}" if sequence == last + 2 else f"{last + 1} to {sequence - 1}"
        return [
            Diagnostic(
                "sequence_gap",
                f"account {account}: statement sequence number {sequence} follows {last}; "
                f"statement(s) {missing} were never received — ask the bank to send them",
                header.bank_statement_id,
            )
        ]
    if sequence <= last:
        return [
            Diagnostic(
                "sequence_out_of_order",
                f"account {account}: statement sequence number {sequence} arrives after {last}",
                header.bank_statement_id,
            )
        ]
    return []
