"""The one composition root: ``create_app(settings, **overrides)`` picks the real adapters and
wires them; tests pass a broker under FastStream's ``TestKafkaBroker`` (with
``create_topics=False``) and a key ring filled by hand through the overrides."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from bankrec.contracts import (
    ADJUSTMENT_REQUESTS,
    CREDENTIALS,
    DEAD_LETTERS,
    MATCH_REQUESTS,
    PERIOD_EVENTS,
    Topic,
)
from bankrec.reconciler.adapters import (
    PeriodCache,
    outbox,
    reconciler_engine,
    sql_units_of_work,
)
from bankrec.reconciler.api import install_api
from bankrec.reconciler.consumers import CONSUMED_TOPICS, register_consumers
from bankrec.reconciler.settings import ReconcilerSettings
from bankrec.reconciler.use_cases import Reconciler
from bankrec.runtime import (
    OutboxRelay,
    TenantKeyReader,
    TenantKeyRing,
    create_broker,
    declare_publishers,
    ensure_topics,
    install_asyncapi_route,
    install_operations,
    session_factory,
    upgrade_database,
)

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
PUBLISHES: tuple[Topic, ...] = (PERIOD_EVENTS, ADJUSTMENT_REQUESTS, MATCH_REQUESTS, DEAD_LETTERS)
TOPICS: tuple[Topic, ...] = (*CONSUMED_TOPICS, CREDENTIALS, *PUBLISHES)
CLIENT_ID = "bankrec-reconciler"
RELAY_STOP_SECONDS = 10.0


def create_app(
    settings: ReconcilerSettings | None = None,
    *,
    broker: KafkaBroker | None = None,
    create_topics: bool = True,
    tenant_keys: TenantKeyRing | None = None,
) -> FastAPI:
    """The reconciler as an ASGI app; its lifespan migrates, connects and starts consuming.

    ``broker`` replaces the Kafka broker (e.g. one under ``TestKafkaBroker``);
    ``create_topics=False`` skips the admin client (topic creation, the credentials topic's
    end), which needs a real broker; ``tenant_keys`` replaces the keys read from the
    credentials topic.
    """
    settings = settings or ReconcilerSettings()
    engine = reconciler_engine(settings.database_url)
    sessions = session_factory(engine)
    kafka = broker or create_broker(settings.kafka_bootstrap_servers, client_id=CLIENT_ID)
    relay = OutboxRelay(kafka, sessions, outbox)
    cache = PeriodCache(rows_max=settings.period_cache_rows_max)
    reconciler = Reconciler(sql_units_of_work(sessions, cache), on_committed=relay.wake)
    register_consumers(kafka, reconciler, batch_records=settings.consume_batch_records)
    declare_publishers(kafka, PUBLISHES)
    keys = tenant_keys if tenant_keys is not None else TenantKeyRing()
    key_reader = (
        None
        if tenant_keys is not None
        else TenantKeyReader(
            kafka,
            keys,
            service="reconciler",
            catch_up_seconds=settings.tenant_keys_catch_up_seconds,
        )
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(upgrade_database, settings.database_url, MIGRATIONS_DIR)
        if create_topics:
            await ensure_topics(settings.kafka_bootstrap_servers, TOPICS)
        reading_keys = (
            contextlib.nullcontext()
            if key_reader is None
            else key_reader.catching_up(settings.kafka_bootstrap_servers if create_topics else None)
        )
        async with reading_keys:
            await kafka.start()
            relay_task = asyncio.create_task(relay.run(), name="reconciler-outbox-relay")
            log.info("reconciler started: consuming %s", ", ".join(t.name for t in CONSUMED_TOPICS))
            try:
                yield
            finally:
                relay.stop()
                try:
                    await asyncio.wait_for(relay_task, timeout=RELAY_STOP_SECONDS)
                except TimeoutError:
                    log.warning("outbox relay did not stop in %.0fs; cancelled", RELAY_STOP_SECONDS)
                await kafka.stop()
                await engine.dispose()

    app = FastAPI(title="bankrec reconciler", version="0.1.0", lifespan=lifespan)
    app.state.tenant_keys = keys
    install_api(app, reconciler, ready=lambda: kafka.running, tenant_keys=keys)
    install_asyncapi_route(app, kafka, service="reconciler")
    install_operations(
        app, kafka, service="reconciler", settings=settings, engine=engine, relay=relay
    )
    return app
