"""Payments registered by hand on an invoice or bill, and their removal.

Registering a payment posts it on a bank account ("bank vs receivable/payable"), reduces
what is open on the invoice or bill, and creates the payment as an open item of kind
``payment`` on that bank account, so the statement line that brings it is matched to it
later (that match posts nothing: the payment is on the bank GL account already).

Removing a payment posts the reversing entry, reopens the invoice by the payment's amount
and cancels the payment's open item; a payment already matched to a bank line is not
removed until that match is undone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from bankrec.contracts import (
    AccountRole,
    EntrySource,
    Money,
    OpenItem,
    OpenItemKind,
    OpenItemStatus,
)
from bankrec.ledger.domain.amounts import money_of
from bankrec.ledger.domain.audit import Accountability
from bankrec.ledger.domain.chart import Account, Chart
from bankrec.ledger.domain.journal import (
    DESCRIPTION_LENGTH_MAX,
    JournalEntry,
    debit_credit,
    entry_id_for,
    reversing_entry,
)
from bankrec.ledger.domain.open_items import (
    ITEM_ID_PATTERN,
    apply_allocation,
    cancel_open_item,
    restore_allocation,
)
from bankrec.ledger.errors import (
    AlreadyReversed,
    CurrencyMismatch,
    InvalidManualAction,
    OverAllocation,
    PaymentReconciled,
)


@dataclass(frozen=True, slots=True)
class RegisteredPayment:
    """A payment registered by hand: on which item, how much, on which bank account."""

    payment_id: str
    item_id: str
    amount: Money
    bank_account_id: str
    entry_id: str
    removed: bool = False


@dataclass(frozen=True, slots=True)
class PaymentRegistration:
    payment: RegisteredPayment
    entry: JournalEntry
    item: OpenItem  # the invoice or bill, (partly) paid
    payment_item: OpenItem  # the payment, open to be matched to its bank line


@dataclass(frozen=True, slots=True)
class PaymentRemoval:
    payment: RegisteredPayment
    entry: JournalEntry  # the reversing entry
    item: OpenItem  # the invoice or bill, reopened by the payment's amount
    payment_item: OpenItem | None  # the payment's open item, cancelled


def _counter(item: OpenItem, chart: Chart) -> Account:
    if item.kind is OpenItemKind.INVOICE:
        return chart.for_role(AccountRole.RECEIVABLE)
    if item.kind is OpenItemKind.BILL:
        return chart.for_role(AccountRole.PAYABLE)
    raise InvalidManualAction(
        "item_id",
        f"{item.item_id} is a {item.kind.value}; payments are registered on invoices and bills",
    )


def register_payment(
    tenant_id: str,
    item: OpenItem,
    *,
    payment_id: str,
    amount: Money | None,
    bank: Account,
    chart: Chart,
    posting_date: date,
    by: Accountability,
) -> PaymentRegistration:
    """Register a payment of ``amount`` (default: all that is open) on an invoice or bill,
    received on (or paid from) the bank account whose GL account is ``bank``."""
    if not ITEM_ID_PATTERN.match(payment_id):
        raise InvalidManualAction(
            "payment_id",
            f"{payment_id!r} must be 1-100 letters, digits, '.', '_' or '-' (it becomes the "
            "payment's open item id)",
        )
    assert bank.bank_account_id is not None, "a bank GL account linked to a bank account"
    counter = _counter(item, chart)
    paid = item.remaining if amount is None else money_of(amount, what="amount")
    if paid.currency != item.amount.currency or bank.currency != paid.currency:
        raise CurrencyMismatch(
            f"payment {paid} on {item.item_id} ({item.amount.currency}) through a bank account "
            f"kept in {bank.currency}"
        )
    if paid.amount == 0 or paid.amount * item.amount.amount < 0:
        raise InvalidManualAction(
            "amount",
            f"{paid} must be non-zero with the sign of {item.kind.value} {item.item_id} "
            f"({item.amount}: + money in, - money out)",
        )
    if abs(paid.amount) > abs(item.remaining.amount):
        raise OverAllocation(
            f"a payment of {paid} exceeds what is open on {item.item_id} ({item.remaining})"
        )
    paid_item = apply_allocation(item, paid)
    key = f"payment:{payment_id}"
    entry = JournalEntry(
        entry_id=entry_id_for(tenant_id, key),
        idempotency_key=key,
        posting_date=posting_date,
        source=EntrySource.MANUAL,
        source_ref=payment_id,
        description=f"payment {payment_id} on {item.item_id}: {by.reason}"[:DESCRIPTION_LENGTH_MAX],
        lines=tuple(
            debit_credit(
                bank,
                counter,
                paid.amount,
                paid.currency,
                debited_refs={"bank_account_id": bank.bank_account_id},
                credited_refs={
                    "open_item_id": item.item_id,
                    "counterparty_id": item.counterparty_id,
                },
            )
        ),
        bank_account_id=bank.bank_account_id,
        actor=by.actor,
        reason=by.reason,
    )
    payment_item = OpenItem(
        item_id=payment_id,
        kind=OpenItemKind.PAYMENT,
        counterparty_id=item.counterparty_id,
        counterparty_name=item.counterparty_name,
        counterparty_accounts=list(item.counterparty_accounts),
        document_no=item.document_no,
        external_document_no=item.external_document_no,
        reference=item.reference,
        reference_kind=item.reference_kind,
        description=f"payment on {item.item_id}",
        amount=paid,
        remaining=paid,
        posting_date=posting_date,
        status=OpenItemStatus.OPEN,
        bank_account_id=bank.bank_account_id,
        version=1,
    )
    payment = RegisteredPayment(
        payment_id=payment_id,
        item_id=item.item_id,
        amount=paid,
        bank_account_id=bank.bank_account_id,
        entry_id=entry.entry_id,
    )
    return PaymentRegistration(
        payment=payment, entry=entry, item=paid_item, payment_item=payment_item
    )


def remove_payment(
    tenant_id: str,
    payment: RegisteredPayment,
    *,
    entry: JournalEntry,
    item: OpenItem,
    payment_item: OpenItem | None,
    action_id: str,
    posting_date: date,
    by: Accountability,
) -> PaymentRemoval:
    """Undo a registered payment (see the module docstring)."""
    if payment.removed:
        raise AlreadyReversed(f"payment {payment.payment_id} is removed already")
    if payment_item is not None and payment_item.remaining != payment_item.amount:
        raise PaymentReconciled(
            f"payment {payment.payment_id} is matched to a bank line already "
            f"({payment_item.status.value}); unmatch that decision first"
        )
    reversal = reversing_entry(
        entry,
        tenant_id=tenant_id,
        idempotency_key=f"payment-removal:{action_id}",
        posting_date=posting_date,
        description=f"payment {payment.payment_id} on {item.item_id} removed: {by.reason}",
        actor=by.actor,
        reason=by.reason,
    )
    cancelled = cancel_open_item(payment_item) if payment_item is not None else None
    return PaymentRemoval(
        payment=replace(payment, removed=True),
        entry=reversal,
        item=restore_allocation(item, payment.amount),
        payment_item=cancelled,
    )
