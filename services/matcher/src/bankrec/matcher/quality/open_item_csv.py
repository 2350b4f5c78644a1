"""Open items in the ledger's CSV import format (``bankrec-ledger open-items`` reads it).

The columns are the ledger's (``item_id, kind, counterparty_id, counterparty_name,
counterparty_accounts, document_no, external_document_no, reference, description, amount,
currency, posting_date, due_date``) plus its optional ``reference_kind`` and
``bank_account_id``. The matcher cannot import the ledger (services never import each
other), so the list is repeated here; the offline-run test reads a written file back through
the ledger's own command, which catches a drift.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from bankrec.contracts import OpenItem

COLUMNS: tuple[str, ...] = (
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
    "reference_kind",
    "bank_account_id",
)


def open_items_csv(items: Iterable[OpenItem]) -> str:
    """The items as CSV text with a header row; amounts as decimal strings, dates ISO."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for item in items:
        writer.writerow(
            (
                item.item_id,
                item.kind.value,
                item.counterparty_id or "",
                item.counterparty_name or "",
                " ".join(item.counterparty_accounts),
                item.document_no or "",
                item.external_document_no or "",
                item.reference or "",
                item.description or "",
                format(item.amount.amount, "f"),
                item.amount.currency,
                item.posting_date.isoformat() if item.posting_date else "",
                item.due_date.isoformat() if item.due_date else "",
                item.reference_kind.value if item.reference_kind else "",
                item.bank_account_id or "",
            )
        )
    return out.getvalue()
