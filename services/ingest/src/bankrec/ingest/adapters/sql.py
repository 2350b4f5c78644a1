"""Ingest's store on SQLAlchemy Core: received files, published ids, credentials, outbox.

``save_publication`` is the one write that matters: the file's record, the ids of its new
lines and statements, and their messages in the outbox leave in one transaction, so a crash
either publishes a file's new lines (through the relay) and remembers them, or does neither.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bankrec.ingest.adapters.tables import (
    api_keys,
    outbox,
    published_lines,
    published_statements,
    statement_files,
    webhook_secrets,
)
from bankrec.ingest.domain.credentials import IssuedApiKey
from bankrec.ingest.domain.model import Diagnostic, IngestRecord, IngestStatus, ParseResult
from bankrec.ingest.domain.publication import Publication, plan_publication
from bankrec.runtime import encode_envelope

_CHUNK = 500  # ids per IN (...) query: well inside every database's parameter limit
_ATTEMPTS = 3  # a concurrent upload of an overlapping statement wins a unique key


class SqlIngestStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    # -- files

    async def published_file(self, tenant_id: str, file_sha256: str) -> str | None:
        """The ingest id of the earlier publication of the same file, if any."""
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(statement_files.c.ingest_id)
                    .where(
                        statement_files.c.tenant_id == tenant_id,
                        statement_files.c.file_sha256 == file_sha256,
                        statement_files.c.status == IngestStatus.PUBLISHED.value,
                    )
                    .order_by(statement_files.c.received_at)
                    .limit(1)
                )
            ).first()
            return None if row is None else str(row.ingest_id)

    async def save_publication(self, record: IngestRecord, result: ParseResult) -> Publication:
        """Plan what is new in ``result`` and store it with its messages, atomically."""
        for attempt in range(_ATTEMPTS):
            try:
                async with self._sessions() as session, session.begin():
                    publication = await self._plan(session, record.tenant_id, result)
                    await self._store(session, record, result, publication)
                    return publication
            except IntegrityError:
                if attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def _plan(
        self, session: AsyncSession, tenant_id: str, result: ParseResult
    ) -> Publication:
        line_ids = [line.line_id for _, lines in result.statements for line in lines]
        statement_ids = [header.statement_id for header, _ in result.statements]
        accounts = sorted({header.account.account_id for header, _ in result.statements})
        known_lines: set[str] = set()
        for chunk in _chunks(line_ids):
            rows = await session.execute(
                select(published_lines.c.line_id).where(
                    published_lines.c.tenant_id == tenant_id, published_lines.c.line_id.in_(chunk)
                )
            )
            known_lines.update(row.line_id for row in rows)
        known_statements: set[str] = set()
        for chunk in _chunks(statement_ids):
            rows = await session.execute(
                select(published_statements.c.statement_id).where(
                    published_statements.c.tenant_id == tenant_id,
                    published_statements.c.statement_id.in_(chunk),
                )
            )
            known_statements.update(row.statement_id for row in rows)
        last_sequence: dict[str, int] = {}
        if accounts:
            rows = await session.execute(
                select(
                    published_statements.c.account_id,
                    func.max(published_statements.c.electronic_sequence_number).label("last"),
                )
                .where(
                    published_statements.c.tenant_id == tenant_id,
                    published_statements.c.account_id.in_(accounts),
                )
                .group_by(published_statements.c.account_id)
            )
            last_sequence = {row.account_id: int(row.last) for row in rows if row.last is not None}
        return plan_publication(
            result,
            tenant_id=tenant_id,
            published_line_ids=known_lines,
            published_statement_ids=known_statements,
            last_sequence_by_account=last_sequence,
        )

    async def _store(
        self,
        session: AsyncSession,
        record: IngestRecord,
        result: ParseResult,
        publication: Publication,
    ) -> None:
        tenant_id, ingest_id = record.tenant_id, record.ingest_id
        statement_of = {
            line.line_id: header.statement_id
            for header, lines in result.statements
            for line in lines
        }
        if publication.new_line_ids:
            await session.execute(
                insert(published_lines),
                [
                    {
                        "tenant_id": tenant_id,
                        "line_id": line_id,
                        "statement_id": statement_of[line_id],
                        "ingest_id": ingest_id,
                    }
                    for line_id in publication.new_line_ids
                ],
            )
        if publication.new_statements:
            await session.execute(
                insert(published_statements),
                [
                    {
                        "tenant_id": tenant_id,
                        "statement_id": known.statement_id,
                        "account_id": known.account_id,
                        "electronic_sequence_number": known.electronic_sequence_number,
                        "ingest_id": ingest_id,
                    }
                    for known in publication.new_statements
                ],
            )
        if publication.messages:
            await session.execute(
                insert(outbox),
                [
                    {
                        "topic": message.topic.name,
                        "message_key": message.key,
                        "message_type": message.envelope.type,
                        "value": encode_envelope(message.envelope),
                        "created_at": record.completed_at or record.received_at,
                        "published_at": None,
                    }
                    for message in publication.messages
                ],
            )
        record.status = IngestStatus.PUBLISHED
        record.source_format = result.source_format
        record.statements = len(result.statements)
        record.lines_published = publication.lines_published
        record.lines_already_published = publication.lines_already_published
        record.diagnostics = [*result.diagnostics, *publication.diagnostics]
        await _upsert_record(session, record)

    async def save_record(self, record: IngestRecord) -> None:
        """Store a file's record as it is (received, duplicate or refused)."""
        async with self._sessions() as session, session.begin():
            await _upsert_record(session, record)

    async def record(self, tenant_id: str, ingest_id: str) -> IngestRecord | None:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(statement_files).where(
                        statement_files.c.tenant_id == tenant_id,
                        statement_files.c.ingest_id == ingest_id,
                    )
                )
            ).first()
            return None if row is None else _record_of(row._mapping)

    async def received_records(self) -> list[IngestRecord]:
        """Files received (webhooks) but not read yet, oldest first: read them at start-up."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(statement_files)
                .where(statement_files.c.status == IngestStatus.RECEIVED.value)
                .order_by(statement_files.c.received_at)
            )
            return [_record_of(row._mapping) for row in rows]

    # -- credentials

    async def add_api_key(
        self, tenant_id: str, issued: IssuedApiKey, *, label: str | None, now: datetime
    ) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                insert(api_keys).values(
                    key_id=issued.key_id,
                    tenant_id=tenant_id,
                    key_hash=issued.key_hash,
                    label=label,
                    created_at=now,
                    revoked_at=None,
                )
            )

    async def api_key(self, key_id: str) -> tuple[str, str] | None:
        """``(tenant id, key hash)`` of an unrevoked key."""
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(api_keys.c.tenant_id, api_keys.c.key_hash).where(
                        api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None)
                    )
                )
            ).first()
            return None if row is None else (str(row.tenant_id), str(row.key_hash))

    async def revoke_api_key(self, tenant_id: str, key_id: str, *, now: datetime) -> bool:
        async with self._sessions() as session, session.begin():
            done = await session.execute(
                update(api_keys)
                .where(
                    api_keys.c.tenant_id == tenant_id,
                    api_keys.c.key_id == key_id,
                    api_keys.c.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
            return bool(getattr(done, "rowcount", 0))

    async def webhook_secret(self, tenant_id: str) -> str | None:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(webhook_secrets.c.secret).where(webhook_secrets.c.tenant_id == tenant_id)
                )
            ).first()
            return None if row is None else str(row.secret)

    async def set_webhook_secret(self, tenant_id: str, secret: str, *, now: datetime) -> None:
        async with self._sessions() as session, session.begin():
            done = await session.execute(
                update(webhook_secrets)
                .where(webhook_secrets.c.tenant_id == tenant_id)
                .values(secret=secret, created_at=now)
            )
            if not getattr(done, "rowcount", 0):
                await session.execute(
                    insert(webhook_secrets).values(
                        tenant_id=tenant_id, secret=secret, created_at=now
                    )
                )


async def _upsert_record(session: AsyncSession, record: IngestRecord) -> None:
    values = {
        "tenant_id": record.tenant_id,
        "file_sha256": record.file_sha256,
        "filename": record.filename,
        "received_via": record.received_via,
        "received_at": record.received_at,
        "completed_at": record.completed_at,
        "status": record.status.value,
        "source_format": record.source_format,
        "statements": record.statements,
        "lines_published": record.lines_published,
        "lines_already_published": record.lines_already_published,
        "duplicate_of": record.duplicate_of,
        "error_code": record.error_code,
        "error_message": record.error_message,
        "diagnostics": json.dumps([d.as_json() for d in record.diagnostics]),
        "spool_path": record.spool_path,
    }
    done = await session.execute(
        update(statement_files)
        .where(statement_files.c.ingest_id == record.ingest_id)
        .values(**values)
    )
    if not getattr(done, "rowcount", 0):
        await session.execute(insert(statement_files).values(ingest_id=record.ingest_id, **values))


def _record_of(row: Any) -> IngestRecord:
    return IngestRecord(
        ingest_id=row["ingest_id"],
        tenant_id=row["tenant_id"],
        file_sha256=row["file_sha256"],
        received_via=row["received_via"],
        received_at=row["received_at"],
        status=IngestStatus(row["status"]),
        filename=row["filename"],
        completed_at=row["completed_at"],
        source_format=row["source_format"],
        statements=row["statements"],
        lines_published=row["lines_published"],
        lines_already_published=row["lines_already_published"],
        duplicate_of=row["duplicate_of"],
        error_code=row["error_code"],
        error_message=row["error_message"],
        diagnostics=[
            Diagnostic(d["code"], d["message"], d.get("statement"))
            for d in json.loads(row["diagnostics"] or "[]")
        ],
        spool_path=row["spool_path"],
    )


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]
