"""The one composition root: ``create_app(settings, **overrides)`` builds the matcher.

The real adapters (Kafka broker, SQL books with their outbox and relay, the in-memory index)
are chosen here and only here; tests pass a broker wrapped in FastStream's
``TestKafkaBroker`` with ``kafka_admin=False`` and a SQLite URL in the settings. The broker
is built here rather than in the lifespan so that subscribers and publishers are declared
before anything starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from bankrec.contracts import (
    CREDENTIALS,
    DEAD_LETTERS,
    DECISIONS,
    MATCHING_SETTINGS,
    OPEN_ITEMS,
    POSTING_RULES,
    Topic,
)
from bankrec.matcher.adapters import matcher_engine, outbox, readable_end_offsets, sql_units_of_work
from bankrec.matcher.api import install_api
from bankrec.matcher.catch_up import IndexCatchUp
from bankrec.matcher.consumers import CONSUMED_TOPICS, register_consumers
from bankrec.matcher.domain import TenantIndexes
from bankrec.matcher.settings import MatcherSettings
from bankrec.matcher.use_cases import Matcher
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

CLIENT_ID = "bankrec-matcher"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
PUBLISHES: tuple[Topic, ...] = (DECISIONS, MATCHING_SETTINGS, DEAD_LETTERS)
TOPICS: tuple[Topic, ...] = (*CONSUMED_TOPICS, CREDENTIALS, *PUBLISHES)
RELAY_STOP_SECONDS = 10.0


def create_app(
    settings: MatcherSettings | None = None,
    *,
    broker: KafkaBroker | None = None,
    kafka_admin: bool = True,
    tenant_keys: TenantKeyRing | None = None,
) -> FastAPI:
    """The matcher as an ASGI app; its lifespan migrates the database, creates topics, reads
    where the open-items and posting-rules topics end, starts consuming and lets lines
    through once both have been read.

    ``broker`` replaces the Kafka broker (e.g. one under ``TestKafkaBroker``);
    ``kafka_admin=False`` skips the admin and metadata clients (topic creation, end offsets),
    which need a real broker: the index then counts as caught up at once. ``tenant_keys``
    replaces the keys read from the credentials topic (tests pass a ring filled by hand).
    """
    settings = settings or MatcherSettings()
    engine = matcher_engine(settings.database_url)
    sessions = session_factory(engine)
    kafka = broker or create_broker(settings.kafka_bootstrap_servers, client_id=CLIENT_ID)
    relay = OutboxRelay(kafka, sessions, outbox)
    keys = tenant_keys if tenant_keys is not None else TenantKeyRing()
    key_reader = (
        None
        if tenant_keys is not None
        else TenantKeyReader(
            kafka, keys, service="matcher", catch_up_seconds=settings.tenant_keys_catch_up_seconds
        )
    )
    catch_up, rules_catch_up = IndexCatchUp(), IndexCatchUp()
    matcher = Matcher(
        sql_units_of_work(sessions),
        catch_up=catch_up,
        rules_catch_up=rules_catch_up,
        indexes=TenantIndexes(recent_lines_max=settings.recent_lines_max),
        refused_attempts_max=settings.refused_attempts_max,
        closed_items_kept_for=settings.closed_items_kept_for,
        on_committed=relay.wake,
    )
    register_consumers(kafka, matcher)
    declare_publishers(kafka, PUBLISHES)

    async def give_up_waiting() -> None:
        await asyncio.sleep(settings.index_catch_up_seconds)
        if not matcher.ready:
            log.warning(
                "open items / posting rules not read to the topics' end after %.0fs (still to "
                "read: %s / %s); matching lines anyway",
                settings.index_catch_up_seconds,
                catch_up.pending,
                rules_catch_up.pending,
            )
            catch_up.give_up()
            rules_catch_up.give_up()

    async def rematch_after_start() -> None:
        # items may have arrived while the matcher was down: every pending line, once
        await matcher.wait_ready()
        matched = await matcher.rematch_all_pending()
        log.info("pending lines decided again after the start: %d matched", matched)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(upgrade_database, settings.database_url, MIGRATIONS_DIR)
        await matcher.restore()
        if kafka_admin:
            await ensure_topics(settings.kafka_bootstrap_servers, TOPICS)
            # read before consuming starts, so the target is what the topics held at start-up
            catch_up.expect(
                await readable_end_offsets(
                    settings.kafka_bootstrap_servers, OPEN_ITEMS, client_id=CLIENT_ID
                )
            )
            rules_catch_up.expect(
                await readable_end_offsets(
                    settings.kafka_bootstrap_servers, POSTING_RULES, client_id=CLIENT_ID
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
            tasks = [
                asyncio.create_task(give_up_waiting(), name="matcher-index-catch-up"),
                asyncio.create_task(rematch_after_start(), name="matcher-rematch-after-start"),
            ]
            relay_task = asyncio.create_task(relay.run(), name="matcher-outbox-relay")
            log.info("matcher started; reading open items up to %s", catch_up.pending or "the end")
            try:
                yield
            finally:
                app.state.ready = False
                for task in tasks:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                relay.stop()
                try:
                    await asyncio.wait_for(relay_task, timeout=RELAY_STOP_SECONDS)
                except TimeoutError:
                    log.warning("outbox relay did not stop in %.0fs; cancelled", RELAY_STOP_SECONDS)
                await kafka.stop()
                await engine.dispose()

    app = FastAPI(
        title="bankrec matcher",
        version="0.1.0",
        description="Matches statement lines to open items with explainable rules.",
        lifespan=lifespan,
    )
    app.state.ready = False  # True between the broker's start and stop
    app.state.settings = settings
    app.state.matcher = matcher
    app.state.relay = relay
    app.state.tenant_keys = keys
    install_api(app, matcher, ready=lambda: bool(app.state.ready), tenant_keys=keys)
    install_asyncapi_route(app, kafka, service="matcher")
    install_operations(app, kafka, service="matcher", settings=settings, engine=engine, relay=relay)
    return app
