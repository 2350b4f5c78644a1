"""What operators need from every service, installed by one call in its composition root.

``install_operations`` gives an app ``/metrics`` (``metrics``), ``/health/live`` and
``/health/ready`` (``health``), the AsyncAPI viewer at ``/asyncapi``, HTTP request metrics,
and, when tracing is on (``BANKREC_OTEL_EXPORTER``), spans for HTTP requests and Kafka
messages (``tracing``). Call it after the service's subscribers are registered and before the
app starts.
"""

from __future__ import annotations

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from sqlalchemy.ext.asyncio import AsyncEngine

from bankrec.runtime.asyncapi import install_asyncapi_page
from bankrec.runtime.health import install_health_routes
from bankrec.runtime.messaging import OutboxRelay
from bankrec.runtime.metrics import (
    HttpMetricsMiddleware,
    ServiceMetrics,
    attach_metrics,
    consumer_lag_refresh,
    count_of,
    install_metrics_route,
)
from bankrec.runtime.settings import ServiceSettings
from bankrec.runtime.tracing import HttpTracingMiddleware, tracer_provider_for


def install_operations(
    app: FastAPI,
    broker: KafkaBroker,
    *,
    service: str,
    settings: ServiceSettings,
    engine: AsyncEngine | None = None,
    relay: OutboxRelay | None = None,
) -> ServiceMetrics:
    """Metrics, health, tracing and the AsyncAPI page for one service's app.

    ``engine`` is the service's database (readiness checks it; None for none); ``relay`` its
    outbox relay (its backlog becomes ``bankrec_outbox_pending``).
    """
    metrics = ServiceMetrics(service)
    attach_metrics(broker, metrics)
    if relay is not None:
        attach_metrics(relay, metrics)
        metrics.on_scrape(count_of(relay.pending, metrics.outbox_pending))
    metrics.on_scrape(consumer_lag_refresh(broker, metrics))
    # outermost first: the trace span encloses the Prometheus timing of the same message
    provider = tracer_provider_for(
        settings.otel_exporter, service=f"bankrec-{service}", endpoint=settings.otel_endpoint
    )
    if provider is not None:
        broker.add_middleware(KafkaTelemetryMiddleware(tracer_provider=provider))
    broker.add_middleware(KafkaPrometheusMiddleware(registry=metrics.registry, app_name=service))
    install_metrics_route(app, metrics)
    install_health_routes(app, broker, engine=engine)
    install_asyncapi_page(app, broker, service=service)
    # Starlette runs the last added middleware first: traces enclose the metrics' timing
    app.add_middleware(HttpMetricsMiddleware, metrics=metrics)
    if provider is not None:
        app.add_middleware(HttpTracingMiddleware, provider=provider)
    app.state.metrics = metrics
    app.state.broker = broker  # the AsyncAPI export reads the document from it
    return metrics
