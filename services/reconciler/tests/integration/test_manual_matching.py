"""Manual matching end to end on the real broker and PostgreSQL, with the ledger and the
reconciler apps running (each on its own database), driven through the reconciler's HTTP API.

A line of 700 the matcher parked in suspense is matched by hand to two invoices (500 + 200):
the reconciler sends the request over Kafka, the ledger allocates the suspense posting to
both in one transaction (the invoices are paid, the interim account emptied) and answers; the
period shows the request done and the line matched. The command delivered again (the same
message, and a copy with a new message id) posts nothing. Removing the match reverses both
allocations: the invoices reopen, the line is back in suspense.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from reconciler_factories import TENANT_KEYS, Messages, eventually, running

from bankrec.contracts import (
    DECISIONS,
    MATCH_REQUESTS,
    STATEMENT_LINES,
    STATEMENTS,
    DecisionKind,
    ItemAllocation,
    ManualMatchCommand,
    ManualMatchKind,
    MatchDecision,
    Topic,
    envelope_for,
)
from bankrec.devstack.topics import commit_group_at_end
from bankrec.ledger import LedgerSettings
from bankrec.ledger import create_app as create_ledger
from bankrec.ledger.match_requests import MATCH_CONSUMER
from bankrec.ledger.use_cases import CONSUMER as LEDGER_GROUP
from bankrec.reconciler import ReconcilerSettings, create_app
from bankrec.reconciler.consumers import CONSUMED_TOPICS, group_for
from bankrec.reconciler.period_workflow import match_request_message_id
from bankrec.runtime import create_broker, ensure_topics, publish_envelope

pytestmark = pytest.mark.integration

ACTOR = "anna@acme.example"


def suspense_decision(make: Messages) -> MatchDecision:
    return MatchDecision(
        decision_id="dec-l-susp",
        kind=DecisionKind.SUSPENSE,
        line_id="l-susp",
        statement_id="stmt-1",
        account=make.account,
        amount=make.money("700.00"),
        booking_date=date(2026, 11, 15),
        rule="no-match",
        confidence=Decimal("0"),
        explanation="no open item fits: parked on the interim account",
    )


async def test_a_suspense_line_matched_by_hand_and_the_match_removed(
    kafka_bootstrap: str, database_url: Callable[[str], str], messages: Messages
) -> None:
    make = messages
    tenant = make.tenant_id
    groups: list[tuple[str, Topic]] = [
        (LEDGER_GROUP, DECISIONS),
        (MATCH_CONSUMER, MATCH_REQUESTS),
        *((group_for(topic), topic) for topic in CONSUMED_TOPICS),
    ]
    await ensure_topics(kafka_bootstrap, [topic for _, topic in groups])
    for group, topic in groups:  # start where a caught-up service would, not behind others
        await commit_group_at_end(kafka_bootstrap, group, topic.name)
    ledger_app = create_ledger(
        LedgerSettings(
            kafka_bootstrap_servers=kafka_bootstrap, database_url=database_url("manual_ledger")
        ),
        tenant_keys=TENANT_KEYS,
    )
    reconciler_app = create_app(
        ReconcilerSettings(
            kafka_bootstrap_servers=kafka_bootstrap,
            database_url=database_url("manual_reconciler"),
        ),
        tenant_keys=TENANT_KEYS,
    )
    books = f"/v1/tenants/{tenant}"
    period_path = f"/v1/tenants/{tenant}/accounts/{make.account_id}/periods/1"
    key = f"{tenant}:{make.account_id}"

    async with (
        running(ledger_app, "http://ledger", tenant) as ledger,
        running(reconciler_app, "http://reconciler", tenant) as reconciler,
    ):
        for item_id, amount in (("INV-7", "500.00"), ("INV-8", "200.00")):
            created = await ledger.post(
                f"{books}/open-items",
                json={"item_id": item_id, "kind": "invoice", "amount": amount, "currency": "NOK"},
            )
            assert created.status_code == 201, created.text

        producer = create_broker(kafka_bootstrap, client_id="bankrec-manual-match-test")
        await producer.connect()
        try:
            header = make.header(opening="1000.00", closing="1700.00")
            await publish_envelope(producer, STATEMENTS, key, make.envelope(header))
            line = make.line("l-susp", "700.00")
            await publish_envelope(producer, STATEMENT_LINES, key, make.envelope(line))
            await publish_envelope(producer, DECISIONS, key, make.envelope(suspense_decision(make)))

            async def period() -> dict[str, Any]:
                response = await reconciler.get(period_path)
                return response.json() if response.status_code == 200 else {}

            async def invoice(item_id: str) -> dict[str, Any]:
                return dict((await ledger.get(f"{books}/open-items/{item_id}")).json())

            async def balances() -> dict[str, Decimal]:
                trial = (await ledger.get(f"{books}/trial-balance")).json()
                return {a["account_code"]: Decimal(a["balance"]) for a in trial["accounts"]}

            async def journal_size() -> int:
                return len((await ledger.get(f"{books}/journal")).json()["entries"])

            before = await eventually(
                period, lambda p: p.get("in_suspense") == 1 and p.get("reconciled") == 1
            )
            assert (before["matched"], before["difference"]) == (0, "0.00")
            assert (await balances())["2900"] == Decimal("-700.00")

            # match by hand: one line, two invoices
            asked = await reconciler.post(
                f"{period_path}/matches",
                json={
                    "line_id": "l-susp",
                    "items": [
                        {"item_id": "INV-7", "amount": "500.00"},
                        {"item_id": "INV-8", "amount": "200.00"},
                    ],
                    "actor": ACTOR,
                    "reason": "one payment for two invoices",
                    "request_id": "mm-1",
                },
            )
            assert asked.status_code == 202, asked.text
            matched = await eventually(
                period,
                lambda p: [r["state"] for r in p.get("match_requests", [])] == ["done"],
            )
            assert (matched["matched"], matched["in_suspense"]) == (1, 0)
            # no money moved on the bank account: the line was posted (on 2900) already
            assert (matched["reconciled"], matched["difference"]) == (1, "0.00")
            assert len(matched["match_requests"][0]["entry_ids"]) == 2
            for item_id in ("INV-7", "INV-8"):
                paid = await invoice(item_id)
                assert (paid["status"], paid["remaining"]["amount"]) == ("paid", "0.00"), paid
            # Dr 2900 / Cr 1500 per invoice (the ledger books no sales journal for invoices)
            after_match = await balances()
            assert (after_match["2900"], after_match["1500"]) == (Decimal(0), Decimal("-700.00"))
            trail = await ledger.get(f"{books}/audit-trail", params={"subject_id": "l-susp"})
            [audited] = trail.json()["audit_trail"]
            assert (audited["actor"], audited["reason"]) == (ACTOR, "one payment for two invoices")
            assert len(audited["entry_ids"]) == 2
            entries_after_match = await journal_size()

            # the command delivered again, as it was and as a copy: nothing is posted twice
            command = ManualMatchCommand(
                request_id="mm-1",
                kind=ManualMatchKind.MATCH,
                period_id=matched["period_id"],
                bank_account_id=make.account_id,
                statement_line_id="l-susp",
                decision_id="dec-l-susp",
                allocations=(
                    ItemAllocation(item_id="INV-7", amount=make.money("500.00")),
                    ItemAllocation(item_id="INV-8", amount=make.money("200.00")),
                ),
                requested_by=ACTOR,
                reason="one payment for two invoices",
            )
            for message_id in (match_request_message_id(tenant, "mm-1"), None):
                await publish_envelope(
                    producer,
                    MATCH_REQUESTS,
                    key,
                    envelope_for(
                        command,
                        tenant_id=tenant,
                        correlation_id="redelivery",
                        message_id=message_id,
                    ),
                )
        finally:
            await producer.stop()

        # remove the match (keyed like the redeliveries, so the ledger sees it after them)
        removed = await reconciler.request(
            "DELETE",
            f"{period_path}/matches/l-susp",
            json={"actor": ACTOR, "reason": "INV-8 belongs to another customer"},
        )
        assert removed.status_code == 202, removed.text
        unmatched = await eventually(
            period,
            lambda p: [r["state"] for r in p.get("match_requests", [])] == ["done", "done"],
        )
        assert (unmatched["matched"], unmatched["in_suspense"]) == (0, 1)
        assert unmatched["difference"] == "0.00"
        assert unmatched["match_requests"][1]["undoes_request_id"] == "mm-1"
        for item_id, amount in (("INV-7", "500.00"), ("INV-8", "200.00")):
            reopened = await invoice(item_id)
            assert (reopened["status"], reopened["remaining"]["amount"]) == ("open", amount)
        after_unmatch = await balances()
        assert (after_unmatch["2900"], after_unmatch["1500"]) == (Decimal("-700.00"), Decimal(0))
        # two reversals on top of the two allocations: the redeliveries posted nothing
        assert await journal_size() == entries_after_match + 2
        assert (await ledger.get(f"{books}/status")).json()["decisions_applied"] == 1
