"""The pending lines an arriving item may explain: every line it names (reference, document
number), and the lines it only resembles (amount, customer's account) while they are few."""

from __future__ import annotations

from matcher_factories import Book

from bankrec.matcher.pending_lines import WEAK_HITS_MAX, PendingLines

KID = "1002345005"
CARD = "12345678903"


def test_an_item_finds_the_lines_it_names_and_the_few_it_resembles(book: Book) -> None:
    pending = PendingLines()
    tenant = book.tenant_id
    pending.add(tenant, book.line("by-kid", "500.00", reference=KID))
    pending.add(tenant, book.line("by-text", "480.00", text="Faktura 20000002"))
    pending.add(tenant, book.line("by-payer", "500.00", payer_account=CARD))
    pending.add(tenant, book.line("other", "321.00"))
    item = book.item(
        "INV-1", "500.00", reference=KID, document_no="20000002", counterparty_accounts=[CARD]
    )
    assert pending.explainable_by(tenant, item) == ["by-kid", "by-payer", "by-text"]
    assert pending.explainable_by("another tenant", item) == []


def test_many_lines_sharing_only_the_amount_or_the_payer_are_left_for_a_person(
    book: Book,
) -> None:
    """Beyond WEAK_HITS_MAX such lines the item cannot say which one it explains: only the
    line it names is decided again (and the work per item stays bounded)."""
    pending = PendingLines()
    tenant = book.tenant_id
    for number in range(WEAK_HITS_MAX + 1):
        pending.add(tenant, book.line(f"same-{number:02d}", "12500.00", payer_account=CARD))
    pending.add(tenant, book.line("named", "12500.00", reference=KID, payer_account=CARD))
    plain = book.item("INV-2", "12500.00", counterparty_accounts=[CARD])
    assert pending.explainable_by(tenant, plain) == []
    named = book.item("INV-1", "12500.00", reference=KID, counterparty_accounts=[CARD])
    assert pending.explainable_by(tenant, named) == ["named"]
    for number in range(2, WEAK_HITS_MAX + 1):  # a person cleared most of them
        pending.remove(tenant, f"same-{number:02d}")
    assert pending.explainable_by(tenant, plain) == ["named", "same-00", "same-01"]
