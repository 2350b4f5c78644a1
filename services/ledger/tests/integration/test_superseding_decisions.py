"""A later match of a line that went to suspense, on SQLite and PostgreSQL: the matcher's
decision names the suspense decision it supersedes; the ledger moves the suspense posting
off the interim account to the invoice (the allocation of ``domain/suspense.py``), exactly
once, and refuses it (``suspense_allocated``) when a person allocated the posting first."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bankrec.contracts import POSTINGS, REFUSED_DECISIONS, DecisionRefused, OpenItemStatus
from bankrec.ledger.domain.suspense import AllocationTarget, SuspenseStatus
from bankrec.ledger.ports import DecisionOutcome

BY = {"actor": "kari@example.no", "reason": "customer called: this pays INV-1"}


async def register(books: Any, make: Any, item_id: str, amount: str) -> None:
    draft = make.draft(item_id, amount=amount)
    await books.ledger.register_open_item(books.tenant_id, draft, correlation_id="test")


async def balances(books: Any) -> dict[str, Decimal]:
    trial = await books.ledger.trial_balance(books.tenant_id)
    assert trial.balanced
    return {row.account_code: row.debit - row.credit for row in trial.accounts}


async def park(books: Any, make: Any, amount: str) -> Any:
    parked = make.decision("suspense", amount)
    result = await books.ledger.apply_decision(make.envelope(parked, books.tenant_id))
    assert result.outcome is DecisionOutcome.POSTED
    return parked


def later_match(
    make: Any, parked: Any, allocations: list[tuple[str, str]], kind: str = "match"
) -> Any:
    return make.decision(
        kind,
        str(parked.amount.amount),
        allocations,
        line_id=parked.line_id,
        decision_id=f"{parked.decision_id}-2",
        supersedes_decision_id=parked.decision_id,
    )


async def test_a_later_match_moves_the_suspense_to_the_invoice_exactly_once(
    books: Any, make: Any
) -> None:
    parked = await park(books, make, "4200.00")
    assert (await balances(books))["2900"] == Decimal("-4200.00")
    await register(books, make, "INV-1", "4200.00")
    matched = later_match(make, parked, [("INV-1", "4200.00", 1)])

    envelope = make.envelope(matched, books.tenant_id)
    first = await books.ledger.apply_decision(envelope)
    again = await books.ledger.apply_decision(envelope)  # a redelivery
    resent = await books.ledger.apply_decision(make.envelope(matched, books.tenant_id))

    assert (first.outcome, first.already_applied) == (DecisionOutcome.POSTED, False)
    assert again.already_applied
    assert resent.already_applied
    totals = await balances(books)
    # the invoice is not in the journal (open items are not posted): receivable is credited
    assert (totals["2900"], totals["1500"]) == (0, Decimal("-4200.00"))
    invoice = await books.ledger.open_item(books.tenant_id, "INV-1")
    assert (invoice.status, invoice.remaining.amount) == (OpenItemStatus.PAID, 0)
    [posting] = await books.manual.suspense_postings(books.tenant_id)
    assert (posting.status, posting.remaining.amount) == (SuspenseStatus.ALLOCATED, 0)
    entries = [m["payload"] for _k, m in await books.staged(POSTINGS)]
    assert [(e["source"], e["source_ref"]) for e in entries] == [
        ("decision", parked.decision_id),
        ("decision", matched.decision_id),
    ]
    assert entries[1]["statement_line_id"] == parked.line_id


async def test_a_partial_later_match_leaves_the_rest_on_the_interim_account(
    books: Any, make: Any
) -> None:
    parked = await park(books, make, "300.00")
    await register(books, make, "INV-1", "1000.00")
    partial = later_match(make, parked, [("INV-1", "300.00")], kind="partial")
    result = await books.ledger.apply_decision(make.envelope(partial, books.tenant_id))
    assert result.outcome is DecisionOutcome.POSTED
    invoice = await books.ledger.open_item(books.tenant_id, "INV-1")
    assert (invoice.status, invoice.remaining.amount) == (OpenItemStatus.PARTLY_PAID, 700)
    assert (await balances(books))["2900"] == 0


async def test_a_later_match_after_a_persons_allocation_is_refused(books: Any, make: Any) -> None:
    parked = await park(books, make, "4200.00")
    await register(books, make, "INV-1", "4200.00")
    [posting] = await books.manual.suspense_postings(books.tenant_id)
    await books.manual.allocate_suspense(
        books.tenant_id,
        posting.suspense_id,
        target=AllocationTarget.GL_ACCOUNT,
        target_id="8040",
        amount=None,
        correlation_id="test",
        **BY,
    )
    before = await balances(books)

    matched = later_match(make, parked, [("INV-1", "4200.00")])
    result = await books.ledger.apply_decision(make.envelope(matched, books.tenant_id))

    assert (result.outcome, result.reason_code) == (DecisionOutcome.REFUSED, "suspense_allocated")
    assert "allocated already" in (result.reason or "")
    assert await balances(books) == before
    invoice = await books.ledger.open_item(books.tenant_id, "INV-1")
    assert invoice.status is OpenItemStatus.OPEN
    [(_key, message)] = await books.staged(REFUSED_DECISIONS)
    assert DecisionRefused.model_validate(message["payload"]).line_id == parked.line_id


async def test_only_a_posted_suspense_decision_can_be_superseded(books: Any, make: Any) -> None:
    await register(books, make, "INV-1", "100.00")
    first = make.decision("match", "100.00", [("INV-1", "100.00")])
    await books.ledger.apply_decision(make.envelope(first, books.tenant_id))
    await register(books, make, "INV-2", "100.00")
    matched = later_match(make, first, [("INV-2", "100.00")])
    result = await books.ledger.apply_decision(make.envelope(matched, books.tenant_id))
    assert (result.outcome, result.reason_code) == (DecisionOutcome.REFUSED, "invalid_decision")
    assert "only a posted suspense or proposal decision" in (result.reason or "")
