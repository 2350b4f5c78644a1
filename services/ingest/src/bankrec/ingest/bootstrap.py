"""The one composition root: ``create_app(settings)`` picks the real adapters and wires them.

Ingest owns a small database (received files, published ids, credentials, bank pulls,
outbox); its lifespan migrates it, creates the topics it publishes to, starts the Kafka
producer and the outbox relay, reads any webhook body a restart left unread, and runs the
bank-pull scheduler (unless ``bank_pull_enabled`` is off). Tests pass ``broker=`` (a
recorder with the broker's ``publish``) and ``create_topics=False`` to run without Kafka.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy.engine import make_url

from bankrec.contracts import CREDENTIALS, STATEMENT_LINES, STATEMENTS, Topic
from bankrec.ingest.adapters.bank_api import BankApiClient, BankApiOptions
from bankrec.ingest.adapters.sql import SqlIngestStore
from bankrec.ingest.adapters.sql_bank_pulls import SqlBankPullStore
from bankrec.ingest.adapters.tables import outbox
from bankrec.ingest.api import install_api
from bankrec.ingest.api_bank_pulls import install_bank_pull_api
from bankrec.ingest.bank_pull_scheduler import BankPullScheduler
from bankrec.ingest.bank_pull_use_cases import BankPulls
from bankrec.ingest.domain.bank_pulls import BankPullSpec
from bankrec.ingest.domain.parsers.camt_schema import CamtSchemas
from bankrec.ingest.settings import IngestSettings
from bankrec.ingest.use_cases import StatementIngest
from bankrec.runtime import (
    OutboxRelay,
    RawPublisher,
    create_broker,
    create_engine,
    declare_publishers,
    ensure_topics,
    install_asyncapi_route,
    install_operations,
    session_factory,
    upgrade_database,
)

log = logging.getLogger(__name__)

CLIENT_ID = "bankrec-ingest"
VERSION = "0.1.0"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
PUBLISHED_TOPICS: tuple[Topic, ...] = (STATEMENTS, STATEMENT_LINES, CREDENTIALS)
RELAY_STOP_SECONDS = 10.0
BANK_PULL_STOP_SECONDS = 10.0


def create_app(
    settings: IngestSettings | None = None,
    *,
    broker: RawPublisher | None = None,
    create_topics: bool = True,
) -> FastAPI:
    """Ingest as an ASGI app whose lifespan migrates, connects and relays."""
    settings = settings or IngestSettings()
    kafka = create_broker(settings.kafka_bootstrap_servers, client_id=CLIENT_ID)
    declare_publishers(kafka, PUBLISHED_TOPICS)
    uses_kafka = broker is None
    engine = create_engine(settings.database_url, **pool_options(settings))
    sessions = session_factory(engine)
    relay = OutboxRelay(kafka if broker is None else broker, sessions, outbox)
    schemas = camt_schemas(settings)
    ingest = StatementIngest(
        SqlIngestStore(sessions),
        publish_now=relay.relay_all,
        publish_soon=relay.wake,
        upload_bytes_max=settings.upload_bytes_max,
        spool_dir=settings.spool_dir,
        webhook_window_seconds=settings.webhook_window_seconds,
        schemas=schemas,
        # SQLite has one writer, and a file's transaction writes from its first batch on
        file_reads_max=1 if engine.dialect.name == "sqlite" else settings.file_reads_max,
    )
    bank_api_options = BankApiOptions(
        timeout_seconds=settings.bank_pull_timeout_seconds,
        attempts=settings.bank_pull_attempts,
        backoff_seconds=settings.bank_pull_backoff_seconds,
        download_bytes_max=settings.upload_bytes_max,  # a pulled file is an upload like any
        allow_plain_http=settings.bank_pull_allow_plain_http,
    )

    def connect_bank_api(spec: BankPullSpec) -> BankApiClient:
        return BankApiClient(spec.base_url, spec.credentials, bank_api_options)

    bank_pulls = BankPulls(
        SqlBankPullStore(sessions),
        ingest,
        connect=connect_bank_api,
        interval_floor_seconds=settings.bank_pull_interval_floor_seconds,
        allow_plain_http=settings.bank_pull_allow_plain_http,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(upgrade_database, settings.database_url, MIGRATIONS_DIR)
        if uses_kafka:
            if create_topics:
                await ensure_topics(settings.kafka_bootstrap_servers, PUBLISHED_TOPICS)
            await kafka.start()
        relay_task = asyncio.create_task(relay.run(), name="ingest-outbox-relay")
        await ingest.republish_api_keys()  # keys issued before the credentials topic existed
        pending = await ingest.read_pending()
        scheduler: BankPullScheduler | None = None
        if settings.bank_pull_enabled:
            scheduler = BankPullScheduler(
                bank_pulls,
                tick_seconds=settings.bank_pull_tick_seconds,
                concurrency=settings.bank_pull_concurrency,
            )
            scheduler.start()
        app.state.ready = True
        log.info(
            "ingest started: publishing %s; %d webhook file(s) left to read",
            ", ".join(t.name for t in PUBLISHED_TOPICS),
            pending,
        )
        try:
            yield
        finally:
            app.state.ready = False
            if scheduler is not None:
                # before the drain: a pull still running would hand ingest more files
                await scheduler.stop(BANK_PULL_STOP_SECONDS)
            await ingest.drain()
            relay.stop()
            try:
                await asyncio.wait_for(relay_task, timeout=RELAY_STOP_SECONDS)
            except TimeoutError:
                relay_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await relay_task
            if uses_kafka:
                await kafka.stop()
            await engine.dispose()

    app = FastAPI(title="bankrec ingest", version=VERSION, lifespan=lifespan)
    app.state.ready = False
    app.state.ingest = ingest
    app.state.bank_pulls = bank_pulls
    install_asyncapi_route(app, kafka, service="ingest")
    install_operations(app, kafka, service="ingest", settings=settings, engine=engine, relay=relay)
    install_api(app, ingest, settings=settings)
    install_bank_pull_api(app, ingest, bank_pulls, scheduled=settings.bank_pull_enabled)
    return app


def pool_options(settings: IngestSettings) -> dict[str, Any]:
    """The connection pool's size and timeout from the settings; an in-memory SQLite
    database has a single connection and takes none."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return {}
    return {
        "pool_size": settings.database_pool_size,
        "max_overflow": settings.database_max_overflow,
        "pool_timeout": settings.database_pool_timeout_seconds,
    }


def camt_schemas(settings: IngestSettings) -> CamtSchemas | None:
    """The camt XSDs of ``schema_dir``, every one compiled now, so that a broken one stops
    the start (``CamtSchemaError`` names it) rather than fails a request; None when unset."""
    if settings.schema_dir is None:
        return None
    schemas = CamtSchemas(settings.schema_dir, max_bytes=settings.schema_max_bytes)
    log.info("camt schema check on: %d XSD(s) from %s", schemas.compile_all(), schemas.directory)
    return schemas
