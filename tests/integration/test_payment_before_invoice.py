"""A payment that arrives before its invoice (issue 5's acceptance), on the real Kafka broker
and PostgreSQL: the matcher and the ledger run in this process with their real brokers and
databases. A statement line paying KID 1002345005 is published as ingest would, before any
invoice has that KID: the matcher decides suspense and the ledger parks the money on the
interim account (2900). Then the invoice is created over the ledger's HTTP API; the ledger
publishes it, the matcher decides the waiting line again and publishes a match superseding
the suspense decision, and the ledger moves the money off the interim account to the invoice:
the invoice is paid and 2900 is back at zero. The same superseding decision delivered again,
and sent again as a new message, changes nothing."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI

from bankrec.contracts import (
    ALL_TOPICS,
    DECISIONS,
    POSTINGS,
    REFUSED_DECISIONS,
    STATEMENT_LINES,
    ApiKeyRecord,
    BankAccountRef,
    Envelope,
    Money,
    ReferenceKind,
    StatementLine,
    StructuredReference,
    account_id_for,
    envelope_for,
)
from bankrec.devstack.topics import commit_group_at_end, json_object
from bankrec.ledger import LedgerSettings
from bankrec.ledger import create_app as create_ledger
from bankrec.ledger.use_cases import CONSUMER as LEDGER_GROUP
from bankrec.matcher import MatcherSettings
from bankrec.matcher import create_app as create_matcher
from bankrec.runtime import TenantKeyRing, encode_envelope, ensure_topics
from bankrec.runtime.tenant_keys import issue_api_key

pytestmark = pytest.mark.integration

IBAN = "NO9386011117947"
KID = "1002345005"  # mod10
INTERIM = "2900"
TIMEOUT_SECONDS = 60.0

# Where caught-up services would be on a broker other tests share: the groups of the two
# services this test runs (the matcher's open-items reader has no group).
GROUPS = (
    (LEDGER_GROUP, DECISIONS.name),
    ("bankrec-matcher", STATEMENT_LINES.name),
    (f"bankrec-matcher.{REFUSED_DECISIONS.name}", REFUSED_DECISIONS.name),
    (f"bankrec-matcher.{POSTINGS.name}", POSTINGS.name),
)


@asynccontextmanager
async def running(app: FastAPI, name: str, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app started by its own lifespan, with an HTTP client sending the tenant's key."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url=f"http://{name}",
            headers={"authorization": f"Bearer {api_key}"},
        ) as http:
            yield http


async def eventually(probe: Callable[[], Awaitable[Any]], what: str) -> Any:
    """The first truthy answer of ``probe``, polled until ``TIMEOUT_SECONDS``."""
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            while True:
                answer = await probe()
                if answer:
                    return answer
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def publish(bootstrap: str, topic: str, key: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=key.encode())
    finally:
        await producer.stop()


async def superseding_decision(bootstrap: str, tenant_id: str) -> bytes:
    """The raw message of the tenant's decision that supersedes another, as published."""
    consumer = AIOKafkaConsumer(
        DECISIONS.name,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",  # it is there before we look
        enable_auto_commit=False,
        group_id=None,  # a reader, not a member of any service's group
    )
    await consumer.start()
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            while True:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for record in records:
                        message = json_object(record.value)
                        if (
                            message is not None
                            and message.get("tenant_id") == tenant_id
                            and message["payload"].get("supersedes_decision_id")
                        ):
                            return bytes(record.value)
    finally:
        await consumer.stop()


def tenant_key(keys: TenantKeyRing, tenant_id: str) -> str:
    """A new API key of the tenant, known to both apps (as ingest would publish it)."""
    issued = issue_api_key()
    keys.record(
        ApiKeyRecord(
            key_id=issued.key_id,
            tenant_id=tenant_id,
            key_hash=issued.key_hash,
            created_at=datetime.now(UTC),
        )
    )
    return issued.plain


def statement_line(tenant_id: str, line_id: str, amount: str, kid: str | None) -> Envelope[Any]:
    """A statement line as ingest publishes it."""
    account = BankAccountRef(account_id=account_id_for(tenant_id, IBAN), iban=IBAN, currency="NOK")
    line = StatementLine(
        line_id=line_id,
        statement_id="stmt-2026-11-20",
        account=account,
        sequence=1,
        amount=Money.of(amount, "NOK"),
        booking_date=date(2026, 11, 20),
        bank_reference=f"ref-{line_id}",
        structured_reference=StructuredReference(value=kid, kind=ReferenceKind.KID)
        if kid
        else None,
        remittance_text=None if kid else "innbetaling",
    )
    return envelope_for(line, tenant_id=tenant_id, correlation_id="camt-2026-11-20")


async def test_a_payment_before_its_invoice_leaves_the_interim_account_at_zero(
    kafka_bootstrap: str, database_url: Callable[[str], str]
) -> None:
    tenant_id = f"pbi-{uuid.uuid4().hex[:10]}"
    base = f"/v1/tenants/{tenant_id}"
    key = f"{tenant_id}:{account_id_for(tenant_id, IBAN)}"
    await ensure_topics(kafka_bootstrap, ALL_TOPICS)
    for group, topic in GROUPS:
        await commit_group_at_end(kafka_bootstrap, group, topic)
    keys = TenantKeyRing()
    api_key = tenant_key(keys, tenant_id)
    ledger_app = create_ledger(
        LedgerSettings(
            kafka_bootstrap_servers=kafka_bootstrap, database_url=database_url("pbi_ledger")
        ),
        tenant_keys=keys,
    )
    matcher_app = create_matcher(
        MatcherSettings(
            kafka_bootstrap_servers=kafka_bootstrap,
            database_url=database_url("pbi_matcher"),
            index_catch_up_seconds=TIMEOUT_SECONDS,
        ),
        tenant_keys=keys,
    )
    async with AsyncExitStack() as stack:
        ledger = await stack.enter_async_context(running(ledger_app, "ledger", api_key))
        matcher = await stack.enter_async_context(running(matcher_app, "matcher", api_key))

        async def interim_balance() -> Decimal:
            account = (await ledger.get(f"{base}/accounts/{INTERIM}")).json()
            return sum((Decimal(b["balance"]) for b in account["balances"]), Decimal(0))

        async def open_suspense() -> list[dict[str, Any]]:
            answer = await ledger.get(f"{base}/suspense-postings", params={"status": "open"})
            postings: list[dict[str, Any]] = answer.json()["suspense_postings"]
            return postings

        await eventually(
            lambda: _json(matcher.get("/health"), {"status": "ok", "index": "ready"}),
            "the matcher's index",
        )

        # 1. the payment comes first: no item has its KID, so it goes to suspense
        payment = statement_line(tenant_id, "line-4200", "4200.00", KID)
        await publish(kafka_bootstrap, STATEMENT_LINES.name, key, [encode_envelope(payment)])
        [parked] = await eventually(open_suspense, "the payment's suspense posting")
        assert parked["statement_line_id"] == "line-4200"
        assert Decimal(parked["remaining"]["amount"]) == Decimal("4200.00")
        # money in on the interim account is a credit: balance = debit - credit
        assert await interim_balance() == Decimal("-4200.00")
        first = (await matcher.get(f"{base}/decisions/line-4200")).json()
        assert (first["kind"], first["decision_id"]) == ("suspense", parked["decision_id"])

        # 2. the invoice is created over the ledger's API
        created = await ledger.post(
            f"{base}/open-items",
            json={
                "item_id": "INV-10230",
                "kind": "invoice",
                "counterparty_id": "C-1",
                "amount": "4200.00",
                "currency": "NOK",
                "reference": KID,
                "posting_date": "2026-11-01",
                "due_date": "2026-11-30",
            },
        )
        assert created.status_code == 201, created.text

        # 3. the matcher supersedes its suspense decision; the ledger pays the invoice
        async def paid_invoice() -> dict[str, Any] | None:
            item: dict[str, Any] = (await ledger.get(f"{base}/open-items/INV-10230")).json()
            return item if item["status"] == "paid" else None

        invoice = await eventually(paid_invoice, "the invoice paid")
        assert Decimal(invoice["remaining"]["amount"]) == 0
        assert await interim_balance() == 0
        assert await open_suspense() == []
        later = (await matcher.get(f"{base}/decisions/line-4200")).json()
        assert (later["kind"], later["rule"]) == ("match", "structured_reference")
        assert later["supersedes_decision_id"] == first["decision_id"]
        assert [a["item_id"] for a in later["allocations"]] == ["INV-10230"]
        applied = (await ledger.get(f"{base}/decisions/{later['decision_id']}")).json()
        assert applied["outcome"] == "posted"
        posting = (await ledger.get(f"{base}/suspense-postings/{parked['suspense_id']}")).json()
        assert posting["status"] == "allocated"
        assert [
            (a["target_id"], Decimal(a["amount"]["amount"])) for a in posting["allocations"]
        ] == [("INV-10230", Decimal("4200.00"))]
        before = (await ledger.get(f"{base}/trial-balance")).json()
        journal_before = (await ledger.get(f"{base}/journal")).json()["entries"]
        assert before["balanced"]
        assert len(journal_before) == 2  # the suspense entry, the allocation to the invoice

        # 4. the superseding decision delivered again, and sent again as a new message,
        # then a line of its own as a marker: it comes after them on the same partition
        raw = await superseding_decision(kafka_bootstrap, tenant_id)
        resent = {**json.loads(raw), "message_id": str(uuid.uuid4())}
        marker = statement_line(tenant_id, "line-marker", "1.00", None)
        await publish(kafka_bootstrap, DECISIONS.name, key, [raw, json.dumps(resent).encode()])
        await publish(kafka_bootstrap, STATEMENT_LINES.name, key, [encode_envelope(marker)])
        [marked] = await eventually(open_suspense, "the marker line's suspense posting")
        assert marked["statement_line_id"] == "line-marker"

        journal = (await ledger.get(f"{base}/journal")).json()["entries"]
        assert [e["entry_id"] for e in journal[:2]] == [e["entry_id"] for e in journal_before]
        assert len(journal) == 3  # only the marker's entry was added
        after = (await ledger.get(f"{base}/trial-balance")).json()
        balances = {row["account_code"]: Decimal(row["balance"]) for row in after["accounts"]}
        assert balances[INTERIM] == Decimal("-1.00")  # the marker alone
        assert balances["1500"] == Decimal("-4200.00")
        again = (await ledger.get(f"{base}/open-items/INV-10230")).json()
        assert again == invoice
        status = (await ledger.get(f"{base}/status")).json()
        assert (status["decisions_applied"], status["decisions_refused"]) == (3, 0)


async def _json(request: Awaitable[httpx.Response], expected: dict[str, Any]) -> bool:
    response = await request
    return response.status_code == 200 and response.json() == expected
