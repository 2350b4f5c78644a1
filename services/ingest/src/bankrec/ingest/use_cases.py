"""Ingesting a statement file: parse it completely, then publish its messages.

Parsing first means a file that cannot be read publishes nothing. Ingest keeps no database:
if the broker fails half way, the upload is answered with ``publish_failed`` and can be sent
again as is; the messages' ids are deterministic, so consumers skip what they already have.
"""

from __future__ import annotations

import asyncio
import logging

from bankrec.ingest.domain import ParseResult, messages_for, parse_statement_file
from bankrec.ingest.errors import PublishFailed
from bankrec.ingest.ports import MessagePublisher

log = logging.getLogger(__name__)


class StatementIngest:
    """The one use case: a tenant's statement file in, statements and lines published."""

    def __init__(self, publisher: MessagePublisher, *, upload_bytes_max: int) -> None:
        self._publisher = publisher
        self.upload_bytes_max = upload_bytes_max

    async def ingest(
        self, tenant_id: str, data: bytes, *, statement_format: str | None = None
    ) -> ParseResult:
        """Parse the file and publish every header and line; raises ``IngestError``."""
        # parsing a large file takes a while: keep the event loop (and /health) responsive
        result = await asyncio.to_thread(
            parse_statement_file,
            data,
            tenant_id=tenant_id,
            statement_format=statement_format,
            upload_bytes_max=self.upload_bytes_max,
        )
        messages = messages_for(result, tenant_id=tenant_id)
        try:
            await self._publisher.publish(messages)
        except Exception as exc:
            log.exception(
                "publishing a statement file's %d messages failed",
                len(messages),
                extra={"tenant_id": tenant_id, "correlation_id": result.file_sha256},
            )
            raise PublishFailed(
                f"the file was read ({len(result.statements)} statement(s), "
                f"{result.line_count} lines) but not all of its {len(messages)} messages "
                "reached the message broker; send the same file again (messages already "
                "published are recognised by their ids)"
            ) from exc
        log.info(
            "ingested statement file: %d statement(s), %d lines, %d diagnostics",
            len(result.statements),
            result.line_count,
            len(result.diagnostics),
            extra={"tenant_id": tenant_id, "correlation_id": result.file_sha256},
        )
        return result
