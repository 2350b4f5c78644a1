"""Prometheus metrics of one service: one registry per app, served at ``GET /metrics``.

FastStream's ``KafkaPrometheusMiddleware`` counts messages in and out per topic with their
latency and errors (``faststream_*``); bankrec adds its own (``bankrec_*``): decisions by kind
and rule, dead letters, the outbox, HTTP requests, and consumer lag. The runtime's shared
functions (``publish_envelope``, ``publish_dead_letter``, the outbox relay) find the metrics of
the app through the broker they are given (``metrics_of``), so no service code passes them on.

Consumer lag and outbox backlog are computed when Prometheus scrapes (cached for
``SCRAPE_REFRESH_SECONDS``), not sampled by a background task: no task to start and stop, and
a figure is never older than the scrape that shows it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

SCRAPE_REFRESH_SECONDS = 5.0  # lag and backlog queries at most this often, however many scrapes
SCRAPE_QUERY_TIMEOUT_SECONDS = 3.0  # a scrape answers even when Kafka or the database is slow
LATENCY_BUCKETS_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

Refresh = Callable[[], Awaitable[None]]


class ServiceMetrics:
    """The metrics of one service instance, in a registry of their own.

    A registry per app (not prometheus-client's global one) so that many apps can be created
    in one process (tests) without "Duplicated timeseries" errors.
    """

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        self.decisions = Counter(
            "bankrec_decisions_published_total",
            "Match decisions published, by kind (match, suspense, ...) and rule",
            ["kind", "rule"],
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "bankrec_dead_letters_published_total",
            "Messages refused and sent to the dead-letter topic",
            ["consumer", "source_topic", "reason_code"],
            registry=self.registry,
        )
        self.outbox_relayed = Counter(
            "bankrec_outbox_relayed_total",
            "Staged outbox messages published by the relay, by topic",
            ["topic"],
            registry=self.registry,
        )
        self.outbox_pending = Gauge(
            "bankrec_outbox_pending",
            "Outbox messages staged and not yet published (read at scrape time)",
            registry=self.registry,
        )
        self.http_requests = Counter(
            "bankrec_http_requests_total",
            "HTTP requests by route template, method and status code",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.http_duration = Histogram(
            "bankrec_http_request_duration_seconds",
            "HTTP request latency by route template and method",
            ["route", "method"],
            buckets=LATENCY_BUCKETS_SECONDS,
            registry=self.registry,
        )
        self.consumer_lag = Gauge(
            "bankrec_consumer_lag_messages",
            "End offset minus committed offset per consumer group and partition "
            "(read at scrape time, for the partitions this instance holds)",
            ["group", "topic", "partition"],
            registry=self.registry,
        )
        self._refreshes: list[Refresh] = []
        self._refreshed_at = float("-inf")
        self._refresh_lock = asyncio.Lock()

    def on_scrape(self, refresh: Refresh) -> None:
        """Run ``refresh`` (which sets gauges) before a scrape, at most every few seconds."""
        self._refreshes.append(refresh)

    async def refresh(self) -> None:
        async with self._refresh_lock:
            if time.monotonic() - self._refreshed_at < SCRAPE_REFRESH_SECONDS:
                return
            for refresh in self._refreshes:
                try:
                    await asyncio.wait_for(refresh(), timeout=SCRAPE_QUERY_TIMEOUT_SECONDS)
                except Exception as exc:  # a figure missing is better than no scrape
                    log.warning("metrics refresh %s failed: %s", _name_of(refresh), exc)
            self._refreshed_at = time.monotonic()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def record_decision(self, kind: str, rule: str) -> None:
        self.decisions.labels(kind=kind, rule=rule or "none").inc()


def _name_of(refresh: Refresh) -> str:
    return getattr(refresh, "__qualname__", repr(refresh))


# broker -> its app's metrics; weak so that a test's brokers and apps are freed
_BY_BROKER: weakref.WeakKeyDictionary[Any, ServiceMetrics] = weakref.WeakKeyDictionary()


def attach_metrics(broker: Any, metrics: ServiceMetrics) -> None:
    """Make ``metrics_of(broker)`` answer ``metrics``."""
    _BY_BROKER[broker] = metrics


def metrics_of(broker: Any) -> ServiceMetrics | None:
    """The metrics of the app that owns ``broker``; None for a broker of no app (a recorder)."""
    try:
        return _BY_BROKER.get(broker)
    except TypeError:  # not weak-referenceable: a test double
        return None


def install_metrics_route(app: FastAPI, metrics: ServiceMetrics) -> None:
    """Serve the registry at ``GET /metrics`` in Prometheus's text format."""

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics(_request: Request) -> Response:
        await metrics.refresh()
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


class HttpMetricsMiddleware:
    """Counts requests and their latency by route template (``/v1/tenants/{tenant_id}/...``),
    never by raw path, so tenant ids and line ids do not become label values."""

    def __init__(self, app: ASGIApp, *, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client sees when the app raises before answering

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = route_template(scope)
            if route != "/metrics":  # scrapes would outnumber everything else
                method = str(scope.get("method", "GET"))
                self.metrics.http_requests.labels(
                    route=route, method=method, status=str(status)
                ).inc()
                self.metrics.http_duration.labels(route=route, method=method).observe(
                    time.perf_counter() - started
                )


def route_template(scope: Scope) -> str:
    """The matched route's path template, or ``unmatched`` (a 404 on a made-up path)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


def consumer_lag_refresh(broker: Any, metrics: ServiceMetrics) -> Refresh:
    """Reads, for every consumer-group subscriber of ``broker``, each assigned partition's
    committed offset (from the group coordinator) and end offset (the last stable offset the
    consumer's fetches saw, as it reads ``read_committed``; asked of the broker when unknown)."""

    async def refresh_consumer_lag() -> None:
        metrics.consumer_lag.clear()  # partitions move between instances on a rebalance
        for subscriber in list(getattr(broker, "subscribers", ())):
            group = getattr(subscriber, "group_id", None)
            consumers = getattr(subscriber, "consumer_subgroup", None) or [
                getattr(subscriber, "consumer", None)
            ]
            if not group:
                continue  # whole-topic readers commit nothing, so have no lag to speak of
            for consumer in consumers:
                if consumer is None:
                    continue
                await _record_lag(consumer, str(group), metrics)

    return refresh_consumer_lag


async def _record_lag(consumer: Any, group: str, metrics: ServiceMetrics) -> None:
    assigned = list(consumer.assignment())
    if not assigned:
        return
    ends: dict[Any, int | None] = {tp: consumer.last_stable_offset(tp) for tp in assigned}
    unknown = [tp for tp, end in ends.items() if end is None]
    if unknown:
        ends.update(await consumer.end_offsets(unknown))
    for tp in assigned:
        committed = await consumer.committed(tp)
        end = ends.get(tp)
        if end is None:
            continue
        lag = end - (committed or 0)
        metrics.consumer_lag.labels(group=group, topic=tp.topic, partition=str(tp.partition)).set(
            max(lag, 0)
        )


def count_of(refresh: Callable[[], Awaitable[int]], gauge: Gauge) -> Refresh:
    """A scrape-time refresh that sets ``gauge`` to what ``refresh`` counts."""

    async def refresh_count() -> None:
        gauge.set(await refresh())

    refresh_count.__qualname__ = f"count of {gauge._name}"
    return refresh_count
