"""Seed 003 end to end on the real broker and PostgreSQL, with the ledger and the reconciler
really running (their apps, each on its own database) and driven through their HTTP APIs and
the topics (the test publishes what ingest and the matcher would).

January 2017: opening 25,000; a payment out of 250,000 (a bill), a receipt of 62,500 (an
invoice), a manual entry of 10,000 (a posting to an expense account) and a bank fee of 50 only
on the statement; statement balance -172,550. Difference -50 until the fee adjustment, which
the reconciler sends to the ledger over Kafka; the ledger posts it and the posting comes back:
difference 0, release with sequence number 1, the next period opens at -172,550; voiding
reopens it, and the second release gets sequence number 2 (numbers are never reused). An
adjustment against a GL account the ledger does not know comes back refused, with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from reconciler_factories import TENANT_KEYS, Messages, eventually, running

from bankrec.contracts import (
    ADJUSTMENT_REQUESTS,
    DECISIONS,
    STATEMENT_LINES,
    STATEMENTS,
    Allocation,
    DecisionKind,
    MatchDecision,
    Topic,
)
from bankrec.devstack.topics import commit_group_at_end
from bankrec.ledger import LedgerSettings
from bankrec.ledger import create_app as create_ledger
from bankrec.ledger.adjustment_requests import ADJUSTMENT_CONSUMER
from bankrec.ledger.use_cases import CONSUMER as LEDGER_GROUP
from bankrec.reconciler import ReconcilerSettings, create_app
from bankrec.reconciler.consumers import CONSUMED_TOPICS, group_for
from bankrec.runtime import create_broker, ensure_topics, publish_envelope

pytestmark = pytest.mark.integration

ACTOR = "anna@acme.example"
JANUARY = date(2017, 1, 31)


def decision(
    make: Messages,
    line_id: str,
    amount: str,
    kind: DecisionKind,
    *,
    item_id: str | None = None,
    gl_account: str | None = None,
) -> MatchDecision:
    allocations = (
        [Allocation(item_id=item_id, amount=make.money(amount))] if item_id is not None else []
    )
    return MatchDecision(
        decision_id=f"dec-{line_id}",
        kind=kind,
        line_id=line_id,
        statement_id="stmt-2017-01",
        account=make.account,
        amount=make.money(amount),
        booking_date=date(2017, 1, 15),
        allocations=allocations,
        gl_account=gl_account,
        rule="seed-003",
        confidence=Decimal("1"),
        explanation="as the accountant matched it in seed 003",
    )


async def test_seed_003_reconciles_releases_voids_and_releases_again(
    kafka_bootstrap: str, database_url: Callable[[str], str], messages: Messages
) -> None:
    make = messages
    tenant = make.tenant_id
    # every consumer group starts where a caught-up service would, not behind other tests
    groups: list[tuple[str, Topic]] = [
        (LEDGER_GROUP, DECISIONS),
        (ADJUSTMENT_CONSUMER, ADJUSTMENT_REQUESTS),
        *((group_for(topic), topic) for topic in CONSUMED_TOPICS),
    ]
    await ensure_topics(kafka_bootstrap, [topic for _, topic in groups])
    for group, topic in groups:
        await commit_group_at_end(kafka_bootstrap, group, topic.name)
    ledger_app = create_ledger(
        LedgerSettings(
            kafka_bootstrap_servers=kafka_bootstrap, database_url=database_url("seed003_ledger")
        ),
        tenant_keys=TENANT_KEYS,
    )
    reconciler_app = create_app(
        ReconcilerSettings(
            kafka_bootstrap_servers=kafka_bootstrap,
            database_url=database_url("seed003_reconciler"),
        ),
        tenant_keys=TENANT_KEYS,
    )
    books = f"/v1/tenants/{tenant}"
    periods = f"/v1/tenants/{tenant}/accounts/{make.account_id}/periods"
    key = f"{tenant}:{make.account_id}"

    async with (
        running(ledger_app, "http://ledger", tenant) as ledger,
        running(reconciler_app, "http://reconciler", tenant) as reconciler,
    ):
        # the books: a bill and an invoice, and an expense account for the manual entry
        for body in (
            {"item_id": "BILL-1", "kind": "bill", "amount": "-250000.00", "currency": "NOK"},
            {"item_id": "INV-1", "kind": "invoice", "amount": "62500.00", "currency": "NOK"},
        ):
            created = await ledger.post(f"{books}/open-items", json=body)
            assert created.status_code == 201, created.text
        account = await ledger.post(
            f"{books}/accounts",
            json={"code": "6800", "name": "Kontorrekvisita", "actor": ACTOR, "reason": "seed"},
        )
        assert account.status_code == 201, account.text

        # what ingest and the matcher would publish
        header = make.header(
            "stmt-2017-01",
            opening="25000.00",
            closing="-172550.00",
            opening_date=date(2017, 1, 1),
            closing_date=JANUARY,
            line_count=4,
        )
        lines = [
            ("l-out", "-250000.00"),
            ("l-in", "62500.00"),
            ("l-journal", "-10000.00"),
            ("l-fee", "-50.00"),
        ]
        decisions = [
            decision(make, "l-out", "-250000.00", DecisionKind.MATCH, item_id="BILL-1"),
            decision(make, "l-in", "62500.00", DecisionKind.MATCH, item_id="INV-1"),
            decision(make, "l-journal", "-10000.00", DecisionKind.RULE_POSTING, gl_account="6800"),
        ]
        producer = create_broker(kafka_bootstrap, client_id="bankrec-seed-003-test")
        await producer.connect()
        try:
            await publish_envelope(producer, STATEMENTS, key, make.envelope(header))
            for sequence, (line_id, amount) in enumerate(lines):
                line = make.line(
                    line_id,
                    amount,
                    statement_id="stmt-2017-01",
                    booking_date=date(2017, 1, 15),
                    sequence=sequence,
                )
                await publish_envelope(producer, STATEMENT_LINES, key, make.envelope(line))
            for decided in decisions:
                await publish_envelope(producer, DECISIONS, key, make.envelope(decided))
        finally:
            await producer.stop()

        async def period(number: str = "1") -> dict[str, Any]:
            response = await reconciler.get(f"{periods}/{number}")
            return response.json() if response.status_code == 200 else {}

        before = await eventually(
            period, lambda p: p.get("lines") == 4 and p.get("entries_reconciled") == 3
        )
        assert before["opening_balance"] == "25000.00"
        assert before["statement_balance"] == "-172550.00"
        assert before["reconciled_balance"] == "-172500.00"
        assert before["difference"] == "-50.00"
        assert before["status"] == "on_hold"
        assert before["can_release"] is False

        # a difference transferred to an account the ledger does not have: refused, with why
        refused = await reconciler.post(
            f"{periods}/1/adjustments",
            json={
                "kind": "other",
                "amount": "-50.00",
                "gl_account": "9999",
                "actor": ACTOR,
                "reason": "difference to a journal",
                "adjustment_id": "seed003-other-1",
            },
        )
        assert refused.status_code == 201, refused.text
        shown = await eventually(
            period, lambda p: any(a["state"] == "refused" for a in p.get("adjustments", []))
        )
        [other] = shown["adjustments"]
        assert other["refusal_code"] == "unknown_account", other
        assert "9999" in other["refusal_reason"]
        assert shown["difference"] == "-50.00"

        # the bank fee: requested in the reconciliation, posted by the ledger by itself
        requested = await reconciler.post(
            f"{periods}/1/adjustments",
            json={
                "kind": "bank_fee",
                "amount": "-50.00",
                "statement_line_id": "l-fee",
                "actor": ACTOR,
                "reason": "the bank's fee on the statement",
                "adjustment_id": "seed003-fee-1",
            },
        )
        assert requested.status_code == 201, requested.text
        fee = next(
            a
            for a in requested.json()["period"]["adjustments"]
            if a["adjustment_id"] == "seed003-fee-1"
        )
        assert fee["state"] == "requested"
        after = await eventually(period, lambda p: p.get("difference") == "0.00")
        states = {a["adjustment_id"]: a["state"] for a in after["adjustments"]}
        assert states == {"seed003-fee-1": "posted", "seed003-other-1": "refused"}
        assert after["reconciled_balance"] == "-172550.00"
        assert after["can_release"] is True, after["release_blockers"]
        posted = (await ledger.get(f"{books}/adjustments/seed003-fee-1")).json()
        assert posted["amount"] == {"amount": "-50.00", "currency": "NOK"}
        assert posted["status"] == "posted"
        trial = (await ledger.get(f"{books}/trial-balance")).json()
        fees = [a for a in trial["accounts"] if a["account_code"] == "7770"]
        assert [Decimal(a["balance"]) for a in fees] == [Decimal("50")]

        # release: sequence number 1, the next period opens at the closing balance
        released = await reconciler.post(f"{periods}/1/release", json={"actor": ACTOR})
        assert released.status_code == 200, released.text
        assert released.json()["period"]["sequence_no"] == 1
        assert released.json()["period"]["status"] == "released"
        following = await period("2")
        assert following["opening_balance"] == "-172550.00"
        assert following["opening_source"] == "previous_period"

        # void: reopened (the next period's opening cleared); a second release gets number 2
        voided = await reconciler.post(
            f"{periods}/1/void", json={"actor": ACTOR, "reason": "fee booked on the wrong date"}
        )
        assert voided.status_code == 200, voided.text
        assert voided.json()["period"]["status"] == "void"
        assert (await period("2"))["opening_source"] != "previous_period"
        again = await reconciler.post(f"{periods}/1/release", json={"actor": ACTOR})
        assert again.status_code == 200, again.text
        assert again.json()["period"]["sequence_no"] == 2
        assert (await period("2"))["opening_balance"] == "-172550.00"
        history = (await reconciler.get(periods)).json()["periods"]
        assert [(row["sequence_no"], row["status"]) for row in history][:2] == [
            (1, "void"),
            (2, "released"),
        ]

        # the PDFs an auditor keeps carry the same figures
        report = await reconciler.get(f"{periods}/1/report.pdf")
        assert report.headers["content-type"] == "application/pdf"
        text = pdf_text(report.content)
        for shown_figure in ("-172550.00", "25000.00", "-250000.00", "62500.00", "-10000.00"):
            assert shown_figure in text, shown_figure
        assert "Difference 0.00" in text
        assert "seed003-fee-1" in text
        assert "unknown_account" in text or "9999" in text
        history_pdf = pdf_text((await reconciler.get(f"{periods}.pdf")).content)
        assert "voided by anna@acme.example at " in history_pdf
        assert "fee booked on the wrong date" in history_pdf
        assert "released by anna@acme.example" in history_pdf


def pdf_text(content: bytes) -> str:
    """The text of a PDF, read back as an auditor's tool would (pypdf)."""
    import io

    from pypdf import PdfReader

    assert content.startswith(b"%PDF-")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
