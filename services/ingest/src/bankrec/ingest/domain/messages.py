"""The messages a parsed file becomes: per statement its header, then its lines.

Envelope ids are deterministic (the line id for a line; a uuid of statement id and file hash
for a header) and the correlation id is the file's SHA-256, so a re-uploaded file produces
messages consumers recognise as already processed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bankrec.contracts import (
    CREDENTIALS,
    STATEMENT_LINES,
    STATEMENTS,
    ApiKeyRecord,
    Envelope,
    StatementHeader,
    StatementLine,
    Topic,
    envelope_for,
)
from bankrec.ingest.domain.identity import header_message_id_for
from bankrec.ingest.domain.model import ParseResult


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    topic: Topic
    key: str
    envelope: Envelope[Any]


def messages_for(result: ParseResult, *, tenant_id: str) -> list[OutgoingMessage]:
    """Every message of a parsed file, in publishing order."""
    messages: list[OutgoingMessage] = []
    for header, lines in result.statements:
        messages.append(header_message(header, tenant_id=tenant_id, file_sha256=result.file_sha256))
        messages.extend(
            line_message(line, tenant_id=tenant_id, file_sha256=result.file_sha256)
            for line in lines
        )
    return messages


def header_message(header: StatementHeader, *, tenant_id: str, file_sha256: str) -> OutgoingMessage:
    """The message of a statement header, keyed by its account."""
    return OutgoingMessage(
        STATEMENTS,
        STATEMENTS.key_for(tenant_id, header.account.account_id),
        envelope_for(
            header,
            tenant_id=tenant_id,
            correlation_id=file_sha256,
            message_id=header_message_id_for(header.statement_id, file_sha256),
        ),
    )


def line_message(line: StatementLine, *, tenant_id: str, file_sha256: str) -> OutgoingMessage:
    """The message of a statement line: its id is the envelope's, its account the key."""
    return OutgoingMessage(
        STATEMENT_LINES,
        STATEMENT_LINES.key_for(tenant_id, line.account.account_id),
        envelope_for(
            line, tenant_id=tenant_id, correlation_id=file_sha256, message_id=line.line_id
        ),
    )


def api_key_message(record: ApiKeyRecord) -> OutgoingMessage:
    """The message of a key's current state, keyed by its key id (the topic is compacted,
    so the latest record per key is what every service reads at start)."""
    return OutgoingMessage(
        CREDENTIALS,
        CREDENTIALS.key_for(record.tenant_id, record.key_id),
        envelope_for(record, tenant_id=record.tenant_id, correlation_id=f"api-key:{record.key_id}"),
    )
