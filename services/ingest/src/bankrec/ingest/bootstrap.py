"""The one composition root: ``create_app(settings)`` picks the real adapters and wires them.

Ingest has no database and consumes no topic: its lifespan creates the topics it publishes
to and starts the Kafka producer. Tests pass ``publisher=`` to swap Kafka out here.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from fastapi import FastAPI

from bankrec.contracts import STATEMENT_LINES, STATEMENTS, Topic
from bankrec.ingest.adapters import KafkaPublisher
from bankrec.ingest.api import install_api
from bankrec.ingest.ports import MessagePublisher
from bankrec.ingest.settings import IngestSettings
from bankrec.ingest.use_cases import StatementIngest
from bankrec.runtime import (
    create_broker,
    declare_publishers,
    ensure_topics,
    install_asyncapi_route,
)

log = logging.getLogger(__name__)

CLIENT_ID = "bankrec-ingest"
VERSION = "0.1.0"
PUBLISHED_TOPICS: tuple[Topic, ...] = (STATEMENTS, STATEMENT_LINES)


def create_app(
    settings: IngestSettings | None = None, *, publisher: MessagePublisher | None = None
) -> FastAPI:
    """Ingest as an ASGI app; with the default publisher its lifespan connects to Kafka."""
    settings = settings or IngestSettings()
    broker = create_broker(settings.kafka_bootstrap_servers, client_id=CLIENT_ID)
    declare_publishers(broker, PUBLISHED_TOPICS)
    uses_kafka = publisher is None
    ingest = StatementIngest(
        publisher or KafkaPublisher(broker), upload_bytes_max=settings.upload_bytes_max
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if not uses_kafka:
            yield
            return
        await ensure_topics(settings.kafka_bootstrap_servers, PUBLISHED_TOPICS)
        await broker.start()
        log.info("ingest started: publishing %s", ", ".join(t.name for t in PUBLISHED_TOPICS))
        try:
            yield
        finally:
            await broker.stop()

    app = FastAPI(title="bankrec ingest", version=VERSION, lifespan=lifespan)
    install_asyncapi_route(app, broker, service="ingest")
    ready: Callable[[], bool] = (lambda: bool(broker.running)) if uses_kafka else (lambda: True)
    install_api(app, ingest, ready=ready)
    return app
