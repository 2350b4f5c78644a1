"""One trace from a bank's webhook to the ledger's posting (issue 7's acceptance): ingest,
matcher and ledger run in this process against the real Kafka broker and PostgreSQL, all
tracing into one in-memory exporter. The webhook request's trace id must be the trace id of
the matcher's publishing of the decision and of the ledger relay's publishing of the posting
from its outbox; the matcher's processing of the line and the ledger's processing of the
decision (batch consumers: one span per batch) are in that trace or linked to it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bankrec.contracts import DECISIONS, POSTINGS, STATEMENT_LINES
from bankrec.devstack.processes import start_groups_at_end
from bankrec.devstack.topics import commit_group_at_end
from bankrec.ingest.bootstrap import create_app as create_ingest
from bankrec.ingest.domain.credentials import signed, webhook_signer
from bankrec.ingest.settings import IngestSettings
from bankrec.ledger import LedgerSettings
from bankrec.ledger import create_app as create_ledger
from bankrec.ledger.use_cases import CONSUMER as LEDGER_GROUP
from bankrec.matcher import MatcherSettings
from bankrec.matcher import create_app as create_matcher
from bankrec.runtime import tracing_to

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
STATEMENT = REPO_ROOT / "deploy" / "demo" / "statement-2026-11.camt053.xml"
ADMIN = {"authorization": "Bearer trace-admin-token"}
TIMEOUT_SECONDS = 90.0


@asynccontextmanager
async def running(app: FastAPI, name: str) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{name}") as http:
            yield http


def matcher_line_group() -> str:
    from bankrec.matcher import consumers

    group_for = getattr(consumers, "group_for", None)
    return group_for(STATEMENT_LINES) if group_for else str(consumers.CONSUMER_GROUP)


def spans_named(
    spans: tuple[ReadableSpan, ...], name: str, trace_id: int, *, batch: bool = False
) -> list[ReadableSpan]:
    """The spans of that name in the trace, or (``batch``) in a trace linked to it: FastStream
    records a batch in a trace of its own whose first span links to each record's trace (the
    OpenTelemetry messaging convention for batches); what a batch consumer publishes for a
    record must continue the record's trace itself."""
    linked = {trace_id} | {
        s.context.trace_id
        for s in spans
        if batch
        and s.context is not None
        and any(link.context.trace_id == trace_id for link in s.links)
    }
    return [
        s
        for s in spans
        if s.name == name and s.context is not None and s.context.trace_id in linked
    ]


async def test_one_trace_links_the_webhook_the_decision_and_the_posting(
    kafka_bootstrap: str, database_url: Callable[[str], str], tmp_path: Path
) -> None:
    await start_groups_at_end(kafka_bootstrap)
    await commit_group_at_end(kafka_bootstrap, matcher_line_group(), STATEMENT_LINES.name)
    await commit_group_at_end(kafka_bootstrap, LEDGER_GROUP, DECISIONS.name)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with tracing_to(provider):
        ingest = create_ingest(
            IngestSettings(
                kafka_bootstrap_servers=kafka_bootstrap,
                database_url=database_url("trace_ingest"),
                spool_dir=tmp_path / "spool",
                admin_token="trace-admin-token",
                bank_pull_enabled=False,
            )
        )
        matcher = create_matcher(MatcherSettings(kafka_bootstrap_servers=kafka_bootstrap))
        ledger = create_ledger(
            LedgerSettings(
                kafka_bootstrap_servers=kafka_bootstrap, database_url=database_url("trace_ledger")
            )
        )
    tenant_id = f"trace-{uuid.uuid4().hex[:10]}"
    async with AsyncExitStack() as stack:
        ingest_http = await stack.enter_async_context(running(ingest, "ingest"))
        await stack.enter_async_context(running(matcher, "matcher"))
        await stack.enter_async_context(running(ledger, "ledger"))
        secret = (
            await ingest_http.post(f"/v1/admin/tenants/{tenant_id}/webhook-secret", headers=ADMIN)
        ).json()["webhook_secret"]
        body = STATEMENT.read_bytes()
        moment = str(int(time.time()))
        signer = webhook_signer(secret, moment)
        signer.update(body)
        response = await ingest_http.post(
            f"/v1/webhooks/{tenant_id}/statements",
            content=body,
            headers={"x-bankrec-timestamp": moment, "x-bankrec-signature": signed(signer)},
        )
        assert response.status_code == 202, response.text
        [webhook] = [
            s
            for s in exporter.get_finished_spans()
            if s.name == "POST /v1/webhooks/{tenant_id}/statements"
        ]
        assert webhook.context is not None
        trace_id = webhook.context.trace_id
        posting_published = f"{POSTINGS.name} publish"
        async with asyncio.timeout(TIMEOUT_SECONDS):
            while True:
                if spans_named(exporter.get_finished_spans(), posting_published, trace_id):
                    break
                await asyncio.sleep(0.2)
    spans = exporter.get_finished_spans()
    services = {  # (span, consumed in a batch)
        "the matcher reads the line": (f"{STATEMENT_LINES.name} process", True),
        "the matcher publishes its decision": (f"{DECISIONS.name} publish", False),
        "the ledger applies the decision": (f"{DECISIONS.name} process", True),
        "the ledger's relay publishes the posting": (posting_published, False),
    }
    missing = [
        what
        for what, (name, batch) in services.items()
        if not spans_named(spans, name, trace_id, batch=batch)
    ]
    assert missing == [], f"not in the webhook's trace {trace_id:032x}: {missing}"
