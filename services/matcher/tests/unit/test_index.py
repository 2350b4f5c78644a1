"""The open-item index: newer versions win, closed items leave the candidate sets,
allocations lower the remaining amount at once."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from matcher_factories import Book
from rapidfuzz.distance import OSA

from bankrec.contracts import Money, OpenItem, OpenItemStatus
from bankrec.matcher.domain import AllocationError, OpenItemIndex, TenantIndexes
from bankrec.matcher.domain.index_digest import index_digest, index_snapshot


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


def test_items_are_found_by_document_number_account_name_and_counterparty(book: Book) -> None:
    index = book.index(
        book.item(
            "INV-1",
            "500.00",
            document_no="INV-10234",
            external_document_no="PO-7712",
            counterparty_id="C-1",
            counterparty_name="Sjøbris Marine AS",
            counterparty_accounts=["NO83 3000 1234 567"],
        ),
        book.item("INV-2", "300.00", document_no="10235", counterparty_id="C-1"),
    )
    assert [e.item_id for e in index.open_by_document("INV10234")] == ["INV-1"]
    assert [e.item_id for e in index.open_by_document("10234")] == ["INV-1"]
    assert [e.item_id for e in index.open_by_document("PO7712")] == ["INV-1"]
    assert set(index.counterparties_by_account("NO8330001234567")) == {"C-1"}
    assert set(index.counterparties_by_account("30001234567")) == {"C-1"}  # the BBAN
    assert set(index.counterparties_by_name("MARINE SJOBRIS")) == {"C-1"}
    assert set(index.names_with_word("SJOBRIS")) == {"MARINE SJOBRIS"}
    assert [e.item_id for e in index.open_of_counterparty("C-1")] == ["INV-1", "INV-2"]
    assert index.count_open_of_counterparty("C-1") == 2


def test_a_paid_item_leaves_the_open_lookups_but_still_names_its_counterparty(
    book: Book,
) -> None:
    item = book.item(
        "INV-1",
        "500.00",
        document_no="10234",
        counterparty_id="C-1",
        counterparty_name="Kari Hansen",
        counterparty_accounts=["12345678903"],
    )
    index = book.index(item)
    index.apply(book.paid(item))

    assert index.open_by_document("10234") == []
    assert [e.item_id for e in index.closed_by_document("10234")] == ["INV-1"]
    assert index.open_of_counterparty("C-1") == []
    assert set(index.counterparties_by_account("12345678903")) == {"C-1"}
    assert set(index.counterparties_by_name("HANSEN KARI")) == {"C-1"}


def test_a_changed_item_is_found_by_its_new_keys_only(book: Book) -> None:
    first = book.item(
        "INV-1",
        "500.00",
        document_no="10234",
        counterparty_id="C-1",
        counterparty_name="Kari Hansen",
        counterparty_accounts=["12345678903"],
    )
    index = book.index(first)
    index.allocate("INV-1", Money.of("100.00", "NOK"))  # re-indexes, keeps the counts right
    index.apply(
        first.model_copy(
            update={
                "document_no": "10299",
                "counterparty_name": "Kari Nordmann",
                "counterparty_accounts": [],
                "version": 2,
            }
        )
    )
    assert index.open_by_document("10234") == []
    assert [e.item_id for e in index.open_by_document("10299")] == ["INV-1"]
    assert set(index.counterparties_by_account("12345678903")) == set()
    assert set(index.counterparties_by_name("HANSEN KARI")) == set()
    assert set(index.names_with_word("HANSEN")) == set()
    assert set(index.counterparties_by_name("KARI NORDMANN")) == {"C-1"}


def test_references_one_typo_away_are_found_without_a_scan(book: Book) -> None:
    """Seeded: for random references and every kind of single typo (a changed, missing, extra
    or swapped character), ``open_references_near`` holds every open reference within one
    typo, exactly as a scan of them all with rapidfuzz's OSA distance finds."""
    seed = int(os.environ.get("MATCHER_TEST_SEED", random.randrange(2**32)))
    print(f"seed={seed} (MATCHER_TEST_SEED={seed} reproduces it)")
    rng = random.Random(seed)
    references = {
        "".join(rng.choice("0123456789") for _ in range(rng.randint(2, 25))) for _ in range(400)
    }
    # near relatives, so that there is something one typo away to find
    for reference in list(references)[:100]:
        references.add(_typo(reference, rng))
    references.discard("")
    index = book.index(
        *(book.item(f"I-{n}", "1.00", reference=r) for n, r in enumerate(sorted(references)))
    )
    for reference in sorted(references)[:150]:
        for query in (reference, _typo(reference, rng), _typo(reference, rng)):
            if not query:
                continue
            near = index.open_references_near(query)
            scanned = {r for r in references if OSA.distance(query, r) <= 1}
            assert scanned <= near, (seed, query, scanned - near)


def _typo(value: str, rng: random.Random) -> str:
    position = rng.randrange(len(value))
    kind = rng.choice(("change", "drop", "add", "swap"))
    digit = rng.choice("0123456789")
    if kind == "change":
        return value[:position] + digit + value[position + 1 :]
    if kind == "drop":
        return value[:position] + value[position + 1 :]
    if kind == "add":
        return value[:position] + digit + value[position:]
    if position + 1 < len(value):
        return value[:position] + value[position + 1] + value[position] + value[position + 2 :]
    return value


def test_a_reference_leaves_the_typo_keys_with_its_last_open_item(book: Book) -> None:
    first = book.item("INV-1", "500.00", reference="1002345005")
    second = book.item("INV-2", "500.00", reference="1002345005")
    index = book.index(first, second)
    index.apply(book.paid(first))
    assert index.open_references_near("1002345006") == {"1002345005"}
    index.apply(book.paid(second))
    assert index.open_references_near("1002345006") == set()


CLOSED_AT = datetime(2026, 8, 1, 12, tzinfo=UTC)


def test_a_closed_item_is_retired_after_its_cut_off_and_its_payer_stays_known(
    book: Book,
) -> None:
    paid = book.item(
        "INV-1",
        "500.00",
        reference="1002345005",
        document_no="10234",
        counterparty_id="C-1",
        counterparty_name="Kari Hansen",
        counterparty_accounts=["12345678903"],
    )
    still_open = book.item("INV-2", "700.00", counterparty_id="C-1")
    index = book.index(paid, still_open)
    index.apply(book.paid(paid), CLOSED_AT)

    assert index.retire_closed(CLOSED_AT) == 0  # closed at the cut-off: not before it
    assert [e.item_id for e in index.closed_by_reference("1002345005")] == ["INV-1"]
    changes = index.changes
    assert index.retire_closed(CLOSED_AT + timedelta(seconds=1)) == 1

    assert index.get("INV-1") is None
    assert (len(index), index.open_count, index.closings_held) == (1, 1, 0)
    assert index.closed_by_reference("1002345005") == []
    assert index.closed_by_document("10234") == []
    assert index.changes > changes  # what was worked out from the index is stale
    # whose account and name it is outlives the invoice
    assert set(index.counterparties_by_account("12345678903")) == {"C-1"}
    assert set(index.counterparties_by_name("HANSEN KARI")) == {"C-1"}
    assert index.account_keys() == ["12345678903"]
    assert [e.item_id for e in index.open_of_counterparty("C-1")] == ["INV-2"]


def test_an_item_without_a_counterparty_takes_its_keys_when_retired(book: Book) -> None:
    item = book.item(
        "INV-1",
        "500.00",
        counterparty_id=None,
        counterparty_name="Kari Hansen",
        counterparty_accounts=["12345678903"],
    )
    index = book.index(item)
    index.apply(book.paid(item), CLOSED_AT)
    assert set(index.counterparties_by_account("12345678903")) == {"item:INV-1"}

    index.retire_closed(CLOSED_AT + timedelta(days=1))

    assert index.counterparties_by_account("12345678903") == set()
    assert (index.account_keys(), index.name_keys()) == ([], [])
    assert index.names_with_word("HANSEN") == set()


def test_open_items_and_closings_without_a_time_are_never_retired(book: Book) -> None:
    cancelled = book.item("INV-1", "500.00")
    index = book.index(cancelled, book.item("INV-2", "900.00"))
    index.apply(book.paid(cancelled, OpenItemStatus.CANCELLED))  # no time: kept

    assert index.retire_closed(datetime.max.replace(tzinfo=UTC)) == 0
    assert (len(index), index.open_count) == (2, 1)


def test_a_reopened_or_later_closed_item_is_not_retired_by_its_old_closing(book: Book) -> None:
    item = book.item("INV-1", "500.00")
    paid = book.paid(item)
    reopened = item.model_copy(update={"version": paid.version + 1})
    index = book.index(item)
    index.apply(paid, CLOSED_AT)
    index.apply(reopened, CLOSED_AT + timedelta(days=1))

    assert index.retire_closed(CLOSED_AT + timedelta(days=30)) == 0
    assert [e.item_id for e in index.open_by_amount(Money.of("500.00", "NOK"))] == ["INV-1"]

    closed_again = book.paid(reopened)
    index.apply(closed_again, CLOSED_AT + timedelta(days=40))
    assert index.retire_closed(CLOSED_AT + timedelta(days=40)) == 0
    assert index.retire_closed(CLOSED_AT + timedelta(days=41)) == 1
    assert index.closings_held == 0


def test_a_retired_item_is_taken_again_when_a_newer_state_arrives(book: Book) -> None:
    item = book.item("INV-1", "500.00", reference="1002345005")
    paid = book.paid(item)
    index = book.index(item)
    index.apply(paid, CLOSED_AT)
    index.retire_closed(CLOSED_AT + timedelta(days=1))

    # a refund reopened it in the books
    assert index.apply(item.model_copy(update={"version": paid.version + 1}))
    assert [e.item_id for e in index.open_by_reference("1002345005")] == ["INV-1"]


def test_retiring_in_steps_leaves_what_one_retirement_at_the_last_cut_off_leaves(
    book: Book,
) -> None:
    """The live index retires as time goes by; one rebuilt from the topic's latest states
    retires once, at the cut-off the live one was compared at: the two must be equal."""
    rng = random.Random(7)
    live, rebuilt = OpenItemIndex(), OpenItemIndex()
    latest: dict[str, tuple[OpenItem, datetime]] = {}
    for n in range(300):
        item = book.item(
            f"INV-{n}",
            f"{rng.randint(1, 50)}00.00",
            reference=f"100{n:04d}",
            counterparty_id=rng.choice([None, "C-1", "C-2", f"C-{n}"]),
            counterparty_name=rng.choice(["Kari Hansen", "Ola Nordmann", "Acme AS"]),
            counterparty_accounts=[rng.choice(["12345678903", "98765432106"])],
        )
        at = CLOSED_AT + timedelta(hours=n)
        live.apply(item, at)
        latest[item.item_id] = (item, at)
        if rng.random() < 0.7:
            closed = book.paid(item, rng.choice([OpenItemStatus.PAID, OpenItemStatus.CANCELLED]))
            at += timedelta(hours=rng.randint(0, 200))
            live.apply(closed, at)
            latest[item.item_id] = (closed, at)
        if n % 25 == 0:
            live.retire_closed(CLOSED_AT + timedelta(hours=n - 100))
    cut_off = CLOSED_AT + timedelta(hours=250)
    live.retire_closed(cut_off)
    for item, at in latest.values():
        rebuilt.apply(item, at)
    rebuilt.retire_closed(cut_off)

    assert 0 < len(rebuilt) < 300
    assert index_digest(live) == index_digest(rebuilt), index_snapshot(rebuilt)


def test_a_released_reservation_makes_the_item_a_candidate_again(book: Book) -> None:
    index = book.index(book.item("INV-1", "500.00", reference="1002345005"))
    index.allocate("INV-1", Money.of("200.00", "NOK"))
    index.allocate("INV-1", Money.of("300.00", "NOK"))
    assert index.open_by_reference("1002345005") == []

    assert index.release("INV-1", Money.of("300.00", "NOK"))
    [entry] = index.open_by_amount(Money.of("300.00", "NOK"))
    assert (entry.reserved, entry.status) == ((Money.of("200.00", "NOK"),), "open")
    assert index.release("INV-1", Money.of("200.00", "NOK"))
    [entry] = index.open_by_reference("1002345005")
    assert (entry.reserved, entry.baseline, entry.remaining) == ((), None, Money.of("500", "NOK"))
    # nothing left to release, or an amount it never reserved
    assert not index.release("INV-1", Money.of("200.00", "NOK"))
    assert not index.release("INV-404", Money.of("1.00", "NOK"))
