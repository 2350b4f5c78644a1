"""The open-item index: newer versions win, closed items leave the candidate sets,
allocations lower the remaining amount at once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from matcher_factories import Book

from bankrec.contracts import Money, OpenItemStatus
from bankrec.matcher.domain import AllocationError, OpenItemIndex, TenantIndexes


def test_items_are_found_by_id_reference_and_remaining_amount(book: Book) -> None:
    index = book.index(
        book.item("INV-1", "500.00", reference="1002345005"),
        book.item("INV-2", "500", reference="RF18 5390 0754 7034"),
        book.item("BILL-1", "-500.00"),
    )
    assert index.get("INV-1") is not None
    assert [e.item_id for e in index.open_by_reference("1002345005")] == ["INV-1"]
    assert [e.item_id for e in index.open_by_reference("RF18539007547034")] == ["INV-2"]
    # 500.00 and 500 are the same amount; the sign separates invoices from bills
    assert [e.item_id for e in index.open_by_amount(Money.of("500.0", "NOK"))] == ["INV-1", "INV-2"]
    assert [e.item_id for e in index.open_by_amount(Money.of("-500", "NOK"))] == ["BILL-1"]
    assert index.open_by_amount(Money.of("500.00", "SEK")) == []
    assert (len(index), index.open_count) == (3, 3)


def test_a_newer_version_replaces_and_an_older_or_equal_one_is_ignored(book: Book) -> None:
    first = book.item("INV-1", "500.00", version=2)
    index = book.index(first)
    changed = first.model_copy(update={"remaining": Money.of("200.00", "NOK"), "version": 3})
    stale = first.model_copy(update={"remaining": Money.of("1.00", "NOK"), "version": 1})
    replay = first.model_copy(update={"remaining": Money.of("2.00", "NOK")})

    assert index.apply(changed)
    assert not index.apply(stale)
    assert not index.apply(replay)

    entry = index.get("INV-1")
    assert entry is not None
    assert entry.remaining == Money.of("200.00", "NOK")
    assert index.open_by_amount(Money.of("500.00", "NOK")) == []
    assert [e.item_id for e in index.open_by_amount(Money.of("200.00", "NOK"))] == ["INV-1"]


@pytest.mark.parametrize("status", [OpenItemStatus.PAID, OpenItemStatus.CANCELLED])
def test_paid_and_cancelled_items_leave_the_candidate_sets(
    book: Book, status: OpenItemStatus
) -> None:
    item = book.item("INV-1", "500.00", reference="1002345005")
    index = book.index(item)
    index.apply(book.paid(item, status))

    assert index.open_by_reference("1002345005") == []
    assert index.open_by_amount(Money.of("500.00", "NOK")) == []
    assert [e.item_id for e in index.closed_by_reference("1002345005")] == ["INV-1"]
    assert (len(index), index.open_count) == (1, 0)


def test_a_cancelled_item_with_remaining_amount_is_still_not_a_candidate(book: Book) -> None:
    index = book.index(book.item("INV-1", "500.00", status=OpenItemStatus.CANCELLED))
    assert index.open_by_amount(Money.of("500.00", "NOK")) == []


def test_a_partly_paid_item_is_a_candidate_for_its_remaining_amount(book: Book) -> None:
    index = book.index(
        book.item("INV-1", "500.00", remaining="300.00", status=OpenItemStatus.PARTLY_PAID)
    )
    assert [e.item_id for e in index.open_by_amount(Money.of("300.00", "NOK"))] == ["INV-1"]


def test_allocating_lowers_the_remaining_amount_and_closes_the_item_at_zero(book: Book) -> None:
    index = book.index(book.item("INV-1", "500.00", reference="1002345005"))

    index.allocate("INV-1", Money.of("200.00", "NOK"))
    assert [e.item_id for e in index.open_by_amount(Money.of("300.00", "NOK"))] == ["INV-1"]
    assert index.open_by_amount(Money.of("500.00", "NOK")) == []

    closed = index.allocate("INV-1", Money.of("300.00", "NOK"))
    assert closed.remaining.amount == Decimal(0)
    assert closed.status == "allocated"
    assert index.open_by_reference("1002345005") == []
    assert index.open_count == 0


def test_the_ledgers_newer_state_replaces_a_local_allocation(book: Book) -> None:
    item = book.item("INV-1", "500.00")
    index = book.index(item)
    index.allocate("INV-1", Money.of("500.00", "NOK"))
    index.apply(book.paid(item))
    entry = index.get("INV-1")
    assert entry is not None
    assert entry.status == "paid"


def remaining_of(index: OpenItemIndex, item_id: str) -> Money:
    entry = index.get(item_id)
    assert entry is not None
    return entry.remaining


def test_an_unrelated_newer_state_keeps_the_matchers_allocation(book: Book) -> None:
    item = book.item("INV-1", "500.00")
    index = book.index(item)
    index.allocate("INV-1", Money.of("500.00", "NOK"))
    # the ledger edits the due date before it has applied the decision: remaining still 500
    index.apply(item.model_copy(update={"version": 2, "description": "new due date"}))

    assert index.open_by_amount(Money.of("500.00", "NOK")) == []
    assert remaining_of(index, "INV-1").amount == 0
    entry = index.get("INV-1")
    assert entry is not None
    assert entry.item.description == "new due date"  # the newer state itself is taken


def test_the_ledger_applying_an_earlier_partial_keeps_the_later_allocation(book: Book) -> None:
    item = book.item("INV-1", "500.00")
    index = book.index(item)
    index.allocate("INV-1", Money.of("200.00", "NOK"))  # line 1
    index.allocate("INV-1", Money.of("300.00", "NOK"))  # line 2 takes the rest
    partly = item.model_copy(
        update={
            "version": 2,
            "status": OpenItemStatus.PARTLY_PAID,
            "remaining": Money.of("300.00", "NOK"),
        }
    )
    index.apply(partly)  # the ledger has applied line 1 only

    assert index.open_by_amount(Money.of("300.00", "NOK")) == []  # line 2 still holds it
    assert index.open_count == 0
    index.apply(book.paid(partly))  # and now line 2
    assert remaining_of(index, "INV-1").amount == 0


def test_a_state_that_shows_the_allocation_settles_it(book: Book) -> None:
    item = book.item("BILL-1", "-500.00")
    index = book.index(item)
    index.allocate("BILL-1", Money.of("-200.00", "NOK"))
    index.apply(
        item.model_copy(
            update={
                "version": 2,
                "status": OpenItemStatus.PARTLY_PAID,
                "remaining": Money.of("-300.00", "NOK"),
            }
        )
    )
    assert remaining_of(index, "BILL-1") == Money.of("-300.00", "NOK")
    assert [e.item_id for e in index.open_by_amount(Money.of("-300.00", "NOK"))] == ["BILL-1"]


def test_another_payment_in_the_ledger_does_not_settle_the_allocation(book: Book) -> None:
    item = book.item("INV-1", "500.00")
    index = book.index(item)
    index.allocate("INV-1", Money.of("200.00", "NOK"))
    # a payment registered by hand takes 50.00 before the ledger applies the decision
    index.apply(item.model_copy(update={"version": 2, "remaining": Money.of("450.00", "NOK")}))
    assert remaining_of(index, "INV-1") == Money.of("250.00", "NOK")
    # then the decision: the ledger's remaining drops by the 200.00 reserved
    index.apply(item.model_copy(update={"version": 3, "remaining": Money.of("250.00", "NOK")}))
    assert remaining_of(index, "INV-1") == Money.of("250.00", "NOK")
    assert [e.item_id for e in index.open_by_amount(Money.of("250.00", "NOK"))] == ["INV-1"]


@pytest.mark.parametrize(
    "amount",
    [
        Money.of("600.00", "NOK"),  # more than remaining
        Money.of("-100.00", "NOK"),  # other sign
        Money.of("100.00", "SEK"),  # other currency
        Money.of("0", "NOK"),
    ],
)
def test_an_allocation_that_does_not_fit_is_refused(book: Book, amount: Money) -> None:
    index = book.index(book.item("INV-1", "500.00"))
    with pytest.raises(AllocationError):
        index.allocate("INV-1", amount)
    entry = index.get("INV-1")
    assert entry is not None
    assert entry.remaining == Money.of("500.00", "NOK")


def test_allocating_to_an_unknown_or_closed_item_is_refused(book: Book) -> None:
    item = book.item("INV-1", "500.00")
    index = book.index(item)
    index.apply(book.paid(item))
    with pytest.raises(AllocationError):
        index.allocate("INV-1", Money.of("1.00", "NOK"))
    with pytest.raises(AllocationError):
        index.allocate("INV-404", Money.of("1.00", "NOK"))


def test_tenants_have_separate_indexes(book: Book) -> None:
    indexes = TenantIndexes()
    indexes.apply("tenant-a", book.item("INV-1", "500.00"))
    indexes.apply("tenant-a", book.paid(book.item("INV-2", "10.00")))
    assert indexes.summary("tenant-a").open_items == 2
    assert indexes.summary("tenant-a").open == 1
    assert indexes.summary("tenant-b").open_items == 0
    assert len(indexes.for_tenant("tenant-b")) == 0
    assert isinstance(indexes.for_tenant("tenant-a"), OpenItemIndex)
