"""The in-memory index of a tenant's open items, kept from the ledger's open-item states.

Every lookup a rule makes is a dictionary access, never a scan of the tenant's items:

- by item id;
- by compact structured reference (open items; paid/cancelled ones apart, to recognise a
  double payment), and by typo key: the references one typo away from a given one are
  among those sharing its first or its last half (``typo_keys``);
- by (currency, remaining amount) (open items; registered payments and journal lines also
  apart, and with a counterparty's open items by set intersection, so a common amount such
  as 2000.00 held by thousands of items is never walked through);
- by document key (``document_no`` / ``external_document_no`` in compact form, and the
  digits of a prefixed number, see ``document_numbers.py``; open and closed apart);
- by bank account key (``counterparty_accounts``, compact, an IBAN also by its BBAN) ->
  counterparties, over every item the index knows, paid ones too (they still say whose
  account it is);
- by counterparty name key, and by each word of a name key -> name keys (so a similar name
  is found by its words, see ``counterparties.py``) -> counterparties, over every item;
- by counterparty -> its open items.

A counterparty is its ``counterparty_id``; an item without one is a counterparty of its own.
Only open items (status open or partly paid, remaining not zero) are candidates; a paid or
cancelled item stays known by id but is never a candidate.

A state replaces the known one only when its ``version`` is higher, so a replay of the
compacted topic or a late, older state changes nothing.

Closed items are retired (``retire_closed``): an item the ledger closed (paid, cancelled)
before a cut-off leaves the index, so a running matcher's memory is the open items plus the
items closed within the retention, not every item ever paid. When it was closed is the time of
the message that carried the closing state (``apply(..., at=)``), so an index rebuilt from the
compacted topic retires the same items at the same cut-off. What a retired item said about
its counterparty stays: the account and name keys keep naming its ``counterparty_id`` (whose
account it is does not expire with the invoice); an item without one was its own counterparty
and takes its keys with it. After retirement a double payment of the item is no longer
recognised as one: it is a line naming no open item.

``allocate`` reserves part of an item's remaining amount the moment the matcher decides, so
a second line cannot take the same invoice before the ledger has applied the decision. A
reservation lasts until the ledger's state shows it: the ledger applies one account's
decisions in order, each as a whole, so when its remaining amount has gone down by the first
reservations (in order), those are settled. A newer state that does not show them yet (an
unrelated edit, or the ledger applying an earlier partial payment) keeps them.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from bankrec.contracts import Money, OpenItem, OpenItemKind, OpenItemStatus, PostingRule
from bankrec.matcher.domain.counterparties import account_keys, name_key, name_words
from bankrec.matcher.domain.document_numbers import DocumentKey, document_keys
from bankrec.matcher.domain.posting_rule_book import PostingRuleBook
from bankrec.matcher.domain.recent_lines import LINES_MAX, RecentLines
from bankrec.matcher.domain.references import compact_reference

OPEN_STATUSES = frozenset({OpenItemStatus.OPEN, OpenItemStatus.PARTLY_PAID})
# the books' own entries on the bank account (seed 002's bank-ledger entries)
REGISTERED_KINDS = frozenset({OpenItemKind.PAYMENT, OpenItemKind.JOURNAL})

AmountKey = tuple[str, Decimal]
_NONE: Mapping[str, int] = {}  # what a lookup of an unknown key returns a view of
_NO_IDS: frozenset[str] = frozenset()  # what a lookup of an unknown key finds
K = TypeVar("K")


def amount_key(money: Money) -> AmountKey:
    """Decimal("500.00") and Decimal("500") are equal and hash alike, so either finds the item."""
    return (money.currency, money.amount)


def typo_keys(reference: str, length: int | None = None) -> tuple[str, str]:
    """The keys of a reference of ``length`` (its own by default) that one typo leaves intact.

    With ``k = (length - 1) // 2``: a changed, missing, extra or swapped character at
    position ``p`` leaves the first ``k`` characters alone when ``p >= k``, and the last ``k``
    when ``p + 1 < length - k``; one of the two holds for every ``p``. Asked for the lengths
    ``n - 1``, ``n`` and ``n + 1`` of a reference of length ``n``, they find every reference
    one typo away (and others, which the caller measures).
    """
    length = len(reference) if length is None else length
    half = (length - 1) // 2
    return f"{length}<{reference[:half]}", f"{length}>{reference[len(reference) - half :]}"


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
    document_keys: tuple[DocumentKey, ...] = ()
    account_keys: tuple[str, ...] = ()
    name_key: str | None = None
    left: Money | None = field(default=None, compare=False)  # see ``remaining``
    # the amount of ``remaining``, computed at once (``remaining`` only when a rule asks: an
    # item a line pays in full is never read again, so its Money is never built)
    left_amount: Decimal = field(default=Decimal(0), init=False, compare=False)
    # a candidate: status open or partly paid, and something of the ledger's remaining left
    is_open: bool = field(default=False, init=False, compare=False)

    def __post_init__(self) -> None:
        # computed once: rules read the remaining amount of every candidate, often twice, and
        # the index asks whether it is open at every change
        ledger = self.item.remaining.amount
        left = ledger
        if len(self.reserved) == 1:  # the usual case: no generator to sum over
            left -= self.reserved[0].amount
        elif self.reserved:
            left -= sum((amount.amount for amount in self.reserved), start=Decimal(0))
        object.__setattr__(self, "left", None if self.reserved else self.item.remaining)
        object.__setattr__(self, "left_amount", left)
        is_open = self.item.status in OPEN_STATUSES and ledger != 0 and _sign(left) == _sign(ledger)
        object.__setattr__(self, "is_open", is_open)

    @classmethod
    def of(cls, item: OpenItem) -> IndexedItem:
        reference = compact_reference(item.reference) if item.reference else None
        accounts = tuple(
            dict.fromkeys(
                key for account in item.counterparty_accounts for key in account_keys(account)
            )
        )
        return cls(
            item=item,
            reference=reference or None,
            document_keys=document_keys(
                document_no=item.document_no, external_document_no=item.external_document_no
            ),
            account_keys=accounts,
            name_key=name_key(item.counterparty_name),
        )

    @property
    def item_id(self) -> str:
        return self.item.item_id

    def document_field(self, key: str) -> str:
        """Which of the item's numbers a document key is of (``document_no`` first)."""
        return next((k.field for k in self.document_keys if k.key == key), "document_no")

    @property
    def counterparty(self) -> str:
        """Whose item it is: the counterparty id, or the item itself when it names none."""
        return self.item.counterparty_id or f"item:{self.item.item_id}"

    @property
    def label(self) -> str:
        """How a person names it: the document number when it has one, else the item id."""
        return self.item.document_no or self.item.item_id

    @property
    def remaining(self) -> Money:
        """What is left to pay: the ledger's remaining amount less the reservations."""
        left = self.left
        if left is None:  # built at the first question, then kept
            left = Money(amount=self.left_amount, currency=self.item.remaining.currency)
            object.__setattr__(self, "left", left)
        return left

    @property
    def remaining_key(self) -> AmountKey:
        """``amount_key(self.remaining)``, without building the Money."""
        return (self.item.remaining.currency, self.left_amount)

    @property
    def status(self) -> str:
        if self.item.status in OPEN_STATUSES and not self.is_open:
            return "allocated"  # by this matcher; the ledger's update has not arrived yet
        return self.item.status.value

    def reserve(self, amount: Money) -> IndexedItem:
        baseline = self.baseline if self.reserved else self.item.remaining
        return IndexedItem(  # not dataclasses.replace: this runs for every allocation
            item=self.item,
            reference=self.reference,
            reserved=(*self.reserved, amount),
            baseline=baseline,
            document_keys=self.document_keys,
            account_keys=self.account_keys,
            name_key=self.name_key,
        )

    def released(self, amount: Money) -> IndexedItem | None:
        """The entry without the latest reservation of ``amount`` (None: it holds none)."""
        reserved = list(self.reserved)
        for position in range(len(reserved) - 1, -1, -1):
            if reserved[position] == amount:
                del reserved[position]
                return replace(
                    self,
                    reserved=tuple(reserved),
                    baseline=self.baseline if reserved else None,
                    left=None,  # worked out again in __post_init__
                )
        return None

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

    def __init__(self, *, recent_lines_max: int = LINES_MAX) -> None:
        self._items: dict[str, IndexedItem] = {}
        # (closed at, item id, version) of closing states, earliest first; an entry whose item
        # has another version by now is stale and skipped when it comes up
        self._closings: list[tuple[datetime, str, int]] = []
        self._open_by_reference: dict[str, set[str]] = {}
        self._open_references_by_typo_key: dict[str, set[str]] = {}
        self._closed_by_reference: dict[str, set[str]] = {}
        self._open_by_amount: dict[AmountKey, set[str]] = {}
        # [0]: full keys, [1]: the digits of prefixed numbers (asked only when [0] has none)
        self._open_by_document: tuple[dict[str, set[str]], dict[str, set[str]]] = ({}, {})
        self._closed_by_document: tuple[dict[str, set[str]], dict[str, set[str]]] = ({}, {})
        self._open_by_counterparty: dict[str, set[str]] = {}
        # counted, since many items share one account or name and each leaves on its own
        self._counterparties_by_account: dict[str, dict[str, int]] = {}
        self._counterparties_by_name: dict[str, dict[str, int]] = {}
        self._names_by_word: dict[str, dict[str, int]] = {}
        self._open_registered_by_amount: dict[AmountKey, set[str]] = {}
        # not open items, but the tenant's too: its posting rules and its recent lines
        self.posting_rules = PostingRuleBook()
        self.recent_lines = RecentLines(lines_max=recent_lines_max)
        self._changes = 0

    @property
    def changes(self) -> int:
        """How many times the open items changed (a state applied, an allocation): what was
        worked out from the index at the same count still holds."""
        return self._changes

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[IndexedItem]:
        return iter(self._items.values())

    @property
    def open_count(self) -> int:
        return sum(len(ids) for ids in self._open_by_amount.values())

    def get(self, item_id: str) -> IndexedItem | None:
        return self._items.get(item_id)

    def apply(self, item: OpenItem, at: datetime | None = None) -> bool:
        """Take a state from the ledger; returns False when a newer or equal one is known.

        ``at``: when the ledger stated it (its message's time); a closing state with a time
        is retired by ``retire_closed`` once that time is before the cut-off, one without
        is kept."""
        known = self._items.get(item.item_id)
        if known is not None and known.item.version >= item.version:
            return False
        self._put(known.updated(item) if known is not None else IndexedItem.of(item))
        if at is not None and item.status not in OPEN_STATUSES:
            heapq.heappush(self._closings, (at, item.item_id, item.version))
        return True

    def retire_closed(self, before: datetime) -> int:
        """Forget the items whose closing state (paid, cancelled) came before ``before``,
        keeping what they said about a ``counterparty_id``'s accounts and names; returns how
        many left. Retiring at a cut-off, then at a later one, leaves what the later alone
        leaves: a rebuilt index retired at the same cut-off holds the same."""
        closings, retired = self._closings, 0
        while closings and closings[0][0] < before:
            _, item_id, version = heapq.heappop(closings)
            entry = self._items.get(item_id)
            if entry is None or entry.item.version != version:
                continue  # a newer state came since (reopened, or closed again later)
            self._unindex_state(entry)
            if entry.item.counterparty_id is None:  # its own counterparty: nobody to remember
                self._unindex_identity(entry)
            del self._items[item_id]
            retired += 1
        if retired:
            self._changes += 1
        return retired

    @property
    def closings_held(self) -> int:
        """Closing states waiting for their cut-off (stale ones included until they come up)."""
        return len(self._closings)

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
        self._changes += 1
        self._items[item_id] = updated
        # only the remaining amount changed: who the item's counterparty is did not
        if updated.is_open:  # part paid: it is found by its new remaining amount, nothing else
            before, after = known.remaining_key, updated.remaining_key
            _move(self._open_by_amount, before, after, item_id)
            if known.item.kind in REGISTERED_KINDS:
                _move(self._open_registered_by_amount, before, after, item_id)
        else:
            self._unindex_state(known)
            self._index_state(updated)
        return updated

    def release(self, item_id: str, amount: Money) -> bool:
        """Take back a reservation of ``amount`` whose decision was not stored (its
        transaction failed, or another instance decided the line): the item is found by its
        remaining amount again. False when the item holds no such reservation (the ledger's
        newer state replaced them, or the item was retired)."""
        known = self._items.get(item_id)
        updated = known.released(amount) if known is not None else None
        if known is None or updated is None:
            return False
        self._changes += 1
        self._unindex_state(known)
        self._items[item_id] = updated
        self._index_state(updated)
        return True

    def open_by_reference(self, reference: str) -> list[IndexedItem]:
        """Open items whose compact reference is ``reference``, by item id."""
        return self._resolve(self._open_by_reference.get(reference, _NO_IDS))

    def closed_by_reference(self, reference: str) -> list[IndexedItem]:
        """Paid, cancelled or fully allocated items with that reference, by item id."""
        return self._resolve(self._closed_by_reference.get(reference, _NO_IDS))

    def open_by_amount(self, amount: Money) -> list[IndexedItem]:
        """Open items whose remaining amount equals ``amount`` (same currency and sign)."""
        return self._resolve(self._open_by_amount.get(amount_key(amount), _NO_IDS))

    def count_open_by_amount(self, amount: Money) -> int:
        return len(self._open_by_amount.get(amount_key(amount), ()))

    def open_registered_by_amount(self, amount: Money) -> list[IndexedItem]:
        """Open registered payments and journal lines (``REGISTERED_KINDS``) of ``amount``."""
        return self._resolve(self._open_registered_by_amount.get(amount_key(amount), _NO_IDS))

    def open_of_counterparty_by_amount(self, counterparty: str, amount: Money) -> list[IndexedItem]:
        """The counterparty's open items of ``amount`` (the smaller set is walked)."""
        by_amount = self._open_by_amount.get(amount_key(amount), _NO_IDS)
        return self._resolve(by_amount & self._open_by_counterparty.get(counterparty, _NO_IDS))

    def open_by_document(self, key: str) -> list[IndexedItem]:
        """Open items numbered ``key`` in full, or when none is, open items whose prefixed
        number has these digits (see ``document_numbers.document_keys``)."""
        return self._resolve(_full_or_digits(self._open_by_document, key))

    def closed_by_document(self, key: str) -> list[IndexedItem]:
        """Paid, cancelled or fully allocated items with that document key."""
        return self._resolve(_full_or_digits(self._closed_by_document, key))

    def counterparties_by_account(self, key: str) -> Collection[str]:
        """The counterparties whose items list that account key (a view: do not keep it)."""
        return self._counterparties_by_account.get(key, _NONE).keys()

    def counterparties_by_name(self, key: str) -> Collection[str]:
        """The counterparties whose items carry exactly that name key (a view)."""
        return self._counterparties_by_name.get(key, _NONE).keys()

    def names_with_word(self, word: str) -> Collection[str]:
        """The name keys with that word, to find names alike without a scan (a view)."""
        return self._names_by_word.get(word, _NONE).keys()

    def account_keys(self) -> list[str]:
        """Every account key that names a counterparty, retired items' included, sorted."""
        return sorted(self._counterparties_by_account)

    def name_keys(self) -> list[str]:
        """Every name key that names a counterparty, retired items' included, sorted."""
        return sorted(self._counterparties_by_name)

    def count_names_with_word(self, word: str) -> int:
        return len(self._names_by_word.get(word, ()))

    def open_of_counterparty(self, counterparty: str) -> list[IndexedItem]:
        """The counterparty's open items, by item id."""
        return self._resolve(self._open_by_counterparty.get(counterparty, _NO_IDS))

    def count_open_of_counterparty(self, counterparty: str) -> int:
        return len(self._open_by_counterparty.get(counterparty, ()))

    def open_references_near(self, reference: str) -> set[str]:
        """Compact references of open items that may be one typo from ``reference`` (a
        superset: measure the distance), found by typo key, never by a scan."""
        found: set[str] = set()
        for length in (len(reference) - 1, len(reference), len(reference) + 1):
            if length > 0:
                for key in typo_keys(reference, length):
                    found |= self._open_references_by_typo_key.get(key, _NO_IDS)
        return found

    def _resolve(self, ids: AbstractSet[str]) -> list[IndexedItem]:
        if len(ids) < 2:  # most lookups find one item or none: nothing to sort
            return [self._items[item_id] for item_id in ids]
        return [self._items[item_id] for item_id in sorted(ids)]

    def _put(self, entry: IndexedItem) -> None:
        self._changes += 1
        known = self._items.get(entry.item_id)
        if known is not None:
            self._unindex_state(known)
            self._unindex_identity(known)
        self._items[entry.item_id] = entry
        self._index_state(entry)
        self._index_identity(entry)

    def _index_state(self, entry: IndexedItem) -> None:
        """The lookups that depend on the remaining amount and on being open."""
        item_id = entry.item_id
        if entry.is_open:
            key = entry.remaining_key
            _add(self._open_by_amount, key, item_id)
            if entry.item.kind in REGISTERED_KINDS:
                _add(self._open_registered_by_amount, key, item_id)
            _add(self._open_by_counterparty, entry.counterparty, item_id)
        if entry.reference is not None:
            by_reference = self._open_by_reference if entry.is_open else self._closed_by_reference
            holders = by_reference.get(entry.reference)
            if holders is None:
                holders = by_reference[entry.reference] = set()
            if entry.is_open and not holders:  # the reference's first open item: findable by typo
                for typo_key in typo_keys(entry.reference):
                    _add(self._open_references_by_typo_key, typo_key, entry.reference)
            holders.add(item_id)
        by_document = self._open_by_document if entry.is_open else self._closed_by_document
        for document in entry.document_keys:
            _add(by_document[int(document.digits_only)], document.key, item_id)

    def _unindex_state(self, entry: IndexedItem) -> None:
        """Undo ``_index_state`` of the entry the index holds: it was indexed by its own
        ``is_open``, so only the open or only the closed lookups hold it."""
        item_id = entry.item_id
        if entry.is_open:
            key = entry.remaining_key
            _discard(self._open_by_amount, key, item_id)
            if entry.item.kind in REGISTERED_KINDS:
                _discard(self._open_registered_by_amount, key, item_id)
            _discard(self._open_by_counterparty, entry.counterparty, item_id)
            by_reference, by_document = self._open_by_reference, self._open_by_document
        else:
            by_reference, by_document = self._closed_by_reference, self._closed_by_document
        if entry.reference is not None:
            _discard(by_reference, entry.reference, item_id)
            if entry.is_open and entry.reference not in by_reference:  # its last open item left
                for typo_key in typo_keys(entry.reference):
                    _discard(self._open_references_by_typo_key, typo_key, entry.reference)
        for document in entry.document_keys:
            _discard(by_document[int(document.digits_only)], document.key, item_id)

    def _index_identity(self, entry: IndexedItem) -> None:
        """The lookups of who the counterparty is, over every item, open or not."""
        self._count_identity(entry, 1)

    def _unindex_identity(self, entry: IndexedItem) -> None:
        self._count_identity(entry, -1)

    def _count_identity(self, entry: IndexedItem, step: int) -> None:
        for key in entry.account_keys:
            _count(self._counterparties_by_account, key, entry.counterparty, step)
        if entry.name_key is not None:
            _count(self._counterparties_by_name, entry.name_key, entry.counterparty, step)
            for word in name_words(entry.name_key):
                _count(self._names_by_word, word, entry.name_key, step)


def _discard(mapping: dict[K, set[str]], key: K, item_id: str) -> None:
    ids = mapping.get(key)
    if ids is None:
        return
    ids.discard(item_id)
    if not ids:
        del mapping[key]


def _add(mapping: dict[K, set[str]], key: K, item_id: str) -> None:
    # not setdefault(key, set()): that builds a set at every call, and most keys exist
    ids = mapping.get(key)
    if ids is None:
        mapping[key] = {item_id}
    else:
        ids.add(item_id)


def _move(mapping: dict[K, set[str]], before: K, after: K, item_id: str) -> None:
    _discard(mapping, before, item_id)
    _add(mapping, after, item_id)


def _full_or_digits(
    maps: tuple[dict[str, set[str]], dict[str, set[str]]], key: str
) -> AbstractSet[str]:
    return maps[0].get(key) or maps[1].get(key) or _NO_IDS


def _count(mapping: dict[str, dict[str, int]], key: str, member: str, step: int) -> None:
    """Add ``step`` to how many items put ``member`` under ``key``; forget it at zero."""
    members = mapping.get(key)
    if members is None:
        members = mapping[key] = {}
    left = members.get(member, 0) + step
    if left > 0:
        members[member] = left
    else:
        members.pop(member, None)
        if not members:
            del mapping[key]


@dataclass(frozen=True, slots=True)
class IndexSummary:
    """How many items the index holds for a tenant, and how many of them are open."""

    open_items: int
    open: int


class TenantIndexes:
    """Every tenant's index; a tenant appears with its first open item."""

    def __init__(self, *, recent_lines_max: int = LINES_MAX) -> None:
        self._tenants: dict[str, OpenItemIndex] = {}
        self._recent_lines_max = recent_lines_max

    def for_tenant(self, tenant_id: str) -> OpenItemIndex:
        index = self._tenants.get(tenant_id)
        if index is None:
            index = self._tenants[tenant_id] = OpenItemIndex(
                recent_lines_max=self._recent_lines_max
            )
        return index

    def apply(self, tenant_id: str, item: OpenItem, at: datetime | None = None) -> bool:
        return self.for_tenant(tenant_id).apply(item, at)

    def retire_closed(self, before: datetime) -> int:
        """``OpenItemIndex.retire_closed`` for every tenant; returns how many items left."""
        return sum(index.retire_closed(before) for index in self._tenants.values())

    def apply_posting_rule(self, tenant_id: str, rule: PostingRule) -> bool:
        """Take a posting rule version; False when a newer or equal one is known."""
        return self.for_tenant(tenant_id).posting_rules.apply(rule)

    def summary(self, tenant_id: str) -> IndexSummary:
        index = self._tenants.get(tenant_id)
        if index is None:
            return IndexSummary(open_items=0, open=0)
        return IndexSummary(open_items=len(index), open=index.open_count)
