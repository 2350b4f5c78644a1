"""Consumer wiring with FastStream's TestKafkaBroker: open items reach the index (and match
a pending line), posting rules reach the index, each line gets its decision on the decisions
topic (through the SQLite outbox and the relay), a refused decision is decided again, a
person's allocation ends a line's wait, bad messages are dead-lettered and do not stop the
consumer. Also the whole app (``create_app``) under TestKafkaBroker, through its HTTP API."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from matcher_factories import Book, api_key_record

from bankrec.contracts import (
    CREDENTIALS,
    DEAD_LETTERS,
    DECISIONS,
    MATCHING_SETTINGS,
    OPEN_ITEMS,
    POSTING_RULES,
    POSTINGS,
    REFUSED_DECISIONS,
    STATEMENT_LINES,
    AccountRole,
    DeadLetter,
    DecisionKind,
    DecisionRefused,
    EntrySource,
    Envelope,
    JournalEntryPosted,
    MatchDecision,
    MatchingSettings,
    PostingLine,
    PostingRule,
    Topic,
    envelope_for,
)
from bankrec.matcher import create_app
from bankrec.matcher.adapters import matcher_engine, outbox, sql_units_of_work
from bankrec.matcher.bootstrap import MIGRATIONS_DIR
from bankrec.matcher.consumers import (
    group_for,
    open_items_options,
    posting_rules_options,
    register_consumers,
)
from bankrec.matcher.settings import MatcherSettings
from bankrec.matcher.use_cases import Matcher
from bankrec.runtime import (
    JSON_HEADERS,
    OutboxRelay,
    create_broker,
    decode_payload,
    encode_envelope,
    session_factory,
    upgrade_database,
)

KID = "1002345005"
POSTING_RULE: dict[str, Any] = {
    "rule_id": "r1",
    "version": 1,
    "name": "bank fees",
    "priority": 10,
    "conditions": {"text_contains": "gebyr"},
    "action": {"kind": "post_to_account", "gl_account": "7770"},
    "changed_at": "2026-11-24T08:00:00+00:00",
}


@dataclass
class Wired:
    broker: KafkaBroker
    matcher: Matcher
    relay: OutboxRelay
    decisions: list[tuple[bytes | None, Envelope[MatchDecision]]] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    settings: list[Envelope[MatchingSettings]] = field(default_factory=list)

    async def send(
        self,
        topic: Topic,
        value: bytes,
        key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Publish (keyed ``<tenant>:k`` as the producers key them, unless a key is given), then
        relay what the handler staged (the app's relay runs on its own)."""
        if key is None:
            found = re.search(rb'"tenant_id":"([^"]+)"', value)
            key = f"{found.group(1).decode() if found else 'unknown'}:k"
        await self.broker.publish(value, topic=topic.name, key=key.encode(), headers=headers)
        await self.relay.relay_all()


def listen(broker: KafkaBroker, wired: Wired) -> None:
    async def on_decision(message: KafkaMessage) -> None:
        key = message.raw_message.key if not isinstance(message.raw_message, tuple) else None
        wired.decisions.append((key, decode_payload(MatchDecision, message.body)))

    async def on_dead_letter(message: KafkaMessage) -> None:
        wired.dead_letters.append(decode_payload(DeadLetter, message.body).payload)

    async def on_settings(message: KafkaMessage) -> None:
        wired.settings.append(decode_payload(MatchingSettings, message.body))

    broker.subscriber(DECISIONS.name)(on_decision)
    broker.subscriber(DEAD_LETTERS.name)(on_dead_letter)
    broker.subscriber(MATCHING_SETTINGS.name)(on_settings)


@pytest.fixture
async def wired(tmp_path: Path) -> AsyncIterator[Wired]:
    url = f"sqlite:///{tmp_path}/matcher.sqlite"
    upgrade_database(url, MIGRATIONS_DIR)
    engine = matcher_engine(url)
    sessions = session_factory(engine)
    broker = create_broker("127.0.0.1:9", client_id="bankrec-matcher-test")
    relay = OutboxRelay(broker, sessions, outbox)
    matcher = Matcher(sql_units_of_work(sessions))
    register_consumers(broker, matcher)
    result = Wired(broker, matcher, relay)
    listen(broker, result)
    async with TestKafkaBroker(broker) as test_broker:
        result.broker = test_broker
        yield result
    await engine.dispose()


def encoded(envelope: Envelope[Any]) -> bytes:
    return encode_envelope(envelope)


def test_the_open_items_reader_has_no_group_reads_from_the_start_and_never_commits() -> None:
    options = open_items_options()
    assert options["group_id"] is None
    assert options["auto_offset_reset"] == "earliest"
    assert options["ack_policy"] is AckPolicy.MANUAL


async def test_an_open_item_and_a_line_give_a_decision_on_the_decisions_topic(
    wired: Wired, book: Book
) -> None:
    item = book.item("INV-1", "12500.00", reference=KID)
    await wired.send(OPEN_ITEMS, encoded(book.envelope(item)), f"{book.tenant_id}:INV-1")
    line = book.envelope(book.line("l1", "12500.00", reference=KID))
    await wired.send(STATEMENT_LINES, encoded(line), book.key)

    [(key, decision)] = wired.decisions
    assert key == book.key.encode()
    assert decision.message_id == decision.payload.decision_id
    assert decision.causation_id == line.message_id
    assert decision.correlation_id == line.correlation_id
    assert (decision.payload.kind, decision.payload.rule) == (
        DecisionKind.MATCH,
        "structured_reference",
    )
    assert [a.item_id for a in decision.payload.allocations] == ["INV-1"]
    assert wired.dead_letters == []


async def test_an_undecodable_line_is_dead_lettered_and_the_next_one_decided(
    wired: Wired, book: Book
) -> None:
    await wired.send(STATEMENT_LINES, b"{not json", "t:acc")
    await wired.send(STATEMENT_LINES, encoded(book.envelope(book.item("INV-1", "5.00"))))
    await wired.send(STATEMENT_LINES, encoded(book.envelope(book.line("l1", "5.00"))), book.key)

    assert [d.reason_code for d in wired.dead_letters] == ["undecodable_message"] * 2
    first = wired.dead_letters[0]
    assert (first.source_topic, first.consumer) == (STATEMENT_LINES.name, "bankrec-matcher")
    assert (first.original_value, first.original_key) == ("{not json", "t:acc")
    assert "StatementLine" in wired.dead_letters[1].reason
    assert [d.payload.line_id for _, d in wired.decisions] == ["l1"]


async def test_an_undecodable_open_item_is_dead_lettered_and_the_next_one_indexed(
    wired: Wired, book: Book
) -> None:
    float_amount = encoded(book.envelope(book.item("INV-1", "5.00"))).replace(
        b'"amount":"5.00"', b'"amount":5.0', 1
    )
    await wired.send(OPEN_ITEMS, float_amount)
    await wired.send(OPEN_ITEMS, encoded(book.envelope(book.item("INV-2", "6.00"))))

    [dead] = wired.dead_letters
    assert (dead.source_topic, dead.consumer) == (OPEN_ITEMS.name, "bankrec-matcher-index")
    assert "decimal strings" in dead.reason
    assert wired.matcher.index_summary(book.tenant_id).open_items == 1


@pytest.mark.parametrize("topic", [OPEN_ITEMS, STATEMENT_LINES], ids=["open-items", "lines"])
async def test_malformed_json_with_a_json_content_type_is_dead_lettered(
    wired: Wired, book: Book, topic: Topic
) -> None:
    # FastStream json-decodes a body sent as application/json before the handler runs; the
    # subscribers must take the raw bytes, or such a body never reaches the dead letters
    await wired.send(topic, b"{not json", "t:x", headers=JSON_HEADERS)
    await wired.send(OPEN_ITEMS, encoded(book.envelope(book.item("INV-1", "5.00"))))

    assert [(d.source_topic, d.original_value) for d in wired.dead_letters] == [
        (topic.name, "{not json")
    ]
    assert wired.matcher.index_summary(book.tenant_id).open_items == 1


@pytest.fixture
async def app_client(
    tenant_id: str, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, Wired]]:
    """The whole app; the tenant's API key reaches it on the credentials topic, as in
    production (no key ring is passed in)."""
    broker = create_broker("127.0.0.1:9", client_id="bankrec-matcher-test")
    settings = MatcherSettings(database_url=f"sqlite:///{tmp_path}/matcher.sqlite")
    app = create_app(settings, broker=broker, kafka_admin=False)
    wired = Wired(broker, app.state.matcher, app.state.relay)
    listen(broker, wired)
    api_key, record = api_key_record(tenant_id)
    async with TestKafkaBroker(broker) as test_broker:
        wired.broker = test_broker
        async with app.router.lifespan_context(app):
            await wired.send(
                CREDENTIALS,
                encoded(envelope_for(record, tenant_id=tenant_id, correlation_id="key")),
                record.key_id,
            )
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport,
                base_url="http://matcher",
                headers={"authorization": f"Bearer {api_key}"},
            ) as client:
                yield client, wired


async def test_the_app_wires_consumers_and_api_together(
    app_client: tuple[httpx.AsyncClient, Wired], book: Book
) -> None:
    client, wired = app_client
    assert (await client.get("/health")).json() == {"status": "ok", "index": "ready"}

    for item in (book.item("INV-1", "500.00"), book.item("INV-2", "500.00")):
        await wired.send(OPEN_ITEMS, encoded(book.envelope(item)))
    index = await client.get(f"/v1/tenants/{book.tenant_id}/index")
    assert index.json() == {"open_items": 2, "open": 2, "pending_lines": 0}

    line = book.line("l1", "500.00")
    explained = await client.post(
        f"/v1/tenants/{book.tenant_id}/explain", json=line.model_dump(mode="json")
    )
    assert explained.status_code == 200
    assert explained.json()["kind"] == "suspense"
    assert explained.json()["explanation"].endswith("2 items with amount 500.00 NOK: INV-1, INV-2")
    assert wired.decisions == []

    await wired.send(STATEMENT_LINES, encoded(book.envelope(line)), book.key)
    last = await client.get(f"/v1/tenants/{book.tenant_id}/decisions/l1")
    assert last.status_code == 200
    assert last.json()["decision_id"] == wired.decisions[0][1].payload.decision_id

    settings = await client.put(
        f"/v1/tenants/{book.tenant_id}/matching-settings", json={"auto_confirm": False}
    )
    assert settings.status_code == 200
    await wired.relay.relay_all()
    [published] = wired.settings
    assert (published.tenant_id, published.payload.auto_confirm) == (book.tenant_id, False)


def test_the_posting_rules_reader_reads_the_whole_topic_and_groups_are_per_topic() -> None:
    options = posting_rules_options()
    assert (options["group_id"], options["ack_policy"]) == (None, AckPolicy.MANUAL)
    assert group_for(STATEMENT_LINES) == "bankrec-matcher"
    assert group_for(REFUSED_DECISIONS) == f"bankrec-matcher.{REFUSED_DECISIONS.name}"


async def test_a_late_invoice_matches_the_suspense_line_on_the_topic(
    wired: Wired, book: Book
) -> None:
    line = book.envelope(book.line("l1", "750.00", reference=KID))
    await wired.send(STATEMENT_LINES, encoded(line), book.key)
    item = book.item("INV-1", "750.00", reference=KID)
    await wired.send(OPEN_ITEMS, encoded(book.envelope(item)), f"{book.tenant_id}:INV-1")

    [(_, parked), (key, matched)] = wired.decisions
    assert parked.payload.kind is DecisionKind.SUSPENSE
    assert matched.payload.kind is DecisionKind.MATCH
    assert matched.payload.supersedes_decision_id == parked.payload.decision_id
    assert key == book.key.encode()


async def test_a_refused_decision_is_decided_again_on_the_topic(wired: Wired, book: Book) -> None:
    await wired.send(OPEN_ITEMS, encoded(book.envelope(book.item("INV-1", "90.00", reference=KID))))
    await wired.send(
        STATEMENT_LINES,
        encoded(book.envelope(book.line("l1", "90.00", reference=KID))),
        book.key,
    )
    [(_, first)] = wired.decisions
    refused = DecisionRefused(
        decision_id=first.payload.decision_id,
        decision_message_id=first.message_id,
        kind=first.payload.kind,
        line_id="l1",
        statement_id=first.payload.statement_id,
        account=first.payload.account,
        amount=first.payload.amount,
        reason_code="decision_no_longer_fits",
        reason="INV-1 was paid meanwhile",
        allocations=first.payload.allocations,
        open_items=[book.paid(book.item("INV-1", "90.00", reference=KID))],
        refused_at=datetime(2026, 11, 24, tzinfo=UTC),
    )
    await wired.send(REFUSED_DECISIONS, encoded(book.envelope(refused)), book.key)

    [_, (_, again)] = wired.decisions
    assert again.payload.kind is DecisionKind.SUSPENSE
    assert again.payload.decision_id != first.payload.decision_id
    assert again.causation_id is not None


async def test_a_persons_allocation_on_the_postings_topic_ends_the_wait(
    wired: Wired, book: Book
) -> None:
    await wired.send(
        STATEMENT_LINES, encoded(book.envelope(book.line("l1", "40.00", reference=KID))), book.key
    )
    assert wired.matcher.pending_count(book.tenant_id) == 1
    entry = JournalEntryPosted(
        entry_id="je-1",
        idempotency_key="suspense-allocation:act-1",
        posting_date=datetime(2026, 11, 24, tzinfo=UTC).date(),
        source=EntrySource.MANUAL,
        source_ref="act-1",
        description="allocated by a person",
        lines=[
            PostingLine(
                account_code="2900",
                account_role=AccountRole.INTERIM,
                debit=Decimal("40.00"),
                credit=Decimal(0),
                currency="NOK",
            ),
            PostingLine(
                account_code="3000",
                account_role=AccountRole.OTHER,
                debit=Decimal(0),
                credit=Decimal("40.00"),
                currency="NOK",
            ),
        ],
        statement_line_id="l1",
    )
    await wired.send(POSTINGS, encoded(book.envelope(entry)), book.key)
    assert wired.matcher.pending_count(book.tenant_id) == 0
    await wired.send(OPEN_ITEMS, encoded(book.envelope(book.item("INV-1", "40.00", reference=KID))))
    assert len(wired.decisions) == 1  # no later match for a line a person dealt with


async def test_a_posting_rule_reaches_the_tenants_index(wired: Wired, book: Book) -> None:
    rule = PostingRule.model_validate(POSTING_RULE)
    await wired.send(POSTING_RULES, encoded(book.envelope(rule)), f"{book.tenant_id}:r1")
    assert wired.dead_letters == []
    index = wired.matcher._indexes.for_tenant(book.tenant_id)  # what the engine reads
    assert [r.rule_id for r in index.posting_rules.rules] == ["r1"]
