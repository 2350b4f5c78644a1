"""OpenTelemetry tracing across HTTP requests, Kafka messages and the outbox (off by default).

``BANKREC_OTEL_EXPORTER`` chooses where spans go: ``none`` (the default: no middleware is
installed, nothing is traced), ``otlp`` (OTLP over HTTP to ``BANKREC_OTEL_ENDPOINT``) or
``console`` (one JSON span per line on stdout). Kafka hops are traced by FastStream's
``KafkaTelemetryMiddleware``, which carries the W3C ``traceparent`` in message headers; HTTP
requests by ``HttpTracingMiddleware`` below (the ASGI instrumentation package is not a
dependency: the few lines here do what bankrec needs).

The outbox relay publishes after the staging transaction has committed, in a task of its own:
``stage_message`` remembers the staging code's trace context by message id
(``StagedTraceContexts``), and the relay publishes each message inside it, so the message
continues the trace that caused it. The context is kept in memory, not in the outbox row:
a message relayed by another process or after a restart starts a new trace. That costs no
migration of three services' outbox tables and no new envelope field (the envelope forbids
unknown fields, so older readers would refuse a message carrying one); traces are a
diagnosis aid, so losing the link across a crash is an acceptable price.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any, Literal

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bankrec.runtime.metrics import route_template

ExporterName = Literal["none", "otlp", "console"]

INSTRUMENTATION_NAME = "bankrec.runtime"
STAGED_CONTEXTS_KEPT = 10_000  # bounds the memory of rolled-back stagings never relayed

_PROPAGATOR = TraceContextTextMapPropagator()


class TracingConfigurationError(ValueError):
    """An exporter name or endpoint bankrec cannot use."""


_process_provider: TracerProvider | None = None
_providers: dict[tuple[str, str, str], TracerProvider] = {}
_providers_lock = threading.Lock()


@contextlib.contextmanager
def tracing_to(provider: TracerProvider) -> Iterator[TracerProvider]:
    """Every app created inside the block traces to ``provider`` whatever its settings say
    (tests with an in-memory exporter; a program embedding several services)."""
    global _process_provider
    previous, _process_provider = _process_provider, provider
    try:
        yield provider
    finally:
        _process_provider = previous


def tracer_provider_for(
    exporter: ExporterName, *, service: str, endpoint: str | None = None
) -> TracerProvider | None:
    """The tracer provider a service's app uses; None when tracing is off.

    One provider per (service, exporter, endpoint) in a process, so apps created again and
    again (tests) do not each start an export thread.
    """
    if _process_provider is not None:
        return _process_provider
    if exporter == "none":
        return None
    key = (service, exporter, endpoint or "")
    with _providers_lock:
        if key not in _providers:
            provider = TracerProvider(resource=Resource.create({"service.name": service}))
            provider.add_span_processor(_processor(exporter, endpoint))
            _providers[key] = provider
        return _providers[key]


def _processor(exporter: ExporterName, endpoint: str | None) -> SimpleSpanProcessor:
    span_exporter: SpanExporter
    if exporter == "console":
        # one span per line, written as it ends: a person watches this, so no batching
        return SimpleSpanProcessor(
            ConsoleSpanExporter(formatter=lambda span: span.to_json(indent=None) + "\n")
        )
    if exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        span_exporter = OTLPSpanExporter(endpoint=endpoint) if endpoint else OTLPSpanExporter()
        # batched off the request path; a collector that is away drops spans, never blocks
        return BatchSpanProcessor(span_exporter)  # type: ignore[return-value]
    raise TracingConfigurationError(
        f"unknown trace exporter {exporter!r}: set BANKREC_OTEL_EXPORTER to none, otlp or console"
    )


def current_trace_ids() -> tuple[str, str] | None:
    """(trace id, span id) in hex of the span being recorded now, for log lines."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None
    return f"{span_context.trace_id:032x}", f"{span_context.span_id:016x}"


class StagedTraceContexts:
    """Message id -> the trace context its staging transaction ran in, until it is relayed.

    Bounded: a staging whose transaction rolled back is never relayed, so the oldest entries
    make room for new ones.
    """

    def __init__(self, kept: int = STAGED_CONTEXTS_KEPT) -> None:
        self._kept = kept
        self._contexts: OrderedDict[str, Context] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, message_id: str, *, caused_by: str | None = None) -> None:
        """Keep, for ``message_id``, the trace of the consumed message that caused it (a record
        of a batch: the batch's own span is a new trace) or else the current context when a
        span is being recorded."""
        current = trace.get_current_span().get_span_context()
        staged = CONSUMED_TRACE_CONTEXTS.get(caused_by) if caused_by else None
        if staged is None or (
            current.is_valid
            and trace.get_current_span(staged).get_span_context().trace_id == current.trace_id
        ):  # a single message's own span already continues its trace: stay under it
            if not current.is_valid:
                return
            staged = otel_context.get_current()
        with self._lock:
            self._contexts[message_id] = staged
            while len(self._contexts) > self._kept:
                self._contexts.popitem(last=False)

    def __bool__(self) -> bool:
        return bool(self._contexts)

    def forget(self, message_ids: list[str]) -> None:
        """The messages were published: their contexts are no longer needed."""
        with self._lock:
            for message_id in message_ids:
                self._contexts.pop(message_id, None)

    @contextlib.contextmanager
    def resumed(self, message_id: str | None) -> Iterator[None]:
        """Run the block in the context ``message_id`` was staged in (if it was kept); kept
        until ``forget``, so a batch that failed to publish is retried in it too."""
        with self._lock:
            staged = self._contexts.get(message_id) if message_id else None
        if staged is None:
            yield
            return
        token = otel_context.attach(staged)
        try:
            yield
        finally:
            otel_context.detach(token)


class ConsumedTraceContexts:
    """Message id -> the trace context its Kafka headers carried, for the records of a batch.

    FastStream traces a batch as one span of a new trace (linked to the records' traces), so
    what a batch handler stages would leave the trace of the line that caused it; the
    consumed record's own context, looked up by the staged envelope's causation id, keeps the
    trace going from webhook to posting. Bounded like ``StagedTraceContexts``.
    """

    def __init__(self, kept: int = STAGED_CONTEXTS_KEPT) -> None:
        self._kept = kept
        self._contexts: OrderedDict[str, Context] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, message_id: str, headers: Any) -> None:
        """Keep the trace context in a consumed record's ``headers`` (pairs of name and bytes)
        while tracing is on; records without one are skipped."""
        if not trace.get_current_span().get_span_context().is_valid:
            return  # tracing off: nothing to continue, and nothing to pay for per record
        carrier = {
            str(name): bytes(value).decode("latin-1")
            for name, value in headers or ()
            if name in ("traceparent", "tracestate") and isinstance(value, bytes | bytearray)
        }
        if "traceparent" not in carrier:
            return
        extracted = _PROPAGATOR.extract(carrier)
        if not trace.get_current_span(extracted).get_span_context().is_valid:
            return
        with self._lock:
            self._contexts[message_id] = extracted
            while len(self._contexts) > self._kept:
                self._contexts.popitem(last=False)

    def get(self, message_id: str) -> Context | None:
        with self._lock:
            return self._contexts.get(message_id)


CONSUMED_TRACE_CONTEXTS = ConsumedTraceContexts()
STAGED_TRACE_CONTEXTS = StagedTraceContexts()

_MESSAGE_ID_PREFIX = b'{"message_id":"'


def message_id_of(value: bytes) -> str | None:
    """The envelope's message id from its JSON bytes; envelopes are written with
    ``message_id`` first, so this reads a prefix instead of parsing the whole message."""
    if value.startswith(_MESSAGE_ID_PREFIX):
        end = value.find(b'"', len(_MESSAGE_ID_PREFIX))
        if end > 0:
            return value[len(_MESSAGE_ID_PREFIX) : end].decode("ascii", errors="replace")
    return None


class HttpTracingMiddleware:
    """A SERVER span per HTTP request, continuing the caller's ``traceparent`` if it sent one;
    named by route template (``POST /v1/webhooks/{tenant_id}/statements``), never raw path."""

    def __init__(self, app: ASGIApp, *, provider: TracerProvider) -> None:
        self.app = app
        self.tracer = provider.get_tracer(INSTRUMENTATION_NAME)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {
            key.decode("latin-1"): value.decode("latin-1")
            for key, value in scope.get("headers", [])
            if key in (b"traceparent", b"tracestate")
        }
        parent = _PROPAGATOR.extract(headers)
        method = str(scope.get("method", "GET"))
        span = self.tracer.start_span(
            f"{method} {scope.get('path', '')}",
            kind=SpanKind.SERVER,
            context=parent,
            attributes={"http.request.method": method, "url.path": str(scope.get("path", ""))},
            start_time=time.time_ns(),
        )
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                span.set_attribute("http.response.status_code", status)
            await send(message)

        token = otel_context.attach(trace.set_span_in_context(span, parent))
        try:
            await self.app(scope, receive, send_with_status)
        except Exception as exc:
            span.record_exception(exc)
            raise
        finally:
            otel_context.detach(token)
            route = route_template(scope)
            if route != "unmatched":
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            span.end()
