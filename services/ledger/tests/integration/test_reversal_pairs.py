"""Reversal pairs in the suspense queue, on SQLite and PostgreSQL. A ``reversal_pair``
decision posts the reversing line bank vs interim; when the earlier line's money is still
wholly parked, the two suspense postings settle each other (``settled_by_reversal``, both out
of the open list, audited, 2900 at zero); when the earlier line was matched (a returned
payment) the reversal stays open with a note naming the earlier decision, and settles once a
person unmatches it (or reverses the allocations of a later match). Exactly once under
redelivery."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from bankrec.contracts import OpenItemStatus
from bankrec.ledger.domain.audit import ManualAction
from bankrec.ledger.domain.suspense import AllocationTarget, SuspenseStatus
from bankrec.ledger.errors import SuspenseAllocated
from bankrec.ledger.ports import DecisionOutcome

BY = {"actor": "kari@example.no", "reason": "the bank returned the payment"}


async def balances(books: Any) -> dict[str, Decimal]:
    trial = await books.ledger.trial_balance(books.tenant_id)
    assert trial.balanced
    return {row.account_code: row.debit - row.credit for row in trial.accounts}


async def apply(books: Any, make: Any, decision: Any) -> Any:
    return await books.ledger.apply_decision(make.envelope(decision, books.tenant_id))


def reversal_of(make: Any, earlier: Any, line_id: str = "line-B") -> Any:
    return make.decision(
        "reversal_pair",
        str(-earlier.amount.amount),
        line_id=line_id,
        paired_line_id=earlier.line_id,
        rule="reversal_pair",
    )


async def postings_by_line(books: Any) -> dict[str, list[Any]]:
    by_line: dict[str, list[Any]] = {}
    for posting in await books.manual.suspense_postings(books.tenant_id):
        by_line.setdefault(posting.statement_line_id, []).append(posting)
    return by_line


async def test_a_reversal_of_a_parked_line_settles_both_postings_exactly_once(
    books: Any, make: Any
) -> None:
    parked = make.decision("suspense", "500.00", line_id="line-A")
    await apply(books, make, parked)
    assert (await balances(books))["2900"] == Decimal("-500.00")

    reversal = reversal_of(make, parked)
    envelope = make.envelope(reversal, books.tenant_id)
    first = await books.ledger.apply_decision(envelope)
    assert (first.outcome, first.already_applied) == (DecisionOutcome.POSTED, False)
    after = await balances(books)
    assert (after["2900"], after["1920"]) == (0, 0)
    assert await books.manual.suspense_postings(books.tenant_id, status=SuspenseStatus.OPEN) == []
    by_line = await postings_by_line(books)
    [original], [reversing] = by_line["line-A"], by_line["line-B"]
    for posting in (original, reversing):
        assert (posting.status, posting.remaining.amount) == (SuspenseStatus.SETTLED_BY_REVERSAL, 0)
    assert reversing.amount.amount == Decimal("-500.00")
    for posting, other in ((original, reversing), (reversing, original)):
        [record] = await books.manual.audit_trail(books.tenant_id, subject_id=posting.suspense_id)
        assert record.action is ManualAction.SETTLE_REVERSAL_PAIR
        assert record.result["settled_with"] == other.suspense_id
        assert "line line-B reverses line line-A" in record.reason

    # the same message again, and the same decision as a new message: nothing changes
    again = await books.ledger.apply_decision(envelope)
    resent = await apply(books, make, reversal)
    assert again.already_applied
    assert resent.already_applied
    assert await balances(books) == after
    assert await postings_by_line(books) == by_line
    assert len(await books.manual.audit_trail(books.tenant_id)) == 2

    with pytest.raises(SuspenseAllocated, match="settled by the reversal"):
        await books.manual.allocate_suspense(
            books.tenant_id,
            original.suspense_id,
            target=AllocationTarget.GL_ACCOUNT,
            target_id="8040",
            amount=None,
            correlation_id="test",
            **BY,
        )


async def test_a_returned_payment_stays_in_suspense_until_its_match_is_unmatched(
    books: Any, make: Any
) -> None:
    await books.ledger.register_open_item(
        books.tenant_id, make.draft("INV-1", amount="500.00"), correlation_id="test"
    )
    matched = make.decision("match", "500.00", [("INV-1", "500.00")], line_id="line-A")
    await apply(books, make, matched)

    await apply(books, make, reversal_of(make, matched))
    totals = await balances(books)
    # the bank follows the statement (500 in, 500 out); the reversal waits on 2900 (a debit)
    assert (totals["1920"], totals["2900"], totals["1500"]) == (0, Decimal("500.00"), -500)
    [waiting] = await books.manual.suspense_postings(books.tenant_id, status=SuspenseStatus.OPEN)
    assert (waiting.statement_line_id, waiting.remaining.amount) == ("line-B", -500)
    [note] = await books.manual.audit_trail(books.tenant_id, subject_id=waiting.suspense_id)
    assert note.action is ManualAction.NOTE_REVERSAL_PAIR
    assert note.result["earlier_decision_id"] == matched.decision_id
    assert f"unmatch {matched.decision_id}" in note.reason
    invoice = await books.ledger.open_item(books.tenant_id, "INV-1")
    assert invoice.status is OpenItemStatus.PAID  # until a person unmatches

    done = await books.manual.unmatch_decision(
        books.tenant_id, matched.decision_id, correlation_id="test", **BY
    )
    assert done.answer["suspense_posting"]["status"] == "settled_by_reversal"
    assert await books.manual.suspense_postings(books.tenant_id, status=SuspenseStatus.OPEN) == []
    totals = await balances(books)
    assert (totals["1920"], totals["2900"], totals["1500"]) == (0, 0, 0)
    invoice = await books.ledger.open_item(books.tenant_id, "INV-1")
    assert (invoice.status, invoice.remaining.amount) == (OpenItemStatus.OPEN, 500)


async def test_a_reversal_after_a_later_match_settles_when_the_allocation_is_reversed(
    books: Any, make: Any
) -> None:
    parked = make.decision("suspense", "-300.00", line_id="line-A")
    await apply(books, make, parked)
    await books.ledger.register_open_item(
        books.tenant_id, make.draft("BILL-1", "bill", "-300.00"), correlation_id="test"
    )
    later = make.decision(
        "match",
        "-300.00",
        [("BILL-1", "-300.00")],
        line_id="line-A",
        decision_id=f"{parked.decision_id}-2",
        supersedes_decision_id=parked.decision_id,
    )
    await apply(books, make, later)
    await apply(books, make, reversal_of(make, parked))

    [waiting] = await books.manual.suspense_postings(books.tenant_id, status=SuspenseStatus.OPEN)
    [note] = await books.manual.audit_trail(books.tenant_id, subject_id=waiting.suspense_id)
    assert note.result["earlier_decision_id"] == later.decision_id
    assert "reverse its allocations" in note.reason
    [original] = (await postings_by_line(books))["line-A"]
    [allocation] = (await books.manual.suspense_posting(books.tenant_id, original.suspense_id))[1]

    done = await books.manual.reverse_suspense_allocation(
        books.tenant_id,
        original.suspense_id,
        allocation.allocation_id,
        correlation_id="test",
        **BY,
    )
    assert done.answer["suspense_posting"]["status"] == "settled_by_reversal"
    assert await books.manual.suspense_postings(books.tenant_id, status=SuspenseStatus.OPEN) == []
    totals = await balances(books)
    assert (totals["1920"], totals["2900"], totals["2400"]) == (0, 0, 0)
    bill = await books.ledger.open_item(books.tenant_id, "BILL-1")
    assert bill.status is OpenItemStatus.OPEN


async def test_a_reversal_naming_a_line_the_ledger_never_saw_waits_with_a_note(
    books: Any, make: Any
) -> None:
    reversal = make.decision(
        "reversal_pair", "-75.00", line_id="line-B", paired_line_id="line-unknown"
    )
    result = await apply(books, make, reversal)
    assert result.outcome is DecisionOutcome.POSTED
    [waiting] = await books.manual.suspense_postings(books.tenant_id, status=SuspenseStatus.OPEN)
    [note] = await books.manual.audit_trail(books.tenant_id, subject_id=waiting.suspense_id)
    assert "no decision" in note.reason
    assert (await balances(books))["2900"] == Decimal("75.00")
