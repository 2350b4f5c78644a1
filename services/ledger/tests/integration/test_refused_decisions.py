"""Refused decisions, on SQLite and PostgreSQL: a decision that no longer fits the books is
refused whole (nothing of it applied), recorded once, and published as ``DecisionRefused``
on the ledger's refused-decisions topic through the outbox."""

from __future__ import annotations

from typing import Any

from bankrec.contracts import (
    DEAD_LETTERS,
    OPEN_ITEMS,
    POSTINGS,
    REFUSED_DECISIONS,
    DecisionRefused,
    OpenItemStatus,
)
from bankrec.ledger.ports import DecisionOutcome
from bankrec.ledger.use_cases import refusal_message_id

ACCOUNT = "acc-0000000000000000demo"


async def register(books: Any, make: Any, item_id: str, amount: str) -> None:
    draft = make.draft(item_id, amount=amount)
    await books.ledger.register_open_item(books.tenant_id, draft, correlation_id="test")


async def apply(books: Any, make: Any, *args: Any, **fields: Any) -> Any:
    decision = make.decision(*args, **fields)
    envelope = make.envelope(decision, books.tenant_id)
    return envelope, await books.ledger.apply_decision(envelope)


async def test_a_decision_on_an_invoice_paid_meanwhile_is_refused_and_published(
    books: Any, make: Any
) -> None:
    await register(books, make, "INV-1", "100.00")
    await apply(books, make, "match", "100.00", [("INV-1", "100.00")])
    envelope, result = await apply(books, make, "match", "100.00", [("INV-1", "100.00")])
    assert (result.outcome, result.reason_code) == (DecisionOutcome.REFUSED, "over_allocation")

    [(key, message)] = await books.staged(REFUSED_DECISIONS)
    assert key == f"{books.tenant_id}:{ACCOUNT}"
    assert message["type"] == "decision.refused"
    assert message["message_id"] == refusal_message_id(books.tenant_id, envelope.message_id)
    assert message["causation_id"] == envelope.message_id
    assert message["correlation_id"] == envelope.correlation_id
    refused = DecisionRefused.model_validate(message["payload"])
    assert refused.decision_id == envelope.payload.decision_id
    assert refused.decision_message_id == envelope.message_id
    assert refused.reason_code == "over_allocation"
    assert "exceeds what is open" in refused.reason
    assert refused.allocations == envelope.payload.allocations
    [current] = refused.open_items
    assert (current.item_id, current.status, current.remaining.amount, current.version) == (
        "INV-1",
        OpenItemStatus.PAID,
        0,
        2,
    )
    # the operators' view is kept: the refusal is dead-lettered as before
    assert len(await books.staged(DEAD_LETTERS)) == 1


async def test_a_refused_decision_applies_nothing_of_itself(books: Any, make: Any) -> None:
    """Two allocations, the second no longer fits: the first is not applied either."""
    await register(books, make, "INV-1", "100.00")
    await register(books, make, "INV-2", "50.00")
    await apply(books, make, "partial", "30.00", [("INV-2", "30.00")])
    before = await books.staged(OPEN_ITEMS)
    _envelope, result = await apply(
        books, make, "match", "150.00", [("INV-1", "100.00"), ("INV-2", "50.00")]
    )
    assert (result.outcome, result.reason_code) == (DecisionOutcome.REFUSED, "over_allocation")

    first = await books.ledger.open_item(books.tenant_id, "INV-1")
    assert (first.status, first.remaining.amount, first.version) == (OpenItemStatus.OPEN, 100, 1)
    assert len(await books.ledger.journal(books.tenant_id)) == 1  # the earlier partial only
    assert len(await books.staged(POSTINGS)) == 1
    assert await books.staged(OPEN_ITEMS) == before
    [(_key, message)] = await books.staged(REFUSED_DECISIONS)
    states = {
        item["item_id"]: item["remaining"]["amount"] for item in message["payload"]["open_items"]
    }
    assert states == {"INV-1": "100.00", "INV-2": "20.00"}


async def test_a_decision_on_a_changed_invoice_no_longer_fits(books: Any, make: Any) -> None:
    await register(books, make, "INV-1", "100.00")
    await register(books, make, "INV-1", "120.00")  # revised after the matcher saw version 1
    _envelope, stale = await apply(books, make, "partial", "100.00", [("INV-1", "100.00", 1)])
    assert (stale.outcome, stale.reason_code) == (
        DecisionOutcome.REFUSED,
        "decision_no_longer_fits",
    )
    _envelope, match = await apply(books, make, "match", "100.00", [("INV-1", "100.00")])
    assert (match.outcome, match.reason_code) == (
        DecisionOutcome.REFUSED,
        "decision_no_longer_fits",
    )
    invoice = await books.ledger.open_item(books.tenant_id, "INV-1")
    assert (invoice.remaining.amount, invoice.version) == (120, 2)
    refusals = [m["payload"]["reason_code"] for _k, m in await books.staged(REFUSED_DECISIONS)]
    assert refusals == ["decision_no_longer_fits", "decision_no_longer_fits"]
    assert await books.ledger.journal(books.tenant_id) == []


async def test_a_refusal_is_published_once_per_decision(books: Any, make: Any) -> None:
    envelope, first = await apply(books, make, "match", "10.00", [("INV-404", "10.00")])
    assert first.reason_code == "open_item_not_found"
    again = await books.ledger.apply_decision(envelope)  # the same message redelivered
    repeated = await books.ledger.apply_decision(  # the same decision in a new envelope
        make.envelope(envelope.payload, books.tenant_id)
    )
    assert (again.already_applied, repeated.already_applied) == (True, True)
    assert repeated.outcome is DecisionOutcome.REFUSED
    [(_key, message)] = await books.staged(REFUSED_DECISIONS)
    assert message["payload"]["open_items"] == []  # the ledger has no such item
    counts = await books.ledger.counts(books.tenant_id)
    assert (counts.decisions_applied, counts.decisions_refused) == (0, 1)
