"""The open-item index by content: a snapshot and its digest, read through the index's public
API only, so two indexes (a running matcher's and one rebuilt from the compacted topic, or
one built from the ledger's latest states) can be compared whole, not only by their counts.

The snapshot holds every item as the ledger last stated it (its whole ``OpenItem``), what this
matcher reserved of it, its status and remaining amount as the index sees them, and the lookups
that find it (by amount, reference, document number, counterparty, account and name keys),
and every account and name key with the counterparties it names (retired items' included):
a rebuilt index that holds the right items but files one under a wrong key differs. Posting
rules and recent lines (also kept per tenant) are not open items and are left out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from bankrec.contracts import Money
from bankrec.matcher.domain.index import IndexedItem, OpenItemIndex


def index_snapshot(index: OpenItemIndex) -> dict[str, Any]:
    """The index's content as plain JSON values, items by id."""
    entries = sorted(index, key=lambda entry: entry.item_id)
    found_by: dict[str, list[str]] = {entry.item_id: [] for entry in entries}

    def file_under(lookup: str, found: Iterable[IndexedItem]) -> None:
        for entry in found:
            found_by.setdefault(entry.item_id, []).append(lookup)

    amounts: dict[tuple[str, str], Money] = {}
    for entry in entries:
        remaining = entry.remaining
        amounts.setdefault((remaining.currency, format(remaining.amount, "f")), remaining)
    for (currency, amount), money in sorted(amounts.items()):
        file_under(f"open_by_amount:{currency}:{amount}", index.open_by_amount(money))
        file_under(
            f"open_registered_by_amount:{currency}:{amount}",
            index.open_registered_by_amount(money),
        )
    for reference in sorted({e.reference for e in entries if e.reference}):
        file_under(f"open_by_reference:{reference}", index.open_by_reference(reference))
        file_under(f"closed_by_reference:{reference}", index.closed_by_reference(reference))
    for key in sorted({k.key for e in entries for k in e.document_keys}):
        file_under(f"open_by_document:{key}", index.open_by_document(key))
        file_under(f"closed_by_document:{key}", index.closed_by_document(key))
    for counterparty in sorted({e.counterparty for e in entries}):
        file_under(f"open_of_counterparty:{counterparty}", index.open_of_counterparty(counterparty))
    # every key, retired items' too: whose account it is outlives the item
    accounts = {key: sorted(index.counterparties_by_account(key)) for key in index.account_keys()}
    names = {key: sorted(index.counterparties_by_name(key)) for key in index.name_keys()}
    return {
        "items": len(index),
        "open": index.open_count,
        "entries": {
            entry.item_id: {
                "item": entry.item.model_dump(mode="json"),
                "reserved": [format(amount.amount, "f") for amount in entry.reserved],
                "status": entry.status,
                "remaining": format(entry.remaining.amount, "f"),
                "found_by": sorted(found_by[entry.item_id]),
            }
            for entry in entries
        },
        # lookups that name an item the index does not hold (a leftover of an old state)
        "strays": sorted(
            f"{item_id}:{lookup}"
            for item_id, lookups in found_by.items()
            if index.get(item_id) is None
            for lookup in lookups
        ),
        "counterparties_by_account": accounts,
        "counterparties_by_name": names,
    }


def index_digest(index: OpenItemIndex) -> str:
    """SHA-256 (hex) of the snapshot as canonical JSON: equal digests, equal content."""
    canonical = json.dumps(index_snapshot(index), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


__all__ = ["index_digest", "index_snapshot"]
