"""Small named factories of open items, statement lines and envelopes for one tenant, and the
tenant API keys the suite's apps accept (``auth_headers``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel

from bankrec.contracts import (
    ApiKeyRecord,
    BankAccountRef,
    Counterparty,
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
from bankrec.runtime import TenantKeyRing
from bankrec.runtime.tenant_keys import issue_api_key

TENANT_KEYS = TenantKeyRing()
"""The keys every app of this suite is given (``create_app(..., tenant_keys=TENANT_KEYS)``)."""
_API_KEYS: dict[str, str] = {}

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
        **fields: Any,
    ) -> OpenItem:
        """An invoice (amount > 0) or bill (< 0), its remaining amount the full amount;
        ``fields`` set any other ``OpenItem`` field (document_no, counterparty_name, ...)."""
        if kind is None:
            kind = OpenItemKind.BILL if amount.startswith("-") else OpenItemKind.INVOICE
        values: dict[str, Any] = {
            "counterparty_id": f"C-{item_id}",
            "document_no": item_id,
            "posting_date": date(2026, 11, 1),
            **fields,
        }
        return OpenItem(
            item_id=item_id,
            kind=kind,
            reference=reference,
            reference_kind=reference_kind,
            amount=Money.of(amount, currency),
            remaining=Money.of(remaining if remaining is not None else amount, currency),
            status=status,
            bank_account_id=bank_account_id,
            version=version,
            **values,
        )

    def payment(self, item_id: str, amount: str, **fields: Any) -> OpenItem:
        """A payment the books registered on this bank account (a bank-ledger entry)."""
        fields.setdefault("bank_account_id", self.account.account_id)
        fields.setdefault("counterparty_id", None)
        return self.item(item_id, amount, kind=OpenItemKind.PAYMENT, **fields)

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
        text: str | None = None,
        payer: str | None = None,
        payer_account: str | None = None,
        booking_date: date = date(2026, 11, 20),
        **fields: Any,
    ) -> StatementLine:
        """A line of the statement; ``text`` is the remittance text, ``payer`` and
        ``payer_account`` the counterparty's name and IBAN (or other account number)."""
        self._sequence += 1
        counterparty = None
        if payer is not None or payer_account is not None:
            is_iban = payer_account is not None and payer_account[:2].isalpha()
            counterparty = Counterparty(
                name=payer,
                iban=payer_account if is_iban else None,
                other_account=None if is_iban else payer_account,
            )
        return StatementLine(
            line_id=line_id,
            statement_id=self.statement_id,
            account=self.account,
            sequence=self._sequence,
            amount=Money.of(amount, currency or self.account.currency),
            booking_date=booking_date,
            structured_reference=StructuredReference(value=reference, kind=kind)
            if reference is not None
            else None,
            reversal=reversal,
            remittance_text=text,
            counterparty=counterparty,
            **fields,
        )

    def envelope(self, payload: BaseModel, **fields: Any) -> Envelope[Any]:
        fields.setdefault("correlation_id", f"file-{uuid.uuid4().hex[:8]}")
        return envelope_for(payload, tenant_id=self.tenant_id, **fields)

    def index(self, *items: OpenItem) -> OpenItemIndex:
        index = OpenItemIndex()
        for item in items:
            index.apply(item)
        return index


def api_key_record(tenant_id: str, *, revoked: bool = False) -> tuple[str, ApiKeyRecord]:
    """A new key of the tenant (plain) and its record, as ingest would publish it."""
    issued = issue_api_key()
    now = datetime.now(UTC)
    return issued.plain, ApiKeyRecord(
        key_id=issued.key_id,
        tenant_id=tenant_id,
        key_hash=issued.key_hash,
        created_at=now,
        revoked_at=now if revoked else None,
    )


def auth_headers(tenant_id: str) -> dict[str, str]:
    """The tenant's API key as a request header; the key is known to ``TENANT_KEYS``."""
    if tenant_id not in _API_KEYS:
        plain, record = api_key_record(tenant_id)
        TENANT_KEYS.record(record)
        _API_KEYS[tenant_id] = plain
    return {"authorization": f"Bearer {_API_KEYS[tenant_id]}"}
