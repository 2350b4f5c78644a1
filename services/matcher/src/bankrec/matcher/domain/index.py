"""The in-memory index of a tenant's open items, kept from the ledger's open-item states.

Three lookups: by item id, by compact structured reference, and by (currency, remaining
amount). Only open items (status open or partly paid, remaining not zero) are in the
reference and amount candidate sets; a paid or cancelled item stays known by id (and by
reference, to recognise a double payment) but is never a candidate.

A state replaces the known one only when its ``version`` is higher, so a replay of the
compacted topic or a late, older state changes nothing.

``allocate`` reserves part of an item's remaining amount the moment the matcher decides, so
a second line cannot take the same invoice before the ledger has applied the decision. A
reservation lasts until the ledger's state shows it: the ledger applies one account's
decisions in order, each as a whole, so when its remaining amount has gone down by the first
reservations (in order), those are settled. A newer state that does not show them yet (an
unrelated edit, or the ledger applying an earlier partial payment) keeps them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TypeVar

from bankrec.contracts import Money, OpenItem, OpenItemStatus
from bankrec.matcher.domain.references import compact_reference

OPEN_STATUSES = frozenset({OpenItemStatus.OPEN, OpenItemStatus.PARTLY_PAID})

AmountKey = tuple[str, Decimal]
K = TypeVar("K")


def amount_key(money: Money) -> AmountKey:
    """Decimal("500.00") and Decimal("500") are equal and hash alike, so either finds the item."""
    return (money.currency, money.amount)


def _sign(amount: Decimal) -> int:
    return (amount > 0) - (amount < 0)


class AllocationError(ValueError):
    """An allocation the item's remaining amount cannot take (a bug in a rule)."""


@dataclass(frozen=True, slots=True)
class IndexedItem:
    """An open item as the matcher sees it: the ledger's state, less what this matcher has
    allocated since (``reserved``, in order) and the ledger does not show yet."""

    item: OpenItem
    reference: str | None
    reserved: tuple[Money, ...] = ()
    baseline: Money | None = None  # the ledger's remaining the reservations are counted from

    @classmethod
    def of(cls, item: OpenItem) -> IndexedItem:
        reference = compact_reference(item.reference) if item.reference else None
        return cls(item=item, reference=reference or None)

    @property
    def item_id(self) -> str:
        return self.item.item_id

    @property
    def label(self) -> str:
        """How a person names it: the document number when it has one, else the item id."""
        return self.item.document_no or self.item.item_id

    @property
    def remaining(self) -> Money:
        """What is left to pay: the ledger's remaining amount less the reservations."""
        left = self.item.remaining
        for amount in self.reserved:
            left = left - amount
        return left

    @property
    def is_open(self) -> bool:
        ledger = self.item.remaining.amount
        return (
            self.item.status in OPEN_STATUSES
            and ledger != 0
            and _sign(self.remaining.amount) == _sign(ledger)
        )

    @property
    def status(self) -> str:
        if self.item.status in OPEN_STATUSES and not self.is_open:
            return "allocated"  # by this matcher; the ledger's update has not arrived yet
        return self.item.status.value

    def reserve(self, amount: Money) -> IndexedItem:
        baseline = self.baseline if self.reserved else self.item.remaining
        return replace(self, reserved=(*self.reserved, amount), baseline=baseline)

    def updated(self, item: OpenItem) -> IndexedItem:
        """The ledger's newer state, keeping the reservations it does not show yet."""
        fresh = IndexedItem.of(item)
        baseline = self.baseline
        if (
            not self.reserved
            or baseline is None
            or item.status not in OPEN_STATUSES
            or item.remaining.currency != baseline.currency
        ):
            return fresh
        direction = _sign(baseline.amount)
        paid_since = (baseline.amount - item.remaining.amount) * direction
        pending = list(self.reserved)
        settled = Decimal(0)
        while pending and settled + abs(pending[0].amount) <= paid_since:
            settled += abs(pending.pop(0).amount)
        if not pending:
            return fresh
        return replace(fresh, reserved=tuple(pending), baseline=item.remaining)


class OpenItemIndex:
    """One tenant's open items."""

    def __init__(self) -> None:
        self._items: dict[str, IndexedItem] = {}
        self._open_by_reference: dict[str, set[str]] = {}
        self._closed_by_reference: dict[str, set[str]] = {}
        self._open_by_amount: dict[AmountKey, set[str]] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[IndexedItem]:
        return iter(self._items.values())

    @property
    def open_count(self) -> int:
        return sum(len(ids) for ids in self._open_by_amount.values())

    def get(self, item_id: str) -> IndexedItem | None:
        return self._items.get(item_id)

    def apply(self, item: OpenItem) -> bool:
        """Take a state from the ledger; returns False when a newer or equal one is known."""
        known = self._items.get(item.item_id)
        if known is not None and known.item.version >= item.version:
            return False
        self._put(known.updated(item) if known is not None else IndexedItem.of(item))
        return True

    def allocate(self, item_id: str, amount: Money) -> IndexedItem:
        """Lower an open item's remaining amount by an allocation of the same sign."""
        known = self._items.get(item_id)
        if known is None or not known.is_open:
            raise AllocationError(f"open item {item_id} is not open in the index")
        remaining = known.remaining
        if amount.currency != remaining.currency:
            raise AllocationError(
                f"allocation {amount} to {item_id} is not in its currency {remaining.currency}"
            )
        if amount.amount * remaining.amount <= 0 or abs(amount.amount) > abs(remaining.amount):
            raise AllocationError(
                f"allocation {amount} to {item_id} does not fit its remaining amount {remaining}"
            )
        updated = known.reserve(amount)
        self._put(updated)
        return updated

    def open_by_reference(self, reference: str) -> list[IndexedItem]:
        """Open items whose compact reference is ``reference``, by item id."""
        return self._resolve(self._open_by_reference.get(reference, set()))

    def closed_by_reference(self, reference: str) -> list[IndexedItem]:
        """Paid, cancelled or fully allocated items with that reference, by item id."""
        return self._resolve(self._closed_by_reference.get(reference, set()))

    def open_by_amount(self, amount: Money) -> list[IndexedItem]:
        """Open items whose remaining amount equals ``amount`` (same currency and sign)."""
        return self._resolve(self._open_by_amount.get(amount_key(amount), set()))

    def open_references(self) -> list[str]:
        """Every compact reference of an open item (for near-miss searches)."""
        return list(self._open_by_reference)

    def _resolve(self, ids: set[str]) -> list[IndexedItem]:
        return [self._items[item_id] for item_id in sorted(ids)]

    def _put(self, entry: IndexedItem) -> None:
        known = self._items.get(entry.item_id)
        if known is not None:
            self._forget(known)
        self._items[entry.item_id] = entry
        if entry.is_open:
            self._open_by_amount.setdefault(amount_key(entry.remaining), set()).add(entry.item_id)
        if entry.reference is not None:
            by_reference = self._open_by_reference if entry.is_open else self._closed_by_reference
            by_reference.setdefault(entry.reference, set()).add(entry.item_id)

    def _forget(self, entry: IndexedItem) -> None:
        _discard(self._open_by_amount, amount_key(entry.remaining), entry.item_id)
        if entry.reference is not None:
            _discard(self._open_by_reference, entry.reference, entry.item_id)
            _discard(self._closed_by_reference, entry.reference, entry.item_id)


def _discard(mapping: dict[K, set[str]], key: K, item_id: str) -> None:
    ids = mapping.get(key)
    if ids is None:
        return
    ids.discard(item_id)
    if not ids:
        del mapping[key]


@dataclass(frozen=True, slots=True)
class IndexSummary:
    """How many items the index holds for a tenant, and how many of them are open."""

    open_items: int
    open: int


class TenantIndexes:
    """Every tenant's index; a tenant appears with its first open item."""

    def __init__(self) -> None:
        self._tenants: dict[str, OpenItemIndex] = {}

    def for_tenant(self, tenant_id: str) -> OpenItemIndex:
        index = self._tenants.get(tenant_id)
        if index is None:
            index = self._tenants[tenant_id] = OpenItemIndex()
        return index

    def apply(self, tenant_id: str, item: OpenItem) -> bool:
        return self.for_tenant(tenant_id).apply(item)

    def summary(self, tenant_id: str) -> IndexSummary:
        index = self._tenants.get(tenant_id)
        if index is None:
            return IndexSummary(open_items=0, open=0)
        return IndexSummary(open_items=len(index), open=index.open_count)
