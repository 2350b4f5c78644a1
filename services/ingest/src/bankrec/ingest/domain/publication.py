"""What a parsed file adds to what ingest already published: nothing is published twice.

Given the line ids and statements ingest has already published for the tenant, a parsed
file becomes the messages that are new: lines never seen (a re-sent file or an overlapping
statement adds only its new lines), and the header of a statement not seen before. Gaps in
the bank's electronic sequence numbers per account are reported here too.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from bankrec.contracts import StatementHeader, StatementKind, mask_account_number
from bankrec.ingest.domain.messages import OutgoingMessage, messages_for
from bankrec.ingest.domain.model import Diagnostic, ParsedStatement, ParseResult


@dataclass(frozen=True, slots=True)
class KnownStatement:
    """A statement already published: its account and electronic sequence number."""

    statement_id: str
    account_id: str
    electronic_sequence_number: int | None


@dataclass(slots=True)
class Publication:
    """The new messages of a file and what was left out as already published."""

    messages: list[OutgoingMessage]
    new_line_ids: list[str]
    new_statements: list[KnownStatement]
    lines_already_published: int
    statements_already_published: int
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def lines_published(self) -> int:
        return len(self.new_line_ids)


def plan_publication(
    result: ParseResult,
    *,
    tenant_id: str,
    published_line_ids: Collection[str],
    published_statement_ids: Collection[str],
    last_sequence_by_account: Mapping[str, int],
) -> Publication:
    """The messages to publish for ``result``; ``published_*`` are what ingest already
    published for the tenant (only the ids this file mentions need to be given)."""
    seen_lines: set[str] = set()
    seen_statements: set[str] = set()
    kept: list[ParsedStatement] = []
    new_statements: list[KnownStatement] = []
    diagnostics: list[Diagnostic] = []
    repeated_lines = 0
    repeated_statements = 0
    last_sequence = dict(last_sequence_by_account)
    for header, lines in result.statements:
        fresh = [
            line
            for line in lines
            if line.line_id not in published_line_ids and line.line_id not in seen_lines
        ]
        seen_lines.update(line.line_id for line in fresh)
        repeated = len(lines) - len(fresh)
        repeated_lines += repeated
        known = (
            header.statement_id in published_statement_ids or header.statement_id in seen_statements
        )
        if known:
            repeated_statements += 1
            if fresh:
                diagnostics.append(
                    Diagnostic(
                        "statement_changed",
                        f"statement '{header.bank_statement_id}' was received before; "
                        f"{len(fresh)} line(s) in it are new and are published, the rest "
                        "were published already",
                        header.bank_statement_id,
                    )
                )
            kept.append(ParsedStatement(header, fresh))
            continue
        seen_statements.add(header.statement_id)
        diagnostics.extend(_sequence_diagnostics(header, last_sequence))
        sequence = header.electronic_sequence_number
        if sequence is not None and header.kind is StatementKind.END_OF_DAY:
            account = header.account.account_id
            last_sequence[account] = max(sequence, last_sequence.get(account, sequence))
        new_statements.append(
            KnownStatement(header.statement_id, header.account.account_id, sequence)
        )
        if repeated:
            diagnostics.append(
                Diagnostic(
                    "lines_already_received",
                    f"{repeated} of the {len(lines)} lines of statement "
                    f"'{header.bank_statement_id}' were received before in another statement "
                    "or file and are not published again",
                    header.bank_statement_id,
                )
            )
        updated = header.model_copy(
            update={"line_count": len(fresh), "lines_already_received": repeated}
        )
        kept.append(ParsedStatement(updated, fresh))
    messages = [
        message
        for message in messages_for(
            ParseResult(result.file_sha256, result.source_format, kept), tenant_id=tenant_id
        )
        if message.envelope.type != "statement.received"
        or message.envelope.payload.statement_id in seen_statements
    ]
    return Publication(
        messages=messages,
        new_line_ids=[line.line_id for _, lines in kept for line in lines],
        new_statements=new_statements,
        lines_already_published=repeated_lines,
        statements_already_published=repeated_statements,
        diagnostics=diagnostics,
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
