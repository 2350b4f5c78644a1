"""Webhook files read in the background (issue 8): a read that fails for another reason than
a refusal (the database away, ...) is logged with the file's ingest id, the file stays
``received`` with its spool file, is read again after a delay, and at the next start after
the last retry; no background task ends with an exception no one retrieved."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ingest_factories import Entry, LoopErrors, Statement, camt_file

from bankrec.ingest.adapters.sql import SqlIngestStore
from bankrec.ingest.bootstrap import MIGRATIONS_DIR
from bankrec.ingest.domain.model import IngestRecord, IngestStatus
from bankrec.ingest.use_cases import FilePublicationPort, StatementIngest
from bankrec.runtime import create_engine, session_factory, upgrade_database


class DatabaseAway(Exception):  # noqa: N818 - what the stand-in failure is
    """The stand-in for a connection lost in the middle of a file's transaction."""


class FailingPublications:
    """The real SQL store whose first ``failures`` file publications fail."""

    def __init__(self, store: SqlIngestStore, failures: int) -> None:
        self._store = store
        self.failures_left = failures
        self._failures = failures

    async def failures_so_far(self) -> int:
        return self._failures - self.failures_left

    def file_publication(
        self, record: IngestRecord
    ) -> AbstractAsyncContextManager[FilePublicationPort]:
        if self.failures_left > 0:
            self.failures_left -= 1
            return self._failing()
        return self._store.file_publication(record)

    @contextlib.asynccontextmanager
    async def _failing(self) -> AsyncIterator[FilePublicationPort]:
        raise DatabaseAway("connection to the database lost")
        yield  # pragma: no cover - makes this a generator

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlIngestStore]:
    url = f"sqlite:///{tmp_path / 'ingest.sqlite'}"
    await asyncio.to_thread(upgrade_database, url, MIGRATIONS_DIR)
    engine = create_engine(url)
    try:
        yield SqlIngestStore(session_factory(engine))
    finally:
        await engine.dispose()


async def eventually(observed: Callable[[], Awaitable[Any]], expected: Any) -> None:
    """Wait (at most 10 s) until ``observed()`` gives ``expected``."""
    for _ in range(1000):
        if await observed() == expected:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"still {await observed()!r}, not {expected!r}, after 10 s")


async def read_status(store: SqlIngestStore, tenant_id: str, ingest_id: str) -> IngestStatus:
    record = await store.record(tenant_id, ingest_id)
    assert record is not None
    return record.status


async def nothing_to_publish() -> int:
    return 0


def statement_ingest(store: Any, spool_dir: Path, *, retries: tuple[float, ...]) -> StatementIngest:
    return StatementIngest(
        store,
        publish_now=nothing_to_publish,
        upload_bytes_max=1_000_000,
        spool_dir=spool_dir,
        webhook_window_seconds=300,
        file_reads_max=2,
        retry_delays_seconds=retries,
    )


async def received_webhook_file(store: SqlIngestStore, spool_dir: Path, tenant_id: str) -> str:
    """A webhook body as ``receive_webhook`` leaves it: spooled and recorded ``received``."""
    body = camt_file(Statement(entries=[Entry(bank_reference=f"BG-{n}") for n in range(3)]))
    ingest_id = str(uuid.uuid4())
    spool = spool_dir / f"{ingest_id}.bin"
    await asyncio.to_thread(spool_dir.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread(spool.write_bytes, body)
    await store.save_record(
        IngestRecord(
            ingest_id=ingest_id,
            tenant_id=tenant_id,
            file_sha256=hashlib.sha256(body).hexdigest(),
            received_via="webhook",
            received_at=datetime.now(UTC),
            status=IngestStatus.RECEIVED,
            spool_path=str(spool),
        )
    )
    return ingest_id


async def test_a_failed_read_is_logged_with_its_ingest_id_and_read_again(
    store: SqlIngestStore,
    tmp_path: Path,
    loop_errors: LoopErrors,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spool_dir = tmp_path / "spool"
    ingest_id = await received_webhook_file(store, spool_dir, "t-retry")
    ingest = statement_ingest(
        FailingPublications(store, failures=2), spool_dir, retries=(0.01, 0.01, 0.01)
    )
    with caplog.at_level(logging.WARNING, logger="bankrec.ingest.use_cases"):
        assert await ingest.read_pending() == 1
        await eventually(lambda: read_status(store, "t-retry", ingest_id), IngestStatus.PUBLISHED)
        await ingest.drain()

    record = await store.record("t-retry", ingest_id)
    assert record is not None
    assert (record.status, record.lines_published) == (IngestStatus.PUBLISHED, 3)
    failures = [r for r in caplog.records if "not read" in r.getMessage()]
    assert [getattr(r, "ingest_id", None) for r in failures] == [ingest_id, ingest_id]
    assert ingest_id in failures[0].getMessage()
    assert list(spool_dir.iterdir()) == []  # read, then removed
    assert loop_errors.contexts == []


async def test_after_the_last_retry_the_file_waits_received_for_the_next_start(
    store: SqlIngestStore,
    tmp_path: Path,
    loop_errors: LoopErrors,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spool_dir = tmp_path / "spool"
    ingest_id = await received_webhook_file(store, spool_dir, "t-restart")
    failing = FailingPublications(store, failures=10)
    ingest = statement_ingest(failing, spool_dir, retries=(0.01,))
    with caplog.at_level(logging.WARNING, logger="bankrec.ingest.use_cases"):
        await ingest.read_pending()
        await eventually(failing.failures_so_far, 2)  # the first read and its one retry
        await ingest.drain()
    record = await store.record("t-restart", ingest_id)
    assert record is not None
    assert record.status is IngestStatus.RECEIVED
    assert [p.name for p in spool_dir.iterdir()] == [f"{ingest_id}.bin"]  # kept
    [given_up] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "read again at the next start" in given_up.getMessage()
    assert getattr(given_up, "ingest_id", None) == ingest_id

    restarted = statement_ingest(store, spool_dir, retries=(0.01,))  # the database is back
    assert await restarted.read_pending() == 1
    await restarted.drain()
    record = await store.record("t-restart", ingest_id)
    assert record is not None
    assert (record.status, record.lines_published) == (IngestStatus.PUBLISHED, 3)
    assert list(spool_dir.iterdir()) == []
    assert loop_errors.contexts == []
