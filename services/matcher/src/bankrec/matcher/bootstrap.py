"""The one composition root: ``create_app(settings, **overrides)`` builds the matcher.

The real adapters (Kafka broker, in-memory index and decision log) are chosen here and only
here; tests pass a broker wrapped in FastStream's ``TestKafkaBroker`` with
``kafka_admin=False``. The broker is built here rather than in the lifespan so that
subscribers and publishers are declared before anything starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from bankrec.contracts import CREDENTIALS, DEAD_LETTERS, DECISIONS, OPEN_ITEMS, Topic
from bankrec.matcher.adapters import KafkaDecisionPublisher, RecentDecisions, readable_end_offsets
from bankrec.matcher.api import install_api
from bankrec.matcher.catch_up import IndexCatchUp
from bankrec.matcher.consumers import CONSUMED_TOPICS, register_consumers
from bankrec.matcher.settings import MatcherSettings
from bankrec.matcher.use_cases import Matcher
from bankrec.runtime import (
    TenantKeyReader,
    TenantKeyRing,
    create_broker,
    declare_publishers,
    ensure_topics,
    install_asyncapi_route,
)

log = logging.getLogger(__name__)

CLIENT_ID = "bankrec-matcher"
PUBLISHES: tuple[Topic, ...] = (DECISIONS, DEAD_LETTERS)
TOPICS: tuple[Topic, ...] = (*CONSUMED_TOPICS, CREDENTIALS, *PUBLISHES)


def create_app(
    settings: MatcherSettings | None = None,
    *,
    broker: KafkaBroker | None = None,
    kafka_admin: bool = True,
    tenant_keys: TenantKeyRing | None = None,
) -> FastAPI:
    """The matcher as an ASGI app; its lifespan creates topics, reads where the open-items
    topic ends, starts consuming and lets lines through once the index has caught up.

    ``broker`` replaces the Kafka broker (e.g. one under ``TestKafkaBroker``);
    ``kafka_admin=False`` skips the admin and metadata clients (topic creation, end offsets),
    which need a real broker: the index then counts as caught up at once. ``tenant_keys``
    replaces the keys read from the credentials topic (tests pass a ring filled by hand).
    """
    settings = settings or MatcherSettings()
    kafka = broker or create_broker(settings.kafka_bootstrap_servers, client_id=CLIENT_ID)
    keys = tenant_keys if tenant_keys is not None else TenantKeyRing()
    key_reader = (
        None
        if tenant_keys is not None
        else TenantKeyReader(
            kafka, keys, service="matcher", catch_up_seconds=settings.tenant_keys_catch_up_seconds
        )
    )
    catch_up = IndexCatchUp()
    matcher = Matcher(
        KafkaDecisionPublisher(kafka),
        RecentDecisions(settings.decisions_kept),
        catch_up=catch_up,
    )
    register_consumers(kafka, matcher)
    declare_publishers(kafka, PUBLISHES)

    async def give_up_waiting() -> None:
        await asyncio.sleep(settings.index_catch_up_seconds)
        if not catch_up.ready:
            log.warning(
                "open-items index has not reached the topic's end after %.0fs (still to read: "
                "%s); matching lines anyway",
                settings.index_catch_up_seconds,
                catch_up.pending,
            )
            catch_up.give_up()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if kafka_admin:
            await ensure_topics(settings.kafka_bootstrap_servers, TOPICS)
            # read before consuming starts, so the target is what the topic held at start-up
            catch_up.expect(
                await readable_end_offsets(
                    settings.kafka_bootstrap_servers, OPEN_ITEMS, client_id=CLIENT_ID
                )
            )
        reading_keys = (
            contextlib.nullcontext()
            if key_reader is None
            else key_reader.catching_up(settings.kafka_bootstrap_servers if kafka_admin else None)
        )
        async with reading_keys:
            await kafka.start()
            app.state.ready = True
            watchdog = asyncio.create_task(give_up_waiting(), name="matcher-index-catch-up")
            log.info("matcher started; reading open items up to %s", catch_up.pending or "the end")
            try:
                yield
            finally:
                app.state.ready = False
                watchdog.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watchdog
                await kafka.stop()

    app = FastAPI(
        title="bankrec matcher",
        version="0.1.0",
        description="Matches statement lines to open items with explainable rules.",
        lifespan=lifespan,
    )
    app.state.ready = False  # True between the broker's start and stop
    app.state.settings = settings
    app.state.matcher = matcher
    app.state.tenant_keys = keys
    install_api(app, matcher, ready=lambda: bool(app.state.ready), tenant_keys=keys)
    install_asyncapi_route(app, kafka, service="matcher")
    return app
