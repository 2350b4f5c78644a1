"""Manual matches the reconciler asks for, on SQLite and PostgreSQL: applied exactly once and
answered, refused whole with the reason, and taken back (``match_requests.py``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bankrec.contracts import (
    MATCH_OUTCOMES,
    DecisionKind,
    ItemAllocation,
    ManualMatchCommand,
    ManualMatchKind,
    ManualMatchOutcome,
    Money,
    OpenItemStatus,
    envelope_for,
)
from bankrec.ledger.adapters import SqlLedgerViews, sql_transactions
from bankrec.ledger.match_requests import ManualMatching, MatchRequests

ACCOUNT = "acc-0000000000000000demo"


def requests_on(books: Any) -> MatchRequests:
    transactions = sql_transactions(books.sessions)
    matching = ManualMatching(transactions, SqlLedgerViews(books.sessions))
    return MatchRequests(matching, transactions)


def command(
    request_id: str,
    line_id: str,
    *items: tuple[str, str],
    kind: ManualMatchKind = ManualMatchKind.MATCH,
    undoes: str | None = None,
) -> ManualMatchCommand:
    return ManualMatchCommand(
        request_id=request_id,
        kind=kind,
        period_id=f"{ACCOUNT}-p1",
        bank_account_id=ACCOUNT,
        statement_line_id=line_id,
        decision_id=f"dec-{line_id}",
        allocations=tuple(ItemAllocation(item_id=i, amount=Money.of(a, "NOK")) for i, a in items),
        undoes_request_id=undoes,
        requested_by="kari@example.no",
        reason="the customer's remittance names both",
    )


async def register_and_park(books: Any, make: Any, line_id: str, amount: str) -> None:
    for item_id, item_amount in (("INV-1", "300.00"), ("INV-2", "200.00")):
        draft = make.draft(item_id, kind="invoice", amount=item_amount)
        await books.ledger.register_open_item(books.tenant_id, draft, correlation_id="test")
    decision = make.decision(DecisionKind.SUSPENSE, amount, line_id=line_id)
    await books.ledger.apply_decision(make.envelope(decision, books.tenant_id))


async def remaining(books: Any, item_id: str) -> tuple[OpenItemStatus, Decimal]:
    item = await books.ledger.open_item(books.tenant_id, item_id)
    return item.status, item.remaining.amount


async def test_a_match_is_applied_once_and_taken_back(books: Any, make: Any) -> None:
    await register_and_park(books, make, "l-1", "500.00")
    requests = requests_on(books)
    asked = envelope_for(
        command("mm-1", "l-1", ("INV-1", "300.00"), ("INV-2", "200.00")),
        tenant_id=books.tenant_id,
        correlation_id="corr",
    )

    applied = await requests.settle_requested(asked)
    again = await requests.settle_requested(asked)  # the same message
    copy = await requests.settle_requested(asked.model_copy(update={"message_id": "other-id"}))

    assert applied.outcome is ManualMatchOutcome.APPLIED
    assert len(applied.entry_ids) == 2
    assert again.outcome is None
    assert copy.outcome is ManualMatchOutcome.APPLIED
    assert copy.entry_ids == applied.entry_ids
    assert await remaining(books, "INV-1") == (OpenItemStatus.PAID, Decimal(0))
    assert await remaining(books, "INV-2") == (OpenItemStatus.PAID, Decimal(0))
    journal = await books.ledger.journal(books.tenant_id, limit=100, offset=0)
    assert len(journal) == 3  # the suspense posting and the two allocations, once
    answers = await books.staged(MATCH_OUTCOMES)
    assert {a["message_id"] for _, a in answers} == {answers[0][1]["message_id"]}
    assert answers[0][1]["payload"]["outcome"] == "applied"

    taken_back = await requests.settle_requested(
        envelope_for(
            command("mm-2", "l-1", kind=ManualMatchKind.UNMATCH, undoes="mm-1"),
            tenant_id=books.tenant_id,
            correlation_id="corr",
        )
    )

    assert taken_back.outcome is ManualMatchOutcome.APPLIED
    assert len(taken_back.entry_ids) == 2
    assert await remaining(books, "INV-1") == (OpenItemStatus.OPEN, Decimal("300.00"))
    assert await remaining(books, "INV-2") == (OpenItemStatus.OPEN, Decimal("200.00"))
    trail = await books.manual.audit_trail(books.tenant_id, subject_id="l-1")
    assert [(r.action.value, r.actor) for r in trail] == [
        ("allocate_suspense", "kari@example.no"),
        ("reverse_suspense_allocation", "kari@example.no"),
    ]


async def test_a_refused_match_posts_nothing_of_it(books: Any, make: Any) -> None:
    await register_and_park(books, make, "l-2", "500.00")
    requests = requests_on(books)

    # INV-2 is open for 200 only: the first allocation is rolled back with the second
    refused = await requests.settle_requested(
        envelope_for(
            command("mm-3", "l-2", ("INV-1", "250.00"), ("INV-2", "250.00")),
            tenant_id=books.tenant_id,
            correlation_id="corr",
        )
    )
    not_applied = await requests.settle_requested(
        envelope_for(
            command("mm-4", "l-unknown", ("INV-1", "300.00")),
            tenant_id=books.tenant_id,
            correlation_id="corr",
        )
    )

    assert (refused.outcome, refused.reason_code) == (
        ManualMatchOutcome.REFUSED,
        "over_allocation",
    )
    assert (not_applied.outcome, not_applied.reason_code) == (
        ManualMatchOutcome.REFUSED,
        "decision_not_applied",
    )
    assert await remaining(books, "INV-1") == (OpenItemStatus.OPEN, Decimal("300.00"))
    assert len(await books.ledger.journal(books.tenant_id, limit=100, offset=0)) == 1
    payloads = [a["payload"] for _, a in await books.staged(MATCH_OUTCOMES)]
    assert [(p["request_id"], p["reason_code"]) for p in payloads] == [
        ("mm-3", "over_allocation"),
        ("mm-4", "decision_not_applied"),
    ]
    assert "ask again once the matcher's decision is posted" in payloads[1]["reason"]
