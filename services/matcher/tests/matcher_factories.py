"""Small named factories of open items, statement lines and envelopes for one tenant."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import BaseModel

from bankrec.contracts import (
    BankAccountRef,
    Envelope,
    Money,
    OpenItem,
    OpenItemKind,
    OpenItemStatus,
    ReferenceKind,
    StatementLine,
    StructuredReference,
    account_id_for,
    envelope_for,
)
from bankrec.matcher.domain import OpenItemIndex

IBAN = "NO9386011117947"


@dataclass
class Book:
    tenant_id: str
    account: BankAccountRef
    statement_id: str = "stmt-1"
    _sequence: int = field(default=0)

    @classmethod
    def for_tenant(cls, tenant_id: str, currency: str = "NOK") -> Book:
        account = BankAccountRef(
            account_id=account_id_for(tenant_id, IBAN), iban=IBAN, currency=currency
        )
        return cls(tenant_id=tenant_id, account=account)

    @property
    def key(self) -> str:
        return f"{self.tenant_id}:{self.account.account_id}"

    def item(
        self,
        item_id: str,
        amount: str,
        *,
        reference: str | None = None,
        reference_kind: ReferenceKind | None = None,
        currency: str = "NOK",
        remaining: str | None = None,
        status: OpenItemStatus = OpenItemStatus.OPEN,
        version: int = 1,
        kind: OpenItemKind | None = None,
        bank_account_id: str | None = None,
    ) -> OpenItem:
        """An invoice (amount > 0) or bill (< 0), its remaining amount the full amount."""
        if kind is None:
            kind = OpenItemKind.BILL if amount.startswith("-") else OpenItemKind.INVOICE
        return OpenItem(
            item_id=item_id,
            kind=kind,
            counterparty_id=f"C-{item_id}",
            document_no=item_id,
            reference=reference,
            reference_kind=reference_kind,
            amount=Money.of(amount, currency),
            remaining=Money.of(remaining if remaining is not None else amount, currency),
            status=status,
            bank_account_id=bank_account_id,
            version=version,
            posting_date=date(2026, 11, 1),
        )

    def paid(self, item: OpenItem, status: OpenItemStatus = OpenItemStatus.PAID) -> OpenItem:
        """The ledger's next state of the item: fully paid (or cancelled)."""
        return item.model_copy(
            update={
                "status": status,
                "remaining": Money.of("0", item.amount.currency),
                "version": item.version + 1,
            }
        )

    def line(
        self,
        line_id: str,
        amount: str,
        *,
        reference: str | None = None,
        kind: ReferenceKind = ReferenceKind.KID,
        currency: str | None = None,
        reversal: bool = False,
    ) -> StatementLine:
        self._sequence += 1
        return StatementLine(
            line_id=line_id,
            statement_id=self.statement_id,
            account=self.account,
            sequence=self._sequence,
            amount=Money.of(amount, currency or self.account.currency),
            booking_date=date(2026, 11, 20),
            structured_reference=StructuredReference(value=reference, kind=kind)
            if reference is not None
            else None,
            reversal=reversal,
        )

    def envelope(self, payload: BaseModel, **fields: Any) -> Envelope[Any]:
        fields.setdefault("correlation_id", f"file-{uuid.uuid4().hex[:8]}")
        return envelope_for(payload, tenant_id=self.tenant_id, **fields)

    def index(self, *items: OpenItem) -> OpenItemIndex:
        index = OpenItemIndex()
        for item in items:
            index.apply(item)
        return index
