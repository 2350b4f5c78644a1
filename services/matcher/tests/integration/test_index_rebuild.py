"""The open-item index compared by content on the real broker: a running matcher indexes the
ledger's states as they arrive (new items, a partly paid update, a paid invoice, an older
state arriving late); a second matcher started afterwards rebuilds its index from the
compacted topic; both digests equal the digest of an index built from the latest states.
An invoice paid longer ago than the retention (its messages dated so) is retired by both, and
its payer's account still names its counterparty in both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from matcher_factories import TENANT_KEYS, Book, auth_headers

from bankrec.contracts import OPEN_ITEMS, Money, OpenItem, OpenItemStatus
from bankrec.devstack.fault_audit import audit_matcher_index
from bankrec.matcher import MatcherSettings, create_app
from bankrec.matcher.bootstrap import TOPICS
from bankrec.matcher.domain.index_digest import index_digest, index_snapshot
from bankrec.runtime import encode_envelope, ensure_topics

pytestmark = pytest.mark.integration

TIMEOUT_SECONDS = 150.0  # a matcher reads the whole shared open-items topic at start
KID_1 = "1002345005"
OLD = "NO0560110516994"  # the account of a customer whose only invoice was paid long ago


@asynccontextmanager
async def running_matcher(
    bootstrap: str, tenant_id: str, database_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        MatcherSettings(
            kafka_bootstrap_servers=bootstrap,
            index_catch_up_seconds=TIMEOUT_SECONDS,
            database_url=database_url,
        ),
        tenant_keys=TENANT_KEYS,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://matcher", headers=auth_headers(tenant_id)
        ) as client:
            yield client


async def publish(
    bootstrap: str,
    book: Book,
    states: list[OpenItem],
    dated: Mapping[tuple[str, int], datetime] | None = None,
) -> None:
    """As the ledger publishes them: one state per message, keyed by tenant and item; a
    state in ``dated`` (by item id and version) carries that time, the others now."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for item in states:
            envelope = book.envelope(item)
            at = (dated or {}).get((item.item_id, item.version))
            if at is not None:
                envelope = envelope.model_copy(update={"occurred_at": at})
            await producer.send_and_wait(
                OPEN_ITEMS.name,
                encode_envelope(envelope),
                key=f"{book.tenant_id}:{item.item_id}".encode(),
            )
    finally:
        await producer.stop()


async def digest_when(
    client: httpx.AsyncClient, tenant_id: str, done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    last: dict[str, Any] = {}
    async with asyncio.timeout(TIMEOUT_SECONDS):
        while True:
            response = await client.get(f"/v1/tenants/{tenant_id}/index-digest")
            assert response.status_code == 200, response.text
            last = response.json()
            if last["ready"] and done(last):
                return last
            await asyncio.sleep(0.2)


def content(digest: dict[str, Any]) -> dict[str, Any]:
    """A digest answer less its cut-off (the time it was asked at)."""
    return {key: value for key, value in digest.items() if key != "retired_before"}


async def test_the_rebuilt_index_equals_the_live_one_and_the_latest_states(
    kafka_bootstrap: str, tenant_id: str, database_url: Callable[[str], str]
) -> None:
    book = Book.for_tenant(tenant_id)
    invoice_1 = book.item("INV-1", "12500.00", reference=KID_1, counterparty_name="Acme AS")
    invoice_2 = book.item("INV-2", "8900.00", counterparty_accounts=["NO9386011117947"])
    invoice_3 = book.item("INV-3", "500.00")
    bill_1 = book.item("BILL-1", "-15000.00", counterparty_name="Kontorleverandøren AS")
    invoice_2_partly = invoice_2.model_copy(
        update={
            "status": OpenItemStatus.PARTLY_PAID,
            "remaining": Money.of("4000.00", "NOK"),
            "version": 2,
        }
    )
    invoice_3_paid = book.paid(invoice_3)
    latest = [invoice_1, invoice_2_partly, invoice_3_paid, bill_1]
    # paid 100 days ago: past the default retention of 90
    old = book.item("INV-OLD", "700.00", counterparty_id="C-OLD", counterparty_accounts=[OLD])
    old_paid = book.paid(old)
    long_ago = datetime.now(UTC) - timedelta(days=100)
    dated = {(old.item_id, 1): long_ago - timedelta(days=30), (old.item_id, 2): long_ago}
    later = [invoice_2_partly, invoice_3_paid, invoice_2]
    await ensure_topics(kafka_bootstrap, TOPICS)

    async with running_matcher(kafka_bootstrap, tenant_id, database_url("live")) as live:
        await digest_when(live, tenant_id, lambda d: True)
        # the live index takes them as they come; the late version 1 of INV-2 changes nothing
        await publish(
            kafka_bootstrap,
            book,
            [old, invoice_1, invoice_2, invoice_3, bill_1, old_paid, *later],
            dated,
        )
        live_digest = await digest_when(
            live, tenant_id, lambda d: (d["items"], d["open"]) == (4, 3)
        )
        async with running_matcher(kafka_bootstrap, tenant_id, database_url("rebuilt")) as again:
            rebuilt_digest = await digest_when(
                again, tenant_id, lambda d: (d["items"], d["open"]) == (4, 3)
            )
        # read again: nothing may have changed the live one meanwhile
        assert content(await digest_when(live, tenant_id, lambda d: True)) == content(live_digest)

    # the fault suite's check: the live index against the topic's latest states
    findings = await asyncio.to_thread(
        audit_matcher_index,
        bootstrap_servers=kafka_bootstrap,
        tenant_id=tenant_id,
        live_digest=live_digest,
    )
    assert findings == []
    expected = book.index(*latest)
    expected.apply(old_paid, long_ago)
    assert live_digest["retired_before"] is not None
    assert expected.retire_closed(datetime.fromisoformat(live_digest["retired_before"])) == 1
    assert expected.counterparties_by_account(OLD) == {"C-OLD"}  # remembered
    assert (live_digest["items"], live_digest["open"]) == (4, 3)
    assert content(rebuilt_digest) == content(live_digest)
    assert live_digest["digest"] == index_digest(expected), index_snapshot(expected)
    # the digest tells content apart, not only counts: INV-2 paid down to 3,999 differs
    other = book.index(
        *latest[:1],
        invoice_2_partly.model_copy(update={"remaining": Money.of("3999.00", "NOK")}),
        *latest[2:],
    )
    other.apply(old_paid, long_ago)
    other.retire_closed(datetime.fromisoformat(live_digest["retired_before"]))
    assert (len(other), other.open_count) == (4, 3)
    assert index_digest(other) != live_digest["digest"]
    # and a rebuild that forgot the retired payer's account differs as well
    assert index_digest(book.index(*latest)) != live_digest["digest"]
