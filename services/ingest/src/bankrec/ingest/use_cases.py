"""Ingesting a statement file: read it completely, then store what is new with its messages.

Reading first means a file that cannot be read publishes nothing. What is new (lines and
statements never published for the tenant) is stored with its messages in one transaction
(``SqlIngestStore.save_publication``); the outbox relay publishes them, right away when it
can and later when the broker is away, so an accepted file is never lost and never doubled.
Webhook bodies are spooled to disk and recorded before they are answered, then read in the
background (and at start-up, for any a crash left unread).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from bankrec.ingest.domain import ParseResult, file_sha256, parse_statement_file
from bankrec.ingest.domain.credentials import (
    IssuedApiKey,
    api_key_matches,
    issue_api_key,
    issue_webhook_secret,
    split_api_key,
    verify_webhook,
)
from bankrec.ingest.domain.model import IngestRecord, IngestStatus
from bankrec.ingest.domain.publication import Publication
from bankrec.ingest.errors import ApiKeyRefused, IngestError, IngestNotFound, TenantForbidden

log = logging.getLogger(__name__)


class IngestStore(Protocol):
    async def published_file(self, tenant_id: str, file_sha256: str) -> str | None: ...
    async def save_publication(self, record: IngestRecord, result: ParseResult) -> Publication: ...
    async def save_record(self, record: IngestRecord) -> None: ...
    async def record(self, tenant_id: str, ingest_id: str) -> IngestRecord | None: ...
    async def received_records(self) -> list[IngestRecord]: ...
    async def add_api_key(
        self, tenant_id: str, issued: IssuedApiKey, *, label: str | None, now: datetime
    ) -> None: ...
    async def api_key(self, key_id: str) -> tuple[str, str] | None: ...
    async def revoke_api_key(self, tenant_id: str, key_id: str, *, now: datetime) -> bool: ...
    async def webhook_secret(self, tenant_id: str) -> str | None: ...
    async def set_webhook_secret(self, tenant_id: str, secret: str, *, now: datetime) -> None: ...


@dataclass(slots=True)
class IngestOutcome:
    """The file's record and, when it was read now, what it held."""

    record: IngestRecord
    result: ParseResult | None = None


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
    ) -> None:
        self._store = store
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
        data: bytes,
        *,
        statement_format: str | None = None,
        filename: str | None = None,
        via: str = "upload",
        ingest_id: str | None = None,
        account_number: str | None = None,
    ) -> IngestOutcome:
        """Read the file and stage its new messages; raises ``IngestError`` when refused
        (after recording the refusal, so the status endpoint can tell)."""
        record = IngestRecord(
            ingest_id=ingest_id or str(uuid.uuid4()),
            tenant_id=tenant_id,
            file_sha256=file_sha256(data),
            received_via=via,
            received_at=self._clock(),
            status=IngestStatus.RECEIVED,
            filename=filename,
        )
        return await self._read(record, data, statement_format, account_number)

    async def _read(
        self,
        record: IngestRecord,
        data: bytes,
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
        try:
            # reading a large file takes a while: keep the event loop (and /health) responsive
            result = await asyncio.to_thread(
                parse_statement_file,
                data,
                tenant_id=record.tenant_id,
                statement_format=statement_format,
                upload_bytes_max=self.upload_bytes_max,
                account_number=account_number,
            )
        except IngestError as refusal:
            record.status = IngestStatus.REFUSED
            record.error_code = refusal.code
            record.error_message = refusal.message
            record.completed_at = self._clock()
            record.spool_path = None
            await self._store.save_record(record)
            raise
        record.completed_at = self._clock()
        record.spool_path = None
        publication = await self._store.save_publication(record, result)
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
            len(result.statements),
            publication.lines_published,
            publication.lines_already_published,
            extra={"tenant_id": record.tenant_id, "correlation_id": record.file_sha256},
        )
        return IngestOutcome(record, result)

    async def status(self, tenant_id: str, ingest_id: str) -> IngestRecord:
        record = await self._store.record(tenant_id, ingest_id)
        if record is None:
            raise IngestNotFound(f"no file with ingest id {ingest_id!r} for this tenant")
        return record

    # -- webhooks

    async def receive_webhook(
        self,
        tenant_id: str,
        body: bytes,
        *,
        timestamp: str | None,
        signature: str | None,
        filename: str | None,
    ) -> IngestRecord:
        """Check the signature, spool and record the body, read it in the background."""
        verify_webhook(
            secret=await self._store.webhook_secret(tenant_id),
            timestamp=timestamp,
            signature=signature,
            body=body,
            now=self._clock(),
            window_seconds=self._webhook_window_seconds,
        )
        ingest_id = str(uuid.uuid4())
        await asyncio.to_thread(self._spool_dir.mkdir, parents=True, exist_ok=True)
        spool = self._spool_dir / f"{ingest_id}.bin"
        await asyncio.to_thread(spool.write_bytes, body)
        record = IngestRecord(
            ingest_id=ingest_id,
            tenant_id=tenant_id,
            file_sha256=file_sha256(body),
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
        try:
            data = await asyncio.to_thread(spool.read_bytes)
        except FileNotFoundError:
            record.status = IngestStatus.REFUSED
            record.error_code = "spool_lost"
            record.error_message = "the received body was lost before it was read; send it again"
            record.spool_path = None
            await self._store.save_record(record)
            return
        with contextlib.suppress(IngestError):  # recorded as refused by _read
            await self._read(record, data, None)
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
        key_id, secret = split_api_key(presented)
        stored = await self._store.api_key(key_id)
        if stored is None or not api_key_matches(secret, stored[1]):
            raise ApiKeyRefused("the API key is unknown or revoked")
        return stored[0]

    async def authorize(self, presented: str | None, tenant_id: str) -> None:
        if await self.tenant_of_api_key(presented) != tenant_id:
            raise TenantForbidden("the API key does not belong to this tenant")

    async def create_api_key(self, tenant_id: str, label: str | None = None) -> IssuedApiKey:
        issued = issue_api_key()
        await self._store.add_api_key(tenant_id, issued, label=label, now=self._clock())
        return issued

    async def revoke_api_key(self, tenant_id: str, key_id: str) -> None:
        if not await self._store.revoke_api_key(tenant_id, key_id, now=self._clock()):
            raise IngestNotFound(f"no active API key {key_id!r} for this tenant")

    async def rotate_webhook_secret(self, tenant_id: str) -> str:
        secret = issue_webhook_secret()
        await self._store.set_webhook_secret(tenant_id, secret, now=self._clock())
        return secret
