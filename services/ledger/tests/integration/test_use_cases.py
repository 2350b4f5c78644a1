"""The ledger's use cases against SQLite and PostgreSQL (one suite, both databases)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bankrec.contracts import (
    DEAD_LETTERS,
    OPEN_ITEMS,
    POSTINGS,
    AccountRole,
    OpenItemStatus,
)
from bankrec.ledger.errors import InvalidCsv, OpenItemConflict, UnknownOpenItem
from bankrec.ledger.ports import DecisionOutcome
from bankrec.ledger.use_cases import ItemChange, open_item_message_id

DEMO_CSV = Path(__file__).resolve().parents[4] / "deploy" / "demo" / "open-items.csv"
ACCOUNT = "acc-0000000000000000demo"


async def register(books: Any, make: Any, item_id: str = "INV-1", **fields: Any) -> Any:
    draft = make.draft(item_id, **fields)
    return await books.ledger.register_open_item(books.tenant_id, draft, correlation_id="test")


# --- open items -------------------------------------------------------------------------


async def test_a_new_open_item_is_stored_and_published(books: Any, make: Any) -> None:
    registered = await register(books, make, amount="12500.00", reference="1002345005")
    assert registered.change is ItemChange.CREATED
    stored = await books.ledger.open_item(books.tenant_id, "INV-1")
    assert stored == registered.item
    assert str(stored.remaining) == "12500.00 NOK"
    [(key, message)] = await books.staged(OPEN_ITEMS)
    assert key == f"{books.tenant_id}:INV-1"
    assert message["message_id"] == open_item_message_id(books.tenant_id, stored)
    assert message["type"] == "open_item.updated"
    assert message["payload"]["amount"] == {"amount": "12500.00", "currency": "NOK"}


async def test_registering_the_same_content_again_changes_nothing(books: Any, make: Any) -> None:
    await register(books, make, amount="100.00")
    again = await register(books, make, amount="100.0")
    assert again.change is ItemChange.UNCHANGED
    assert len(await books.staged(OPEN_ITEMS)) == 1


async def test_a_revised_item_gets_a_new_version(books: Any, make: Any) -> None:
    await register(books, make, amount="100.00")
    revised = await register(books, make, amount="150.00", description="more steel")
    assert (revised.change, revised.item.version) == (ItemChange.UPDATED, 2)
    messages = [message for _key, message in await books.staged(OPEN_ITEMS)]
    assert [m["payload"]["version"] for m in messages] == [1, 2]
    assert messages[0]["message_id"] != messages[1]["message_id"]


async def test_an_unknown_item_is_not_found(books: Any) -> None:
    with pytest.raises(UnknownOpenItem):
        await books.ledger.open_item(books.tenant_id, "NOPE")


async def test_amounts_are_stored_exactly(books: Any, make: Any) -> None:
    for item_id, amount in [("BIG", "99999999999999.99"), ("TINY", "0.01"), ("NEG", "-0.10")]:
        await register(books, make, item_id, kind="invoice", amount=amount)
        stored = await books.ledger.open_item(books.tenant_id, item_id)
        assert format(stored.amount.amount, "f") == amount


# --- CSV import -------------------------------------------------------------------------


async def test_the_demo_csv_imports_once(books: Any) -> None:
    text = DEMO_CSV.read_text(encoding="utf-8")
    first = await books.ledger.import_open_items(books.tenant_id, text, correlation_id="csv")
    assert (first.imported, first.unchanged, first.errors) == (7, 0, ())
    again = await books.ledger.import_open_items(books.tenant_id, text, correlation_id="csv")
    assert (again.imported, again.unchanged, again.errors) == (0, 7, ())
    assert len(await books.staged(OPEN_ITEMS)) == 7
    items = await books.ledger.open_items(books.tenant_id)
    assert [item.item_id for item in items][:2] == ["BILL-4410", "INV-10230"]
    bill = next(item for item in items if item.item_id == "BILL-4410")
    assert str(bill.remaining) == "-15000.00 NOK"


async def test_bad_rows_are_reported_and_good_rows_imported(books: Any) -> None:
    lines = DEMO_CSV.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace("2500.00", "25OO.00")  # row 3
    lines[4] = lines[4].replace("2000412003", "2000412004")  # row 5: bad KID
    report = await books.ledger.import_open_items(
        books.tenant_id, "\n".join(lines), correlation_id="csv"
    )
    assert report.imported == 5
    assert [(e.row, e.field) for e in report.errors] == [(3, "amount"), (5, "reference")]
    assert len(await books.ledger.open_items(books.tenant_id)) == 5


async def test_an_import_that_contradicts_a_payment_reports_the_row(books: Any, make: Any) -> None:
    await register(books, make, "INV-1", amount="100.00")
    await books.ledger.apply_decision(
        make.envelope(make.decision("match", "100.00", [("INV-1", "100.00")]), books.tenant_id)
    )
    text = "item_id,kind,counterparty_id,counterparty_name,counterparty_accounts,document_no," + (
        "external_document_no,reference,description,amount,currency,posting_date,due_date\n"
        "INV-1,invoice,,,,,,,,50.00,NOK,,\nINV-2,invoice,,,,,,,,70.00,NOK,,\n"
    )
    report = await books.ledger.import_open_items(books.tenant_id, text, correlation_id="csv")
    assert report.imported == 1
    [error] = report.errors
    assert (error.row, error.field) == (2, "amount")
    assert "already paid" in error.message


async def test_an_unreadable_csv_is_refused(books: Any) -> None:
    with pytest.raises(InvalidCsv):
        await books.ledger.import_open_items(books.tenant_id, "a,b\n1,2\n", correlation_id="x")


async def test_a_revision_below_the_paid_amount_is_refused(books: Any, make: Any) -> None:
    await register(books, make, "INV-1", amount="100.00")
    await books.ledger.apply_decision(
        make.envelope(make.decision("partial", "60.00", [("INV-1", "60.00")]), books.tenant_id)
    )
    with pytest.raises(OpenItemConflict):
        await register(books, make, "INV-1", amount="50.00")


# --- decisions --------------------------------------------------------------------------


async def test_a_match_is_posted_and_the_invoice_paid(books: Any, make: Any) -> None:
    await register(books, make, "INV-1", amount="12500.00", counterparty_id="C-1")
    decision = make.decision("match", "12500.00", [("INV-1", "12500.00")])
    envelope = make.envelope(decision, books.tenant_id)
    result = await books.ledger.apply_decision(envelope)
    assert (result.outcome, result.already_applied) == (DecisionOutcome.POSTED, False)

    invoice = await books.ledger.open_item(books.tenant_id, "INV-1")
    assert (invoice.status, invoice.remaining.amount, invoice.version) == (
        OpenItemStatus.PAID,
        0,
        2,
    )
    [posted] = await books.ledger.journal(books.tenant_id)
    assert posted.entry.idempotency_key == decision.decision_id
    assert [(line.account_code, line.debit, line.credit) for line in posted.entry.lines] == [
        ("1920", Decimal("12500.00"), Decimal("0.00")),
        ("1500", Decimal("0.00"), Decimal("12500.00")),
    ]
    [(key, message)] = await books.staged(POSTINGS)
    assert key == f"{books.tenant_id}:{ACCOUNT}"
    assert message["type"] == "journal_entry.posted"
    assert message["causation_id"] == envelope.message_id
    assert message["correlation_id"] == envelope.correlation_id
    assert message["payload"]["entry_id"] == result.entry_id
    item_messages = await books.staged(OPEN_ITEMS)
    assert [m["payload"]["status"] for _k, m in item_messages] == ["open", "paid"]
    assert item_messages[-1][0] == f"{books.tenant_id}:INV-1"


async def test_the_chart_is_created_on_first_use(books: Any, make: Any) -> None:
    assert {a.bank_account_id for a in (await books.ledger.chart(books.tenant_id)).accounts} == {
        None
    }
    await books.ledger.apply_decision(
        make.envelope(make.decision("suspense", "10.00"), books.tenant_id)
    )
    await books.ledger.apply_decision(
        make.envelope(make.decision("suspense", "10.00", account_id="acc-b"), books.tenant_id)
    )
    chart = await books.ledger.chart(books.tenant_id)
    assert chart.bank_account(ACCOUNT).code == "1920"
    assert chart.bank_account("acc-b").code == "1921"
    assert chart.bank_account("acc-b").currency == "NOK"


async def test_a_redelivered_decision_changes_nothing(books: Any, make: Any) -> None:
    await register(books, make, "INV-1", amount="100.00")
    envelope = make.envelope(
        make.decision("match", "100.00", [("INV-1", "100.00")]), books.tenant_id
    )
    first = await books.ledger.apply_decision(envelope)
    again = await books.ledger.apply_decision(envelope)  # same message id
    repeated = await books.ledger.apply_decision(  # same decision, new message id
        make.envelope(envelope.payload, books.tenant_id)
    )
    assert (again.already_applied, repeated.already_applied) == (True, True)
    assert again.entry_id == repeated.entry_id == first.entry_id
    assert len(await books.ledger.journal(books.tenant_id)) == 1
    assert len(await books.staged(POSTINGS)) == 1
    assert len(await books.staged(OPEN_ITEMS)) == 2
    counts = await books.ledger.counts(books.tenant_id)
    assert (counts.decisions_applied, counts.journal_entries) == (1, 1)


async def test_concurrent_deliveries_apply_once(books: Any, make: Any) -> None:
    await register(books, make, "INV-1", amount="100.00")
    envelope = make.envelope(
        make.decision("match", "100.00", [("INV-1", "100.00")]), books.tenant_id
    )
    results = await books.gather(*(books.ledger.apply_decision(envelope) for _ in range(4)))
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sorted(r.already_applied for r in results) == [False, True, True, True]
    assert len(await books.ledger.journal(books.tenant_id)) == 1


async def test_two_decisions_for_one_invoice_pay_it_once(books: Any, make: Any) -> None:
    await register(books, make, "INV-1", amount="100.00")
    envelopes = [
        make.envelope(make.decision("match", "100.00", [("INV-1", "100.00")]), books.tenant_id)
        for _ in range(2)
    ]
    results = await books.gather(*(books.ledger.apply_decision(e) for e in envelopes))
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sorted(r.outcome for r in results) == [DecisionOutcome.POSTED, DecisionOutcome.REFUSED]
    refused = next(r for r in results if r.outcome is DecisionOutcome.REFUSED)
    assert refused.reason_code == "over_allocation"
    invoice = await books.ledger.open_item(books.tenant_id, "INV-1")
    assert (invoice.status, invoice.version) == (OpenItemStatus.PAID, 2)


async def test_a_refused_decision_is_recorded_and_dead_lettered(books: Any, make: Any) -> None:
    await register(books, make, "INV-1", amount="100.00")
    envelope = make.envelope(
        make.decision("match", "150.00", [("INV-1", "150.00")]), books.tenant_id
    )
    result = await books.ledger.apply_decision(envelope)
    assert (result.outcome, result.reason_code) == (DecisionOutcome.REFUSED, "over_allocation")
    again = await books.ledger.apply_decision(envelope)
    assert (again.outcome, again.already_applied) == (DecisionOutcome.REFUSED, True)

    [(key, dead)] = await books.staged(DEAD_LETTERS)
    assert key == f"{books.tenant_id}:{ACCOUNT}"
    assert dead["payload"]["reason_code"] == "over_allocation"
    assert dead["payload"]["consumer"] == "bankrec-ledger"
    assert envelope.message_id in dead["payload"]["original_value"]
    invoice = await books.ledger.open_item(books.tenant_id, "INV-1")
    assert (invoice.status, invoice.version) == (OpenItemStatus.OPEN, 1)
    assert await books.ledger.journal(books.tenant_id) == []
    assert await books.staged(POSTINGS) == []
    counts = await books.ledger.counts(books.tenant_id)
    assert (counts.decisions_applied, counts.decisions_refused) == (0, 1)


async def test_a_decision_id_reused_with_other_content_is_refused(books: Any, make: Any) -> None:
    first = make.decision("suspense", "100.00", decision_id="dec-1")
    await books.ledger.apply_decision(make.envelope(first, books.tenant_id))
    other = make.decision("suspense", "999.00", decision_id="dec-1")
    result = await books.ledger.apply_decision(make.envelope(other, books.tenant_id))
    assert (result.outcome, result.reason_code) == (
        DecisionOutcome.REFUSED,
        "idempotency_conflict",
    )
    [posted] = await books.ledger.journal(books.tenant_id)
    assert posted.entry.lines[0].debit == Decimal("100.00")
    assert (await books.ledger.counts(books.tenant_id)).decisions_applied == 1


async def test_a_registered_payment_is_marked_paid_without_posting(books: Any, make: Any) -> None:
    await register(books, make, "PAY-1", kind="payment", amount="-500.00")
    result = await books.ledger.apply_decision(
        make.envelope(make.decision("match", "-500.00", [("PAY-1", "-500.00")]), books.tenant_id)
    )
    assert result.outcome is DecisionOutcome.NO_POSTING
    assert (await books.ledger.open_item(books.tenant_id, "PAY-1")).status is OpenItemStatus.PAID
    assert await books.ledger.journal(books.tenant_id) == []
    assert (await books.ledger.counts(books.tenant_id)).decisions_applied == 1


async def test_the_trial_balance_of_the_demo_day(books: Any, make: Any) -> None:
    """The demo statement's seven lines: five matches and two suspense postings."""
    await books.ledger.import_open_items(
        books.tenant_id, DEMO_CSV.read_text(encoding="utf-8"), correlation_id="csv"
    )
    decisions = [
        make.decision("match", amount, [(item_id, amount)])
        for item_id, amount in [
            ("INV-10230", "12500.00"),
            ("INV-10231", "2500.00"),
            ("INV-10232", "1250.00"),
            ("INV-10234", "8900.00"),
            ("BILL-4410", "-15000.00"),
        ]
    ] + [make.decision("suspense", "-125.00"), make.decision("suspense", "4200.00")]
    for decision in decisions:
        result = await books.ledger.apply_decision(make.envelope(decision, books.tenant_id))
        assert result.outcome is DecisionOutcome.POSTED
    balance = await books.ledger.trial_balance(books.tenant_id)
    assert balance.balanced
    rows = {(row.account_code, row.role): (row.debit, row.credit) for row in balance.accounts}
    assert rows == {
        ("1500", AccountRole.RECEIVABLE): (Decimal("0.00"), Decimal("25150.00")),
        ("1920", AccountRole.BANK): (Decimal("29350.00"), Decimal("15125.00")),
        ("2400", AccountRole.PAYABLE): (Decimal("15000.00"), Decimal("0.00")),
        ("2900", AccountRole.INTERIM): (Decimal("125.00"), Decimal("4200.00")),
    }
    counts = await books.ledger.counts(books.tenant_id)
    assert (counts.decisions_applied, counts.journal_entries) == (7, 7)
    paid = await books.ledger.open_items(books.tenant_id, status=OpenItemStatus.PAID)
    assert len(paid) == 5


async def test_sums_stay_exact_in_the_database(books: Any, make: Any) -> None:
    # 0.1 + 0.2 is 0.30000000000000004 in binary floating point
    for amount in ("0.10", "0.20"):
        await books.ledger.apply_decision(
            make.envelope(make.decision("suspense", amount), books.tenant_id)
        )
    balance = await books.ledger.trial_balance(books.tenant_id)
    bank = next(row for row in balance.accounts if row.account_code == "1920")
    assert format(bank.debit, "f") == "0.30"


async def test_tenants_do_not_see_each_other(books: Any, make: Any) -> None:
    await register(books, make, "INV-1", amount="100.00")
    other = f"{books.tenant_id}-other"
    assert await books.ledger.open_items(other) == []
    with pytest.raises(UnknownOpenItem):
        await books.ledger.open_item(other, "INV-1")


async def test_overlong_identifiers_are_refused_not_retried_forever(books: Any, make: Any) -> None:
    """On PostgreSQL a too-long id would fail the insert on every redelivery (a poison
    message); the ledger refuses it instead, and dedupes a long message id by its digest."""
    long_id = "dec-" + "x" * 300
    envelope = make.envelope(
        make.decision("suspense", "10.00", decision_id=long_id), books.tenant_id, "m" * 150
    )
    result = await books.ledger.apply_decision(envelope)
    assert (result.outcome, result.reason_code) == (DecisionOutcome.REFUSED, "invalid_decision")
    again = await books.ledger.apply_decision(envelope)
    assert again.already_applied
    assert len(await books.staged(DEAD_LETTERS)) == 1

    fine = make.envelope(make.decision("suspense", "10.00"), books.tenant_id, "n" * 150)
    assert (await books.ledger.apply_decision(fine)).outcome is DecisionOutcome.POSTED
    assert (await books.ledger.apply_decision(fine)).already_applied
    assert (await books.ledger.counts(books.tenant_id)).journal_entries == 1
