"""The one composition root: ``create_app(settings)`` picks the real adapters and wires them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI

from bankrec.contracts import DEAD_LETTERS, PERIOD_EVENTS, Topic
from bankrec.reconciler.adapters import outbox, reconciler_engine, sql_units_of_work
from bankrec.reconciler.api import install_api
from bankrec.reconciler.consumers import CONSUMED_TOPICS, register_consumers
from bankrec.reconciler.settings import ReconcilerSettings
from bankrec.reconciler.use_cases import Reconciler
from bankrec.runtime import (
    OutboxRelay,
    create_broker,
    declare_publishers,
    ensure_topics,
    install_asyncapi_route,
    session_factory,
    upgrade_database,
)

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
TOPICS: tuple[Topic, ...] = (*CONSUMED_TOPICS, PERIOD_EVENTS, DEAD_LETTERS)
CLIENT_ID = "bankrec-reconciler"
RELAY_STOP_SECONDS = 10.0


def create_app(settings: ReconcilerSettings | None = None) -> FastAPI:
    """The reconciler as an ASGI app; its lifespan migrates, connects and starts consuming."""
    settings = settings or ReconcilerSettings()
    engine = reconciler_engine(settings.database_url)
    sessions = session_factory(engine)
    broker = create_broker(settings.kafka_bootstrap_servers, client_id=CLIENT_ID)
    relay = OutboxRelay(broker, sessions, outbox)
    reconciler = Reconciler(sql_units_of_work(sessions), on_committed=relay.wake)
    register_consumers(broker, reconciler)
    declare_publishers(broker, (PERIOD_EVENTS, DEAD_LETTERS))

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(upgrade_database, settings.database_url, MIGRATIONS_DIR)
        await ensure_topics(settings.kafka_bootstrap_servers, TOPICS)
        await broker.start()
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
            await broker.stop()
            await engine.dispose()

    app = FastAPI(title="bankrec reconciler", version="0.1.0", lifespan=lifespan)
    install_api(app, reconciler, ready=lambda: broker.running)
    install_asyncapi_route(app, broker, service="reconciler")
    return app
