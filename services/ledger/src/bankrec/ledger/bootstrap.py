"""The one composition root: ``create_app(settings, **overrides)`` builds the ledger.

The real adapters (SQL database, Kafka broker) are chosen here and only here; tests pass a
broker wrapped in FastStream's ``TestKafkaBroker`` or a fixed clock through the overrides.
The broker is built here rather than in the lifespan so that subscribers and publishers are
declared before anything starts (and the AsyncAPI document can list them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from bankrec.contracts import (
    ADJUSTMENT_REQUESTS,
    CREDENTIALS,
    DEAD_LETTERS,
    DECISIONS,
    MATCH_OUTCOMES,
    MATCH_REQUESTS,
    OPEN_ITEMS,
    POSTING_RULES,
    POSTINGS,
    REFUSED_ADJUSTMENTS,
    REFUSED_DECISIONS,
)
from bankrec.ledger.adapters import SqlLedgerViews, sql_transactions
from bankrec.ledger.adapters.tables import outbox
from bankrec.ledger.adjustment_requests import AdjustmentRequests
from bankrec.ledger.api import install_error_handlers, open_router, router
from bankrec.ledger.chart_book import ChartBook
from bankrec.ledger.consumers import (
    register_adjustment_consumer,
    register_consumers,
    register_match_consumer,
)
from bankrec.ledger.manual_work import ManualWork
from bankrec.ledger.match_requests import ManualMatching, MatchRequests
from bankrec.ledger.posting_rule_book import PostingRuleBook
from bankrec.ledger.settings import LedgerSettings
from bankrec.ledger.use_cases import CONSUMER, Ledger
from bankrec.runtime import (
    OutboxRelay,
    TenantKeyReader,
    TenantKeyRing,
    create_broker,
    create_engine,
    declare_publishers,
    ensure_topics,
    include_tenant_routes,
    install_asyncapi_route,
    install_operations,
    session_factory,
    upgrade_database,
)

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
PUBLISHES = (
    OPEN_ITEMS,
    POSTINGS,
    REFUSED_DECISIONS,
    REFUSED_ADJUSTMENTS,
    MATCH_OUTCOMES,
    POSTING_RULES,
    DEAD_LETTERS,
)
TOPICS = (DECISIONS, ADJUSTMENT_REQUESTS, MATCH_REQUESTS, CREDENTIALS, *PUBLISHES)
RELAY_STOP_SECONDS = 10.0


def _service_version() -> str:
    try:
        return version("bankrec-ledger")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


def create_app(
    settings: LedgerSettings | None = None,
    *,
    broker: KafkaBroker | None = None,
    create_topics: bool = True,
    clock: Callable[[], datetime] | None = None,
    tenant_keys: TenantKeyRing | None = None,
) -> FastAPI:
    """The ledger as an ASGI app whose lifespan migrates, connects and relays.

    ``broker`` replaces the Kafka broker (e.g. one under ``TestKafkaBroker``);
    ``create_topics=False`` skips the admin client (creating topics, reading where the
    credentials topic ends), which needs a real broker; ``tenant_keys`` replaces the keys read
    from the credentials topic (tests pass a ring filled by hand).
    """
    settings = settings or LedgerSettings()
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    kafka = broker or create_broker(settings.kafka_bootstrap_servers, client_id=CONSUMER)
    relay = OutboxRelay(kafka, sessions, outbox)
    transactions, views = sql_transactions(sessions), SqlLedgerViews(sessions)
    now = clock or (lambda: datetime.now(UTC))
    ledger = Ledger(transactions, views, clock=now, after_commit=relay.wake)
    manual_work = ManualWork(transactions, views, clock=now, after_commit=relay.wake)
    posting_rules = PostingRuleBook(transactions, views, clock=now, after_commit=relay.wake)
    chart_book = ChartBook(transactions, views, clock=now, after_commit=relay.wake)
    register_consumers(kafka, ledger)
    register_adjustment_consumer(
        kafka,
        AdjustmentRequests(manual_work, transactions, clock=now, after_commit=relay.wake),
    )
    register_match_consumer(
        kafka,
        MatchRequests(
            ManualMatching(transactions, views, clock=now, after_commit=relay.wake),
            transactions,
            clock=now,
            after_commit=relay.wake,
        ),
    )
    declare_publishers(kafka, PUBLISHES)
    keys = tenant_keys if tenant_keys is not None else TenantKeyRing()
    key_reader = (
        None
        if tenant_keys is not None
        else TenantKeyReader(
            kafka, keys, service="ledger", catch_up_seconds=settings.tenant_keys_catch_up_seconds
        )
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
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
            relay_task = asyncio.create_task(relay.run(), name="ledger-outbox-relay")
            app.state.ready = True
            log.info("ledger started on %s", engine.url.render_as_string(hide_password=True))
            try:
                yield
            finally:
                app.state.ready = False
                relay.stop()
                try:
                    await asyncio.wait_for(relay_task, timeout=RELAY_STOP_SECONDS)
                except TimeoutError:
                    relay_task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await relay_task
                await kafka.stop()
                await engine.dispose()

    app = FastAPI(
        title="bankrec ledger",
        version=_service_version(),
        description="The books: chart of accounts, open items, balanced immutable journal "
        "entries; applies match decisions exactly once.",
        lifespan=lifespan,
    )
    app.state.ready = False
    app.state.settings = settings
    app.state.ledger = ledger
    app.state.manual_work = manual_work
    app.state.posting_rules = posting_rules
    app.state.chart_book = chart_book
    app.state.relay = relay

    app.state.tenant_keys = keys

    install_asyncapi_route(app, kafka, service="ledger")
    install_operations(app, kafka, service="ledger", settings=settings, engine=engine, relay=relay)
    install_error_handlers(app)
    app.include_router(open_router)
    include_tenant_routes(app, router, keys)
    return app
