"""Ingest's store on SQLAlchemy Core: received files, published ids, credentials, outbox.

A key's change (issued, revoked) and the key's record for the credentials topic are written
in the same transaction, so the other services learn of every change ingest committed.

``file_publication`` is the one write that matters: a file's new lines and statements, their
ids and their messages in the outbox are written batch by batch as the file is read, all in
one transaction that commits with the file's record at the end, so a crash or a refusal
anywhere in the file publishes nothing of it, and an accepted file is remembered and
published (through the relay) whole. Memory stays that of one batch: what was published
before is asked of the database per batch, and the batch's new ids are written before the
next is asked about, so the same query sees the lines published earlier in the file too.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction, async_sessionmaker

from bankrec.contracts import (
    STATEMENTS,
    ApiKeyRecord,
    Envelope,
    StatementHeader,
    StatementLine,
    Topic,
)
from bankrec.ingest.adapters.tables import (
    api_keys,
    outbox,
    published_lines,
    published_statements,
    statement_files,
    webhook_secrets,
)
from bankrec.ingest.domain.messages import OutgoingMessage, api_key_message
from bankrec.ingest.domain.model import (
    Diagnostic,
    FileRead,
    IngestRecord,
    IngestStatus,
    LinesRead,
    StatementEvent,
    StatementRead,
)
from bankrec.ingest.domain.publication import FilePublication
from bankrec.ingest.use_cases import PublicationConflict, PublishedFile
from bankrec.runtime import encode_envelope, stage_message
from bankrec.runtime.tenant_keys import IssuedApiKey
from bankrec.runtime.tracing import STAGED_TRACE_CONTEXTS

_CHUNK = 500  # ids per IN (...) query: well inside every database's parameter limit


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

    @contextlib.asynccontextmanager
    async def file_publication(self, record: IngestRecord) -> AsyncIterator[SqlFilePublication]:
        """One transaction for one file: events are added as the file is read; it commits
        when the block ends and rolls back if it raises (a refusal: nothing published). A
        concurrent upload that published the same line or statement first makes the commit
        fail with ``PublicationConflict``: read the file again."""
        try:
            async with self._sessions() as session, session.begin():
                publication = SqlFilePublication(session, record)
                await publication.begin()
                yield publication
        except IntegrityError as exc:
            raise PublicationConflict(str(exc.orig)) from exc

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
        """Store a new key and stage its record for the credentials topic, in one transaction."""
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
            await _stage_api_key(session, issued.key_id)

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
        """Revoke an active key and stage its revoked record, in one transaction."""
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
            if not getattr(done, "rowcount", 0):
                return False
            await _stage_api_key(session, key_id)
            return True

    async def republish_api_keys(self) -> int:
        """Stage every key's current record again (revoked ones too, so a revocation
        outlives compaction); returns how many."""
        async with self._sessions() as session, session.begin():
            rows = (await session.execute(select(api_keys).order_by(api_keys.c.created_at))).all()
            for row in rows:
                await stage_message(session, outbox, *_api_key_message(row._mapping))
            return len(rows)

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


class SqlFilePublication:
    """One file's publication inside the transaction ``file_publication`` opened.

    A statement's header message is published before its lines, although the header is read
    after them: its outbox row is taken (empty) when the statement's first lines are stored
    and filled when it closes, so the relay, which reads committed rows in order, publishes
    header then lines, as for a file read whole.
    """

    def __init__(self, session: AsyncSession, record: IngestRecord) -> None:
        self._session = session
        self._record = record
        self._tenant_id = record.tenant_id
        self._created_at = record.received_at
        self._savepoint: AsyncSessionTransaction | None = None
        self._plan = FilePublication(tenant_id=record.tenant_id, file_sha256=record.file_sha256)
        # statement number -> (published before, outbox id held for its header)
        self._open: dict[int, tuple[bool, int | None]] = {}
        self._file: FileRead | None = None

    async def begin(self) -> None:
        self._savepoint = await self._session.begin_nested()

    async def restart(self) -> None:
        """Drop everything added so far (the file is read again: ``ReadAgain``)."""
        if self._savepoint is not None:
            await self._savepoint.rollback()
        self._plan = FilePublication(
            tenant_id=self._tenant_id, file_sha256=self._record.file_sha256
        )
        self._open = {}
        self._file = None
        await self.begin()

    async def add(self, event: StatementEvent) -> None:
        if isinstance(event, LinesRead):
            await self._add_lines(event.statement, event.lines)
        elif isinstance(event, StatementRead):
            await self._close(event)
        else:
            self._file = event

    async def finish(self) -> PublishedFile:
        """Record the file as published (in the same transaction) and say what it added."""
        file = self._file
        if file is None:  # pragma: no cover - the use case adds every event of the file
            raise AssertionError("a statement file is finished before it was read to its end")
        record = self._record
        record.status = IngestStatus.PUBLISHED
        record.source_format = file.source_format
        record.statements = len(file.statements)
        record.lines_published = self._plan.lines_published
        record.lines_already_published = self._plan.lines_already_published
        record.diagnostics = [*file.diagnostics, *self._plan.diagnostics]
        await _upsert_record(self._session, record)
        return PublishedFile(
            file=file,
            lines_published=self._plan.lines_published,
            lines_already_published=self._plan.lines_already_published,
        )

    # -- lines and statements

    async def _add_lines(self, statement: int, lines: Sequence[StatementLine]) -> None:
        if statement not in self._open:
            first = lines[0]
            published_before = await self._statement_published(first.statement_id)
            held = None
            if not published_before:
                held = await self._hold_header_row(first.account.account_id)
            self._open[statement] = (published_before, held)
        published = await self._published_lines([line.line_id for line in lines])
        fresh = self._plan.new_lines(statement, lines, published)
        if not fresh:
            return
        await self._session.execute(
            insert(published_lines),
            [
                {
                    "tenant_id": self._tenant_id,
                    "line_id": line.line_id,
                    "statement_id": line.statement_id,
                    "ingest_id": self._record.ingest_id,
                }
                for line in fresh
            ],
        )
        await self._stage(self._plan.line_messages(fresh))

    async def _close(self, event: StatementRead) -> None:
        header = event.header
        opened = self._open.pop(event.statement, None)
        if opened is None:  # a statement without lines
            opened = (await self._statement_published(header.statement_id), None)
        published_before, held = opened
        account_id = header.account.account_id
        if self._plan.needs_last_sequence(account_id):
            self._plan.tell_last_sequence(account_id, await self._last_sequence(account_id))
        closed = self._plan.close_statement(
            event.statement, header, published_before=published_before
        )
        if closed.message is None:
            if held is not None:
                await self._session.execute(delete(outbox).where(outbox.c.id == held))
        elif held is None:
            await self._stage([closed.message])
        else:
            await self._session.execute(
                update(outbox)
                .where(outbox.c.id == held)
                .values(value=encode_envelope(closed.message.envelope))
            )
        if closed.known is not None:
            await self._session.execute(
                insert(published_statements).values(
                    tenant_id=self._tenant_id,
                    statement_id=closed.known.statement_id,
                    account_id=closed.known.account_id,
                    electronic_sequence_number=closed.known.electronic_sequence_number,
                    ingest_id=self._record.ingest_id,
                )
            )

    # -- queries (they see this transaction's own writes: earlier batches of the file)

    async def _statement_published(self, statement_id: str) -> bool:
        row = (
            await self._session.execute(
                select(published_statements.c.statement_id).where(
                    published_statements.c.tenant_id == self._tenant_id,
                    published_statements.c.statement_id == statement_id,
                )
            )
        ).first()
        return row is not None

    async def _published_lines(self, line_ids: list[str]) -> set[str]:
        known: set[str] = set()
        for chunk in _chunks(line_ids):
            rows = await self._session.execute(
                select(published_lines.c.line_id).where(
                    published_lines.c.tenant_id == self._tenant_id,
                    published_lines.c.line_id.in_(chunk),
                )
            )
            known.update(row.line_id for row in rows)
        return known

    async def _last_sequence(self, account_id: str) -> int | None:
        """The account's highest published sequence number before this file (asked before
        the file's first statement of the account is stored)."""
        last = (
            await self._session.execute(
                select(func.max(published_statements.c.electronic_sequence_number)).where(
                    published_statements.c.tenant_id == self._tenant_id,
                    published_statements.c.account_id == account_id,
                )
            )
        ).scalar()
        return None if last is None else int(last)

    # -- outbox

    async def _hold_header_row(self, account_id: str) -> int:
        """An outbox row for a header still to come, so it is published before its lines."""
        done = await self._session.execute(
            insert(outbox)
            .values(
                topic=STATEMENTS.name,
                message_key=STATEMENTS.key_for(self._tenant_id, account_id),
                message_type=StatementHeader.MESSAGE_TYPE,
                value=b"",
                created_at=self._created_at,
                published_at=None,
            )
            .returning(outbox.c.id)
        )
        return int(done.scalar_one())

    async def _stage(self, messages: Sequence[OutgoingMessage]) -> None:
        for message in messages:  # the relay publishes them in the file's trace
            STAGED_TRACE_CONTEXTS.remember(message.envelope.message_id)
        await self._session.execute(
            insert(outbox),
            [
                {
                    "topic": message.topic.name,
                    "message_key": message.key,
                    "message_type": message.envelope.type,
                    "value": encode_envelope(message.envelope),
                    "created_at": self._created_at,
                    "published_at": None,
                }
                for message in messages
            ],
        )


async def _stage_api_key(session: AsyncSession, key_id: str) -> None:
    """Stage the key's record as the transaction now holds it."""
    row = (await session.execute(select(api_keys).where(api_keys.c.key_id == key_id))).one()
    await stage_message(session, outbox, *_api_key_message(row._mapping))


def _api_key_message(row: Any) -> tuple[Topic, str, Envelope[Any]]:
    message = api_key_message(
        ApiKeyRecord(
            key_id=row["key_id"],
            tenant_id=row["tenant_id"],
            key_hash=row["key_hash"],
            created_at=_aware(row["created_at"]),
            revoked_at=None if row["revoked_at"] is None else _aware(row["revoked_at"]),
        )
    )
    return message.topic, message.key, message.envelope


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every one stored here was UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


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
