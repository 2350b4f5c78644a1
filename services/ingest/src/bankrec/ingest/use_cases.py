"""Ingesting a statement file: read it as a stream, store what is new, publish at the end.

A file of any size is read in constant memory (``read_statement_file``, in a worker thread so
the event loop stays responsive) and what is new in it (lines and statements never published
for the tenant) is stored with its messages batch by batch in ONE transaction per file
(``IngestStore.file_publication``), committed when the file has been read to its end: a
file refused anywhere, even in its last entry, rolls back and publishes nothing. The outbox
relay then publishes, right away when it can and later when the broker is away, so an
accepted file is never lost and never doubled. Uploads and webhook bodies arrive spooled to
a file (``api``); webhook bodies are recorded before they are answered, then read in the
background (and at start-up, for any a crash left unread).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import queue
import threading
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from bankrec.ingest.domain import (
    FileRead,
    ReadAgain,
    ReadingHints,
    StatementEvent,
    read_statement_file,
)
from bankrec.ingest.domain.credentials import issue_webhook_secret, verify_webhook
from bankrec.ingest.domain.model import IngestRecord, IngestStatus
from bankrec.ingest.domain.parsers.camt_schema import CamtSchemas
from bankrec.ingest.errors import ApiKeyRefused, IngestError, IngestNotFound, TenantForbidden
from bankrec.runtime.tenant_keys import (
    ApiKeyMalformed,
    IssuedApiKey,
    api_key_matches,
    issue_api_key,
    parse_api_key,
)

log = logging.getLogger(__name__)

PUBLISH_ATTEMPTS = 3  # a concurrent upload of an overlapping statement may win a unique id
_HASH_CHUNK_BYTES = 1024 * 1024


class PublicationConflict(Exception):  # noqa: N818 - the store's word for "someone was first"
    """Another file published one of this file's lines or statements while it was read;
    reading it again publishes only what is still new."""


@dataclass(frozen=True, slots=True)
class PublishedFile:
    """What a file added, once its publication committed."""

    file: FileRead
    lines_published: int
    lines_already_published: int


class FilePublicationPort(Protocol):
    """One file's publication in one transaction (``IngestStore.file_publication``)."""

    async def add(self, event: StatementEvent) -> None: ...
    async def restart(self) -> None: ...
    async def finish(self) -> PublishedFile: ...


class IngestStore(Protocol):
    async def published_file(self, tenant_id: str, file_sha256: str) -> str | None: ...
    def file_publication(
        self, record: IngestRecord
    ) -> AbstractAsyncContextManager[FilePublicationPort]: ...
    async def save_record(self, record: IngestRecord) -> None: ...
    async def record(self, tenant_id: str, ingest_id: str) -> IngestRecord | None: ...
    async def received_records(self) -> list[IngestRecord]: ...
    async def add_api_key(
        self, tenant_id: str, issued: IssuedApiKey, *, label: str | None, now: datetime
    ) -> None: ...
    async def api_key(self, key_id: str) -> tuple[str, str] | None: ...
    async def revoke_api_key(self, tenant_id: str, key_id: str, *, now: datetime) -> bool: ...
    async def republish_api_keys(self) -> int: ...
    async def webhook_secret(self, tenant_id: str) -> str | None: ...
    async def set_webhook_secret(self, tenant_id: str, secret: str, *, now: datetime) -> None: ...


@dataclass(slots=True)
class IngestOutcome:
    """The file's record and, when it was read now, what it held."""

    record: IngestRecord
    file: FileRead | None = None


class StatementIngest:
    """A tenant's statement file in; its new statements and lines staged for publishing."""

    def __init__(
        self,
        store: IngestStore,
        *,
        publish_now: Callable[[], Awaitable[int]],
        upload_bytes_max: int,
        spool_dir: Path,
        webhook_window_seconds: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        schemas: CamtSchemas | None = None,
    ) -> None:
        self._store = store
        self._schemas = schemas  # camt schema problems become diagnostics when set
        self._publish_now = publish_now
        self.upload_bytes_max = upload_bytes_max
        self._spool_dir = spool_dir
        self._webhook_window_seconds = webhook_window_seconds
        self._clock = clock
        self._background: set[asyncio.Task[None]] = set()

    # -- files

    async def ingest(
        self,
        tenant_id: str,
        file: bytes | Path | BinaryIO,
        *,
        statement_format: str | None = None,
        filename: str | None = None,
        via: str = "upload",
        ingest_id: str | None = None,
        account_number: str | None = None,
        file_sha256: str | None = None,
    ) -> IngestOutcome:
        """Read the file and stage its new messages; raises ``IngestError`` when refused
        (after recording the refusal, so the status endpoint can tell).

        ``file`` is bytes, a path (an upload spooled to disk) or a seekable binary stream;
        ``file_sha256`` is its SHA-256 when the caller hashed it while receiving it."""
        sha256 = file_sha256 if file_sha256 else await asyncio.to_thread(_sha256_of, file)
        record = IngestRecord(
            ingest_id=ingest_id or str(uuid.uuid4()),
            tenant_id=tenant_id,
            file_sha256=sha256,
            received_via=via,
            received_at=self._clock(),
            status=IngestStatus.RECEIVED,
            filename=filename,
        )
        return await self._read(record, file, statement_format, account_number)

    async def _read(
        self,
        record: IngestRecord,
        file: bytes | Path | BinaryIO,
        statement_format: str | None,
        account_number: str | None = None,
    ) -> IngestOutcome:
        earlier = await self._store.published_file(record.tenant_id, record.file_sha256)
        if earlier is not None:
            record.status = IngestStatus.DUPLICATE
            record.duplicate_of = earlier
            record.completed_at = self._clock()
            record.spool_path = None
            await self._store.save_record(record)
            log.info(
                "statement file received again; nothing published",
                extra={"tenant_id": record.tenant_id, "correlation_id": record.file_sha256},
            )
            return IngestOutcome(record)
        reading = _Reading(
            file,
            tenant_id=record.tenant_id,
            statement_format=statement_format,
            upload_bytes_max=self.upload_bytes_max,
            account_number=account_number,
            schemas=self._schemas,
        )
        try:
            published = await self._publish(record, reading)
        except IngestError as refusal:
            record.status = IngestStatus.REFUSED
            record.error_code = refusal.code
            record.error_message = refusal.message
            record.completed_at = self._clock()
            record.spool_path = None
            await self._store.save_record(record)
            raise
        try:
            await self._publish_now()
        except Exception:  # the relay keeps trying in the background
            log.warning(
                "the broker did not take the file's messages yet; they stay in the outbox",
                exc_info=True,
                extra={"tenant_id": record.tenant_id, "correlation_id": record.file_sha256},
            )
        log.info(
            "ingested statement file: %d statement(s), %d new lines, %d already published",
            len(published.file.statements),
            published.lines_published,
            published.lines_already_published,
            extra={"tenant_id": record.tenant_id, "correlation_id": record.file_sha256},
        )
        return IngestOutcome(record, published.file)

    async def _publish(self, record: IngestRecord, reading: _Reading) -> PublishedFile:
        """Read the file into one transaction, batch by batch, and commit it at its end."""
        for attempt in range(1, PUBLISH_ATTEMPTS + 1):
            try:
                async with self._store.file_publication(record) as publication:
                    hints: ReadingHints | None = None
                    while True:
                        try:
                            async with contextlib.aclosing(reading.events(hints)) as events:
                                async for event in events:
                                    await publication.add(event)
                            break
                        except ReadAgain as again:  # rare: see read_statement_file
                            hints = again.hints
                            await publication.restart()
                    record.completed_at = self._clock()
                    record.spool_path = None
                    return await publication.finish()
            except PublicationConflict:
                if attempt == PUBLISH_ATTEMPTS:
                    raise
                log.info(
                    "another file published some of the same lines first; reading again",
                    extra={"tenant_id": record.tenant_id, "correlation_id": record.file_sha256},
                )
        raise AssertionError("unreachable")  # pragma: no cover

    async def status(self, tenant_id: str, ingest_id: str) -> IngestRecord:
        record = await self._store.record(tenant_id, ingest_id)
        if record is None:
            raise IngestNotFound(f"no file with ingest id {ingest_id!r} for this tenant")
        return record

    # -- webhooks

    def spool_file(self) -> Path:
        """A new file in the spool directory for a body being received."""
        self._spool_dir.mkdir(parents=True, exist_ok=True)
        return self._spool_dir / f"{uuid.uuid4()}.part"

    async def webhook_secret(self, tenant_id: str) -> str | None:
        """The tenant's webhook secret, to sign a body with while it is received."""
        return await self._store.webhook_secret(tenant_id)

    async def receive_webhook(
        self,
        tenant_id: str,
        body: SpooledBody,
        *,
        secret: str | None,
        timestamp: str | None,
        signature: str | None,
        filename: str | None,
    ) -> IngestRecord:
        """Check the signature of a spooled body, record it, read it in the background.

        ``secret`` is the tenant's webhook secret the body was signed with while received
        (``webhook_secret``); a refused body's spool file is removed."""
        try:
            verify_webhook(
                secret=secret,
                timestamp=timestamp,
                signature=signature,
                signed_body=body.signature,
                now=self._clock(),
                window_seconds=self._webhook_window_seconds,
            )
        except IngestError:
            await asyncio.to_thread(body.path.unlink, missing_ok=True)
            raise
        ingest_id = str(uuid.uuid4())
        spool = self._spool_dir / f"{ingest_id}.bin"
        await asyncio.to_thread(body.path.replace, spool)
        record = IngestRecord(
            ingest_id=ingest_id,
            tenant_id=tenant_id,
            file_sha256=body.sha256,
            received_via="webhook",
            received_at=self._clock(),
            status=IngestStatus.RECEIVED,
            filename=filename,
            spool_path=str(spool),
        )
        await self._store.save_record(record)
        self._read_later(record)
        return record

    def _read_later(self, record: IngestRecord) -> None:
        task = asyncio.create_task(self._read_spooled(record), name=f"ingest-{record.ingest_id}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _read_spooled(self, record: IngestRecord) -> None:
        if record.spool_path is None:
            return
        spool = Path(record.spool_path)
        if not await asyncio.to_thread(spool.is_file):
            record.status = IngestStatus.REFUSED
            record.error_code = "spool_lost"
            record.error_message = "the received body was lost before it was read; send it again"
            record.spool_path = None
            await self._store.save_record(record)
            return
        with contextlib.suppress(IngestError):  # recorded as refused by _read
            await self._read(record, spool, None)
        await asyncio.to_thread(spool.unlink, missing_ok=True)

    async def read_pending(self) -> int:
        """Read webhook bodies received before a restart; returns how many were started."""
        pending = await self._store.received_records()
        for record in pending:
            self._read_later(record)
        return len(pending)

    async def drain(self) -> None:
        """Wait for background reads (at shutdown and in tests)."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    # -- credentials

    async def tenant_of_api_key(self, presented: str | None) -> str:
        if not presented:
            raise ApiKeyRefused(
                "an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key'"
            )
        try:
            key = parse_api_key(presented)
        except ApiKeyMalformed as exc:
            raise ApiKeyRefused(exc.message) from exc
        stored = await self._store.api_key(key.key_id)
        if stored is None or not api_key_matches(key.secret, stored[1]):
            raise ApiKeyRefused("the API key is unknown or revoked")
        return stored[0]

    async def authorize(self, presented: str | None, tenant_id: str) -> None:
        if await self.tenant_of_api_key(presented) != tenant_id:
            raise TenantForbidden("the API key does not belong to this tenant")

    async def create_api_key(self, tenant_id: str, label: str | None = None) -> IssuedApiKey:
        """Issue a key; its record is staged for the credentials topic with it."""
        issued = issue_api_key()
        await self._store.add_api_key(tenant_id, issued, label=label, now=self._clock())
        await self._publish_key_records(tenant_id)
        return issued

    async def revoke_api_key(self, tenant_id: str, key_id: str) -> None:
        """Revoke a key here at once, and everywhere else once its record is read."""
        if not await self._store.revoke_api_key(tenant_id, key_id, now=self._clock()):
            raise IngestNotFound(f"no active API key {key_id!r} for this tenant")
        await self._publish_key_records(tenant_id)

    async def republish_api_keys(self) -> int:
        """Stage every key's record again (at start-up): keys issued before the credentials
        topic existed reach it, and compaction keeps one record per key anyway."""
        staged = await self._store.republish_api_keys()
        await self._publish_key_records(None)
        return staged

    async def _publish_key_records(self, tenant_id: str | None) -> None:
        """Hand staged key records to the broker now, so a new key works in the other
        services within a moment; when the broker is away the relay keeps trying."""
        try:
            await self._publish_now()
        except Exception:
            log.warning(
                "the broker did not take the API key records yet; they stay in the outbox",
                exc_info=True,
                extra={"tenant_id": tenant_id},
            )

    async def rotate_webhook_secret(self, tenant_id: str) -> str:
        secret = issue_webhook_secret()
        await self._store.set_webhook_secret(tenant_id, secret, now=self._clock())
        return secret


@dataclass(frozen=True, slots=True)
class SpooledBody:
    """A request body written to a file as it was received (``api``): its SHA-256 and, for
    a webhook, its HMAC-SHA256 signature computed on the way."""

    path: Path
    size_bytes: int
    sha256: str
    signature: str | None = None


class _Reading:
    """A file's events, read in a thread of its own (parsing is CPU work; the event loop
    stays free for other requests and /health) a few events ahead of the database writes.

    One thread reads the whole file: lxml's parser and elements must stay in the thread
    that made them (advancing the reader from pool threads in turn crashed the process).
    """

    _AHEAD = 4  # events read ahead of the writer: bounded, so memory stays constant

    def __init__(
        self,
        file: bytes | Path | BinaryIO,
        *,
        tenant_id: str,
        statement_format: str | None,
        upload_bytes_max: int,
        account_number: str | None,
        schemas: CamtSchemas | None = None,
    ) -> None:
        self._file = file
        self._options = {
            "tenant_id": tenant_id,
            "statement_format": statement_format,
            "upload_bytes_max": upload_bytes_max,
            "account_number": account_number,
            "schemas": schemas,
        }

    async def events(self, hints: ReadingHints | None) -> AsyncGenerator[StatementEvent, None]:
        handoff: queue.Queue[StatementEvent | BaseException | None] = queue.Queue(self._AHEAD)
        stop = threading.Event()

        def read() -> None:
            try:
                for event in read_statement_file(self._file, hints=hints, **self._options):  # type: ignore[arg-type]
                    if not _hand_over(handoff, event, stop):
                        return  # the writer stopped listening: leave the rest unread
                _hand_over(handoff, None, stop)
            except BaseException as exc:  # a refusal or ReadAgain: the writer raises it
                _hand_over(handoff, exc, stop)

        reader = threading.Thread(target=read, name="ingest-reader", daemon=True)
        reader.start()
        try:
            while True:
                item = await asyncio.to_thread(handoff.get)
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            await asyncio.to_thread(reader.join)
            with contextlib.suppress(queue.Full):  # wakes a get() a cancelled writer left
                handoff.put_nowait(None)


def _hand_over(
    handoff: queue.Queue[StatementEvent | BaseException | None],
    item: StatementEvent | BaseException | None,
    stop: threading.Event,
) -> bool:
    """Put an item for the writer, waiting while it is busy; False once it stopped."""
    while not stop.is_set():
        try:
            handoff.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _sha256_of(file: bytes | Path | BinaryIO) -> str:
    if isinstance(file, bytes):
        return hashlib.sha256(file).hexdigest()
    digest = hashlib.sha256()
    if isinstance(file, Path):
        with file.open("rb") as stream:
            while chunk := stream.read(_HASH_CHUNK_BYTES):
                digest.update(chunk)
        return digest.hexdigest()
    file.seek(0)
    while chunk := file.read(_HASH_CHUNK_BYTES):
        digest.update(chunk)
    return digest.hexdigest()
