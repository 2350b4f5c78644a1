"""Manual work on the books, on SQLite and PostgreSQL: allocating suspense postings,
unmatching decisions, registering and removing payments, adjustments; every action with an
actor, a reason and an audit record, every correction a new (reversing) entry."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from bankrec.contracts import (
    OPEN_ITEMS,
    POSTINGS,
    AccountRole,
    AdjustmentKind,
    EntrySource,
    Money,
    OpenItemStatus,
)
from bankrec.ledger.domain.suspense import AllocationTarget, SuspenseStatus
from bankrec.ledger.errors import (
    AlreadyReversed,
    IdempotencyConflict,
    InvalidManualAction,
    NothingToUnmatch,
    OpenItemConflict,
    OverAllocation,
    PaymentReconciled,
    SuspenseAllocated,
    UnknownAccount,
    UnknownAllocation,
    UnknownDecision,
    UnknownSuspensePosting,
)

ACCOUNT = "acc-0000000000000000demo"
BY = {"actor": "kari@example.no", "reason": "customer called: this pays INV-1"}


async def register(books: Any, make: Any, item_id: str, amount: str, **fields: Any) -> None:
    kind = fields.pop("kind", "invoice" if not amount.startswith("-") else "bill")
    draft = make.draft(item_id, kind=kind, amount=amount, **fields)
    await books.ledger.register_open_item(books.tenant_id, draft, correlation_id="test")


async def pay(books: Any, item_id: str, payment_id: str, amount: str | None) -> Any:
    """Register a payment of ``amount`` (None: what is open) on the demo bank account."""
    return await books.manual.register_payment(
        books.tenant_id,
        item_id,
        payment_id=payment_id,
        amount=Money.of(amount, "NOK") if amount is not None else None,
        bank_account_id=ACCOUNT,
        correlation_id="test",
        **BY,
    )


async def decide(books: Any, make: Any, *args: Any, **fields: Any) -> Any:
    decision = make.decision(*args, **fields)
    result = await books.ledger.apply_decision(make.envelope(decision, books.tenant_id))
    return decision, result


async def balances(books: Any) -> dict[str, Decimal]:
    """Account code -> debit - credit over the whole journal (asserted balanced)."""
    trial = await books.ledger.trial_balance(books.tenant_id)
    assert trial.balanced
    return {row.account_code: row.debit - row.credit for row in trial.accounts}


async def only_suspense(books: Any) -> Any:
    [posting] = await books.manual.suspense_postings(books.tenant_id, status=SuspenseStatus.OPEN)
    return posting


def allocate(
    books: Any, suspense_id: str, target: AllocationTarget, target_id: str, **kw: Any
) -> Any:
    return books.manual.allocate_suspense(
        books.tenant_id,
        suspense_id,
        target=target,
        target_id=target_id,
        amount=kw.pop("amount", None),
        correlation_id="test",
        **{**BY, **kw},
    )


# --- suspense postings ------------------------------------------------------------------


async def test_a_suspense_posting_allocated_to_an_invoice_leaves_interim_at_zero(
    books: Any, make: Any
) -> None:
    await register(books, make, "INV-1", "4200.00", counterparty_id="C-1")
    decision, _result = await decide(books, make, "suspense", "4200.00")
    posting = await only_suspense(books)
    assert (posting.amount.amount, posting.statement_line_id, posting.decision_id) == (
        Decimal("4200.00"),
        decision.line_id,
        decision.decision_id,
    )
    assert (await balances(books))["2900"] == Decimal("-4200.00")

    done = await allocate(books, posting.suspense_id, AllocationTarget.OPEN_ITEM, "INV-1")
    answer = done.answer
    assert answer["suspense_posting"]["status"] == "allocated"
    assert answer["suspense_posting"]["remaining"]["amount"] == "0.00"
    [entry] = answer["entries"]
    assert (entry["source"], entry["actor"], entry["reason"]) == (
        "manual",
        BY["actor"],
        BY["reason"],
    )
    assert [(line["account_code"], line["debit"], line["credit"]) for line in entry["lines"]] == [
        ("2900", "4200.00", "0.00"),
        ("1500", "0.00", "4200.00"),
    ]
    assert entry["lines"][1]["open_item_id"] == "INV-1"
    assert entry["lines"][0]["statement_line_id"] == decision.line_id

    assert (await balances(books))["2900"] == 0
    invoice = await books.ledger.open_item(books.tenant_id, "INV-1")
    assert (invoice.status, invoice.remaining.amount, invoice.version) == (
        OpenItemStatus.PAID,
        0,
        2,
    )
    assert await books.manual.suspense_postings(books.tenant_id, status=SuspenseStatus.OPEN) == []
    postings = await books.staged(POSTINGS)
    assert [m["payload"]["source"] for _k, m in postings] == ["decision", "manual"]
    assert postings[1][0] == f"{books.tenant_id}:{ACCOUNT}"
    assert postings[1][1]["causation_id"] == done.audit_id
    assert [m["payload"]["status"] for _k, m in await books.staged(OPEN_ITEMS)] == ["open", "paid"]

    [record] = await books.manual.audit_trail(books.tenant_id)
    assert (record.action.value, record.subject_id, record.actor, record.reason) == (
        "allocate_suspense",
        posting.suspense_id,
        BY["actor"],
        BY["reason"],
    )
    assert record.entry_ids == (entry["entry_id"],)


async def test_a_suspense_posting_is_allocated_in_parts(books: Any, make: Any) -> None:
    await decide(books, make, "suspense", "1000.00")
    posting = await only_suspense(books)
    first = await allocate(
        books, posting.suspense_id, AllocationTarget.CUSTOMER, "C-7", amount=Money.of("600", "NOK")
    )
    assert first.answer["suspense_posting"]["status"] == "partly_allocated"
    with pytest.raises(OverAllocation, match="exceeds what is left"):
        await allocate(
            books,
            posting.suspense_id,
            AllocationTarget.GL_ACCOUNT,
            "8040",
            amount=Money.of("401", "NOK"),
        )
    rest = await allocate(books, posting.suspense_id, AllocationTarget.GL_ACCOUNT, "8040")
    assert rest.answer["allocation"]["amount"] == {"amount": "400.00", "currency": "NOK"}
    with pytest.raises(OverAllocation, match="nothing is left"):
        await allocate(books, posting.suspense_id, AllocationTarget.GL_ACCOUNT, "8040")
    totals = await balances(books)
    assert (totals["2900"], totals["1500"], totals["8040"]) == (
        0,
        Decimal("-600.00"),
        Decimal("-400.00"),
    )
    _posting, allocations = await books.manual.suspense_posting(
        books.tenant_id, posting.suspense_id
    )
    assert [(a.target.value, a.target_id, a.amount.amount) for a in allocations] == [
        ("customer", "C-7", Decimal("600.00")),
        ("gl_account", "8040", Decimal("400.00")),
    ]


async def test_money_out_in_suspense_goes_to_a_supplier(books: Any, make: Any) -> None:
    await decide(books, make, "suspense", "-250.00")
    posting = await only_suspense(books)
    done = await allocate(books, posting.suspense_id, AllocationTarget.SUPPLIER, "S-3")
    lines = done.answer["entries"][0]["lines"]
    assert [(line["account_code"], line["debit"], line["credit"]) for line in lines] == [
        ("2400", "250.00", "0.00"),
        ("2900", "0.00", "250.00"),
    ]
    assert lines[0]["counterparty_id"] == "S-3"
    assert (await balances(books))["2900"] == 0


@pytest.mark.parametrize(
    ("target", "target_id", "amount", "error", "message"),
    [
        (AllocationTarget.GL_ACCOUNT, "1920", None, InvalidManualAction, "bank account"),
        (AllocationTarget.GL_ACCOUNT, "2900", None, InvalidManualAction, "interim account"),
        (AllocationTarget.GL_ACCOUNT, "3999", None, UnknownAccount, "3999"),
        (AllocationTarget.OPEN_ITEM, "BILL-1", None, InvalidManualAction, "cannot take"),
        (AllocationTarget.OPEN_ITEM, "PAY-1", None, InvalidManualAction, "match the bank line"),
        (AllocationTarget.CUSTOMER, "C-1", "-10.00", InvalidManualAction, "sign"),
        (AllocationTarget.CUSTOMER, "C-1", "10.001", Exception, "decimals"),
        (AllocationTarget.CUSTOMER, " ", None, InvalidManualAction, "target_id"),
    ],
    ids=[
        "bank",
        "interim",
        "unknown-gl",
        "wrong-sign-item",
        "payment",
        "sign",
        "decimals",
        "blank",
    ],
)
async def test_allocations_the_books_refuse(
    books: Any, make: Any, target: Any, target_id: str, amount: str | None, error: Any, message: str
) -> None:
    await register(books, make, "BILL-1", "-100.00")
    await register(books, make, "PAY-1", "100.00", kind="payment")
    await decide(books, make, "suspense", "100.00")
    posting = await only_suspense(books)
    money = Money.of(amount, "NOK") if amount else None
    with pytest.raises(error, match=message):
        await allocate(books, posting.suspense_id, target, target_id, amount=money)
    assert (await only_suspense(books)).version == 1
    assert await books.manual.audit_trail(books.tenant_id) == []


async def test_every_manual_action_needs_an_actor_and_a_reason(books: Any, make: Any) -> None:
    await decide(books, make, "suspense", "100.00")
    posting = await only_suspense(books)
    for missing in ({"reason": "  "}, {"actor": ""}, {"reason": None}):
        with pytest.raises(InvalidManualAction, match="is required"):
            await allocate(books, posting.suspense_id, AllocationTarget.CUSTOMER, "C-1", **missing)


async def test_another_tenants_suspense_posting_is_not_found(books: Any, make: Any) -> None:
    await decide(books, make, "suspense", "100.00")
    posting = await only_suspense(books)
    with pytest.raises(UnknownSuspensePosting):
        await books.manual.allocate_suspense(
            f"{books.tenant_id}-other",
            posting.suspense_id,
            target=AllocationTarget.CUSTOMER,
            target_id="C-1",
            amount=None,
            correlation_id="test",
            **BY,
        )


# --- unmatch ----------------------------------------------------------------------------


async def test_unmatching_a_match_reopens_the_invoice_and_parks_the_line(
    books: Any, make: Any
) -> None:
    await register(books, make, "INV-1", "12500.00")
    decision, applied = await decide(books, make, "match", "12500.00", [("INV-1", "12500.00")])
    done = await books.manual.unmatch_decision(
        books.tenant_id, decision.decision_id, correlation_id="test", **BY
    )
    reversal, parked = done.answer["entries"]
    assert (reversal["source"], reversal["reverses_entry_id"]) == ("reversal", applied.entry_id)
    assert [
        (line["account_code"], line["debit"], line["credit"]) for line in reversal["lines"]
    ] == [
        ("1920", "0.00", "12500.00"),
        ("1500", "12500.00", "0.00"),
    ]
    assert [(line["account_code"], line["debit"], line["credit"]) for line in parked["lines"]] == [
        ("1920", "12500.00", "0.00"),
        ("2900", "0.00", "12500.00"),
    ]
    assert parked["statement_line_id"] == decision.line_id
    invoice = await books.ledger.open_item(books.tenant_id, "INV-1")
    assert (invoice.status, invoice.remaining.amount, invoice.version) == (
        OpenItemStatus.OPEN,
        Decimal("12500.00"),
        3,
    )
    totals = await balances(books)
    assert (totals["1920"], totals["1500"], totals["2900"]) == (
        Decimal("12500.00"),
        0,
        Decimal("-12500.00"),
    )
    posting = await only_suspense(books)
    assert posting.suspense_id == done.answer["suspense_posting"]["suspense_id"]
    record = await books.manual.decision(books.tenant_id, decision.decision_id)
    assert (record.unmatched_at is not None, record.unmatch_audit_id) == (True, done.audit_id)
    assert (await books.ledger.counts(books.tenant_id)).decisions_unmatched == 1

    # the same decision delivered again changes nothing; unmatching again is refused
    again = await books.ledger.apply_decision(make.envelope(decision, books.tenant_id))
    assert again.already_applied
    with pytest.raises(AlreadyReversed):
        await books.manual.unmatch_decision(
            books.tenant_id, decision.decision_id, correlation_id="test", **BY
        )
    # the parked line is allocated to the right invoice after all
    await allocate(books, posting.suspense_id, AllocationTarget.OPEN_ITEM, "INV-1")
    assert (await balances(books))["2900"] == 0
    assert (await books.ledger.open_item(books.tenant_id, "INV-1")).status is OpenItemStatus.PAID


async def test_unmatching_a_match_with_a_leftover_reverses_the_leftover(
    books: Any, make: Any
) -> None:
    await register(books, make, "INV-1", "1000.00")
    decision, _applied = await decide(books, make, "match", "1200.00", [("INV-1", "1000.00")])
    leftover = await only_suspense(books)
    assert leftover.amount.amount == Decimal("200.00")
    done = await books.manual.unmatch_decision(
        books.tenant_id, decision.decision_id, correlation_id="test", **BY
    )
    assert done.answer["reversed_suspense_posting"]["status"] == "reversed"
    parked = await only_suspense(books)
    assert parked.amount.amount == Decimal("1200.00")
    assert (await balances(books))["2900"] == Decimal("-1200.00")


async def test_a_match_whose_leftover_was_allocated_is_not_unmatched(books: Any, make: Any) -> None:
    await register(books, make, "INV-1", "1000.00")
    decision, _applied = await decide(books, make, "match", "1200.00", [("INV-1", "1000.00")])
    leftover = await only_suspense(books)
    await allocate(books, leftover.suspense_id, AllocationTarget.CUSTOMER, "C-1")
    with pytest.raises(SuspenseAllocated):
        await books.manual.unmatch_decision(
            books.tenant_id, decision.decision_id, correlation_id="test", **BY
        )
    invoice = await books.ledger.open_item(books.tenant_id, "INV-1")
    assert invoice.status is OpenItemStatus.PAID  # nothing of the unmatch stayed


async def test_decisions_with_nothing_to_unmatch(books: Any, make: Any) -> None:
    suspense, _result = await decide(books, make, "suspense", "10.00")
    refused, _result = await decide(books, make, "match", "10.00", [("INV-404", "10.00")])
    for decision_id in (suspense.decision_id, refused.decision_id):
        with pytest.raises(NothingToUnmatch):
            await books.manual.unmatch_decision(
                books.tenant_id, decision_id, correlation_id="test", **BY
            )
    with pytest.raises(UnknownDecision):
        await books.manual.unmatch_decision(books.tenant_id, "dec-404", correlation_id="test", **BY)


async def test_unmatching_a_rule_posting_moves_it_to_suspense(books: Any, make: Any) -> None:
    decision, _result = await decide(books, make, "rule_posting", "-125.00", gl_account="7770")
    await books.manual.unmatch_decision(
        books.tenant_id, decision.decision_id, correlation_id="test", **BY
    )
    totals = await balances(books)
    assert (totals["1920"], totals["7770"], totals["2900"]) == (
        Decimal("-125.00"),
        0,
        Decimal("125.00"),
    )
    assert (await only_suspense(books)).amount.amount == Decimal("-125.00")


# --- payments ---------------------------------------------------------------------------


async def test_a_registered_payment_pays_the_invoice_and_awaits_its_bank_line(
    books: Any, make: Any
) -> None:
    await register(books, make, "INV-1", "500.00", reference="1002345005", counterparty_id="C-1")
    done = await pay(books, "INV-1", "PAY-1", "300.00")
    [entry] = done.answer["entries"]
    assert [(line["account_code"], line["debit"], line["credit"]) for line in entry["lines"]] == [
        ("1920", "300.00", "0.00"),
        ("1500", "0.00", "300.00"),
    ]
    invoice = await books.ledger.open_item(books.tenant_id, "INV-1")
    assert (invoice.status, invoice.remaining.amount) == (
        OpenItemStatus.PARTLY_PAID,
        Decimal("200.00"),
    )
    payment_item = await books.ledger.open_item(books.tenant_id, "PAY-1")
    assert (payment_item.kind.value, payment_item.reference, payment_item.bank_account_id) == (
        "payment",
        "1002345005",
        ACCOUNT,
    )
    [payment] = await books.manual.payments(books.tenant_id, "INV-1")
    assert (payment.payment_id, payment.amount.amount, payment.removed) == (
        "PAY-1",
        Decimal("300.00"),
        False,
    )

    with pytest.raises(OpenItemConflict, match="registered through the ledger"):
        await register(books, make, "PAY-1", "999.00", kind="payment")
    with pytest.raises(OpenItemConflict, match="names an open item or payment already"):
        await pay(books, "INV-1", "PAY-1", None)

    # the bank line arrives and is matched to the payment: nothing more is posted
    decision, result = await decide(books, make, "match", "300.00", [("PAY-1", "300.00")])
    assert result.outcome.value == "no_posting"
    with pytest.raises(PaymentReconciled, match="unmatch that decision first"):
        await books.manual.remove_payment(
            books.tenant_id, "INV-1", "PAY-1", correlation_id="t", **BY
        )
    await books.manual.unmatch_decision(
        books.tenant_id, decision.decision_id, correlation_id="t", **BY
    )
    removed = await books.manual.remove_payment(
        books.tenant_id, "INV-1", "PAY-1", correlation_id="t", **BY
    )
    [reversal] = removed.answer["entries"]
    assert reversal["reverses_entry_id"] == entry["entry_id"]
    invoice = await books.ledger.open_item(books.tenant_id, "INV-1")
    assert (invoice.status, invoice.remaining.amount) == (OpenItemStatus.OPEN, Decimal("500.00"))
    cancelled = await books.ledger.open_item(books.tenant_id, "PAY-1")
    assert cancelled.status is OpenItemStatus.CANCELLED
    totals = await balances(books)
    assert (totals["1920"], totals["1500"]) == (0, 0)
    with pytest.raises(AlreadyReversed):
        await books.manual.remove_payment(
            books.tenant_id, "INV-1", "PAY-1", correlation_id="t", **BY
        )
    actions = [r.action.value for r in await books.manual.audit_trail(books.tenant_id)]
    assert actions == ["register_payment", "unmatch_decision", "remove_payment"]


async def test_an_import_naming_a_registered_payment_reports_its_row(books: Any, make: Any) -> None:
    """The import reads the file's items and which are registered payments at once; the
    row of a payment is refused as a single registration of it is."""
    await register(books, make, "INV-1", "500.00", counterparty_id="C-1")
    await pay(books, "INV-1", "PAY-1", "300.00")
    text = (
        "item_id,kind,counterparty_id,counterparty_name,counterparty_accounts,document_no,"
        "external_document_no,reference,description,amount,currency,posting_date,due_date\n"
        "INV-2,invoice,,,,,,,,70.00,NOK,,\n"
        "PAY-1,payment,,,,,,,,-999.00,NOK,,\n"
    )

    report = await books.ledger.import_open_items(books.tenant_id, text, correlation_id="csv")

    assert (report.imported, report.unchanged) == (1, 0)
    [error] = report.errors
    assert (error.row, error.field) == (3, "item_id")
    assert "registered through the ledger" in error.message
    invoice = await books.ledger.open_item(books.tenant_id, "INV-2")
    assert (invoice.amount.amount, invoice.version) == (Decimal("70.00"), 1)
    payment = await books.ledger.open_item(books.tenant_id, "PAY-1")
    assert (payment.amount.amount, payment.version) == (Decimal("300.00"), 1)  # untouched


async def test_a_payment_larger_than_what_is_open_is_refused(books: Any, make: Any) -> None:
    await register(books, make, "BILL-1", "-100.00")
    with pytest.raises(OverAllocation):
        await pay(books, "BILL-1", "P-1", "-100.01")
    done = await pay(books, "BILL-1", "P-1", None)
    lines = done.answer["entries"][0]["lines"]
    assert [(line["account_code"], line["debit"], line["credit"]) for line in lines] == [
        ("2400", "100.00", "0.00"),
        ("1920", "0.00", "100.00"),
    ]


# --- adjustments ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "amount", "gl_account", "expected"),
    [
        (
            AdjustmentKind.BANK_FEE,
            "-125.00",
            None,
            [("7770", "125.00", "0.00"), ("1920", "0.00", "125.00")],
        ),
        (
            AdjustmentKind.INTEREST,
            "12.34",
            None,
            [("1920", "12.34", "0.00"), ("8040", "0.00", "12.34")],
        ),
        (
            AdjustmentKind.INTEREST,
            "-3.00",
            None,
            [("8140", "3.00", "0.00"), ("1920", "0.00", "3.00")],
        ),
        (
            AdjustmentKind.OTHER,
            "-0.40",
            "7790",
            [("7790", "0.40", "0.00"), ("1920", "0.00", "0.40")],
        ),
    ],
    ids=["fee", "interest-income", "interest-expense", "rounding"],
)
async def test_adjustments_post_against_the_bank_account(
    books: Any, kind: AdjustmentKind, amount: str, gl_account: str | None, expected: Any
) -> None:
    done = await books.manual.create_adjustment(
        books.tenant_id,
        kind=kind,
        amount=Money.of(amount, "NOK"),
        bank_account_id=ACCOUNT,
        gl_account=gl_account,
        statement_line_id="line-77",
        correlation_id="test",
        **BY,
    )
    [entry] = done.answer["entries"]
    assert [
        (line["account_code"], line["debit"], line["credit"]) for line in entry["lines"]
    ] == expected
    assert (entry["source"], entry["adjustment_kind"], entry["statement_line_id"]) == (
        EntrySource.ADJUSTMENT.value,
        kind.value,
        "line-77",
    )
    [(key, message)] = await books.staged(POSTINGS)
    assert key == f"{books.tenant_id}:{ACCOUNT}"
    assert message["payload"]["adjustment_kind"] == kind.value
    assert (await balances(books))["1920"] == Decimal(amount)
    [record] = await books.manual.audit_trail(books.tenant_id)
    assert (record.action.value, record.subject_id) == (
        "create_adjustment",
        done.answer["adjustment_id"],
    )
    assert "subject_id" not in done.answer


async def test_an_other_adjustment_needs_its_account(books: Any) -> None:
    with pytest.raises(InvalidManualAction, match="required"):
        await books.manual.create_adjustment(
            books.tenant_id,
            kind=AdjustmentKind.OTHER,
            amount=Money.of("-1", "NOK"),
            bank_account_id=ACCOUNT,
            correlation_id="t",
            **BY,
        )


# --- idempotency ------------------------------------------------------------------------


async def test_a_retried_action_with_its_key_is_answered_again_not_done_again(
    books: Any, make: Any
) -> None:
    await decide(books, make, "suspense", "100.00")
    posting = await only_suspense(books)
    first = await allocate(
        books, posting.suspense_id, AllocationTarget.CUSTOMER, "C-1", idempotency_key="k-1"
    )
    again = await allocate(
        books, posting.suspense_id, AllocationTarget.CUSTOMER, "C-1", idempotency_key="k-1"
    )
    assert (again.replayed, again.audit_id, again.answer) == (True, first.audit_id, first.answer)
    assert len(await books.ledger.journal(books.tenant_id)) == 2
    with pytest.raises(IdempotencyConflict, match="another request"):
        await allocate(
            books, posting.suspense_id, AllocationTarget.SUPPLIER, "C-1", idempotency_key="k-1"
        )
    fee = {
        "kind": AdjustmentKind.BANK_FEE,
        "amount": Money.of("-1", "NOK"),
        "bank_account_id": ACCOUNT,
        "adjustment_id": "ADJ-1",
        "correlation_id": "t",
        **BY,
    }
    await books.manual.create_adjustment(books.tenant_id, **fee)
    with pytest.raises(IdempotencyConflict, match="ADJ-1 exists"):
        await books.manual.create_adjustment(books.tenant_id, **fee)


# --- reversing allocations ----------------------------------------------------------------


def reverse(books: Any, suspense_id: str, allocation_id: str, **kw: Any) -> Any:
    return books.manual.reverse_suspense_allocation(
        books.tenant_id, suspense_id, allocation_id, correlation_id="test", **{**BY, **kw}
    )


async def interim_holds_the_open_suspense(books: Any) -> None:
    """The interim lines (whichever account held the role) are minus what is parked, per
    currency, and the trial balance sums to zero per currency."""
    trial = await books.ledger.trial_balance(books.tenant_id)
    assert trial.balanced
    interim: dict[str, Decimal] = {}
    for row in trial.accounts:
        if row.role is AccountRole.INTERIM:
            interim[row.currency] = interim.get(row.currency, Decimal(0)) + row.debit - row.credit
    parked: dict[str, Decimal] = {}
    for posting in await books.manual.suspense_postings(books.tenant_id):
        if posting.status is not SuspenseStatus.REVERSED:
            currency = posting.remaining.currency
            parked[currency] = parked.get(currency, Decimal(0)) + posting.remaining.amount
    for currency in set(interim) | set(parked):
        assert interim.get(currency, Decimal(0)) == -parked.get(currency, Decimal(0)), currency


async def test_a_reversed_leftover_allocation_lets_the_match_be_unmatched(
    books: Any, make: Any
) -> None:
    await register(books, make, "INV-1", "1000.00")
    decision, _applied = await decide(books, make, "match", "1200.00", [("INV-1", "1000.00")])
    leftover = await only_suspense(books)
    done = await allocate(books, leftover.suspense_id, AllocationTarget.CUSTOMER, "C-1")
    with pytest.raises(SuspenseAllocated):
        await books.manual.unmatch_decision(
            books.tenant_id, decision.decision_id, correlation_id="test", **BY
        )
    undone = await reverse(books, leftover.suspense_id, done.audit_id)
    assert undone.answer["suspense_posting"]["status"] == "open"
    await interim_holds_the_open_suspense(books)
    unmatched = await books.manual.unmatch_decision(
        books.tenant_id, decision.decision_id, correlation_id="test", **BY
    )
    assert unmatched.answer["reversed_suspense_posting"]["status"] == "reversed"
    await interim_holds_the_open_suspense(books)
    assert (await balances(books))["2900"] == Decimal("-1200.00")
    assert (await balances(books))["1500"] == 0


async def test_an_allocation_is_reversed_once_even_when_asked_at_once(
    books: Any, make: Any
) -> None:
    await register(books, make, "INV-1", "300.00")
    await decide(books, make, "suspense", "300.00")
    posting = await only_suspense(books)
    done = await allocate(books, posting.suspense_id, AllocationTarget.OPEN_ITEM, "INV-1")
    results = await books.gather(
        *(reverse(books, posting.suspense_id, done.audit_id) for _ in range(3))
    )
    kinds = sorted(type(result).__name__ for result in results)
    assert kinds == ["AlreadyReversed", "AlreadyReversed", "ManualResult"], (kinds, results)
    invoice = await books.ledger.open_item(books.tenant_id, "INV-1")
    assert (invoice.remaining.amount, invoice.status, invoice.version) == (
        Decimal("300.00"),
        OpenItemStatus.OPEN,
        3,
    )
    assert len(await books.ledger.journal(books.tenant_id)) == 3
    await interim_holds_the_open_suspense(books)
    with pytest.raises(UnknownSuspensePosting):
        await reverse(books, "sp-404", done.audit_id)
    await decide(books, make, "suspense", "5.00")
    [second] = [
        p
        for p in await books.manual.suspense_postings(books.tenant_id)
        if p.suspense_id != posting.suspense_id
    ]
    with pytest.raises(UnknownAllocation):  # the allocation is not the other posting's
        await reverse(books, second.suspense_id, done.audit_id)


async def test_after_the_interim_role_moved_a_reversal_goes_back_where_it_came_from(
    books: Any, make: Any
) -> None:
    await decide(books, make, "suspense", "400.00")
    posting = await only_suspense(books)
    done = await allocate(
        books, posting.suspense_id, AllocationTarget.CUSTOMER, "C-1", amount=Money.of("150", "NOK")
    )
    await books.chart.create_account(
        books.tenant_id,
        code="2910",
        name="Interim 2",
        role=AccountRole.INTERIM,
        take_role=True,
        **BY,
    )
    await decide(books, make, "suspense", "20.00")
    undone = await reverse(books, posting.suspense_id, done.audit_id)
    [entry] = undone.answer["entries"]
    assert [(line["account_code"], line["account_role"]) for line in entry["lines"]] == [
        ("2900", "interim"),
        ("1500", "receivable"),
    ]
    assert (await balances(books))["2900"] == Decimal("-400.00")
    assert (await balances(books))["2910"] == Decimal("-20.00")
    await interim_holds_the_open_suspense(books)
    rest = await allocate(books, posting.suspense_id, AllocationTarget.CUSTOMER, "C-1")
    assert rest.answer["entries"][0]["lines"][0]["account_code"] == "2900"
    assert (await balances(books))["2900"] == 0
    await interim_holds_the_open_suspense(books)


async def test_an_adjustment_is_reversed_once_even_when_asked_at_once(books: Any) -> None:
    created = await books.manual.create_adjustment(
        books.tenant_id,
        kind=AdjustmentKind.INTEREST,
        amount=Money.of("12.50", "NOK"),
        bank_account_id=ACCOUNT,
        correlation_id="t",
        **BY,
    )
    adjustment_id = created.answer["adjustment_id"]
    results = await books.gather(
        *(
            books.manual.reverse_adjustment(
                books.tenant_id, adjustment_id, correlation_id="t", **BY
            )
            for _ in range(3)
        )
    )
    kinds = sorted(type(result).__name__ for result in results)
    assert kinds == ["AlreadyReversed", "AlreadyReversed", "ManualResult"], (kinds, results)
    [done] = [result for result in results if not isinstance(result, BaseException)]
    assert done.answer["adjustment"]["status"] == "reversed"
    assert (await books.manual.adjustment(books.tenant_id, adjustment_id)).status.value == (
        "reversed"
    )
    assert (await balances(books))["8040"] == 0
    staged = await books.staged(POSTINGS)
    assert [m["payload"]["source_ref"] for _k, m in staged] == [adjustment_id] * 2
    assert staged[1][0] == f"{books.tenant_id}:{ACCOUNT}"
    with pytest.raises(AlreadyReversed):
        await books.manual.reverse_adjustment(
            books.tenant_id, adjustment_id, correlation_id="t", **BY
        )
