"""The lines still waiting on the interim account, indexed by what an open item could share
with them, so a new or changed item finds the few lines it may explain without a walk
through every pending line.

Pure: no I/O. A line is found by its compact structured reference, its amount (currency and
signed amount, as an item's remaining amount is kept), its payer's account keys and the
words of its texts that could be a document number. A hit is only a candidate: the engine
decides, under the tenant's policy, whether the item explains the line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bankrec.contracts import OpenItem, StatementLine
from bankrec.matcher.domain.counterparties import account_keys
from bankrec.matcher.domain.index import amount_key
from bankrec.matcher.domain.references import compact_reference

DOCUMENT_KEY_LENGTH_MIN = 4  # shorter tokens are in too many texts to say anything
# An item that shares only its amount or its customer's account with more pending lines than
# this cannot prove which of them it explains (the engine sees one line at a time, not the
# other lines competing for the item), and deciding each again would cost a database read
# per line for every such item: they stay for a person, or for an item that names them.
WEAK_HITS_MAX = 20
STRONG_KINDS = frozenset({"reference", "document"})  # what names a line, not just resembles it
_TOKEN = re.compile(r"[A-Z0-9]+")
_PUNCTUATION = re.compile(r"[^A-Z0-9\s]")

LineKey = tuple[str, object]


def document_tokens(text: str | None) -> set[str]:
    """The words of a text an item's document number may be written as: each alphanumeric
    token and each whitespace-separated word without its punctuation (``INV-10234`` is found
    as ``INV10234`` and ``10234``)."""
    if not text:
        return set()
    upper = text.upper()
    tokens = set(_TOKEN.findall(upper))
    tokens.update(_PUNCTUATION.sub("", word) for word in upper.split())
    return {token for token in tokens if len(token) >= DOCUMENT_KEY_LENGTH_MIN}


def line_keys(line: StatementLine) -> set[LineKey]:
    """Every key the line is found by."""
    keys: set[LineKey] = {("amount", amount_key(line.amount))}
    if line.structured_reference is not None:
        keys.add(("reference", compact_reference(line.structured_reference.value)))
    if line.counterparty is not None:
        for account in (line.counterparty.iban, line.counterparty.other_account):
            keys.update(("account", key) for key in account_keys(account))
    texts: Iterable[str | None] = (
        line.remittance_text,
        line.additional_info,
        line.end_to_end_id,
        line.customer_reference,
        *line.referred_documents,
    )
    for text in texts:
        keys.update(("document", token) for token in document_tokens(text))
    return keys


def item_keys(item: OpenItem) -> set[LineKey]:
    """Every key a line the item could explain is found by."""
    keys: set[LineKey] = {("amount", amount_key(item.remaining))}
    if item.reference:
        keys.add(("reference", compact_reference(item.reference)))
    for account in item.counterparty_accounts:
        keys.update(("account", key) for key in account_keys(account))
    for number in (item.document_no, item.external_document_no):
        keys.update(("document", token) for token in document_tokens(number))
    return keys


@dataclass(slots=True)
class _TenantLines:
    by_key: dict[LineKey, set[str]]
    keys_of: dict[str, set[LineKey]]


class PendingLines:
    """Every tenant's pending line ids, by key."""

    def __init__(self) -> None:
        self._tenants: dict[str, _TenantLines] = {}

    def __len__(self) -> int:
        return sum(len(tenant.keys_of) for tenant in self._tenants.values())

    def __contains__(self, tenant_and_line: tuple[str, str]) -> bool:
        tenant = self._tenants.get(tenant_and_line[0])
        return tenant is not None and tenant_and_line[1] in tenant.keys_of

    def count(self, tenant_id: str) -> int:
        tenant = self._tenants.get(tenant_id)
        return 0 if tenant is None else len(tenant.keys_of)

    def add(self, tenant_id: str, line: StatementLine) -> None:
        tenant = self._tenants.setdefault(tenant_id, _TenantLines({}, {}))
        self.remove(tenant_id, line.line_id)
        keys = line_keys(line)
        tenant.keys_of[line.line_id] = keys
        for key in keys:
            tenant.by_key.setdefault(key, set()).add(line.line_id)

    def remove(self, tenant_id: str, line_id: str) -> None:
        tenant = self._tenants.get(tenant_id)
        if tenant is None:
            return
        for key in tenant.keys_of.pop(line_id, set()):
            members = tenant.by_key.get(key)
            if members is not None:
                members.discard(line_id)
                if not members:
                    del tenant.by_key[key]

    def explainable_by(self, tenant_id: str, item: OpenItem) -> list[str]:
        """The pending lines of the tenant the item may explain, by line id: those sharing a
        reference or a document number with it, and those sharing only its amount or an
        account of its customer while they are at most ``WEAK_HITS_MAX``."""
        tenant = self._tenants.get(tenant_id)
        if tenant is None:
            return []
        strong: set[str] = set()
        weak: set[str] = set()
        for key in item_keys(item):
            (strong if key[0] in STRONG_KINDS else weak).update(tenant.by_key.get(key, ()))
        weak -= strong
        return sorted(strong | weak if len(weak) <= WEAK_HITS_MAX else strong)

    def all(self) -> list[tuple[str, str]]:
        """Every (tenant, line id), in order."""
        return sorted(
            (tenant_id, line_id)
            for tenant_id, tenant in self._tenants.items()
            for line_id in tenant.keys_of
        )
