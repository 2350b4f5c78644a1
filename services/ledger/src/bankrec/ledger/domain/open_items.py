"""Open items: registering them from plain fields, revising them, and paying them off.

Invariants:
- ``amount`` and ``remaining`` have the same sign (+ money in, - money out) or remaining is 0;
- ``|remaining| <= |amount|``; paid so far = amount - remaining never changes sign;
- status follows remaining: open (remaining = amount), partly_paid, paid (remaining = 0);
- every change gives version + 1.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal, InvalidOperation

from bankrec.contracts import (
    Money,
    MoneyError,
    OpenItem,
    OpenItemKind,
    OpenItemStatus,
    ReferenceKind,
    normalize_account_number,
)
from bankrec.ledger.domain.amounts import exact_money
from bankrec.ledger.domain.references import classify_reference
from bankrec.ledger.errors import (
    CurrencyMismatch,
    FieldError,
    InvalidAmount,
    InvalidDecision,
    InvalidOpenItem,
    OpenItemConflict,
    OverAllocation,
)

ITEM_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_AMOUNT_PATTERN = re.compile(r"^[+-]?\d+(\.\d+)?$")
_DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CURRENCY_PATTERN = re.compile(r"^[A-Za-z]{3}$")
ACCOUNT_NUMBER_LENGTH_MAX = 34
TEXT_LENGTH_MAX: dict[str, int] = {
    "counterparty_id": 100,
    "counterparty_name": 200,
    "document_no": 100,
    "external_document_no": 100,
    "reference": 100,
    "description": 500,
    "bank_account_id": 100,
}

REQUIRED_FIELDS: tuple[str, ...] = ("item_id", "kind", "amount", "currency")
"""Fields every open item must have."""

FIELD_NAMES: tuple[str, ...] = (
    "item_id",
    "kind",
    "counterparty_id",
    "counterparty_name",
    "counterparty_accounts",
    "document_no",
    "external_document_no",
    "reference",
    "description",
    "amount",
    "currency",
    "posting_date",
    "due_date",
)
"""The fields (and CSV columns, in this order) of an open item."""

OPTIONAL_FIELD_NAMES: tuple[str, ...] = ("reference_kind", "bank_account_id")
"""Fields that may be given too: ``reference_kind`` forces how the reference is checked,
``bank_account_id`` names the bank account a registered payment or journal line is on."""


@dataclass(frozen=True, slots=True)
class OpenItemDraft:
    """What a caller says an open item is; the ledger adds remaining, status and version."""

    item_id: str
    kind: OpenItemKind
    amount: Money
    counterparty_id: str | None = None
    counterparty_name: str | None = None
    counterparty_accounts: tuple[str, ...] = ()
    document_no: str | None = None
    external_document_no: str | None = None
    reference: str | None = None
    reference_kind: ReferenceKind | None = None
    description: str | None = None
    posting_date: date | None = None
    due_date: date | None = None
    bank_account_id: str | None = None


FieldValue = str | Sequence[str] | None


def _text(fields_: Mapping[str, FieldValue], name: str, errors: list[FieldError]) -> str | None:
    value = fields_.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        errors.append(FieldError(name, f"must be a string, got {type(value).__name__}"))
        return None
    value = value.strip()
    if not value:
        return None
    limit = TEXT_LENGTH_MAX.get(name)
    if limit is not None and len(value) > limit:
        errors.append(FieldError(name, f"is {len(value)} characters long; at most {limit}"))
        return None
    return value


def _parse_amount(raw: FieldValue, currency: str | None, errors: list[FieldError]) -> Money | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        errors.append(FieldError("amount", "is required"))
        return None
    if not isinstance(raw, str):
        errors.append(
            FieldError(
                "amount",
                f'must be a decimal string like "1250.00", got {type(raw).__name__}; '
                "numbers are refused so no float rounding enters the books",
            )
        )
        return None
    text = raw.strip()
    if not _AMOUNT_PATTERN.match(text):
        errors.append(
            FieldError("amount", f"{text!r} is not a decimal number like -1250.00 (dot, no spaces)")
        )
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern already refuses these
        errors.append(FieldError("amount", f"{text!r} is not a decimal number"))
        return None
    if value == 0:
        errors.append(FieldError("amount", "is zero; an open item has an amount to pay"))
        return None
    if currency is None:
        return None
    try:
        return exact_money(value, currency)
    except (InvalidAmount, MoneyError) as exc:
        errors.append(FieldError("amount", str(exc)))
        return None


def _parse_date(
    fields_: Mapping[str, FieldValue], name: str, errors: list[FieldError]
) -> date | None:
    text = _text(fields_, name, errors)
    if text is None:
        return None
    if not _DATE_PATTERN.match(text):
        errors.append(FieldError(name, f"{text!r} is not an ISO date (YYYY-MM-DD)"))
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        errors.append(FieldError(name, f"{text!r} is not a valid date: {exc}"))
        return None


def _parse_accounts(raw: FieldValue, errors: list[FieldError]) -> tuple[str, ...]:
    if raw is None:
        return ()
    tokens = raw.split() if isinstance(raw, str) else list(raw)
    numbers: list[str] = []
    for token in tokens:
        if not isinstance(token, str):
            errors.append(FieldError("counterparty_accounts", "must be account numbers as text"))
            return ()
        number = normalize_account_number(token)
        if not number:
            continue
        if len(number) > ACCOUNT_NUMBER_LENGTH_MAX:
            errors.append(
                FieldError(
                    "counterparty_accounts",
                    f"{token!r} is longer than {ACCOUNT_NUMBER_LENGTH_MAX} characters",
                )
            )
            continue
        if number not in numbers:
            numbers.append(number)
    return tuple(numbers)


def parse_draft(fields_: Mapping[str, FieldValue]) -> OpenItemDraft:
    """An open item draft from plain fields (a CSV row or a JSON body).

    Raises ``InvalidOpenItem`` naming every invalid field, not only the first.
    """
    errors: list[FieldError] = []
    item_id = _text(fields_, "item_id", errors)
    if item_id is None:
        errors.append(FieldError("item_id", "is required"))
    elif not ITEM_ID_PATTERN.match(item_id):
        errors.append(
            FieldError(
                "item_id",
                f"{item_id!r} must be 1-100 letters, digits, '.', '_' or '-' (starting with a "
                "letter or digit)",
            )
        )
    kind: OpenItemKind | None = None
    kind_text = _text(fields_, "kind", errors)
    if kind_text is None:
        errors.append(FieldError("kind", "is required: invoice, bill, payment or journal"))
    else:
        try:
            kind = OpenItemKind(kind_text.lower())
        except ValueError:
            errors.append(
                FieldError("kind", f"{kind_text!r} is not one of invoice, bill, payment, journal")
            )
    currency = _text(fields_, "currency", errors)
    if currency is None:
        errors.append(FieldError("currency", "is required (ISO 4217, e.g. NOK)"))
    elif not _CURRENCY_PATTERN.match(currency):
        errors.append(FieldError("currency", f"{currency!r} is not a three-letter ISO 4217 code"))
        currency = None
    else:
        currency = currency.upper()
    amount = _parse_amount(fields_.get("amount"), currency, errors)

    reference_kind: ReferenceKind | None = None
    declared_kind_text = _text(fields_, "reference_kind", errors)
    declared_kind: ReferenceKind | None = None
    if declared_kind_text is not None:
        try:
            declared_kind = ReferenceKind(declared_kind_text.lower())
        except ValueError:
            errors.append(
                FieldError(
                    "reference_kind",
                    f"{declared_kind_text!r} is not one of kid, rf, ocr, other",
                )
            )
    reference = _text(fields_, "reference", errors)
    if reference is not None:
        try:
            reference, reference_kind = classify_reference(reference, declared_kind)
        except FieldError as exc:
            errors.append(exc)
            reference = None
    elif declared_kind is not None:
        errors.append(FieldError("reference_kind", "is given but there is no reference"))

    posting_date = _parse_date(fields_, "posting_date", errors)
    due_date = _parse_date(fields_, "due_date", errors)
    if posting_date is not None and due_date is not None and due_date < posting_date:
        errors.append(
            FieldError("due_date", f"{due_date} is before the posting date {posting_date}")
        )
    accounts = _parse_accounts(fields_.get("counterparty_accounts"), errors)
    texts = {
        name: _text(fields_, name, errors)
        for name in (
            "counterparty_id",
            "counterparty_name",
            "document_no",
            "external_document_no",
            "description",
            "bank_account_id",
        )
    }
    if errors:
        raise InvalidOpenItem(errors)
    assert item_id is not None
    assert kind is not None
    assert amount is not None
    return OpenItemDraft(
        item_id=item_id,
        kind=kind,
        amount=amount,
        counterparty_accounts=accounts,
        reference=reference,
        reference_kind=reference_kind,
        posting_date=posting_date,
        due_date=due_date,
        **texts,
    )


def draft_of(item: OpenItem) -> OpenItemDraft:
    """The draft an open item was registered from (its caller-given content)."""
    values = {field.name: getattr(item, field.name) for field in fields(OpenItemDraft)}
    values["counterparty_accounts"] = tuple(item.counterparty_accounts)
    return OpenItemDraft(**values)


def status_for(amount: Money, remaining: Money) -> OpenItemStatus:
    if remaining.amount == 0:
        return OpenItemStatus.PAID
    if remaining.amount == amount.amount:
        return OpenItemStatus.OPEN
    return OpenItemStatus.PARTLY_PAID


def new_open_item(draft: OpenItemDraft) -> OpenItem:
    """A newly registered open item: nothing paid yet, version 1."""
    return OpenItem(
        item_id=draft.item_id,
        kind=draft.kind,
        counterparty_id=draft.counterparty_id,
        counterparty_name=draft.counterparty_name,
        counterparty_accounts=list(draft.counterparty_accounts),
        document_no=draft.document_no,
        external_document_no=draft.external_document_no,
        reference=draft.reference,
        reference_kind=draft.reference_kind,
        description=draft.description,
        amount=draft.amount,
        remaining=draft.amount,
        posting_date=draft.posting_date,
        due_date=draft.due_date,
        status=OpenItemStatus.OPEN,
        bank_account_id=draft.bank_account_id,
        version=1,
    )


def revise_open_item(item: OpenItem, draft: OpenItemDraft) -> OpenItem | None:
    """The item with the draft's content, or None when the content is unchanged.

    What was already paid stays paid: a revision that would change the kind or currency of a
    partly paid item, or make its amount smaller than what was paid, is refused.
    """
    if draft.item_id != item.item_id:
        raise OpenItemConflict(
            f"draft {draft.item_id} does not revise item {item.item_id}", field="item_id"
        )
    if draft_of(item) == draft:
        return None
    if item.status is OpenItemStatus.CANCELLED:
        raise OpenItemConflict(
            f"{item.item_id} is cancelled; register the item under a new id", field="item_id"
        )
    paid = item.amount.amount - item.remaining.amount
    if paid != 0:
        if draft.kind != item.kind:
            raise OpenItemConflict(
                f"{item.item_id} is {item.status.value} ({paid} paid); its kind stays "
                f"{item.kind.value}",
                field="kind",
            )
        if draft.amount.currency != item.amount.currency:
            raise OpenItemConflict(
                f"{item.item_id} is {item.status.value} ({paid} paid); its currency stays "
                f"{item.amount.currency}",
                field="currency",
            )
    remaining_amount = draft.amount.amount - paid
    if remaining_amount * draft.amount.amount < 0:
        raise OpenItemConflict(
            f"{item.item_id}: {paid} {item.amount.currency} is already paid, more than the new "
            f"amount {draft.amount}; post a credit note instead"
        )
    remaining = Money(amount=remaining_amount, currency=draft.amount.currency)
    revised = new_open_item(draft)
    return revised.model_copy(
        update={
            "remaining": remaining,
            "status": status_for(draft.amount, remaining),
            "version": item.version + 1,
        }
    )


def apply_allocation(item: OpenItem, allocation: Money) -> OpenItem:
    """The item after ``allocation`` of a payment is applied to it (version + 1).

    The allocation has the item's sign (money in pays an invoice, money out a bill) and is
    at most what is still open; more raises ``OverAllocation``.
    """
    if allocation.currency != item.amount.currency:
        raise CurrencyMismatch(
            f"allocation {allocation} to {item.item_id} is not in the item's currency "
            f"{item.amount.currency}"
        )
    if allocation.amount == 0:
        raise InvalidAmount(f"allocation to {item.item_id} is zero")
    if item.status is OpenItemStatus.CANCELLED:
        raise InvalidDecision(f"{item.item_id} is cancelled; nothing can be allocated to it")
    if allocation.amount * item.amount.amount < 0:
        raise InvalidDecision(
            f"allocation {allocation} has the wrong sign for {item.kind.value} {item.item_id} "
            f"of {item.amount}"
        )
    if abs(allocation.amount) > abs(item.remaining.amount):
        raise OverAllocation(
            f"allocating {allocation} to {item.item_id} exceeds what is open on it "
            f"({item.remaining})"
        )
    remaining = item.remaining - allocation
    return item.model_copy(
        update={
            "remaining": remaining,
            "status": status_for(item.amount, remaining),
            "version": item.version + 1,
        }
    )


def restore_allocation(item: OpenItem, allocation: Money) -> OpenItem:
    """The item with an allocation taken back (a match undone, a payment removed): what was
    allocated is open again (version + 1). Refuses more than was paid on the item."""
    if allocation.currency != item.amount.currency:
        raise CurrencyMismatch(
            f"allocation {allocation} to {item.item_id} is not in the item's currency "
            f"{item.amount.currency}"
        )
    if allocation.amount == 0 or allocation.amount * item.amount.amount < 0:
        raise InvalidAmount(
            f"allocation {allocation} cannot be taken back from {item.kind.value} {item.item_id} "
            f"of {item.amount}"
        )
    remaining = item.remaining + allocation
    if abs(remaining.amount) > abs(item.amount.amount):
        raise OpenItemConflict(
            f"taking {allocation} back would leave {remaining} open on {item.item_id}, more than "
            f"its amount {item.amount}; only {item.amount - item.remaining} is paid on it"
        )
    return item.model_copy(
        update={
            "remaining": remaining,
            "status": status_for(item.amount, remaining),
            "version": item.version + 1,
        }
    )


def cancel_open_item(item: OpenItem) -> OpenItem:
    """The item cancelled (version + 1): nothing can be allocated to it any more."""
    if item.status is OpenItemStatus.CANCELLED:
        raise OpenItemConflict(f"{item.item_id} is cancelled already", field="item_id")
    return item.model_copy(update={"status": OpenItemStatus.CANCELLED, "version": item.version + 1})
