"""The rebuild from the topics, on the real broker and PostgreSQL: a live reconciler records a
statement, lines, decisions (one superseded by a later one) and postings (one reversed) of two
accounts, and an opening balance entered by hand on one of them; the rebuild into the same
database and into a fresh one gives every period exactly what the live service had (the fresh
database without what was entered by hand, which no topic holds); so does a second rebuild, and
a rebuild run again after one that failed half-way.

The topics are the shared broker's: the rebuild starts where they stood before this test
published, and only this test's tenant is compared.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from reconciler_factories import TENANT_KEYS, Messages, auth_headers

from bankrec.contracts import (
    DECISIONS,
    POSTINGS,
    STATEMENT_LINES,
    STATEMENTS,
    DecisionKind,
    PeriodStatus,
    Topic,
)
from bankrec.devstack.topics import commit_group_at_end
from bankrec.reconciler import ReconcilerSettings, create_app
from bankrec.reconciler.adapters import reconciler_engine, sql_units_of_work
from bankrec.reconciler.bootstrap import MIGRATIONS_DIR
from bankrec.reconciler.consumers import CONSUMED_TOPICS, group_for
from bankrec.reconciler.domain import ReconciliationPeriod, figures
from bankrec.reconciler.rebuild import ServiceRunningError, rebuild_from_topics
from bankrec.reconciler.use_cases import Reconciler
from bankrec.runtime import (
    create_broker,
    ensure_topics,
    publish_envelope,
    readable_end_offsets,
    session_factory,
    upgrade_database,
)

pytestmark = pytest.mark.integration

WAIT_SECONDS = 60.0
ACTOR = "anna@acme.example"


async def topic_ends(bootstrap: str, topics: tuple[Topic, ...]) -> dict[str, dict[int, int]]:
    return {
        topic.name: await readable_end_offsets(bootstrap, topic, client_id="bankrec-rebuild-test")
        for topic in topics
    }


def snapshot(period: ReconciliationPeriod) -> dict[str, Any]:
    """Everything a period shows: status, balances, the figures (counts, sums, difference), the
    statements, lines (with decisions), postings, adjustments and entered values."""
    return {
        "period_no": period.period_no,
        "status": period.status,
        "figures": figures(period),
        "statements": dict(period.statements),
        "lines": dict(period.lines),
        "postings": dict(period.postings),
        "removed_lines": dict(period.removed_lines),
        "line_marks": dict(period.line_marks),
        "entry_marks": dict(period.entry_marks),
        "adjustments": dict(period.adjustments),
        "match_requests": dict(period.match_requests),
        "manual_opening_balance": period.manual_opening_balance,
        "manual_statement_balance": period.manual_statement_balance,
        "account_number": period.account_number,
    }


def statement_of(make: Messages) -> list[tuple[Topic, Any]]:
    """A statement of three lines: l1 first in suspense then matched (the later decision
    wins), l2 matched, l3 posted and reversed; every line posted."""
    return [
        (STATEMENTS, make.header(opening="1000.00", closing="1149.50")),
        (STATEMENT_LINES, make.line("l1", "250.00")),
        (STATEMENT_LINES, make.line("l2", "-100.50")),
        (STATEMENT_LINES, make.line("l3", "75.25")),
        (DECISIONS, make.decision("l1", "250.00", DecisionKind.SUSPENSE)),
        (DECISIONS, make.decision("l2", "-100.50")),
        (POSTINGS, make.posting("l1", "250.00", entry_id="je-1")),
        (POSTINGS, make.posting("l2", "-100.50", entry_id="je-2")),
        (POSTINGS, make.posting("l3", "75.25", entry_id="je-3")),
        (POSTINGS, make.posting("l3", "-75.25", entry_id="je-4", reverses="je-3")),
        (DECISIONS, make.decision("l1", "250.00", DecisionKind.MATCH)),
    ]


async def publish(bootstrap: str, make: Messages, sent: list[tuple[Topic, Any]]) -> None:
    producer = create_broker(bootstrap, client_id="bankrec-rebuild-test")
    await producer.connect()
    try:
        for minutes, (topic, payload) in enumerate(sent):
            envelope = make.envelope(payload, occurred_at=make.at(minutes))
            await publish_envelope(producer, topic, f"{make.tenant_id}:{make.account_id}", envelope)
    finally:
        await producer.stop()


async def until(
    http: httpx.AsyncClient, paths: list[str], done: Callable[[dict[str, Any]], bool]
) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        reports = [(await http.get(path)).json() for path in paths]
        if all(done(report) for report in reports):
            return
        assert time.monotonic() < deadline, f"the live reconciler did not catch up: {reports}"
        await asyncio.sleep(0.3)


async def account_state(url: str, tenant_id: str, account_id: str) -> list[dict[str, Any]]:
    engine = reconciler_engine(url)
    try:
        async with sql_units_of_work(session_factory(engine))() as uow:
            periods = await uow.periods.list_account(tenant_id, account_id)
    finally:
        await engine.dispose()
    return [snapshot(period) for period in periods]


async def test_rebuild_gives_every_period_what_the_live_service_had(
    kafka_bootstrap: str,
    database_url: Callable[[str], str],
    messages: Messages,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = messages
    second = Messages.for_tenant(first.tenant_id, iban="NO8330001234567")
    tenant = first.tenant_id
    await ensure_topics(kafka_bootstrap, CONSUMED_TOPICS)
    starts = await topic_ends(kafka_bootstrap, CONSUMED_TOPICS)
    for topic in CONSUMED_TOPICS:  # the live groups start where a caught-up service would
        await commit_group_at_end(kafka_bootstrap, group_for(topic), topic.name)
    live_url = database_url("rebuild_live")
    app = create_app(
        ReconcilerSettings(kafka_bootstrap_servers=kafka_bootstrap, database_url=live_url),
        tenant_keys=TENANT_KEYS,
    )
    async with app.router.lifespan_context(app):
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://reconciler",
            headers=auth_headers(tenant),
        )
        for make in (first, second):
            await publish(kafka_bootstrap, make, statement_of(make))

        # all four entries too: before je-3 and after its reversal je-4 the counts are the
        # same, and in between the difference is not zero (the release below needs zero)
        await until(
            http,
            [f"/v1/tenants/{tenant}/accounts/{m.account_id}/periods/1" for m in (first, second)],
            lambda p: (p.get("reconciled"), p.get("matched"), p.get("entries")) == (2, 2, 4),
        )
        # the second account: period 1 released, then a line and its posting for period 2,
        # and a statement balance entered by hand there
        periods = f"/v1/tenants/{tenant}/accounts/{second.account_id}/periods"
        released = await http.post(f"{periods}/1/release", json={"actor": ACTOR})
        assert released.status_code == 200, released.text
        await publish(
            kafka_bootstrap,
            second,
            [
                (STATEMENT_LINES, second.line("l4", "40.00")),
                (DECISIONS, second.decision("l4", "40.00")),
                (POSTINGS, second.posting("l4", "40.00", entry_id="je-5")),
            ],
        )
        await until(
            http,
            [f"/v1/tenants/{tenant}/accounts/{second.account_id}/report"],
            lambda r: r.get("lines") == 1 and r.get("reconciled") == 1,
        )
        entered = await http.put(
            f"/v1/tenants/{tenant}/accounts/{second.account_id}/statement-balance",
            json={"amount": "1200.00"},
        )
        assert entered.status_code == 200, entered.text
        await http.aclose()

        engine = reconciler_engine(live_url)
        try:
            with pytest.raises(ServiceRunningError, match="stop every instance"):
                await rebuild_from_topics(session_factory(engine), kafka_bootstrap)
        finally:
            await engine.dispose()

    live = {
        m.account_id: await account_state(live_url, tenant, m.account_id) for m in (first, second)
    }
    (period,) = live[first.account_id]
    assert period["figures"].difference.amount == Decimal("0.00")
    assert (period["figures"].lines, period["figures"].reconciled) == (3, 2)
    january, february = live[second.account_id]
    assert january["status"] is PeriodStatus.RELEASED
    assert sorted(february["lines"]) == ["l4"]
    assert february["manual_statement_balance"].amount == Decimal("1200.00")

    fresh_url = database_url("rebuild_fresh")
    await asyncio.to_thread(upgrade_database, fresh_url, MIGRATIONS_DIR)
    for url in (live_url, fresh_url):
        engine = reconciler_engine(url)
        try:
            # groups=(): the live app above has stopped; another test on this shared broker
            # may be running a reconciler with the same groups at this moment
            rebuilt = await rebuild_from_topics(
                session_factory(engine), kafka_bootstrap, groups=(), start_offsets=starts
            )
        finally:
            await engine.dispose()
        by_topic = {t.topic: t for t in rebuilt.topics}
        # the lines were cleared and recorded again (l1-l3 of the released period excepted)
        assert by_topic[STATEMENT_LINES.name].applied >= (4 if url == live_url else 7)
        assert await account_state(url, tenant, first.account_id) == live[first.account_id]

    # the released period kept, the next one rebuilt with what was entered in it
    assert await account_state(live_url, tenant, second.account_id) == live[second.account_id]

    async def rebuild_live(**options: Any) -> None:
        engine = reconciler_engine(live_url)
        try:
            await rebuild_from_topics(
                session_factory(engine), kafka_bootstrap, groups=(), start_offsets=starts, **options
            )
        finally:
            await engine.dispose()

    async def live_state_kept() -> None:
        for account in (first, second):
            assert (
                await account_state(live_url, tenant, account.account_id)
                == live[account.account_id]
            )

    # and again: the first rebuild's claims keep the times the live service recorded the
    # messages at, so l1-l3 still go to the released January, not to February
    await rebuild_live()
    await live_state_kept()

    # a rebuild that fails half-way (after its first batch), then the same run again: the
    # claims it cleared were kept, so the messages it had not replayed are routed as live
    record_batch = Reconciler.record_batch
    batches = 0

    async def failing_after_one(self: Reconciler, *args: Any, **kwargs: Any) -> Any:
        nonlocal batches
        batches += 1
        if batches > 1:
            raise ConnectionError("the database went away")
        return await record_batch(self, *args, **kwargs)

    monkeypatch.setattr(Reconciler, "record_batch", failing_after_one)
    with pytest.raises(ConnectionError):
        await rebuild_live(batch_records=2)
    monkeypatch.setattr(Reconciler, "record_batch", record_batch)
    assert batches == 2
    await rebuild_live()
    await live_state_kept()
    # a fresh database has nothing entered: no release, so every line in period 1
    (unreleased,) = await account_state(fresh_url, tenant, second.account_id)
    assert sorted(unreleased["lines"]) == ["l1", "l2", "l3", "l4"]
    assert unreleased["manual_statement_balance"] is None
