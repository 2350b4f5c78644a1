"""End to end through the real broker and PostgreSQL: the real app (``create_app``) consumes
a statement, its lines, decisions and postings in a scrambled order and serves the figures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from reconciler_factories import TENANT_KEYS, Messages, auth_headers

from bankrec.contracts import (
    DEAD_LETTERS,
    DECISIONS,
    PERIOD_EVENTS,
    POSTINGS,
    STATEMENT_LINES,
    STATEMENTS,
    DecisionKind,
    Envelope,
    Topic,
)
from bankrec.devstack.topics import commit_group_at_end, json_object
from bankrec.reconciler import ReconcilerSettings, create_app
from bankrec.reconciler.adapters import reconciler_engine, sql_units_of_work
from bankrec.reconciler.consumers import CONSUMED_TOPICS, group_for
from bankrec.runtime import create_broker, ensure_topics, publish_envelope, session_factory

pytestmark = pytest.mark.integration

WAIT_SECONDS = 90.0


async def wait_for(
    probe: Callable[[], Any], what: str, timeout_seconds: float = WAIT_SECONDS
) -> Any:
    deadline = time.monotonic() + timeout_seconds
    last: Any = None
    while time.monotonic() < deadline:
        last = await probe()
        if last is not None:
            return last
        await asyncio.sleep(0.3)
    raise AssertionError(
        f"timed out after {timeout_seconds:.0f}s waiting for {what}; last: {last!r}"
    )


Match = Callable[[bytes | None, dict[str, Any]], bool]


async def find_on_topic(bootstrap: str, topic: Topic, *matches: Match) -> list[dict[str, Any]]:
    """For each of ``matches``, the first message on the topic (read from the beginning, and
    waited for while the app runs) that it accepts."""
    found: list[dict[str, Any] | None] = [None] * len(matches)
    consumer = AIOKafkaConsumer(
        topic.name,
        bootstrap_servers=bootstrap,
        group_id=None,  # no offsets committed: a test reader only
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while None in found and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    value = json_object(record.value)
                    if value is None:
                        continue
                    for index, match in enumerate(matches):
                        if found[index] is None and match(record.key, value):
                            found[index] = value
    finally:
        await consumer.stop()
    missing = [index for index, value in enumerate(found) if value is None]
    if missing:
        raise AssertionError(
            f"nothing on {topic.name} matched check(s) {missing} within {WAIT_SECONDS:.0f}s"
        )
    return [value for value in found if value is not None]


async def test_real_app_reconciles_a_statement_from_kafka(
    kafka_bootstrap: str, database_url: Callable[[str], str], messages: Messages
) -> None:
    settings = ReconcilerSettings(
        kafka_bootstrap_servers=kafka_bootstrap, database_url=database_url("reconciler_app")
    )
    # start where a caught-up reconciler would be, not behind other tests' messages
    await ensure_topics(kafka_bootstrap, CONSUMED_TOPICS)
    for topic in CONSUMED_TOPICS:
        await commit_group_at_end(kafka_bootstrap, group_for(topic), topic.name)
    app = create_app(settings, tenant_keys=TENANT_KEYS)
    make = messages
    key = f"{make.tenant_id}:{make.account_id}"
    # posting before its line, decision before its line, statement last: any order converges
    scrambled: list[tuple[Topic, Envelope[Any]]] = [
        (POSTINGS, make.envelope(make.posting("l1", "250.00", entry_id="je-1"))),
        (DECISIONS, make.envelope(make.decision("l1", "250.00"), occurred_at=make.at(1))),
        (STATEMENT_LINES, make.envelope(make.line("l2", "-100.00", sequence=1))),
        (STATEMENT_LINES, make.envelope(make.line("l1", "250.00", sequence=0))),
        (
            DECISIONS,
            make.envelope(
                make.decision("l2", "-100.00", DecisionKind.SUSPENSE), occurred_at=make.at(1)
            ),
        ),
        (POSTINGS, make.envelope(make.posting("l2", "-100.00", entry_id="je-2"))),
        (STATEMENT_LINES, make.envelope(make.line("l3", "49.50", sequence=2))),
        (DECISIONS, make.envelope(make.decision("l3", "49.50"), occurred_at=make.at(1))),
        (POSTINGS, make.envelope(make.posting("l3", "49.50", entry_id="je-3"))),
        (STATEMENTS, make.envelope(make.header(opening="1000.00", closing="1199.50"))),
    ]
    garbage = f"not an envelope for {make.tenant_id}".encode()

    producer = create_broker(kafka_bootstrap, client_id="bankrec-reconciler-test-producer")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://reconciler", headers=auth_headers(make.tenant_id)
        ) as http:
            assert (await http.get("/health")).json() == {"status": "ok"}
            await producer.connect()
            try:
                await producer.publish(garbage, topic=STATEMENT_LINES.name, key=key.encode())
                for topic, envelope in scrambled:
                    await publish_envelope(producer, topic, key, envelope)
                    await publish_envelope(producer, topic, key, envelope)  # redelivered
            finally:
                await producer.stop()

            report_path = f"/v1/tenants/{make.tenant_id}/accounts/{make.account_id}/report"

            async def reconciled() -> dict[str, Any] | None:
                response = await http.get(report_path)
                if response.status_code == 404:
                    return None
                body: dict[str, Any] = response.json()
                # each topic has its own consumer, so any of them may still be behind: a line
                # is reconciled by its posting before its decision arrives, for one
                decided = body["matched"] + body["in_suspense"] + body["other"]
                done = (
                    body["lines"] == 3
                    and body["outstanding"] == 0
                    and decided == 3
                    and body["statement_ids"]
                )
                return body if done else None

            report = await wait_for(reconciled, "the period to have 3 decided, reconciled lines")
            assert report == {
                "account_id": make.account_id,
                "account_number_masked": "***********7947",
                "currency": "NOK",
                "status": "on_hold",
                "statement_ids": ["stmt-1"],
                "opening_balance": "1000.00",
                "statement_balance": "1199.50",
                "reconciled_balance": "1199.50",
                "difference": "0.00",
                "lines": 3,
                "reconciled": 3,
                "matched": 2,
                "in_suspense": 1,
                "other": 0,
                "outstanding": 0,
            }
            text = (await http.get(f"{report_path}.txt")).text
            assert "| difference        |" in text
            assert "0.00 NOK |" in text

            # Read while the app still runs: the report can reconcile from the decisions,
            # postings and statement alone (a decision describes a line not yet received), so
            # it says nothing about how far the statement-lines consumer has got.
            [dead] = await find_on_topic(
                kafka_bootstrap,
                DEAD_LETTERS,
                lambda _key, value: (
                    value["payload"].get("consumer") == "bankrec-reconciler"
                    and value["payload"].get("source_topic") == STATEMENT_LINES.name
                    and value["payload"].get("original_value") == garbage.decode()
                ),
            )
            assert dead["payload"]["reason_code"] == "undecodable_message"
            assert dead["payload"]["original_key"] == key
            # every statement line was received (not only described by its decision)
            line_ids = sorted(e.payload.line_id for t, e in scrambled if t is STATEMENT_LINES)
            assert await _lines_received(settings.database_url, make, line_ids)
            [event] = await find_on_topic(
                kafka_bootstrap,
                PERIOD_EVENTS,
                lambda record_key, value: (
                    record_key == key.encode()
                    and value["payload"]["difference"] == {"amount": "0.00", "currency": "NOK"}
                ),
            )
    assert event["type"] == "period.changed"
    assert event["payload"]["event"] == "updated"
    assert event["payload"]["reconciled_balance"] == {"amount": "1199.50", "currency": "NOK"}


async def _lines_received(url: str, make: Messages, line_ids: list[str]) -> bool:
    """Whether the account's period holds every one of the lines as received, waited for."""
    engine = reconciler_engine(url)
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            async with sql_units_of_work(session_factory(engine))() as uow:
                period = await uow.periods.current(make.tenant_id, make.account_id)
            lines = period.lines if period is not None else {}
            if all(line_id in lines and lines[line_id].received for line_id in line_ids):
                return True
            await asyncio.sleep(0.2)
        return False
    finally:
        await engine.dispose()
