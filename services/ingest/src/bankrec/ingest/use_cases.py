"""Ingesting a statement file: read it as a stream, store what is new, publish at the end.

A file of any size is read in constant memory (``read_statement_file``, in a thread of its
own so the event loop stays responsive) to its end, its events spooled to disk: a file
refused anywhere, even in its last entry, stores and publishes nothing. Then what is new in
it (lines and statements never published for the tenant) is stored with its messages batch
by batch in ONE transaction per file (``IngestStore.file_publication``). The outbox
relay then publishes, right away when it can and later when the broker is away, so an
accepted file is never lost and never doubled. Uploads and webhook bodies arrive spooled to
a file (``api``); webhook bodies are recorded before they are answered, then queued for a
fixed number of background readers (and at start-up, for any a crash left unread).

The transaction never waits on the parser, and at most ``file_reads_max`` files are stored
at once, uploads, webhooks and bank pulls together: under load files wait their turn instead
of taking every connection of the pool. A webhook file whose read fails for another reason
than a refusal (database or disk away) stays ``received``, is logged with its ingest id and
read again after ``retry_delays_seconds``, and at the next start after the last retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import hashlib
import logging
import pickle
import threading
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol, TypeVar

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
_T = TypeVar("_T")

PUBLISH_ATTEMPTS = 3  # a concurrent upload of an overlapping statement may win a unique id
FILE_READS_MAX_DEFAULT = 4
RETRY_DELAYS_SECONDS: tuple[float, ...] = (1.0, 5.0, 30.0)
"""Waits before a webhook file whose read failed is read again; after the last failure it
waits, ``received``, for the next start."""
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
        publish_soon: Callable[[], None] | None = None,
        upload_bytes_max: int,
        spool_dir: Path,
        webhook_window_seconds: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        schemas: CamtSchemas | None = None,
        file_reads_max: int = FILE_READS_MAX_DEFAULT,
        retry_delays_seconds: Sequence[float] = RETRY_DELAYS_SECONDS,
    ) -> None:
        self._store = store
        self._schemas = schemas  # camt schema problems become diagnostics when set
        self._publish_now = publish_now
        self._publish_soon = publish_soon
        self.upload_bytes_max = upload_bytes_max
        self._spool_dir = spool_dir
        self._webhook_window_seconds = webhook_window_seconds
        self._clock = clock
        self._file_reads = asyncio.Semaphore(file_reads_max)
        self._readers_max = file_reads_max
        self._retry_delays_seconds = tuple(retry_delays_seconds)
        self._unread: asyncio.Queue[_Unread] | None = None  # made in the loop on first use
        self._readers: set[asyncio.Task[None]] = set()
        self._retries: set[asyncio.Task[None]] = set()

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
        *,
        answered: bool = False,
    ) -> IngestOutcome:
        """``answered``: no one waits for this read (a webhook), so the relay is only woken
        and the reader goes on to the next file instead of waiting for the broker."""
        published = await self._store_file(record, file, statement_format, account_number)
        if published is None:
            return IngestOutcome(record)
        try:
            if answered and self._publish_soon is not None:
                self._publish_soon()
            else:
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

    async def _store_file(
        self,
        record: IngestRecord,
        file: bytes | Path | BinaryIO,
        statement_format: str | None,
        account_number: str | None,
    ) -> PublishedFile | None:
        """Store the file's new lines and statements (None: the same file was published
        before); a refusal is recorded, then raised."""
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
            return None
        reading = _Reading(
            file,
            tenant_id=record.tenant_id,
            statement_format=statement_format,
            upload_bytes_max=self.upload_bytes_max,
            account_number=account_number,
            schemas=self._schemas,
            spool_dir=self._spool_dir,
        )
        try:
            return await self._publish(record, reading)
        except IngestError as refusal:
            record.status = IngestStatus.REFUSED
            record.error_code = refusal.code
            record.error_message = refusal.message
            record.completed_at = self._clock()
            record.spool_path = None
            await self._store.save_record(record)
            raise

    async def _publish(self, record: IngestRecord, reading: _Reading) -> PublishedFile:
        """Read the file to its end (a refusal raises before anything is stored), then store
        its events in one transaction that commits at the end. The transaction never waits
        on the parser, and at most ``file_reads_max`` of them run at once."""
        try:
            await reading.read()
            for attempt in range(1, PUBLISH_ATTEMPTS + 1):
                try:
                    async with (
                        self._file_reads,
                        self._store.file_publication(record) as publication,
                    ):
                        async with contextlib.aclosing(reading.events()) as events:
                            async for event in events:
                                await publication.add(event)
                        record.completed_at = self._clock()
                        record.spool_path = None
                        return await publication.finish()
                except PublicationConflict:
                    if attempt == PUBLISH_ATTEMPTS:
                        raise
                    log.info(
                        "another file published some of the same lines first; storing again",
                        extra={"tenant_id": record.tenant_id, "correlation_id": record.file_sha256},
                    )
            raise AssertionError("unreachable")  # pragma: no cover
        finally:
            await reading.discard()

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

    def _received_spool(self, ingest_id: str) -> Path:
        """Where a received webhook body waits until it is read."""
        return self._spool_dir / f"{ingest_id}.bin"

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
        spool = self._received_spool(ingest_id)
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

    def _read_later(self, record: IngestRecord, *, attempt: int = 1) -> None:
        """Queue a received file for the background readers (started on first use)."""
        if self._unread is None:
            self._unread = asyncio.Queue()
        while len(self._readers) < self._readers_max:
            reader = asyncio.create_task(
                self._read_queued(self._unread), name=f"ingest-reader-{len(self._readers)}"
            )
            self._readers.add(reader)
            reader.add_done_callback(self._reader_stopped)
        self._unread.put_nowait(_Unread(record, attempt))

    async def _read_queued(self, unread: asyncio.Queue[_Unread]) -> None:
        """One background reader: received files, one at a time, until cancelled."""
        while True:
            queued = await unread.get()
            try:
                await asyncio.create_task(
                    self._read_spooled(queued.record), context=queued.received_in
                )
            except Exception as exc:  # anything but a refusal (recorded by _read)
                self._read_failed(queued, exc)
            finally:
                unread.task_done()

    def _read_failed(self, queued: _Unread, error: Exception) -> None:
        """Log a failed read with its ingest id; the file stays ``received`` (its spool file
        kept) and is read again after a delay, or at the next start after the last one."""
        record = queued.record
        context = {
            "tenant_id": record.tenant_id,
            "ingest_id": record.ingest_id,
            "correlation_id": record.file_sha256,
        }
        if queued.attempt > len(self._retry_delays_seconds):
            log.error(
                "received file %s not read after %d attempts (%s: %s); it stays received and "
                "is read again at the next start",
                record.ingest_id,
                queued.attempt,
                type(error).__name__,
                str(error)[:300],
                exc_info=error,
                extra=context,
            )
            return
        delay = self._retry_delays_seconds[queued.attempt - 1]
        log.warning(
            "received file %s not read (attempt %d: %s: %s); reading it again in %.0f s",
            record.ingest_id,
            queued.attempt,
            type(error).__name__,
            str(error)[:300],
            delay,
            exc_info=error if queued.attempt == 1 else None,  # the traceback once
            extra=context,
        )
        retry = asyncio.create_task(
            self._read_again(record, queued.attempt + 1, delay),
            name=f"ingest-retry-{record.ingest_id}",
        )
        self._retries.add(retry)
        retry.add_done_callback(self._retry_done)

    async def _read_again(self, record: IngestRecord, attempt: int, delay_seconds: float) -> None:
        """Queue a file again after a delay, as the database now has it: the failed attempt
        may have committed after all (then there is nothing left to read)."""
        await asyncio.sleep(delay_seconds)
        try:
            stored = await self._store.record(record.tenant_id, record.ingest_id)
        except Exception as exc:
            self._read_failed(_Unread(record, attempt), exc)
            return
        if stored is None or stored.status is not IngestStatus.RECEIVED:
            spool = self._received_spool(record.ingest_id)
            await asyncio.to_thread(spool.unlink, missing_ok=True)  # read: no longer needed
            return
        self._read_later(stored, attempt=attempt)

    def _retry_done(self, task: asyncio.Task[None]) -> None:
        self._retries.discard(task)
        _log_unexpected_end(task)

    def _reader_stopped(self, task: asyncio.Task[None]) -> None:
        self._readers.discard(task)
        _log_unexpected_end(task)

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
            await self._read(record, spool, None, answered=True)
        await asyncio.to_thread(spool.unlink, missing_ok=True)

    async def read_pending(self) -> int:
        """Queue the files received before a restart but not read (webhook bodies, and any
        whose read failed); returns how many."""
        pending = await self._store.received_records()
        for record in pending:
            self._read_later(record)
        return len(pending)

    async def drain(self) -> None:
        """Read every queued file, then stop the readers (at shutdown and in tests). Files
        waiting to be read again after a failure stay ``received`` for the next start."""
        if self._unread is not None:
            await self._unread.join()
        # then the waits for a retry (one may have begun during the join) and the readers
        waiting = [*self._retries, *self._readers]
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        self._unread = None

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
class _Unread:
    """A received file waiting for a background reader; ``attempt`` counts from 1."""

    record: IngestRecord
    attempt: int
    # the context the file was received in (its request's trace, log fields), so reading it
    # later in a reader task still belongs to the webhook that brought it
    received_in: contextvars.Context = field(default_factory=contextvars.copy_context)


def _log_unexpected_end(task: asyncio.Task[None]) -> None:
    """Retrieve a background task's exception (a reader or a retry ends only when
    cancelled), so none is left for "Task exception was never retrieved"."""
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error(
            "background task %s of ingest stopped: %r", task.get_name(), error, exc_info=error
        )


@dataclass(frozen=True, slots=True)
class SpooledBody:
    """A request body written to a file as it was received (``api``): its SHA-256 and, for
    a webhook, its HMAC-SHA256 signature computed on the way."""

    path: Path
    size_bytes: int
    sha256: str
    signature: str | None = None


class _Reading:
    """A file read to its end before any of it is stored: its events (a statement's lines in
    batches, its header, the file's summary) are pickled one after another to a file in the
    spool directory, so memory stays that of one batch and the file's database transaction
    never waits on the parser; ``events`` gives them back, as often as asked.

    The parse runs in a thread of its own, not in the event loop's executor, whose few
    threads every ``asyncio.to_thread`` of the process shares (a read holding one for its
    whole file starved the requests' spool writes under load). One thread reads the whole
    file: lxml's parser and elements must stay in the thread that made them.
    """

    def __init__(
        self,
        file: bytes | Path | BinaryIO,
        *,
        tenant_id: str,
        statement_format: str | None,
        upload_bytes_max: int,
        account_number: str | None,
        spool_dir: Path,
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
        self._spool_dir = spool_dir
        self._events_path = spool_dir / f"{uuid.uuid4()}.events"
        self._count = 0

    async def read(self) -> None:
        """Read the whole file; raises its ``IngestError`` when it is refused."""
        await asyncio.to_thread(self._spool_dir.mkdir, parents=True, exist_ok=True)
        hints: ReadingHints | None = None
        while True:
            try:
                self._count = await _in_own_thread(
                    functools.partial(self._read_all, hints), name="ingest-reader"
                )
                return
            except ReadAgain as again:  # rare: see read_statement_file
                hints = again.hints

    def _read_all(self, hints: ReadingHints | None, stop: threading.Event) -> int:
        count = 0
        try:
            with self._events_path.open("wb") as stream:
                for event in read_statement_file(self._file, hints=hints, **self._options):  # type: ignore[arg-type]
                    if stop.is_set():
                        raise _ReadingStopped
                    pickle.dump(event, stream, protocol=pickle.HIGHEST_PROTOCOL)
                    count += 1
        except _ReadingStopped:
            self._events_path.unlink(missing_ok=True)  # discard() may have run before it existed
            raise
        return count

    async def events(self) -> AsyncGenerator[StatementEvent, None]:
        """The file's events, in the order read."""
        stream = await asyncio.to_thread(self._events_path.open, "rb")
        try:
            for _ in range(self._count):
                event: StatementEvent = await asyncio.to_thread(pickle.load, stream)
                yield event
        finally:
            await asyncio.to_thread(stream.close)

    async def discard(self) -> None:
        await asyncio.to_thread(self._events_path.unlink, missing_ok=True)


class _ReadingStopped(Exception):  # noqa: N818 - a signal to the reader thread, not an error
    """No one waits for the read any more (its task was cancelled)."""


def _in_own_thread(work: Callable[[threading.Event], _T], *, name: str) -> asyncio.Future[_T]:
    """``work`` run in a new thread; cancelling the future sets the event it is given, so it
    can stop early."""
    loop = asyncio.get_running_loop()
    outcome: asyncio.Future[_T] = loop.create_future()
    stop = threading.Event()
    outcome.add_done_callback(lambda future: stop.set() if future.cancelled() else None)

    def settle(result: _T | None, error: BaseException | None) -> None:
        if outcome.done():  # cancelled meanwhile
            return
        if error is not None:
            outcome.set_exception(error)
        else:
            outcome.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result = work(stop)
        except BaseException as exc:  # a refusal or ReadAgain: the awaiting task raises it
            error: BaseException | None = exc
            result = None
        else:
            error = None
        with contextlib.suppress(RuntimeError):  # the loop closed: no one is listening
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name=name, daemon=True).start()
    return outcome


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
