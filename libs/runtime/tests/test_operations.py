"""``install_operations``: /metrics (FastStream's message counters and bankrec's own), health,
the AsyncAPI page, and traces that follow a message through the outbox. Kafka is FastStream's
``TestKafkaBroker`` (wiring only); the database is SQLite."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from faststream.kafka import KafkaBroker, TestKafkaBroker
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine

from bankrec.contracts import (
    DECISIONS,
    OPEN_ITEMS,
    BankAccountRef,
    DecisionKind,
    MatchDecision,
    Money,
    OpenItem,
    OpenItemKind,
    envelope_for,
)
from bankrec.runtime import (
    OutboxRelay,
    ServiceSettings,
    create_broker,
    create_engine,
    install_operations,
    outbox_table,
    publish_dead_letter,
    publish_envelope,
    session_factory,
    stage_message,
    subscriber_options,
    tracing_to,
)

metadata = MetaData()
outbox = outbox_table(metadata)
received: list[bytes] = []


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in a Prometheus exposition, None when absent."""
    for line in text.splitlines():
        matched = re.fullmatch(rf"{re.escape(name)}(?:\{{(.*)\}})? (\S+)", line)
        if matched is None:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', matched.group(1) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(matched.group(2))
    return None


def open_item_envelope(item_id: str) -> Any:
    amount = Money.of("100.00", "NOK")
    item = OpenItem(item_id=item_id, kind=OpenItemKind.INVOICE, amount=amount, remaining=amount)
    return envelope_for(item, tenant_id="ops-test", correlation_id="ops")


def decision_envelope() -> Any:
    decision = MatchDecision(
        decision_id="decision-1",
        line_id="line-1",
        statement_id="st-1",
        account=BankAccountRef(account_id="acct-1", currency="NOK"),
        kind=DecisionKind.SUSPENSE,
        rule="no_candidate",
        amount=Money.of("4200.00", "NOK"),
        booking_date=date(2026, 11, 20),
        explanation="nothing open for this amount",
        confidence=Decimal("0"),
    )
    return envelope_for(decision, tenant_id="ops-test", correlation_id="ops")


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'ops.sqlite'}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


def service_app(broker: KafkaBroker, engine: AsyncEngine, name: str) -> tuple[FastAPI, OutboxRelay]:
    relay = OutboxRelay(broker, session_factory(engine), outbox)

    @broker.subscriber(OPEN_ITEMS.name, **subscriber_options(f"ops-{name}"))
    async def on_open_item(body: bytes) -> None:
        received.append(body)

    app = FastAPI(title=f"ops {name}", version="0.0.1")

    @app.get("/v1/tenants/{tenant_id}/things/{thing_id}")
    async def thing(tenant_id: str, thing_id: str) -> dict[str, str]:
        return {"tenant_id": tenant_id, "thing_id": thing_id}

    install_operations(
        app, broker, service=name, settings=ServiceSettings(), engine=engine, relay=relay
    )
    return app, relay


async def test_metrics_count_messages_decisions_dead_letters_outbox_and_requests(
    engine: AsyncEngine,
) -> None:
    broker = create_broker("127.0.0.1:1", client_id="ops-test")
    app, relay = service_app(broker, engine, "one")
    other_broker = create_broker("127.0.0.1:1", client_id="ops-test-2")
    service_app(other_broker, engine, "two")  # a second app in the process: its own registry
    async with TestKafkaBroker(broker):
        await publish_envelope(broker, OPEN_ITEMS, "INV-1", open_item_envelope("INV-1"))
        await publish_envelope(broker, DECISIONS, "line-1", decision_envelope())
        await publish_dead_letter(
            broker,
            consumer="ops-one",
            source_topic=OPEN_ITEMS.name,
            reason_code="undecodable_message",
            reason="not JSON",
            raw_value=b"{",
        )
        async with session_factory(engine)() as session:
            for n in range(3):
                item = open_item_envelope(f"INV-{n + 10}")
                await stage_message(session, outbox, OPEN_ITEMS, item.payload.item_id, item)
            await session.commit()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ops") as http:
            text = (await http.get("/metrics")).text
            assert sample(text, "bankrec_outbox_pending") == 3.0
            assert await relay.relay_all() == 3
            for thing in ("a", "b"):
                assert (await http.get(f"/v1/tenants/acme/things/{thing}")).status_code == 200
            assert (await http.get("/nowhere")).status_code == 404
            app.state.metrics._refreshed_at = float("-inf")  # read the backlog again now
            text = (await http.get("/metrics")).text
    topic = OPEN_ITEMS.name
    assert sample(text, "faststream_received_messages_total", handler=topic) == 4.0
    assert sample(text, "faststream_published_messages_total", destination=topic) == 4.0
    assert sample(text, "bankrec_decisions_published_total", kind="suspense", rule="no_candidate")
    assert sample(text, "bankrec_dead_letters_published_total", reason_code="undecodable_message")
    assert sample(text, "bankrec_outbox_relayed_total", topic=topic) == 3.0
    assert sample(text, "bankrec_outbox_pending") == 0.0
    route = "/v1/tenants/{tenant_id}/things/{thing_id}"
    assert sample(text, "bankrec_http_requests_total", route=route, status="200") == 2.0
    assert sample(text, "bankrec_http_requests_total", route="unmatched", status="404") == 1.0
    assert sample(text, "bankrec_http_request_duration_seconds_count", route=route) == 2.0
    assert "acme" not in text  # tenant ids are never label values


async def test_liveness_and_readiness_say_which_dependency_is_missing(
    engine: AsyncEngine,
) -> None:
    broker = create_broker("127.0.0.1:1", client_id="ops-test")
    app, _relay = service_app(broker, engine, "health")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ops") as http:
        assert (await http.get("/health/live")).json() == {"status": "alive"}
        not_ready = await http.get("/health/ready")  # the broker was never started
        assert not_ready.status_code == 503
        assert not_ready.json()["checks"]["database"] == "ok"
        assert not_ready.json()["checks"]["broker"].startswith("unreachable")
        await engine.dispose()
        database = Path(str(engine.url.database))
        database.unlink()  # noqa: ASYNC240 - a test's own file
        database.mkdir()  # noqa: ASYNC240 - a directory: SQLite cannot open it
        checks = (await http.get("/health/ready")).json()["checks"]
        assert checks["database"].startswith("unreachable")
        async with TestKafkaBroker(broker):
            assert (await http.get("/health/ready")).json()["checks"]["broker"] == "ok"
        page = await http.get("/asyncapi")
        assert page.status_code == 200
        assert "AsyncAPI" in page.text


async def test_a_relayed_message_continues_the_trace_that_staged_it(engine: AsyncEngine) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    broker = create_broker("127.0.0.1:1", client_id="ops-test")
    with tracing_to(provider):
        app, relay = service_app(broker, engine, "traced")
    tracer = provider.get_tracer("test")
    async with TestKafkaBroker(broker):
        with tracer.start_as_current_span("staging transaction") as staging:
            async with session_factory(engine)() as session:
                item = open_item_envelope("INV-traced")
                await stage_message(session, outbox, OPEN_ITEMS, "INV-traced", item)
                await session.commit()
        trace_id = staging.get_span_context().trace_id
        assert await relay.relay_all() == 1  # outside the span, as the relay's own task is
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ops") as http:
            parent = f"00-{trace_id:032x}-{1:016x}-01"
            await http.get("/v1/tenants/acme/things/x", headers={"traceparent": parent})
    spans = exporter.get_finished_spans()
    consumed = [s for s in spans if s.name == f"{OPEN_ITEMS.name} process"]
    assert consumed
    assert {s.context.trace_id for s in consumed} == {trace_id}
    [request] = [s for s in spans if s.name == "GET /v1/tenants/{tenant_id}/things/{thing_id}"]
    assert request.context.trace_id == trace_id
    assert (request.attributes or {})["http.response.status_code"] == 200
