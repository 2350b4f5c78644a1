"""Reversal pairs in the suspense queue (``domain/suspense.py``, pure): which posting a
reversal cancels, the settlement of the two, and the note when it cannot settle."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from bankrec.contracts import Money
from bankrec.ledger.domain.suspense import (
    EarlierDecision,
    SuspensePosting,
    SuspenseStatus,
    reversal_counterpart,
    reversal_pair_note,
    settle_reversal_pair,
)
from bankrec.ledger.errors import InvalidDecision, SuspenseAllocated


def parked(suspense_id: str, amount: str, line_id: str, currency: str = "NOK") -> SuspensePosting:
    money = Money.of(amount, currency)
    return SuspensePosting(
        suspense_id=suspense_id,
        entry_id=f"je-{suspense_id}",
        amount=money,
        remaining=money,
        posting_date=date(2026, 11, 20),
        statement_line_id=line_id,
        decision_id=f"dec-{line_id}",
    )


PAID_IN = parked("sp-a", "500.00", "line-A")
PAID_BACK = parked("sp-b", "-500.00", "line-B")


def test_a_reversal_cancels_the_wholly_parked_posting_of_the_opposite_amount() -> None:
    other_amount = parked("sp-c", "400.00", "line-A")
    other_currency = parked("sp-d", "500.00", "line-A", currency="SEK")
    assert reversal_counterpart(PAID_BACK, [other_amount, other_currency, PAID_IN]) == PAID_IN
    assert reversal_counterpart(PAID_BACK, [other_amount, other_currency]) is None


def test_a_posting_allocated_in_part_or_settled_is_no_counterpart() -> None:
    partly = replace(
        PAID_IN, remaining=Money.of("200.00", "NOK"), status=SuspenseStatus.PARTLY_ALLOCATED
    )
    reversed_ = replace(PAID_IN, status=SuspenseStatus.REVERSED)
    assert reversal_counterpart(PAID_BACK, [partly, reversed_]) is None
    assert (
        reversal_counterpart(replace(PAID_BACK, status=SuspenseStatus.REVERSED), [PAID_IN]) is None
    )


def test_settling_a_pair_leaves_nothing_on_either_posting() -> None:
    settled = settle_reversal_pair(PAID_IN, PAID_BACK)
    for before, after in ((PAID_IN, settled.original), (PAID_BACK, settled.reversing)):
        assert after.status is SuspenseStatus.SETTLED_BY_REVERSAL
        assert after.remaining == Money.of("0", before.amount.currency)
        assert (after.amount, after.version) == (before.amount, before.version + 1)
    # they net to zero on the interim account: that is why settling posts no entry
    assert PAID_IN.remaining.amount + PAID_BACK.remaining.amount == 0


def test_postings_that_do_not_cancel_or_are_allocated_do_not_settle() -> None:
    with pytest.raises(InvalidDecision, match="do not cancel"):
        settle_reversal_pair(PAID_IN, parked("sp-c", "-400.00", "line-B"))
    with pytest.raises(SuspenseAllocated, match="wholly parked"):
        settle_reversal_pair(
            replace(PAID_IN, remaining=Money.of("0", "NOK"), status=SuspenseStatus.ALLOCATED),
            PAID_BACK,
        )


def test_the_note_of_a_returned_payment_names_the_match_to_unmatch() -> None:
    note = reversal_pair_note(
        PAID_BACK,
        "line-A",
        earlier=[EarlierDecision("dec-A", "match")],
        paired_postings=[],
    )
    assert note == (
        "line line-B reverses line line-A, decided match by dec-A (a returned payment): "
        "unmatch dec-A to reopen what it paid, and the ledger settles this posting with the "
        "one the unmatch parks"
    )


def test_the_note_of_a_line_allocated_since_says_to_reverse_its_allocations() -> None:
    allocated = replace(PAID_IN, remaining=Money.of("0", "NOK"), status=SuspenseStatus.ALLOCATED)
    note = reversal_pair_note(
        PAID_BACK,
        "line-A",
        earlier=[EarlierDecision("dec-A", "suspense"), EarlierDecision("dec-A-2", "match")],
        paired_postings=[allocated],
    )
    assert "decided match by dec-A-2" in note
    assert "(sp-a allocated): reverse its allocations" in note


def test_the_note_of_a_line_without_a_decision_says_to_allocate_by_hand() -> None:
    note = reversal_pair_note(PAID_BACK, "line-X", earlier=[], paired_postings=[])
    assert note.endswith("of which the ledger has no decision; allocate this posting by hand")
