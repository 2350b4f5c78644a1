"""The one composition root: ``create_app(settings)`` wires the services' APIs, the topic
watcher and the routes; tests swap the watcher or the APIs here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from bankrec.dashboard.api import install_api
from bankrec.dashboard.service_apis import ServiceApis, ServiceUrls
from bankrec.dashboard.settings import DashboardSettings
from bankrec.dashboard.topic_watch import TopicWatch
from bankrec.dashboard.use_cases import Dashboard
from bankrec.runtime.metrics import HttpMetricsMiddleware, ServiceMetrics, install_metrics_route


def create_app(
    settings: DashboardSettings,
    *,
    apis: ServiceApis | None = None,
    watch: TopicWatch | None = None,
) -> FastAPI:
    apis = apis or ServiceApis(
        ServiceUrls(
            ingest=settings.ingest_url,
            ledger=settings.ledger_url,
            matcher=settings.matcher_url,
            reconciler=settings.reconciler_url,
        ),
        timeout_seconds=settings.service_timeout_seconds,
    )
    watch = watch or TopicWatch(
        settings.kafka_bootstrap_servers,
        window_minutes=settings.flow_window_minutes,
        lag_refresh_seconds=settings.lag_refresh_seconds,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.watch_topics:
            await watch.start()
        try:
            yield
        finally:
            await watch.stop()
            await apis.close()

    app = FastAPI(
        title="bankrec dashboard",
        version="0.1.0",
        description="One tenant's accounts, suspense queue, periods and live flow.",
        lifespan=lifespan,
    )
    install_api(app, Dashboard(apis), watch, settings.flow_push_seconds)
    # HTTP metrics only: the dashboard has no FastStream broker (it reads topics with
    # aiokafka), so the services' message metrics do not apply
    metrics = ServiceMetrics("dashboard")
    install_metrics_route(app, metrics)
    app.add_middleware(HttpMetricsMiddleware, metrics=metrics)
    app.state.metrics = metrics
    return app
